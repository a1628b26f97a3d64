//! Running Roster (issue 11), at the HTTP level: `/metrics` (request counts by route
//! template, latency histograms, SCIM operations, auth failures, rate limiting, pool and
//! per-tenant gauges), the metrics listener, `/healthz` and `/readyz`, and the request id in
//! every error body.
//!
//! The metrics recorder is process-wide and the tests of this binary run in parallel, so
//! counters are compared before and after (at least the requests this test made), and
//! per-tenant gauges use a tenant of the test's own.

use roster_core::Idp;
use roster_core::audit::Actor;
use roster_core::tenants::Expiry;
use roster_http::{AppState, HttpConfig};
use roster_testkit::{ScimClient, TestApp, each_backend};
use serde_json::json;

/// The Prometheus text of `/metrics` at `base`.
async fn scrape(base: &str) -> String {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.unwrap()
}

/// The value of the sample of `name` whose labels include every `k="v"` of `labels`
/// (summed over the samples that match), or 0.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// A fresh tenant of this test's own, with a client.
async fn own_tenant(app: &TestApp, prefix: &str) -> (String, ScimClient) {
    let slug = format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    (slug.clone(), app.tenant_client(&slug).await)
}

const ITEM: &str = "/scim/v2/{tenant}/{resource}/{id}";
const COLLECTION: &str = "/scim/v2/{tenant}/{resource}";

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_template_never_by_raw_path() {
    each_backend(|app| async move {
        let before = scrape(&app.public_url).await;
        let (slug, scim) = own_tenant(&app, "routes").await;
        let id = scim.create_user("route-template@x.io", json!({})).await;
        scim.get(&format!("/Users/{id}")).await.expect(200);
        scim.get(&format!("/Users/{id}")).await.expect(200);
        scim.get("/Users/does-not-exist").await.expect(404);
        let after = scrape(&app.public_url).await;

        let delta = |labels: &[(&str, &str)]| {
            sample(&after, "roster_http_requests_total", labels) - sample(&before, "roster_http_requests_total", labels)
        };
        assert!(delta(&[("method", "POST"), ("route", COLLECTION), ("status", "201")]) >= 1.0, "{after}");
        assert!(delta(&[("method", "GET"), ("route", ITEM), ("status", "200")]) >= 2.0, "{after}");
        assert!(delta(&[("method", "GET"), ("route", ITEM), ("status", "404")]) >= 1.0, "{after}");
        // Latency histograms with buckets, per method and route.
        let buckets = |text: &str| {
            sample(
                text,
                "roster_http_request_duration_seconds_bucket",
                &[("method", "GET"), ("route", ITEM), ("le", "+Inf")],
            )
        };
        assert!(buckets(&after) - buckets(&before) >= 3.0, "{after}");
        assert!(after.contains("# TYPE roster_http_request_duration_seconds histogram"), "{after}");
        // Neither ids nor tenant slugs nor raw paths become label values.
        for raw in [id.as_str(), "does-not-exist", "/Users", &format!("/scim/v2/{slug}")] {
            let leaked: Vec<_> = after.lines().filter(|l| l.starts_with("roster_http") && l.contains(raw)).collect();
            assert!(leaked.is_empty(), "{raw} leaked into {leaked:#?}");
        }
    })
    .await;
}

#[tokio::test]
async fn scim_operations_are_counted_by_resource_operation_and_outcome() {
    each_backend(|app| async move {
        let before = scrape(&app.public_url).await;
        let (_, scim) = own_tenant(&app, "ops").await;
        let user = scim.create_user("ops@x.io", json!({})).await;
        scim.post("/Users", &roster_testkit::body::user("ops@x.io")).await.expect_error(409, Some("uniqueness"));
        let group = scim.create_group("Ops", &[&user]).await;
        scim.patch_ops(&format!("/Groups/{group}"), json!([{"op": "remove", "path": "members"}])).await;
        scim.get("/Groups").await.expect(200);
        scim.delete(&format!("/Users/{user}")).await.expect(204);
        let after = scrape(&app.public_url).await;
        let delta = |resource: &str, operation: &str, outcome: &str| {
            let labels = [("resource", resource), ("operation", operation), ("outcome", outcome)];
            sample(&after, "roster_scim_operations_total", &labels)
                - sample(&before, "roster_scim_operations_total", &labels)
        };
        assert!(delta("User", "create", "success") >= 1.0, "{after}");
        assert!(delta("User", "create", "conflict") >= 1.0, "{after}");
        assert!(delta("Group", "create", "success") >= 1.0, "{after}");
        assert!(delta("Group", "patch", "success") >= 1.0, "{after}");
        assert!(delta("Group", "list", "success") >= 1.0, "{after}");
        assert!(delta("User", "delete", "success") >= 1.0, "{after}");
    })
    .await;
}

