//! Rate limits (issue 10, item 5): per token and per tenant, answered with 429, `Retry-After`
//! and a SCIM error body, counted in `roster_rate_limited_total`; a refused request changes
//! nothing; and a flood from one tenant does not slow another tenant's requests.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use roster_core::Idp;
use roster_core::audit::Actor;
use roster_core::tenants::Expiry;
use roster_http::HttpConfig;
use roster_http::ratelimit::RateLimits;
use roster_testkit::body;
use roster_testkit::{Resp, ScimClient, TestApp};
use serde_json::json;

use crate::limits::serve_with;

fn limits(per_token: u32, token_burst: u32, per_tenant: u32, tenant_burst: u32) -> HttpConfig {
    HttpConfig { rate_limits: RateLimits { per_token, token_burst, per_tenant, tenant_burst }, ..Default::default() }
}

#[track_caller]
fn expect_429(r: &Resp, whose: &str) {
    r.expect_error(429, None);
    assert_eq!(r.header("retry-after"), Some("1"), "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(whose), "{detail}");
}

async fn token(app: &TestApp, tenant: &str) -> String {
    app.core.ensure_tenant(tenant).await.unwrap();
    let mut settings = app.core.tenant(tenant).await.unwrap().settings;
    settings.max_tokens = 10;
    app.core.update_tenant_settings(tenant, settings).await.unwrap();
    app.core
        .issue_token(&Actor::system(), tenant, Idp::Okta, "rl", Expiry::DEFAULT, &app.public_url)
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn a_token_over_its_quota_gets_429_with_retry_after_and_a_scim_body() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let server = serve_with(&app, limits(2, 5, 0, 0)).await;
    let scim = server.scim("default", &app.token);
    // The burst passes, then the token is refused; reads and writes count alike.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(scim.get("/Users").await.status);
    }
    assert_eq!(statuses, vec![200; 5]);
    let refused = scim.post("/Users", &body::user("refused@x.io")).await;
    expect_429(&refused, "token");
    expect_429(&scim.get("/Groups").await, "token");
    // Another token of the same tenant has its own quota.
    let other = server.scim("default", &token(&app, "default").await);
    other.get("/Users").await.expect(200);
    // Unauthenticated requests are refused as such, not counted against the token.
    scim.with_token(None).get("/Users").await.expect_error(401, None);
    // After a second the token has a request again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = scim.get("/Users").await;
    r.expect(200);
    assert_eq!(r.body["totalResults"], 0, "the refused create wrote a user");
    // The public discovery document is not behind the quota.
    for _ in 0..10 {
        scim.with_token(None).get("/ServiceProviderConfig").await.expect(200);
    }
    // The provisioning log shows the refusals, at most one a second for the token.
    app.core.log.flush().await;
    let log = app.admin().await.get("/tenants/default/provisioning-log?status=4xx").await;
    let refusals = log.body["requests"].as_array().unwrap().iter().filter(|r| r["status"] == 429).count();
    assert_eq!(refusals, 1, "{}", log.text);
    // The refusals are counted.
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("roster_rate_limited_total") && l.contains("limiter=\"token\""))
        .unwrap_or_else(|| panic!("no roster_rate_limited_total{{limiter=\"token\"}} in\n{metrics}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 2.0, "{line}");
}

#[tokio::test]
async fn a_tenant_quota_spans_its_tokens_and_spares_other_tenants() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let server = serve_with(&app, limits(0, 0, 2, 6)).await;
    let first = server.scim("default", &app.token);
    let second = server.scim("default", &token(&app, "default").await);
    for _ in 0..3 {
        first.get("/Users").await.expect(200);
        second.get("/Users").await.expect(200);
    }
    expect_429(&first.get("/Users").await, "tenant");
    expect_429(&second.get("/Users").await, "tenant");
    // Another tenant is untouched by it.
    let neighbour = server.scim("neighbour", &token(&app, "neighbour").await);
    for _ in 0..6 {
        neighbour.get("/Users").await.expect(200);
    }
}

#[tokio::test]
async fn bulk_counts_as_one_request_and_a_refused_bulk_runs_nothing() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let server = serve_with(&app, limits(1, 2, 0, 0)).await;
    let scim = server.scim("default", &app.token);
    let ops: Vec<_> = (0..50)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                   "data": {"schemas": [body::USER], "userName": format!("bulk{i}@x.io")}})
        })
        .collect();
    let request = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    scim.post("/Bulk", &request).await.expect(200);
    scim.get("/Users?count=1").await.expect(200);
    let refused = scim.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "x", "data": {"schemas": [body::USER], "userName": "late@x.io"}}]}))
        .await;
    expect_429(&refused, "token");
    assert_eq!(app.scim.get("/Users").await.body["totalResults"], 50);
}

/// Latencies (sorted) and statuses of `n` sequential requests about one user of the quiet
/// tenant, alternating a read and a write (a PATCH: writes queue behind other tenants' writes
/// on SQLite's single writer, so they show a flood first).
async fn quiet_latencies(scim: &ScimClient, id: &str, n: usize) -> (Vec<Duration>, Vec<u16>) {
    let mut took = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let r = if i % 2 == 0 {
            scim.get(&format!("/Users/{id}")).await
        } else {
            scim.patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "nickName", "value": format!("n{i}")}]),
            )
            .await
        };
        took.push(started.elapsed());
        statuses.push(r.status);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    took.sort();
    (took, statuses)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What one flood window did: the noisy tenant's creates, refusals and other answers, and
