//! Limits (issue 10, item 4): what `/ServiceProviderConfig` advertises matches what is
//! enforced; request timeouts answer 503 in each API's error shape; a client that trickles
//! its headers or idles on a connection is cut off; the admin API has a body limit too.
//! Page-size capping is in `paging`, Bulk limits in `bulk`, filter limits in `bad_input`.

use std::time::{Duration, Instant};

use roster_http::{AppState, HttpConfig};
use roster_testkit::{ScimClient, TestApp, each_backend};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// A second server on `app`'s services with its own HTTP settings (timeouts, quotas).
pub struct Custom {
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Custom {
    /// The SCIM client of `tenant` with `token`.
    pub fn scim(&self, tenant: &str, token: &str) -> ScimClient {
        ScimClient::new(&format!("{}/scim/v2/{tenant}", self.url), Some(token))
    }
}

impl Drop for Custom {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn serve_with(app: &TestApp, config: HttpConfig) -> Custom {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let state = AppState::new(app.core.clone(), HttpConfig { public_url: url.clone(), ..config });
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = roster_http::serve(listener, state, async {
            let _ = rx.await;
        })
        .await;
    });
    Custom { url, addr, stop: Some(tx) }
}

fn unlimited() -> HttpConfig {
    HttpConfig { rate_limits: roster_http::ratelimit::RateLimits::UNLIMITED, ..Default::default() }
}

#[tokio::test]
async fn service_provider_config_advertises_every_limit_that_is_enforced() {
    each_backend(|app| async move {
        let spc = app.scim.get("/ServiceProviderConfig").await;
        spc.expect(200);
        // Bulk: enforced in `bulk` (413 beyond either); page size: capped in `paging`.
        assert_eq!(spc.body["bulk"]["supported"], true);
        assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
        assert_eq!(spc.body["bulk"]["maxPayloadSize"], 1_048_576);
        assert_eq!(spc.body["filter"]["maxResults"], 1000);
        assert_eq!(spc.body["pagination"]["maxPageSize"], 1000);
        // The advertised bulk payload equals the body limit of every other request, so no
        // client that respects one trips over the other.
        assert_eq!(spc.body["bulk"]["maxPayloadSize"], HttpConfig::default().max_body_bytes);
        assert_eq!(spc.body["authenticationSchemes"][0]["type"], "oauthbearertoken");
    })
    .await;
}

/// Sends a request head that promises `promised` body bytes, then `sent` of them, and
/// reads what comes back (status line and body) without sending the rest.
async fn stalled_body(addr: std::net::SocketAddr, head: &str, promised: usize, sent: &[u8]) -> (u16, Value, Duration) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(format!("{head}Content-Length: {promised}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    stream.write_all(sent).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null), started.elapsed())
}

#[tokio::test]
async fn a_request_that_outlives_the_timeout_is_a_503_in_each_apis_error_shape() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let custom = serve_with(&app, HttpConfig { request_timeout: Duration::from_millis(400), ..unlimited() }).await;
    let key = app.admin().await.key.unwrap();
    let body = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"#;

    // A SCIM create whose body never finishes: stopped, with a SCIM error body.
    let head = format!(
        "POST /scim/v2/default/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\n",
        app.token
    );
    let (status, body_json, took) = stalled_body(custom.addr, &head, 1000, body).await;
    assert_eq!(status, 503, "{body_json}");
    assert_eq!(body_json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body_json["status"], "503");
    assert!(body_json["detail"].as_str().unwrap().contains("longer than the server allows"), "{body_json}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // The admin API: the same, in its JSON shape.
    let head = format!(
        "POST /admin/api/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    );
    let (status, body_json, _) = stalled_body(custom.addr, &head, 1000, b"{\"slug\":").await;
    assert_eq!(status, 503, "{body_json}");
    assert_eq!(body_json["status"], 503, "{body_json}");
    assert!(body_json["error"].is_string(), "{body_json}");

    // Nothing was created, and the timed-out SCIM request is in the provisioning log.
    assert_eq!(app.scim.get("/Users").await.body["totalResults"], 0);
    app.core.log.flush().await;
    let admin = app.admin().await;
    let log = admin.get("/tenants/default/provisioning-log?status=5xx").await;
    let rows = log.body["requests"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["status"] == 503 && r["method"] == "POST"), "{}", log.text);
    assert_eq!(admin.get("/tenants").await.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_or_idles_is_disconnected() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    let custom = serve_with(&app, HttpConfig { header_read_timeout: Duration::from_millis(500), ..unlimited() }).await;

    // Half a request head, then nothing: the connection is closed, with no request served.
    let mut slow = tokio::net::TcpStream::connect(custom.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a trickling connection open");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "{}", String::from_utf8_lossy(&buf));

    // A connection that sends nothing at all is closed as well.
    let mut idle = tokio::net::TcpStream::connect(custom.addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept an idle connection open");

    // A keep-alive connection is served, then closed once it idles past the timeout.
    let mut kept = tokio::net::TcpStream::connect(custom.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut first = [0u8; 1024];
    let n = kept.read(&mut first).await.unwrap();
    assert!(
        String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), kept.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "an idle keep-alive connection stayed open");

    // Well-behaved clients are unaffected.
    custom.scim("default", &app.token).get("/Users").await.expect(200);
}

#[tokio::test]
async fn the_admin_api_refuses_oversize_bodies_with_413_in_its_json_shape() {
    each_backend(|app| async move {
        let admin = app.admin().await;
        let big = json!({"slug": "x".repeat(2 * 1024 * 1024)});
        let r = admin.post("/tenants", &big).await;
        assert_eq!(r.status, 413, "{}", r.text);
        assert_eq!(r.body["status"], 413, "{}", r.text);
        assert!(r.body["error"].is_string(), "{}", r.text);
        let r = admin.patch("/tenants/default/settings", &json!({"vendor": "v".repeat(2 * 1024 * 1024)})).await;
        assert_eq!(r.status, 413, "{}", r.text);
        assert_eq!(admin.get("/tenants").await.body.as_array().unwrap().len(), 1);
    })
    .await;
}
