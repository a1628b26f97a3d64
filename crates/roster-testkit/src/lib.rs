//! Test support for Roster: [`TestApp::spawn`] starts the real application on
//! `127.0.0.1:0` with a fresh database (SQLite in a temporary directory, or a private
//! PostgreSQL schema when `ROSTER_TEST_POSTGRES_URL` is set), a tenant `default` and a SCIM
//! token; [`ScimClient`] talks to it. Never a dependency of production code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;

use roster_core::audit::Actor;
use roster_core::tenants::{DEFAULT_TENANT, Expiry};
use roster_core::{Core, Idp, ManualClock, RandomIds, TenantSettings};
use roster_http::{AppState, HttpConfig};
use roster_scim::discovery::ServiceProviderConfig;
use roster_store::{SqlStore, StoreOptions};

/// reqwest is built with rustls and no crypto provider of its own (Roster's event push
/// client installs ring when it starts); test clients need one before they are built.
pub fn install_crypto() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("ROSTER_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// The backends to run on: SQLite always, PostgreSQL when `ROSTER_TEST_POSTGRES_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// Runs `test` against a fresh app on every configured backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        test(app).await;
    }
}

/// Like [`each_backend`], with the `default` tenant configured with `settings`.
pub async fn each_backend_with<F, Fut>(settings: TenantSettings, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        let app = TestApp::spawn_with(backend, settings.clone()).await;
        test(app).await;
    }
}

/// A fresh database: a temporary SQLite file or a new PostgreSQL schema.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub options: StoreOptions,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("roster.db").display());
                TestDb { url, options: StoreOptions::default(), _dir: Some(dir) }
            }
            Backend::Postgres => {
                let url = postgres_url().expect("ROSTER_TEST_POSTGRES_URL");
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                TestDb { url, options: StoreOptions { pg_schema: Some(schema), ..Default::default() }, _dir: None }
            }
        }
    }

    pub async fn connect(&self) -> SqlStore {
        SqlStore::connect(&self.url, &self.options).await.expect("connect test database")
    }
}