/// the quiet tenant's latencies and statuses meanwhile.
struct Window {
    created: u32,
    refused: u32,
    other: u32,
    secs: f64,
    quiet: Vec<Duration>,
    statuses: Vec<u16>,
}

/// The noisy tenant floods `noisy` with creates (the expensive kind: one writer on SQLite)
/// from 16 connections while the quiet tenant makes `n` requests.
async fn flood_window(noisy: &ScimClient, quiet: &ScimClient, id: &str, n: usize, tag: &str) -> Window {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = join_all((0..16).map(|w| {
        let (noisy, stop) = (noisy.clone(), stop.clone());
        let tag = tag.to_string();
        async move {
            let (mut created, mut refused, mut other) = (0u32, 0u32, 0u32);
            let mut i = 0;
            // Each connection offers 25 creates a second: 400 a second in all, eight times the
            // token's quota. (A tight loop would measure this test's own client instead: it
            // shares the machine's cores with the server.)
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let r = noisy.post("/Users", &body::user(&format!("flood-{tag}-{w}-{i}@x.io"))).await;
                match r.status {
                    201 => created += 1,
                    429 => refused += 1,
                    _ => other += 1,
                }
            }
            (created, refused, other)
        }
    }));
    let measure = async {
        // Let the flood get going first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = quiet_latencies(quiet, id, n).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    };
    let started = Instant::now();
    let (outcomes, (quiet, statuses)) = tokio::join!(flood, measure);
    Window {
        created: outcomes.iter().map(|o| o.0).sum(),
        refused: outcomes.iter().map(|o| o.1).sum(),
        other: outcomes.iter().map(|o| o.2).sum(),
        secs: started.elapsed().as_secs_f64(),
        quiet,
        statuses,
    }
}

fn merged(windows: &[&Window]) -> Vec<Duration> {
    let mut all: Vec<Duration> = windows.iter().flat_map(|w| w.quiet.iter().copied()).collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_tenant_does_not_slow_another_tenants_requests() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    // The product defaults: 50 a second per token (bursts of 100), 200 per tenant. A second
    // server on the same database without limits is the control: what the same flood does
    // when nothing stops it.
    let limited = serve_with(&app, HttpConfig::default()).await;
    let unlimited = serve_with(&app, HttpConfig { rate_limits: RateLimits::UNLIMITED, ..Default::default() }).await;
    let (quiet_token, noisy_token) = (token(&app, "quiet").await, token(&app, "noisy").await);
    let quiet = limited.scim("quiet", &quiet_token);
    let id = quiet.create_user("calm@x.io", json!({})).await;
    let (baseline, _) = quiet_latencies(&quiet, &id, 30).await;

    // Alternate limited and unlimited windows, so load from elsewhere on the machine falls
    // on both alike. The quiet tenant always goes through the limited server.
    let mut with_limits = Vec::new();
    let mut without = Vec::new();
    for round in 0..2 {
        with_limits
            .push(flood_window(&limited.scim("noisy", &noisy_token), &quiet, &id, 24, &format!("l{round}")).await);
        // The noisy token's burst refills while the control runs.
        without.push(flood_window(&unlimited.scim("noisy", &noisy_token), &quiet, &id, 24, &format!("u{round}")).await);
    }
    let protected = merged(&with_limits.iter().collect::<Vec<_>>());
    let exposed = merged(&without.iter().collect::<Vec<_>>());
    let created: u32 = with_limits.iter().map(|w| w.created).sum();
    let refused: u32 = with_limits.iter().map(|w| w.refused).sum();
    let control_created: u32 = without.iter().map(|w| w.created).sum();
    println!(
        "flood with limits: {created} created, {refused} refused with 429; without: {control_created} created. \
         Quiet tenant p50 {:?} alone, {:?} during the limited flood, {:?} during the unlimited one; \
         p90 {:?} / {:?} / {:?}",
        pct(&baseline, 0.5),
        pct(&protected, 0.5),
        pct(&exposed, 0.5),
        pct(&baseline, 0.9),
        pct(&protected, 0.9),
        pct(&exposed, 0.9),
    );
    for w in with_limits.iter().chain(&without) {
        assert_eq!(w.other, 0, "the flood got answers other than 201 and 429");
        // The quiet tenant is never refused.
        assert!(w.statuses.iter().all(|s| *s == 200), "{:?}", w.statuses);
    }
    for w in &with_limits {
        assert!(w.refused > w.created, "the flood was hardly limited: {} created, {} refused", w.created, w.refused);
        // The noisy token got at most its burst and its rate.
        assert!(f64::from(w.created) <= 100.0 + 50.0 * w.secs * 1.1 + 5.0, "{} creates in {:.2} s", w.created, w.secs);
    }
    // With the limits the quiet tenant keeps its pace: faster than under the same flood
    // without them (where the flood takes over the writer), and within a few milliseconds of
    // its pace alone.
    assert!(
        pct(&protected, 0.5) < pct(&exposed, 0.5),
        "quiet p50 {:?} with limits, {:?} without",
        pct(&protected, 0.5),
        pct(&exposed, 0.5)
    );
    let allowed = pct(&baseline, 0.5) * 3 + Duration::from_millis(15);
    assert!(
        pct(&protected, 0.5) <= allowed,
        "quiet p50 {:?} during the flood, {:?} alone",
        pct(&protected, 0.5),
        pct(&baseline, 0.5)
    );
}
