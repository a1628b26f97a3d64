//! The admin portal in a real browser (issue 7): headless Chromium driven by fantoccini over
//! plain HTTP to a local chromedriver. Signs in, generates an Okta token, reads the token and
//! the target SCIM URL off the page, provisions a user with them, sets the token inactive
//! (SCIM refuses it) and active again, renews and removes it, finds the five token events
//! with "Okta" in DETAILS on the Audit Trail, and the user on the Users page. A screenshot
//! of every page goes to `test-artifacts/portal/` (not committed).
//!
//! Gate: these run when `ROSTER_BROWSER_TESTS=1` (`.ci/run` sets it) and fail loudly if
//! chromedriver is missing then; without it they say (on stderr) that they did not run.
//! Install with `apt-get install -y chromium chromium-driver`; `CHROMEDRIVER` and `CHROMIUM`
//! override the binaries' paths.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use roster_core::audit::Actor;
use roster_testkit::{Backend, ScimClient, TestApp, backends, body};
use serde_json::json;

use crate::portal::PASSWORD;

/// How long to wait for the page to show what a step expects.
const WAIT: Duration = Duration::from_secs(15);

fn find_binary(env: &str, default: &str, name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env)
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    if Path::new(default).exists() {
        return Some(PathBuf::from(default));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

/// The chromedriver and Chromium to use, or `None` (with a note) when the browser tests are
/// not asked for. Asked for but missing is a failure, not a skip.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let wanted = std::env::var("ROSTER_BROWSER_TESTS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if !wanted {
        // Straight to stderr: the test harness does not capture this, so the run shows it.
        let _ = writeln!(
            std::io::stderr(),
            "portal_browser: browser tests NOT RUN (set ROSTER_BROWSER_TESTS=1; they need `apt-get install -y chromium chromium-driver`)"
        );
        return None;
    }
    let driver = find_binary("CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver").unwrap_or_else(|| {
        panic!("ROSTER_BROWSER_TESTS=1 but chromedriver is missing: apt-get install -y chromium chromium-driver")
    });
    let chromium = find_binary("CHROMIUM", "/usr/bin/chromium", "chromium").unwrap_or_else(|| {
        panic!("ROSTER_BROWSER_TESTS=1 but chromium is missing: apt-get install -y chromium chromium-driver")
    });
    Some((driver, chromium))
}

/// A chromedriver on a free local port, killed when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

async fn start_driver(path: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "chromedriver did not listen on port {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { _child: child, url: format!("http://127.0.0.1:{port}") }
}

async fn open_browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1366,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"))
}

/// Saves screenshots as `test-artifacts/portal/<backend>-<nn>-<name>.png`.
struct Shots {
    dir: PathBuf,
    prefix: &'static str,
    n: usize,
    taken: Vec<PathBuf>,
}

impl Shots {
    fn new(backend: Backend) -> Shots {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/portal");
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        Shots { dir, prefix, n: 0, taken: Vec::new() }
    }

    async fn take(&mut self, c: &Client, name: &str) {
        self.n += 1;
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = self.dir.join(format!("{}-{:02}-{name}.png", self.prefix, self.n));
        std::fs::write(&path, png).unwrap();
        self.taken.push(path);
    }
}

