//! Events for the owning application (issue 12): RFC 9967 SETs recorded with each change,
//! pushed (RFC 8935) to a receiver on 127.0.0.1 or polled (RFC 8936), verified against the
//! served JWKS; failing receivers, two instances, and read-only API keys.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::join_all;
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};

use roster_core::audit::Actor;
use roster_core::events::RetryPolicy;
use roster_core::store::KeyScope;
use roster_http::events::push::{PushConfig, PushWorker};
use roster_testkit::{ScimClient, TestApp, body, each_backend};

const PROV: &str = "urn:ietf:params:scim:event:prov:";

// --- A receiver on 127.0.0.1 ----------------------------------------------------------------

/// What the receiver answers to the next push.
#[derive(Debug, Clone)]
enum Answer {
    Status(u16, &'static str),
    /// Answers 202 after this long (longer than the push timeout: a timeout).
    Slow(Duration),
}

#[derive(Debug, Default)]
struct Inbox {
    /// SETs answered with 202, in arrival order.
    accepted: Vec<String>,
    /// Every push, with its content type and authorization header.
    seen: Vec<(String, String, String)>,
    script: VecDeque<Answer>,
    /// After the script: reject everything with this answer instead of accepting.
    otherwise: Option<Answer>,
}

#[derive(Debug, Clone)]
struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

async fn receive(State(inbox): State<Arc<Mutex<Inbox>>>, headers: HeaderMap, body: Bytes) -> Response {
    let set = String::from_utf8_lossy(&body).to_string();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let answer = {
        let mut inbox = inbox.lock().unwrap();
        inbox.seen.push((set.clone(), header("content-type"), header("authorization")));
        inbox.script.pop_front().or_else(|| inbox.otherwise.clone())
    };
    match answer {
        Some(Answer::Status(code, body)) => {
            (StatusCode::from_u16(code).unwrap(), [("content-type", "application/json")], body).into_response()
        }
        Some(Answer::Slow(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::ACCEPTED.into_response()
        }
        None => {
            inbox.lock().unwrap().accepted.push(set);
            StatusCode::ACCEPTED.into_response()
        }
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = axum::Router::new().route("/events", axum::routing::post(receive)).with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url: format!("http://{addr}/events"), inbox }
    }

    fn script(&self, answers: &[Answer]) {
        self.inbox.lock().unwrap().script.extend(answers.iter().cloned());
    }

    fn otherwise(&self, answer: Option<Answer>) {
        self.inbox.lock().unwrap().otherwise = answer;
    }

    fn accepted(&self) -> Vec<String> {
        self.inbox.lock().unwrap().accepted.clone()
    }

    /// Waits until `n` distinct SETs (by `jti`) were accepted; returns every accepted SET.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let ok = wait_until(Duration::from_secs(20), || {
            let jtis: std::collections::HashSet<String> =
                self.accepted().iter().map(|s| claims(s)["jti"].as_str().unwrap().to_string()).collect();
            jtis.len() >= n
        })
        .await;
        let got = self.accepted();
        assert!(ok, "expected {n} SETs, got {}: {:#?}", got.len(), got.iter().map(|s| claims(s)).collect::<Vec<_>>());
        got
    }
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

// --- SETs, checked independently of Roster's own code ------------------------------------------

fn decode(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).expect("base64url")
}

fn claims(set: &str) -> Value {
    serde_json::from_slice(&decode(set.split('.').nth(1).expect("payload"))).expect("claims")
}

fn header(set: &str) -> Value {
    serde_json::from_slice(&decode(set.split('.').next().expect("header"))).expect("header")
}

/// Verifies an ES256 SET against a JWK Set the way a receiver would: by `kid`, with the
/// key's coordinates, over `header.payload`.
fn verify(set: &str, jwks: &Value) -> Value {
    let h = header(set);
    assert_eq!(h["typ"], "secevent+jwt");
    assert_eq!(h["alg"], "ES256");
    let key =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == h["kid"]).expect("the SET's kid is in the JWKS");
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    let mut point = vec![4u8];
    point.extend(decode(key["x"].as_str().unwrap()));
    point.extend(decode(key["y"].as_str().unwrap()));
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("P-256 key");
    let parts: Vec<&str> = set.split('.').collect();
    let sig = p256::ecdsa::Signature::from_slice(&decode(parts[2])).expect("signature");
    vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).expect("the SET verifies against the served JWKS");
    claims(set)
}