#[tokio::test]
async fn auth_failures_are_counted_by_reason() {
    each_backend(|app| async move {
        let before = scrape(&app.public_url).await;
        app.scim.with_token(None).get("/Users").await.expect(401);
        app.scim.with_token(Some("not-a-roster-token")).get("/Users").await.expect(401);
        let issued = app
            .core
            .issue_token(&Actor::system(), "default", Idp::Entra, "soon disabled", Expiry::DEFAULT, &app.public_url)
            .await
            .unwrap();
        app.core.set_token_active(&Actor::system(), "default", &issued.id, false).await.unwrap();
        app.scim.with_token(Some(&issued.token)).get("/Users").await.expect(401);
        let key = reqwest::Client::new().get(format!("{}/admin/api/tenants", app.public_url)).send().await.unwrap();
        assert_eq!(key.status(), 401);
        let sign_in = reqwest::Client::new()
            .post(format!("{}/admin/api/session", app.public_url))
            .json(&json!({"username": "admin", "password": "not the password at all"}))
            .send()
            .await
            .unwrap();
        assert_eq!(sign_in.status(), 401);
        let after = scrape(&app.public_url).await;
        let delta = |api: &str, reason: &str| {
            let labels = [("api", api), ("reason", reason)];
            sample(&after, "roster_auth_failures_total", &labels)
                - sample(&before, "roster_auth_failures_total", &labels)
        };
        assert!(delta("scim", "missing") >= 1.0, "{after}");
        assert!(delta("scim", "invalid") >= 1.0, "{after}");
        assert!(delta("scim", "disabled") >= 1.0, "{after}");
        assert!(delta("admin", "missing") >= 1.0, "{after}");
        assert!(delta("admin", "invalid") >= 1.0, "{after}");
        assert!(!after.contains("not-a-roster-token") && !after.contains(&issued.token));
    })
    .await;
}

#[tokio::test]
async fn rate_limited_requests_have_a_counter_other_layers_increment() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let before = scrape(&app.public_url).await;
    roster_http::metrics::rate_limited("ops_test");
    roster_http::metrics::rate_limited("ops_test");
    let after = scrape(&app.public_url).await;
    let n = |t: &str| sample(t, "roster_rate_limited_total", &[("limiter", "ops_test")]);
    assert_eq!(n(&after) - n(&before), 2.0, "{after}");
    assert!(after.contains("# TYPE roster_rate_limited_total counter"), "{after}");
}