/// Waits until some element matching `css` has text satisfying `ok`; returns that text.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        seen.clear();
        if let Ok(elements) = c.find_all(Locator::Css(css)).await {
            for e in elements {
                if let Ok(t) = e.text().await {
                    if ok(&t) {
                        return t;
                    }
                    seen.push(t);
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("timed out waiting for {css} on {url}; saw {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the page whose `<main data-page>` is `page`.
async fn wait_page(c: &Client, page: &str) {
    let css = format!("main[data-page='{page}']");
    c.wait().at_most(WAIT).for_element(Locator::Css(&css)).await.unwrap_or_else(|e| {
        panic!("page {page} did not show: {e}");
    });
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Chooses `action` in a token row's Select menu and applies it.
async fn token_action(c: &Client, id: &str, action: &str) {
    let select = c.find(Locator::Css(&format!("#action-{id}"))).await.unwrap();
    select.select_by_value(action).await.unwrap();
    click(c, &format!("#apply-{id}")).await;
}

async fn scim_status(url: &str, token: &str) -> u16 {
    ScimClient::new(url, Some(token)).get("/Users").await.status
}

async fn okta_token_lifecycle(app: &TestApp, c: &Client, shots: &mut Shots) {
    let base = &app.public_url;
    app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();

    // Sign in (the portal sends an unsigned-in browser to the sign-in page).
    c.goto(&format!("{base}/admin/t/default/provisioning")).await.unwrap();
    wait_page(c, "sign-in").await;
    shots.take(c, "sign-in").await;
    c.find(Locator::Id("username")).await.unwrap().send_keys("alice").await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    click(c, "#sign-in").await;
    wait_page(c, "provisioning").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/admin/t/default/provisioning");
    shots.take(c, "user-provisioning").await;

    // Generate a token for Okta, confirming first.
    c.find(Locator::Id("idp")).await.unwrap().select_by_value("okta").await.unwrap();
    c.find(Locator::Id("token-name")).await.unwrap().send_keys("browser").await.unwrap();
    click(c, "#generate-button").await;
    wait_page(c, "token-confirm").await;
    wait_text(c, "h1", |t| t == "Generate a SCIM token for Okta?").await;
    shots.take(c, "generate-confirm").await;
    click(c, "#confirm-generate").await;
    wait_page(c, "token-secret").await;
    let token = wait_text(c, "#token-value", |t| t.starts_with("roster_")).await;
    let url = c.find(Locator::Id("target-url")).await.unwrap().text().await.unwrap();
    assert_eq!(url, app.base_url("default"));
    wait_text(c, "#shown-once", |t| t.contains("will not be shown again")).await;
    // The Copy buttons appear with JavaScript and react.
    let copy = c.find(Locator::Css("button[data-copy='token-value']")).await.unwrap();
    assert!(copy.is_displayed().await.unwrap(), "Copy button hidden: portal.js did not run");
    copy.click().await.unwrap();
    wait_text(c, "button[data-copy='token-value']", |t| t != "Copy").await;
    shots.take(c, "token-shown-once").await;

    // The token works for a real SCIM request.
    let scim = ScimClient::new(&url, Some(&token));
    let mut user = body::user("browser.user@example.com");
    user["displayName"] = json!("Browser User");
    let created = scim.post("/Users", &user).await;
    created.expect(201);
    let user_id = created.id();
    let id = app.core.list_tokens("default").await.unwrap().into_iter().find(|t| t.name == "browser").unwrap().id;

    // Back on the page: the Token Status table lists it; set it inactive.
    click(c, "#done").await;
    wait_page(c, "provisioning").await;
    wait_text(c, &format!("#token-{id}"), |t| t.contains("Okta") && t.contains("browser") && t.contains("Active"))
        .await;
    wait_text(c, "#generate-unavailable", |t| t.contains("already holds 2 tokens")).await;
    token_action(c, &id, "deactivate").await;
    wait_text(c, &format!("#token-{id} [data-status]"), |t| t == "Inactive").await;
    wait_text(c, "#flash", |t| t.contains("inactive")).await;
    shots.take(c, "token-inactive").await;
    assert_eq!(scim_status(&url, &token).await, 401, "SCIM must refuse an inactive token");

    token_action(c, &id, "activate").await;
    wait_text(c, &format!("#token-{id} [data-status]"), |t| t == "Active").await;
    assert_eq!(scim_status(&url, &token).await, 200);

    // Renew: confirm, then the new secret, once.
    token_action(c, &id, "renew").await;
    wait_page(c, "confirm").await;
    wait_text(c, "h1", |t| t.contains("Renew the token for Okta")).await;
    shots.take(c, "renew-confirm").await;
    click(c, "#confirm-action").await;
    wait_page(c, "token-secret").await;
    let renewed = wait_text(c, "#token-value", |t| t.starts_with("roster_") && t != token).await;
    shots.take(c, "token-renewed").await;
    assert_eq!(scim_status(&url, &token).await, 401, "the old secret stops working");
    assert_eq!(scim_status(&url, &renewed).await, 200);

    // Remove, with confirmation.
    click(c, "#done").await;
    wait_page(c, "provisioning").await;
    token_action(c, &id, "remove").await;
    wait_page(c, "confirm").await;
    wait_text(c, "h1", |t| t.contains("Remove the token for Okta")).await;
    shots.take(c, "remove-confirm").await;
    click(c, "#confirm-action").await;
    wait_page(c, "provisioning").await;
    wait_text(c, "#flash", |t| t.contains("removed")).await;
    assert!(c.find_all(Locator::Css(&format!("#token-{id}"))).await.unwrap().is_empty());
    shots.take(c, "token-removed").await;
    assert_eq!(scim_status(&url, &renewed).await, 401);

    // The Audit Trail: all five events of this token, each naming Okta in DETAILS.
    click(c, "#nav-audit").await;
    wait_page(c, "audit").await;
    let target = format!("token {id}");
    let mut found = Vec::new();
    for row in c.find_all(Locator::Css("#audit-events tbody tr")).await.unwrap() {
        let cells = row.find_all(Locator::Css("td")).await.unwrap();
        if cells.len() < 5 || cells[3].text().await.unwrap() != target {
            continue;
        }
        let details = cells[4].text().await.unwrap();
        assert!(details.contains("Okta"), "DETAILS without the IdP: {details}");
        assert_eq!(cells[1].text().await.unwrap(), "admin alice");
        found.push(cells[2].text().await.unwrap());
    }
    found.reverse();
    assert_eq!(
        found,
        ["SCIM Token Created", "SCIM Token Disabled", "SCIM Token Enabled", "SCIM Token Renewed", "SCIM Token Deleted"]
    );
    shots.take(c, "audit-trail").await;
    // Filtered by event type.
    c.find(Locator::Id("event")).await.unwrap().select_by_value("scim_token.renewed").await.unwrap();
    click(c, "#apply-filters").await;
    wait_text(c, "#audit-events tbody", |t| !t.contains("SCIM Token Created") && t.contains("SCIM Token Renewed"))
        .await;
    shots.take(c, "audit-trail-filtered").await;

    // The Provisioning Log shows the request.
    click(c, "#nav-log").await;
    wait_page(c, "log").await;
    wait_text(c, "#provisioning-log tbody", |t| t.contains("user browser.user@example.com created")).await;
    shots.take(c, "provisioning-log").await;

    // The provisioned user on the Users page, found by the search box too.
    click(c, "#nav-users").await;
    wait_page(c, "users").await;
    wait_text(c, "#resource-list tbody", |t| t.contains("browser.user@example.com") && t.contains("Browser User"))
        .await;
    shots.take(c, "users").await;
    c.find(Locator::Id("q")).await.unwrap().send_keys("browser.user").await.unwrap();
    wait_text(c, "#result-count", |t| t.contains("1 user matching")).await;
    click(c, &format!("#resource-list a[href$='{user_id}']")).await;
    wait_page(c, "user").await;
    wait_text(c, "#history", |t| t.contains("created")).await;
    shots.take(c, "user-detail").await;

    // The other pages, for the record.
    for (nav, page) in [("#nav-groups", "groups"), ("#nav-attributes", "attributes"), ("#nav-dashboard", "dashboard")] {
        click(c, nav).await;
        wait_page(c, page).await;
        shots.take(c, page).await;
    }
    wait_text(c, "#card-users", |t| t.starts_with('1')).await;

    // Sign out.
    click(c, "#sign-out").await;
    wait_page(c, "sign-in").await;
}

#[tokio::test]
async fn the_okta_token_lifecycle_works_in_a_real_browser() {
    let Some((driver_path, chromium)) = browser() else { return };
    let driver = start_driver(&driver_path).await;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let profile = tempfile::tempdir().unwrap();
        let client = open_browser(&driver, &chromium, profile.path()).await;
        let mut shots = Shots::new(backend);
        // Close the browser even when a step fails, so no Chromium outlives the test.
        let outcome =
            std::panic::AssertUnwindSafe(okta_token_lifecycle(&app, &client, &mut shots)).catch_unwind().await;
        let closed = client.close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        closed.unwrap();
        assert!(shots.taken.len() >= 15, "{:?}", shots.taken);
        let _ = writeln!(
            std::io::stderr(),
            "portal_browser: {backend:?}: {} screenshots in {}",
            shots.taken.len(),
            shots.dir.display()
        );
    }
}