/// The event URIs of a SET, sorted.
fn uris(c: &Value) -> Vec<String> {
    let mut v: Vec<String> = c["events"].as_object().unwrap().keys().cloned().collect();
    v.sort();
    v
}

fn seq_of(c: &Value) -> i64 {
    c["jti"].as_str().unwrap().rsplit_once('-').unwrap().1.parse().unwrap()
}

// --- Roster side -----------------------------------------------------------------------------

fn fast_push(app: &TestApp, max_attempts: i64) -> PushConfig {
    let mut c = PushConfig::new(&app.public_url);
    c.retry = RetryPolicy { base: Duration::from_millis(20), max: Duration::from_millis(200), max_attempts };
    // Long enough that a loaded machine does not turn a slow 202 into a retry.
    c.timeout = Duration::from_secs(2);
    c.poll_interval = Duration::from_millis(25);
    c.lease = Duration::from_secs(5);
    c
}

fn push_worker(app: &TestApp, max_attempts: i64) -> PushWorker {
    PushWorker::spawn(app.core.clone(), fast_push(app, max_attempts)).unwrap()
}

async fn create_stream(app: &TestApp, spec: Value) -> Value {
    let r = app.admin().await.post("/tenants/default/streams", &spec).await;
    r.expect(201);
    r.body
}

async fn stream_view(app: &TestApp, id: &str) -> Value {
    let r = app.admin().await.get(&format!("/tenants/default/streams/{id}")).await;
    r.expect(200);
    r.body
}

async fn jwks(app: &TestApp) -> Value {
    let r = ScimClient::send(reqwest::Client::new().get(format!("{}/.well-known/jwks.json", app.base_url("default"))))
        .await;
    r.expect(200);
    r.body
}

fn etag(r: &roster_testkit::Resp) -> String {
    r.header("etag").expect("etag").to_string()
}

// --- Tests -----------------------------------------------------------------------------------