#[tokio::test]
async fn pool_state_and_per_tenant_counts_are_gauges_read_at_scrape_time() {
    each_backend(|app| async move {
        let (slug, scim) = own_tenant(&app, "gauges").await;
        let a = scim.create_user("g1@x.io", json!({})).await;
        scim.create_user("g2@x.io", json!({})).await;
        scim.create_user("g3@x.io", json!({})).await;
        scim.create_group("Gauged", &[&a]).await;
        let (empty, _) = own_tenant(&app, "empty").await;
        let text = scrape(&app.public_url).await;
        assert_eq!(sample(&text, "roster_tenant_users", &[("tenant", &slug)]), 3.0, "{text}");
        assert_eq!(sample(&text, "roster_tenant_groups", &[("tenant", &slug)]), 1.0, "{text}");
        assert!(text.contains(&format!("roster_tenant_users{{tenant=\"{empty}\"}} 0")), "{text}");
        assert_eq!(sample(&text, "roster_tenant_counts_up", &[]), 1.0, "{text}");
        let pools: &[&str] = match app.backend {
            roster_testkit::Backend::Sqlite => &["read", "write"],
            roster_testkit::Backend::Postgres => &["shared"],
        };
        for pool in pools {
            assert!(sample(&text, "roster_db_pool_max_connections", &[("pool", pool)]) >= 1.0, "{text}");
            let open = sample(&text, "roster_db_pool_connections", &[("pool", pool)]);
            assert!(open >= 1.0, "{pool}: {text}");
            assert!(text.contains(&format!("roster_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}")), "{text}");
            assert!(
                text.contains(&format!("roster_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}}")),
                "{text}"
            );
        }
        assert!(text.contains("# TYPE roster_tenant_users gauge"), "{text}");
        assert_eq!(sample(&text, "roster_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0, "{text}");
    })
    .await;
}

#[tokio::test]
async fn health_checks_answer_without_credentials() {
    each_backend(|app| async move {
        for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let r = reqwest::get(format!("{}{path}", app.public_url)).await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.text().await.unwrap(), body);
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let state = AppState::new(
        app.core.clone(),
        HttpConfig { public_url: "http://127.0.0.1".into(), metrics_route: false, ..Default::default() },
    );
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (main_addr, metrics_addr) = (main.local_addr().unwrap(), metrics.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.changed().await;
    };
    let servers = [
        tokio::spawn(roster_http::serve(main, state.clone(), wait(stopped.clone()))),
        tokio::spawn(roster_http::metrics::serve(metrics, state, wait(stopped))),
    ];
    let get = |url: String| async move {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    // The main listener no longer serves /metrics; the metrics listener serves only it
    // and the health checks.
    assert_eq!(get(format!("http://{main_addr}/metrics")).await.0, 404);
    assert_eq!(get(format!("http://{main_addr}/healthz")).await.0, 200);
    let (status, text) = get(format!("http://{metrics_addr}/metrics")).await;
    assert_eq!(status, 200);
    assert!(text.contains("roster_tenant_users{tenant=\"default\"}"), "{text}");
    assert_eq!(get(format!("http://{metrics_addr}/readyz")).await, (200, "ready".to_string()));
    assert_eq!(get(format!("http://{metrics_addr}/healthz")).await, (200, "ok".to_string()));
    assert_eq!(get(format!("http://{metrics_addr}/scim/v2/default/Users")).await.0, 404);
    assert_eq!(get(format!("http://{metrics_addr}/admin/api/tenants")).await.0, 404);
    let _ = stop.send(true);
    for s in servers {
        s.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn every_error_body_carries_the_request_id_of_its_response() {
    each_backend(|app| async move {
        // SCIM errors: the detail ends with the id the response header carries.
        let r = app.scim.get("/Users/nobody").await;
        r.expect_error(404, None);
        let id = r.header("x-request-id").expect("x-request-id").to_string();
        assert!(!id.is_empty());
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.ends_with(&format!(" (request id {id})")), "{detail}");
        // An id the client (or its proxy) sent is kept.
        let r = ScimClient::send(
            app.scim.request(reqwest::Method::GET, "/Users/nobody").header("x-request-id", "trace-me-42"),
        )
        .await;
        assert_eq!(r.header("x-request-id"), Some("trace-me-42"));
        assert!(r.body["detail"].as_str().unwrap().ends_with("(request id trace-me-42)"), "{}", r.text);
        // Errors raised before a handler runs, and 401s, too.
        for r in [app.scim.with_token(None).get("/Users").await, app.scim.get("/Widgets").await] {
            let id = r.header("x-request-id").unwrap();
            assert!(r.body["detail"].as_str().unwrap().ends_with(&format!("(request id {id})")), "{}", r.text);
        }
        // Admin API errors: a request_id member beside error and status.
        let admin = app.admin().await;
        let r = admin.get("/tenants/no-such-tenant").await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["request_id"].as_str(), r.header("x-request-id"), "{}", r.text);
        assert!(r.body["error"].is_string());
        // Successful responses are untouched.
        let ok = app.scim.get("/Users").await;
        ok.expect(200);
        assert!(!ok.text.contains("request id"));
        assert!(ok.header("x-request-id").is_some());
    })
    .await;
}