/// A running Roster on a random local port.
#[derive(Debug)]
pub struct TestApp {
    pub backend: Backend,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub public_url: String,
    pub core: Arc<Core>,
    pub store: SqlStore,
    pub clock: Arc<ManualClock>,
    /// The `default` tenant's SCIM client, authenticated with an Okta token.
    pub scim: ScimClient,
    /// That token's text.
    pub token: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    db: Arc<TestDb>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, TenantSettings::default()).await
    }

    /// Starts an app whose `default` tenant has `settings`.
    pub async fn spawn_with(backend: Backend, settings: TenantSettings) -> TestApp {
        install_crypto();
        let db = Arc::new(TestDb::new(backend));
        let (core, store, clock, public_url, addr, shutdown, server) = Self::start(&db).await;
        if settings != TenantSettings::default() {
            core.update_tenant_settings(DEFAULT_TENANT, settings).await.expect("tenant settings");
        }
        let issued = core
            .issue_token(&Actor::system(), DEFAULT_TENANT, Idp::Okta, "test", Expiry::DEFAULT, &public_url)
            .await
            .expect("token");
        let scim = ScimClient::new(&issued.target_url, Some(&issued.token));
        TestApp {
            backend,
            addr,
            public_url,
            core,
            store,
            clock,
            scim,
            token: issued.token,
            shutdown: Some(shutdown),
            server: Some(server),
            db,
        }
    }

    /// A second Roster instance on the same database (a second node behind a load
    /// balancer), with its own process state; its client uses this app's token.
    pub async fn second_instance(&self) -> TestApp {
        let (core, store, clock, public_url, addr, shutdown, server) = Self::start(&self.db).await;
        let scim = ScimClient::new(&format!("{public_url}/scim/v2/{DEFAULT_TENANT}"), Some(&self.token));
        TestApp {
            backend: self.backend,
            addr,
            public_url,
            core,
            store,
            clock,
            scim,
            token: self.token.clone(),
            shutdown: Some(shutdown),
            server: Some(server),
            db: self.db.clone(),
        }
    }

    #[allow(clippy::type_complexity)]
    async fn start(
        db: &TestDb,
    ) -> (Arc<Core>, SqlStore, Arc<ManualClock>, String, SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>)
    {
        let store = db.connect().await;
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let core = Arc::new(Core::new(
            Arc::new(store.clone()),
            clock.clone(),
            Arc::new(RandomIds),
            ServiceProviderConfig::default(),
        ));
        core.ensure_tenant(DEFAULT_TENANT).await.expect("default tenant");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let public_url = format!("http://{addr}");
        // No rate limits: tests send bursts no IdP would (the limits have their own tests).
        let state = AppState::new(
            core.clone(),
            HttpConfig {
                public_url: public_url.clone(),
                rate_limits: roster_http::ratelimit::RateLimits::UNLIMITED,
                ..Default::default()
            },
        );
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            roster_http::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        (core, store, clock, public_url, addr, tx, server)
    }

    /// An admin API client authenticated with a new installation-wide admin key.
    pub async fn admin(&self) -> AdminClient {
        let key = self
            .core
            .create_api_key(&Actor::system(), "test", None, roster_core::store::KeyScope::Admin)
            .await
            .expect("api key");
        AdminClient { http: reqwest::Client::new(), base: format!("{}/admin/api", self.public_url), key: Some(key.key) }
    }

    /// The SCIM base URL of a tenant.
    pub fn base_url(&self, tenant: &str) -> String {
        format!("{}/scim/v2/{tenant}", self.public_url)
    }

    /// A client for another tenant (created on first use) with its own token.
    pub async fn tenant_client(&self, slug: &str) -> ScimClient {
        self.core.ensure_tenant(slug).await.expect("tenant");
        let issued = self
            .core
            .issue_token(&Actor::system(), slug, Idp::Entra, "test", Expiry::DEFAULT, &self.public_url)
            .await
            .expect("token");
        ScimClient::new(&issued.target_url, Some(&issued.token))
    }

    /// The database this app runs on (to start a second instance on it).
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client of the admin JSON API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT/admin/api`
    pub base: String,
    /// The admin API key sent as a bearer token, if any.
    pub key: Option<String>,
}

impl AdminClient {
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = &self.key {
            rb = rb.header("Authorization", format!("Bearer {k}"));
        }
        rb
    }

    pub async fn get(&self, path: &str) -> Resp {
        ScimClient::send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        ScimClient::send(self.request(reqwest::Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        ScimClient::send(self.request(reqwest::Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        ScimClient::send(self.request(reqwest::Method::DELETE, path)).await
    }
}

/// A response, with the body parsed when it is JSON.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Resp {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a SCIM error with this status and scimType (None: no scimType).
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) -> &Resp {
        self.expect(status);
        assert_eq!(self.header("content-type"), Some("application/scim+json"), "{}", self.text);
        assert_eq!(self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", self.text);
        assert_eq!(self.body["status"], Value::String(status.to_string()), "{}", self.text);
        assert_eq!(self.body.get("scimType").and_then(Value::as_str), scim_type, "{}", self.text);
        self
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("id in body").to_string()
    }
}

/// A SCIM client bound to one tenant's base URL.
#[derive(Debug, Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl ScimClient {
    pub fn new(base: &str, token: Option<&str>) -> ScimClient {
        install_crypto();
        ScimClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').into(),
            token: token.map(str::to_string),
        }
    }

    /// The same client with another token (or none).
    pub fn with_token(&self, token: Option<&str>) -> ScimClient {
        ScimClient { token: token.map(str::to_string), ..self.clone() }
    }

    /// A request builder for `method` on `path` (relative to the base), authenticated.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        let mut rb = self.http.request(method, url);
        if let Some(t) = &self.token {
            rb = rb.header("Authorization", format!("Bearer {t}"));
        }
        rb
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
        let response = rb.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        Self::send(self.request(reqwest::Method::DELETE, path)).await
    }

    async fn with_body(&self, method: reqwest::Method, path: &str, body: &Value) -> Resp {
        Self::send(self.request(method, path).header("Content-Type", "application/scim+json").body(body.to_string()))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.with_body(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.with_body(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.with_body(reqwest::Method::PATCH, path, body).await
    }

    /// PATCH with a PatchOp built from `operations`.
    pub async fn patch_ops(&self, path: &str, operations: Value) -> Resp {
        let body =
            serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
        self.patch(path, &body).await
    }

    /// Creates a user with just a userName (plus `extra` attributes) and returns its id.
    pub async fn create_user(&self, user_name: &str, extra: Value) -> String {
        let mut body =
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name});
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        let r = self.post("/Users", &body).await;
        r.expect(201);
        r.id()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn create_group(&self, display_name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| serde_json::json!({"value": m})).collect();
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": display_name, "members": members});
        let r = self.post("/Groups", &body).await;
        r.expect(201);
        r.id()
    }
}

/// Builders for common bodies.
pub mod body {
    use serde_json::{Value, json};

    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

    /// A realistic user (Okta-style create body).
    pub fn user(user_name: &str) -> Value {
        json!({
            "schemas": [USER],
            "userName": user_name,
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": user_name, "type": "work"}],
            "displayName": "Test User",
            "active": true
        })
    }

    pub fn group(display_name: &str) -> Value {
        json!({"schemas": [GROUP], "displayName": display_name})
    }
}