#[tokio::test]
async fn each_scim_change_produces_exactly_its_rfc9967_events() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        let notice = create_stream(
            &app,
            json!({"delivery": "push", "endpoint": receiver.url, "authorization": "Bearer receiver-secret", "aud": ["https://app.example"]}),
        )
        .await;
        let full = Receiver::start().await;
        create_stream(&app, json!({"delivery": "push", "endpoint": full.url, "mode": "full"})).await;
        let worker = push_worker(&app, 50);

        let mut expected: Vec<(Vec<String>, String, Option<String>)> = Vec::new();
        let mut user_body = body::user("ada@example.com");
        user_body["externalId"] = json!("ext-ada");
        let created = app.scim.post("/Users", &user_body).await;
        created.expect(201);
        let ada = created.id();
        expected.push((
            vec![format!("{PROV}activate"), format!("{PROV}create:notice")],
            format!("/Users/{ada}"),
            Some(etag(&created)),
        ));

        let patched = app.scim.patch_ops(&format!("/Users/{ada}"), json!([{"op": "replace", "path": "active", "value": false}])).await;
        patched.expect(200);
        expected.push((
            vec![format!("{PROV}deactivate"), format!("{PROV}patch:notice")],
            format!("/Users/{ada}"),
            Some(etag(&patched)),
        ));

        // A PATCH that changes nothing is no event.
        app.scim.patch_ops(&format!("/Users/{ada}"), json!([{"op": "replace", "path": "active", "value": false}])).await.expect(200);

        let mut replacement = body::user("ada@example.com");
        replacement["externalId"] = json!("ext-ada");
        replacement["displayName"] = json!("Ada L.");
        replacement["active"] = json!(false);
        let put = app.scim.put(&format!("/Users/{ada}"), &replacement).await;
        put.expect(200);
        expected.push((vec![format!("{PROV}put:notice")], format!("/Users/{ada}"), Some(etag(&put))));

        let grace = app.scim.create_user("grace@example.com", json!({})).await;
        let grace_etag = etag(&app.scim.get(&format!("/Users/{grace}")).await);
        expected.push((vec![format!("{PROV}create:notice")], format!("/Users/{grace}"), Some(grace_etag)));

        let group = app.scim.post("/Groups", &json!({"schemas": [body::GROUP], "displayName": "Engineers", "members": [{"value": ada}]})).await;
        group.expect(201);
        let gid = group.id();
        expected.push((vec![format!("{PROV}create:notice")], format!("/Groups/{gid}"), Some(etag(&group))));

        let members = app
            .scim
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([{"op": "add", "path": "members", "value": [{"value": grace}]},
                       {"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
            )
            .await;
        members.expect(200);
        expected.push((vec![format!("{PROV}patch:notice")], format!("/Groups/{gid}"), Some(etag(&members))));

        app.scim.delete(&format!("/Users/{grace}")).await.expect(204);
        expected.push((vec![format!("{PROV}delete")], format!("/Users/{grace}"), None));

        let sets = receiver.wait_for(expected.len()).await;
        // Give a stray extra event the chance to show up before counting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sets = if receiver.accepted().len() > sets.len() { receiver.accepted() } else { sets };
        assert_eq!(sets.len(), expected.len(), "exactly one SET per change");
        let keys = jwks(&app).await;
        let mut txns = std::collections::HashSet::new();
        for (set, (want_uris, want_uri, want_version)) in sets.iter().zip(&expected) {
            let c = verify(set, &keys);
            assert_eq!(&uris(&c), want_uris, "{c:#}");
            assert_eq!(c["iss"], app.base_url("default"));
            assert_eq!(c["aud"], "https://app.example");
            assert!(c["iat"].is_i64());
            assert!(c.get("sub").is_none(), "RFC 9967 §2.1: sub_id, never sub");
            assert_eq!(c["sub_id"]["format"], "scim");
            assert_eq!(&c["sub_id"]["uri"], want_uri);
            assert_eq!(c["sub_id"]["id"], want_uri.rsplit('/').next().unwrap());
            assert!(txns.insert(c["txn"].as_str().unwrap().to_string()), "one txn per change");
            for (uri, payload) in c["events"].as_object().unwrap() {
                if uri.ends_with(":notice") {
                    assert_eq!(payload["version"].as_str(), want_version.as_deref(), "{c:#}");
                    assert!(payload["attributes"].is_array() && payload.get("data").is_none());
                } else {
                    assert_eq!(payload, &json!({}), "{uri} has no payload");
                }
            }
        }
        let by_uri = |n: usize| claims(&sets[n]);
        assert_eq!(by_uri(0)["sub_id"]["externalId"], "ext-ada");
        let create_attrs = &by_uri(0)["events"][format!("{PROV}create:notice")]["attributes"];
        assert!(create_attrs.as_array().unwrap().contains(&json!("userName")), "{create_attrs}");
        assert_eq!(by_uri(1)["events"][format!("{PROV}patch:notice")]["attributes"], json!(["active"]));
        assert!(by_uri(2)["events"][format!("{PROV}put:notice")]["attributes"].as_array().unwrap().contains(&json!("displayName")));
        let group_patch = &by_uri(5)["events"][format!("{PROV}patch:notice")];
        assert_eq!(group_patch["attributes"], json!(["members"]));
        assert_eq!(group_patch["membership"], json!({"added": [grace], "removed": [ada]}));
        assert_eq!(by_uri(4)["events"][format!("{PROV}create:notice")]["membership"]["added"], json!([ada]));

        // The push itself (RFC 8935 §2.1).
        let seen = receiver.inbox.lock().unwrap().seen.clone();
        assert!(seen.iter().all(|(_, ct, auth)| ct == "application/secevent+jwt" && auth == "Bearer receiver-secret"));

        // The full stream carries the resource as of that version.
        let full_sets = full.wait_for(expected.len()).await;
        let first = verify(&full_sets[0], &keys);
        let data = &first["events"][format!("{PROV}create:full")]["data"];
        assert_eq!(data["userName"], "ada@example.com");
        assert_eq!(data["id"], ada);
        assert_eq!(data["meta"]["version"], expected[0].2.clone().unwrap());
        assert!(first["events"][format!("{PROV}create:full")].get("attributes").is_none());
        assert_eq!(first["aud"], full.url, "aud defaults to the endpoint");

        // The stream is caught up and its log shows the deliveries.
        let view = stream_view(&app, notice["stream"]["id"].as_str().unwrap()).await;
        assert_eq!(view["status"], "active");
        assert_eq!(view["cursor"], view["latest"]);
        let log = app.admin().await.get(&format!("/tenants/default/streams/{}/deliveries", view["id"].as_str().unwrap())).await;
        log.expect(200);
        assert_eq!(log.body["deliveries"].as_array().unwrap().len(), expected.len());
        assert!(log.body["deliveries"].as_array().unwrap().iter().all(|d| d["outcome"] == "delivered" && d["status"] == 202));
        worker.stop().await;
    })
    .await;
}

#[tokio::test]
async fn service_provider_config_advertises_security_events() {
    each_backend(|app| async move {
        let r = app.scim.get("/ServiceProviderConfig").await;
        r.expect(200);
        let se = &r.body["securityEvents"];
        assert_eq!(se["asyncRequest"], "none");
        let uris = se["eventUris"].as_array().unwrap();
        for name in ["create:notice", "create:full", "patch:full", "put:notice", "delete", "activate", "deactivate"] {
            assert!(uris.contains(&json!(format!("{PROV}{name}"))), "{name}");
        }
        // The schema describes the attribute.
        let schema = app.scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig").await;
        assert!(schema.text.contains("securityEvents"));
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_fails_times_out_then_recovers_gets_every_event_in_order() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        receiver.script(&[
            Answer::Status(500, r#"{"oops": true}"#),
            Answer::Status(503, ""),
            Answer::Slow(Duration::from_millis(2500)),
            Answer::Status(429, ""),
        ]);
        let stream = create_stream(&app, json!({"delivery": "push", "endpoint": receiver.url})).await;
        let id = stream["stream"]["id"].as_str().unwrap().to_string();
        let mut config = fast_push(&app, 50);
        config.timeout = Duration::from_millis(500);
        let worker = PushWorker::spawn(app.core.clone(), config).unwrap();
        let mut users = Vec::new();
        for i in 0..6 {
            users.push(app.scim.create_user(&format!("u{i}@example.com"), json!({})).await);
        }
        let sets = receiver.wait_for(users.len()).await;
        let keys = jwks(&app).await;
        let mut last = 0;
        let mut delivered = Vec::new();
        for set in &sets {
            let c = verify(set, &keys);
            let seq = seq_of(&c);
            if seq <= last {
                // A duplicate of what was already delivered: at least once, never reordered.
                continue;
            }
            assert_eq!(seq, last + 1, "no gaps, in order");
            last = seq;
            delivered.push(c["sub_id"]["id"].as_str().unwrap().to_string());
        }
        assert_eq!(delivered, users);
        let log = app.admin().await.get(&format!("/tenants/default/streams/{id}/deliveries?limit=1000")).await;
        let rows = log.body["deliveries"].as_array().unwrap();
        let failed: Vec<&Value> = rows.iter().filter(|d| d["outcome"] == "failed").collect();
        // The four scripted failures (a loaded machine may add timeouts of its own).
        assert!(failed.len() >= 4, "{rows:#?}");
        assert!(failed.iter().any(|d| d["error"].as_str().unwrap().contains("no response within")), "{failed:#?}");
        assert!(failed.iter().any(|d| d["status"] == 500));
        let view = stream_view(&app, &id).await;
        assert_eq!(view["status"], "active");
        assert_eq!(view["attempts"], 0);
        worker.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_stream_that_keeps_failing_is_paused_and_flagged_and_resumes_where_it_stopped() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        receiver.otherwise(Some(Answer::Status(500, "")));
        let stream = create_stream(&app, json!({"delivery": "push", "endpoint": receiver.url})).await;
        let id = stream["stream"]["id"].as_str().unwrap().to_string();
        let worker = push_worker(&app, 3);
        let a = app.scim.create_user("a@example.com", json!({})).await;
        let b = app.scim.create_user("b@example.com", json!({})).await;
        let admin = app.admin().await;
        let paused = wait_until(Duration::from_secs(10), || {
            let inbox = receiver.inbox.lock().unwrap();
            inbox.seen.len() >= 3
        })
        .await;
        assert!(paused);
        let view = wait_for_status(&app, &id, "paused").await;
        assert_eq!(view["status"], "paused", "{view:#}");
        assert_eq!(view["flagged"], true);
        assert!(view["paused_reason"].as_str().unwrap().contains("3 failed attempts"), "{view:#}");
        // Nothing more is attempted while paused, and nothing is lost.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.inbox.lock().unwrap().seen.len(), 3);
        let audit = admin.get("/tenants/default/audit?event=event_stream.paused").await;
        assert_eq!(audit.body["events"].as_array().unwrap().len(), 1, "{}", audit.text);

        receiver.otherwise(None);
        admin.post(&format!("/tenants/default/streams/{id}/resume"), &json!({})).await.expect(200);
        let sets = receiver.wait_for(2).await;
        let ids: Vec<String> = sets.iter().map(|s| claims(s)["sub_id"]["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids, vec![a, b]);
        let view = stream_view(&app, &id).await;
        assert_eq!(view["flagged"], false);
        worker.stop().await;
    })
    .await;
}

/// The stream's view once its status is `status` (or after 10 s).
async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let view = stream_view(app, id).await;
        if view["status"] == status || tokio::time::Instant::now() > deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_set_the_receiver_rejects_pauses_the_stream_until_an_admin_skips_it() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        receiver.script(&[Answer::Status(400, r#"{"err": "invalid_audience", "description": "not for us"}"#)]);
        let stream = create_stream(&app, json!({"delivery": "push", "endpoint": receiver.url})).await;
        let id = stream["stream"]["id"].as_str().unwrap().to_string();
        let worker = push_worker(&app, 50);
        app.scim.create_user("rejected@example.com", json!({})).await;
        let next = app.scim.create_user("next@example.com", json!({})).await;
        let view = wait_for_status(&app, &id, "paused").await;
        assert!(view["paused_reason"].as_str().unwrap().contains("invalid_audience"), "{view:#}");
        assert_eq!(view["flagged"], true);
        // Retrying cannot help (RFC 8935 §2.4), so there was exactly one attempt.
        assert_eq!(receiver.inbox.lock().unwrap().seen.len(), 1);
        let admin = app.admin().await;
        let resumed = admin.post(&format!("/tenants/default/streams/{id}/resume"), &json!({"skip": true})).await;
        resumed.expect(200);
        let sets = receiver.wait_for(1).await;
        assert_eq!(claims(&sets[0])["sub_id"]["id"], next);
        let log = admin.get(&format!("/tenants/default/streams/{id}/deliveries")).await;
        let outcomes: Vec<&str> =
            log.body["deliveries"].as_array().unwrap().iter().map(|d| d["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, vec!["delivered", "skipped", "rejected"]);
        worker.stop().await;
    })
    .await;
}

async fn poll(url: &str, token: &str, body: Value) -> roster_testkit::Resp {
    ScimClient::send(reqwest::Client::new().post(url).bearer_auth(token).json(&body)).await
}

#[tokio::test]
async fn poll_with_acknowledgements_redelivers_what_was_not_acknowledged() {
    each_backend(|app| async move {
        let created = create_stream(&app, json!({"delivery": "poll", "events": ["create", "delete"], "name": "device console"})).await;
        let token = created["poll_token"].as_str().unwrap().to_string();
        let url = created["stream"]["poll_url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&app.base_url("default")));
        let users: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..3 {
                v.push(app.scim.create_user(&format!("p{i}@example.com"), json!({})).await);
            }
            v
        };
        // Not a wanted type: never delivered, never blocks the cursor.
        app.scim.patch_ops(&format!("/Users/{}", users[0]), json!([{"op": "replace", "path": "displayName", "value": "x"}])).await.expect(200);

        let first = poll(&url, &token, json!({"returnImmediately": true})).await;
        first.expect(200);
        let sets = first.body["sets"].as_object().unwrap();
        assert_eq!(sets.len(), 3);
        assert_eq!(first.body["moreAvailable"], false);
        let keys = jwks(&app).await;
        let jtis: Vec<String> = sets.keys().cloned().collect();
        for (jti, set) in sets {
            let c = verify(set.as_str().unwrap(), &keys);
            assert_eq!(&c["jti"], jti);
            assert_eq!(uris(&c), vec![format!("{PROV}create:notice")]);
        }
        let mut by_seq = jtis.clone();
        by_seq.sort_by_key(|j| j.rsplit_once('-').unwrap().1.parse::<i64>().unwrap());

        // Acknowledge the first and the last: the middle one comes again.
        let second =
            poll(&url, &token, json!({"ack": [by_seq[0], by_seq[2]], "returnImmediately": true})).await;
        second.expect(200);
        assert_eq!(second.body["sets"].as_object().unwrap().keys().cloned().collect::<Vec<_>>(), vec![by_seq[1].clone()]);
        // Still not acknowledged: still redelivered.
        let again = poll(&url, &token, json!({"returnImmediately": true, "maxEvents": 10})).await;
        assert_eq!(again.body["sets"].as_object().unwrap().len(), 1);

        // maxEvents and moreAvailable.
        let d = app.scim.create_user("p3@example.com", json!({})).await;
        let limited = poll(&url, &token, json!({"ack": [by_seq[1]], "maxEvents": 0})).await;
        assert_eq!(limited.body["sets"], json!({}), "maxEvents 0 only acknowledges");
        app.scim.delete(&format!("/Users/{d}")).await.expect(204);
        let one = poll(&url, &token, json!({"maxEvents": 1, "returnImmediately": true})).await;
        assert_eq!(one.body["sets"].as_object().unwrap().len(), 1);
        assert_eq!(one.body["moreAvailable"], true);
        let (jti_create, set) = one.body["sets"].as_object().unwrap().iter().next().unwrap();
        assert_eq!(claims(set.as_str().unwrap())["sub_id"]["id"], d);

        // An error report counts as handled, flags the stream, and is logged.
        let rest = poll(&url, &token, json!({"ack": [jti_create], "returnImmediately": true})).await;
        let (jti_delete, _) = rest.body["sets"].as_object().unwrap().iter().next().unwrap();
        let errs = json!({"setErrs": {jti_delete: {"err": "invalid_request", "description": "cannot handle"}}, "returnImmediately": true});
        let after = poll(&url, &token, errs).await;
        assert_eq!(after.body["sets"], json!({}));
        let id = created["stream"]["id"].as_str().unwrap();
        let view = stream_view(&app, id).await;
        assert_eq!(view["flagged"], true);
        assert_eq!(view["cursor"], view["latest"], "caught up past the unwanted PATCH too");
        let log = app.admin().await.get(&format!("/tenants/default/streams/{id}/deliveries")).await;
        let outcomes: Vec<&str> =
            log.body["deliveries"].as_array().unwrap().iter().map(|d| d["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, vec!["rejected", "acknowledged", "acknowledged", "acknowledged", "acknowledged"]);

        // A long poll answers as soon as an event arrives.
        let (long, _) = tokio::join!(
            poll(&url, &token, json!({"returnImmediately": false})),
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                app.scim.create_user("late@example.com", json!({})).await
            }
        );
        assert_eq!(long.body["sets"].as_object().unwrap().len(), 1, "{}", long.text);

        // Only the stream's own token polls it.
        let wrong = poll(&url, &app.token, json!({})).await;
        wrong.expect(401);
        assert_eq!(wrong.body["err"], "authentication_failed");
        let bad = poll(&url, &token, json!({"ack": ["not-a-jti"]})).await;
        bad.expect(400);
        assert_eq!(bad.body["err"], "invalid_request");
    })
    .await;
}

#[tokio::test]
async fn two_instances_neither_skip_nor_reorder_events() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        let receiver = Receiver::start().await;
        create_stream(&a, json!({"delivery": "push", "endpoint": receiver.url})).await;
        // Both instances push, and both take writes.
        let wa = push_worker(&a, 50);
        let wb = push_worker(&b, 50);
        let creates = (0..30).map(|i| {
            let client = if i % 2 == 0 { a.scim.clone() } else { b.scim.clone() };
            async move { client.create_user(&format!("n{i}@example.com"), json!({})).await }
        });
        let created: Vec<String> = join_all(creates).await;
        let sets = receiver.wait_for(created.len()).await;
        let keys = jwks(&b).await;
        let mut last = None;
        let mut seen: HashMap<i64, String> = HashMap::new();
        for set in &sets {
            let c = verify(set, &keys);
            let seq = seq_of(&c);
            let id = c["sub_id"]["id"].as_str().unwrap().to_string();
            if let Some(prev) = seen.get(&seq) {
                assert_eq!(prev, &id, "a duplicate is the same SET");
                continue;
            }
            if let Some(l) = last {
                assert_eq!(seq, l + 1, "in order, no gap");
            }
            last = Some(seq);
            seen.insert(seq, id);
        }
        let mut delivered: Vec<String> = seen.into_values().collect();
        delivered.sort();
        let mut expected = created.clone();
        expected.sort();
        assert_eq!(delivered, expected, "every change, once");
        wa.stop().await;
        wb.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_read_only_key_reads_scim_resources_but_cannot_write() {
    each_backend(|app| async move {
        let ada = app.scim.create_user("ada@example.com", json!({})).await;
        let key = app.core.create_api_key(&Actor::system(), "app", Some("default"), KeyScope::Read).await.unwrap().key;
        let reader = app.scim.with_token(Some(&key));
        reader.get("/Users").await.expect(200);
        let one = reader.get(&format!("/Users/{ada}")).await;
        one.expect(200);
        assert_eq!(one.body["userName"], "ada@example.com");
        let search = reader
            .post("/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"ada@example.com\""}))
            .await;
        search.expect(200);
        assert_eq!(search.body["totalResults"], 1);
        reader.get("/Groups").await.expect(200);

        reader.post("/Users", &body::user("eve@example.com")).await.expect_error(403, None);
        reader.put(&format!("/Users/{ada}"), &body::user("ada@example.com")).await.expect_error(403, None);
        reader.patch_ops(&format!("/Users/{ada}"), json!([{"op": "replace", "path": "active", "value": false}])).await.expect_error(403, None);
        reader.delete(&format!("/Users/{ada}")).await.expect_error(403, None);
        let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": body::user("eve@example.com")}]});
        reader.post("/Bulk", &bulk).await.expect_error(403, None);
        // Nothing changed.
        let still = app.scim.get(&format!("/Users/{ada}")).await;
        assert_eq!(still.body["active"], Value::Null);
        assert_eq!(app.scim.get("/Users?filter=userName%20eq%20%22eve@example.com%22").await.body["totalResults"], 0);

        // A key scoped to another tenant reads nothing here.
        app.core.ensure_tenant("other").await.unwrap();
        let other = app.core.create_api_key(&Actor::system(), "other", Some("other"), KeyScope::Read).await.unwrap().key;
        app.scim.with_token(Some(&other)).get("/Users").await.expect_error(401, None);
        // And the read-only key registers no streams.
        let admin = roster_testkit::AdminClient { key: Some(key), ..app.admin().await };
        admin.post("/tenants/default/streams", &json!({"delivery": "poll"})).await.expect(403);
        admin.get("/tenants/default/streams").await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn streams_are_validated_and_managed_through_the_admin_api() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let bad = [
            json!({"delivery": "push"}),
            json!({"delivery": "push", "endpoint": "http://app.example/events"}),
            json!({"delivery": "push", "endpoint": "ftp://x"}),
            json!({"delivery": "carrier-pigeon"}),
            json!({"delivery": "poll", "events": ["feed:add"]}),
            json!({"delivery": "poll", "mode": "verbose"}),
            json!({"delivery": "poll", "endpoint": "https://app.example/events"}),
        ];
        for spec in bad {
            let r = admin.post("/tenants/default/streams", &spec).await;
            assert_eq!(r.status, 400, "{spec} → {}", r.text);
        }
        // An unsigned stream on a trusted network, plain HTTP allowed explicitly.
        let created = create_stream(
            &app,
            json!({"delivery": "push", "endpoint": "http://app.internal/events", "allow_http": true, "unsigned": true, "events": ["deactivate"]}),
        )
        .await;
        let s = &created["stream"];
        assert_eq!(s["signed"], false);
        assert_eq!(s["events"], json!([format!("{PROV}deactivate")]));
        assert!(created.get("poll_token").is_none());
        assert_eq!(s["authorization_set"], false);
        let id = s["id"].as_str().unwrap();
        let list = admin.get("/tenants/default/streams").await;
        assert_eq!(list.body.as_array().unwrap().len(), 1);
        let paused = admin.post(&format!("/tenants/default/streams/{id}/pause"), &json!({})).await;
        assert_eq!(paused.body["status"], "paused");
        assert_eq!(paused.body["flagged"], false);
        admin.delete(&format!("/tenants/default/streams/{id}")).await.expect(204);
        admin.get(&format!("/tenants/default/streams/{id}")).await.expect(404);
        let audit = admin.get("/tenants/default/audit").await;
        let codes: Vec<&str> = audit.body["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        for code in ["event_stream.created", "event_stream.paused", "event_stream.deleted"] {
            assert!(codes.contains(&code), "{codes:?}");
        }
        // The JWKS holds the tenant's key; an unknown tenant has none.
        assert_eq!(jwks(&app).await["keys"].as_array().unwrap().len(), 1);
        let missing = ScimClient::send(reqwest::Client::new().get(format!("{}/.well-known/jwks.json", app.base_url("nope")))).await;
        missing.expect(404);
    })
    .await;
}
