//! The admin portal at `/admin` (issue 7), server side: every page and form over plain HTTP
//! (no JavaScript), read with `scraper`. Sign-in with the session cookie shared with the admin
//! API, the redirect to sign-in, CSRF refusal, the security headers, the token flows, the
//! audit trail and provisioning log filters, users and groups, attributes and settings, and
//! escaping of IdP-supplied text.

use roster_core::audit::Actor;
use roster_core::tenants::Expiry;
use roster_testkit::{ScimClient, TestApp, body, each_backend};
use scraper::{ElementRef, Html, Selector};
use serde_json::json;

use crate::support::enc;

pub const PASSWORD: &str = "correct horse battery staple";

/// A parsed portal response.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_else(|| panic!("no Location; status {}: {}", self.status, self.text))
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Page {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// The texts (whitespace-collapsed) of the elements matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let doc = Html::parse_document(&self.text);
        let sel = Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"));
        doc.select(&sel).map(|e| collapse(&e)).collect()
    }

    pub fn text_of(&self, css: &str) -> String {
        self.texts(css).into_iter().next().unwrap_or_else(|| panic!("no {css} in page: {}", self.text))
    }

    pub fn count(&self, css: &str) -> usize {
        self.texts(css).len()
    }

    /// The values of `attr` on the elements matching `css`.
    pub fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let doc = Html::parse_document(&self.text);
        let sel = Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"));
        doc.select(&sel).filter_map(|e| e.value().attr(attr).map(str::to_string)).collect()
    }

    pub fn attr(&self, css: &str, attr: &str) -> String {
        self.attrs(css, attr).into_iter().next().unwrap_or_else(|| panic!("no {css}[{attr}] in page: {}", self.text))
    }

    /// `data-page` of `<main>`: which page this is.
    pub fn page(&self) -> String {
        self.attr("main", "data-page")
    }
}

fn collapse(e: &ElementRef<'_>) -> String {
    e.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A browser without JavaScript: one session cookie, no redirects followed.
pub struct Portal {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

async fn read(rb: reqwest::RequestBuilder) -> Page {
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Page { status, headers, text }
}

/// The `name=value` of a Set-Cookie header for `name`.
fn set_cookie<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// Opens the sign-in page: its form token and the cookie it must match.
pub async fn sign_in_form(app: &TestApp) -> (String, String) {
    let page = read(client().get(format!("{}/admin/sign-in", app.public_url))).await;
    page.expect(200);
    let cookie = set_cookie(&page, "roster_signin").expect("sign-in cookie").split(';').next().unwrap().to_string();
    (cookie, page.attr("#sign-in-form input[name=csrf]", "value"))
}

pub async fn post_sign_in(app: &TestApp, username: &str, password: &str) -> Page {
    let (cookie, token) = sign_in_form(app).await;
    read(
        client()
            .post(format!("{}/admin/sign-in", app.public_url))
            .header("Cookie", cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[("username", username), ("password", password), ("csrf", &token), ("next", "")])),
    )
    .await
}

impl Portal {
    /// Creates the administrator `alice` (if needed) and signs in through the form.
    pub async fn sign_in(app: &TestApp) -> Portal {
        if app.core.store.admin_by_username("alice").await.unwrap().is_none() {
            app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        }
        let r = post_sign_in(app, "alice", PASSWORD).await;
        r.expect(303);
        assert_eq!(r.location(), "/admin");
        let cookie = set_cookie(&r, "roster_session").expect("session cookie").split(';').next().unwrap().to_string();
        let mut portal = Portal { http: client(), base: app.public_url.clone(), cookie, csrf: String::new() };
        let page = portal.get("/admin/t/default").await;
        page.expect(200);
        portal.csrf = page.attr("form[action='/admin/sign-out'] input[name=csrf]", "value");
        portal
    }

    pub async fn get(&self, path: &str) -> Page {
        read(self.http.get(format!("{}{path}", self.base)).header("Cookie", &self.cookie)).await
    }

    /// POSTs a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs exactly these fields.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        read(
            self.http
                .post(format!("{}{path}", self.base))
                .header("Cookie", &self.cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(fields)),
        )
        .await
    }
}

/// Asserts the portal's security headers.
#[track_caller]
pub fn assert_secure_headers(page: &Page) {
    let csp = page.header("content-security-policy").expect("CSP");
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
}

/// Asserts a page has no inline script or style (the CSP would block them) and that every
/// POST form carries the session's CSRF token.
#[track_caller]
fn assert_page_is_csp_clean(page: &Page, csrf: &str) {
    let doc = Html::parse_document(&page.text);
    let scripts = Selector::parse("script").unwrap();
    for s in doc.select(&scripts) {
        assert!(
            s.value().attr("src").is_some_and(|src| src.starts_with("/admin/assets/")),
            "inline script: {}",
            s.html()
        );
        assert!(s.text().collect::<String>().trim().is_empty());
    }
    assert_eq!(doc.select(&Selector::parse("style, [style]").unwrap()).count(), 0, "inline style in {}", page.text);
    let any = Selector::parse("*").unwrap();
    for e in doc.select(&any) {
        for (name, _) in e.value().attrs() {
            assert!(!name.starts_with("on") && !name.starts_with("hx-on"), "inline handler {name} in {}", e.html());
        }
    }
    for f in doc.select(&Selector::parse("form").unwrap()) {
        if f.value().attr("method") == Some("post") {
            let token = f
                .select(&Selector::parse("input[type=hidden][name=csrf]").unwrap())
                .next()
                .and_then(|i| i.value().attr("value"))
                .unwrap_or_else(|| panic!("POST form without CSRF field: {}", f.html()));
            assert_eq!(token, csrf, "{}", f.html());
        }
    }
}

async fn token_id(app: &TestApp) -> String {
    app.core.list_tokens("default").await.unwrap()[0].id.clone()
}

#[tokio::test]
async fn portal_pages_redirect_to_sign_in_without_a_session() {
    each_backend(|app| async move {
        let id = token_id(&app).await;
        let http = client();
        for path in [
            "/admin",
            "/admin/t/default",
            "/admin/t/default/provisioning",
            "/admin/t/default/audit?event=scim_token.created",
            "/admin/t/default/log",
            "/admin/t/default/users",
            "/admin/t/default/groups",
            "/admin/t/default/attributes",
        ] {
            let r = read(http.get(format!("{}{path}", app.public_url))).await;
            r.expect(303);
            assert_eq!(r.location(), format!("/admin/sign-in?next={}", enc(path).replace("%2F", "/")), "{path}");
            assert_secure_headers(&r);
            // A made-up cookie is no session either.
            let r = read(http.get(format!("{}{path}", app.public_url)).header("Cookie", "roster_session=abc")).await;
            r.expect(303);
        }
        // Forms posted without a session go to sign-in and change nothing.
        for path in ["/admin/t/default/tokens", &format!("/admin/t/default/tokens/{id}"), "/admin/sign-out"] {
            let r = read(
                http.post(format!("{}{path}", app.public_url))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form(&[("idp", "okta"), ("action", "deactivate")])),
            )
            .await;
            r.expect(303);
            assert_eq!(r.location(), "/admin/sign-in");
        }
        let tokens = app.core.list_tokens("default").await.unwrap();
        assert_eq!((tokens.len(), tokens[0].status), (1, "active"));
        // The sign-in page and the assets need no session.
        read(http.get(format!("{}/admin/sign-in", app.public_url))).await.expect(200);
        read(http.get(format!("{}/admin/assets/portal.css", app.public_url))).await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn sign_in_sets_the_shared_session_cookie_and_goes_where_the_admin_was_going() {
    each_backend(|app| async move {
        app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
        let page = read(client().get(format!("{}/admin/sign-in?next=/admin/t/default/users", app.public_url))).await;
        page.expect(200);
        assert_secure_headers(&page);
        assert_eq!(page.page(), "sign-in");
        assert_eq!(page.attr("#sign-in-form input[name=next]", "value"), "/admin/t/default/users");
        assert_eq!(page.attr("#password", "type"), "password");
        assert_page_is_csp_clean(&page, &page.attr("#sign-in-form input[name=csrf]", "value"));

        // Wrong password: 401, the form again, no session.
        let r = post_sign_in(&app, "alice", "not the password").await;
        r.expect(401);
        assert_eq!(r.text_of("#sign-in-error"), "Wrong username or password.");
        assert!(set_cookie(&r, "roster_session").is_none());
        assert_eq!(r.attr("#username", "value"), "alice");

        // Without the sign-in form's token (another site posting the form): 403.
        let r = read(
            client()
                .post(format!("{}/admin/sign-in", app.public_url))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&[("username", "alice"), ("password", PASSWORD), ("csrf", "00")])),
        )
        .await;
        r.expect(403);
        assert!(set_cookie(&r, "roster_session").is_none());

        // The right password: a 303 to `next`, and the admin API's cookie.
        let (cookie, token) = sign_in_form(&app).await;
        let r = read(
            client()
                .post(format!("{}/admin/sign-in", app.public_url))
                .header("Cookie", cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("csrf", &token),
                    ("next", "/admin/t/default/users"),
                ])),
        )
        .await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/users");
        let session = set_cookie(&r, "roster_session").unwrap().to_string();
        let attributes: Vec<String> = session.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
        for a in ["httponly", "samesite=strict", "path=/admin"] {
            assert!(attributes.iter().any(|x| x == a), "{session}");
        }
        assert!(!attributes.iter().any(|x| x == "secure"), "plain HTTP: no Secure: {session}");
        let pair = session.split(';').next().unwrap().to_string();
        // The same cookie signs in the admin JSON API.
        let me = ScimClient::send(
            reqwest::Client::new().get(format!("{}/admin/api/me", app.public_url)).header("Cookie", &pair),
        )
        .await;
        me.expect(200);
        assert_eq!(me.body["name"], "alice");
        // Redirect targets off the portal are ignored.
        for evil in ["https://evil.example/", "//evil.example/admin", "/admin/../x", "/scim/v2/default"] {
            let (cookie, token) = sign_in_form(&app).await;
            let r = read(
                client()
                    .post(format!("{}/admin/sign-in", app.public_url))
                    .header("Cookie", cookie)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &token), ("next", evil)])),
            )
            .await;
            r.expect(303);
            assert_eq!(r.location(), "/admin", "{evil}");
        }
        // Signed in, the sign-in page forwards.
        let r = read(client().get(format!("{}/admin/sign-in", app.public_url)).header("Cookie", &pair)).await;
        r.expect(303);
        // Both sign-ins are in the audit trail.
        let events = app
            .core
            .audit_events(&roster_core::audit::AuditQuery { tenant: Some(None), limit: 50, ..Default::default() })
            .await
            .unwrap();
        assert!(events.iter().any(|e| e.event_name == "Admin Signed In"));
        assert!(events.iter().any(|e| e.event_name == "Admin Sign-in Failed"));
    })
    .await;
}

#[tokio::test]
async fn portal_sign_in_is_rate_limited_by_the_admin_api_limiter() {
    let app = TestApp::spawn(roster_testkit::Backend::Sqlite).await;
    app.core.create_admin(&Actor::system(), "alice", PASSWORD).await.unwrap();
    // The API and the portal share one quota per address (10 a minute).
    let api = reqwest::Client::new();
    for _ in 0..6 {
        let r = api
            .post(format!("{}/admin/api/session", app.public_url))
            .json(&json!({"username": "alice", "password": "guess guess guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // Argon2 makes each attempt slow, and the quota refills one attempt every 6 s: keep
    // guessing until the portal refuses.
    let mut refused = None;
    for _ in 0..40 {
        let r = post_sign_in(&app, "alice", "guess guess guess").await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        r.expect(401);
    }
    let r = refused.expect("the portal never refused a guess");
    assert!(r.header("retry-after").is_some());
    assert!(r.text_of("#sign-in-error").contains("Too many sign-in attempts"));
    // Even the right password waits.
    let r = post_sign_in(&app, "alice", PASSWORD).await;
    r.expect(429);
    assert!(set_cookie(&r, "roster_session").is_none());
}

#[tokio::test]
async fn every_page_has_the_security_headers_no_inline_code_and_csrf_on_every_form() {
    each_backend(|app| async move {
        let user = app.scim.create_user("bjensen@example.com", json!({})).await;
        let group = app.scim.create_group("Sales", &[&user]).await;
        let portal = Portal::sign_in(&app).await;
        for (path, page) in [
            ("/admin/t/default".to_string(), "dashboard"),
            ("/admin/t/default/provisioning".to_string(), "provisioning"),
            ("/admin/t/default/audit".to_string(), "audit"),
            ("/admin/t/default/log".to_string(), "log"),
            ("/admin/t/default/users".to_string(), "users"),
            (format!("/admin/t/default/users/{user}"), "user"),
            ("/admin/t/default/groups".to_string(), "groups"),
            (format!("/admin/t/default/groups/{group}"), "group"),
            ("/admin/t/default/attributes".to_string(), "attributes"),
        ] {
            let r = portal.get(&path).await;
            r.expect(200);
            assert_eq!(r.page(), page, "{path}");
            assert_secure_headers(&r);
            assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
            assert!(r.header("content-type").unwrap().starts_with("text/html"), "{path}");
            assert_page_is_csp_clean(&r, &portal.csrf);
            // The layout: navigation, the tenant switcher, who is signed in.
            assert_eq!(r.count("nav.sidenav a"), 7, "{path}");
            assert_eq!(r.attr("#tenant-switch option[selected]", "value"), "default");
            assert!(r.text_of(".topbar .who").contains("alice"));
            // htmx comes from this server, configured for the CSP.
            assert_eq!(r.count("script[src^='/admin/assets/htmx.min.js']"), 1);
            let config = r.attr("meta[name=htmx-config]", "content");
            let config: serde_json::Value = serde_json::from_str(&config).unwrap();
            assert_eq!(config["includeIndicatorStyles"], false);
            assert_eq!(config["allowEval"], false);
        }
        // The error pages have the headers too.
        let r = portal.get("/admin/t/nope").await;
        r.expect(404);
        assert_secure_headers(&r);
        let r = portal.get("/admin/t/default/users/no-such-id").await;
        r.expect(404);
    })
    .await;
}

#[tokio::test]
async fn posts_without_the_session_csrf_token_are_refused_and_change_nothing() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let id = token_id(&app).await;
        let wrong = "0".repeat(portal.csrf.len());
        let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
            ("/admin/t/default/tokens".into(), vec![("idp", "okta")]),
            ("/admin/t/default/provisioning/confirm".into(), vec![("idp", "okta")]),
            (format!("/admin/t/default/tokens/{id}"), vec![("action", "deactivate")]),
            (format!("/admin/t/default/tokens/{id}"), vec![("action", "remove"), ("confirm", "yes")]),
            ("/admin/t/default/attributes".into(), vec![("name", "badge"), ("type", "string")]),
            ("/admin/t/default/settings".into(), vec![("form", "vendor"), ("vendor", "acme")]),
            ("/admin/sign-out".into(), vec![]),
        ];
        for (path, fields) in &attempts {
            for csrf in [None, Some(wrong.as_str()), Some("")] {
                let mut all = fields.clone();
                if let Some(c) = csrf {
                    all.push(("csrf", c));
                }
                let r = portal.post_raw(path, &all).await;
                r.expect(403);
                assert_secure_headers(&r);
                assert!(r.text_of("#error-message").contains("security token"), "{}", r.text);
            }
        }
        let tokens = app.core.list_tokens("default").await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].status, "active");
        assert!(app.core.custom_schema("default").await.unwrap().attributes.is_empty());
        assert_eq!(app.core.tenant("default").await.unwrap().settings.vendor, "roster");
        // The session survived the refused sign-out.
        portal.get("/admin/t/default").await.expect(200);
        // The header form of the token (htmx requests may send it) is accepted as well.
        let r = read(
            portal
                .http
                .post(format!("{}/admin/t/default/tokens/{id}", portal.base))
                .header("Cookie", &portal.cookie)
                .header("X-CSRF-Token", &portal.csrf)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("action=deactivate"),
        )
        .await;
        r.expect(303);
        assert_eq!(app.core.list_tokens("default").await.unwrap()[0].status, "inactive");
    })
    .await;
}

#[tokio::test]
async fn generating_a_token_asks_for_confirmation_then_shows_it_once_with_the_target_url() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let page = portal.get("/admin/t/default/provisioning").await;
        page.expect(200);
        let idps = page.texts("#idp option");
        assert_eq!(
            idps,
            ["Microsoft Entra ID", "Okta", "OneLogin", "PingOne", "JumpCloud", "Google Workspace", "Other"]
        );
        assert_eq!(
            page.attrs("#idp option", "value"),
            ["entra", "okta", "onelogin", "pingone", "jumpcloud", "google", "other"]
        );
        assert_eq!(page.count("#generate-button[disabled]"), 0);
        assert_eq!(page.count("#token-status tbody tr[data-token-id]"), 1);
        assert_eq!(page.attr("#generate-form", "action"), "/admin/t/default/provisioning/confirm");

        // Step 1: the confirmation, which changes nothing.
        let confirm = portal
            .post(
                "/admin/t/default/provisioning/confirm",
                &[("idp", "jumpcloud"), ("name", "prod"), ("expires_in", "90d")],
            )
            .await;
        confirm.expect(200);
        assert_eq!(confirm.page(), "token-confirm");
        assert_eq!(confirm.text_of("h1"), "Generate a SCIM token for JumpCloud?");
        assert_eq!(confirm.attr("#confirm-form", "action"), "/admin/t/default/tokens");
        assert_eq!(confirm.attr("#confirm-form input[name=idp]", "value"), "jumpcloud");
        assert_eq!(confirm.attr("#confirm-form input[name=name]", "value"), "prod");
        assert_eq!(confirm.attr("#confirm-form input[name=expires_in]", "value"), "90d");
        assert_eq!(confirm.attr("#cancel", "href"), "/admin/t/default/provisioning");
        assert_eq!(app.core.list_tokens("default").await.unwrap().len(), 1);

        // Step 2: the token, shown once, with the target SCIM URL.
        let shown = portal
            .post("/admin/t/default/tokens", &[("idp", "jumpcloud"), ("name", "prod"), ("expires_in", "90d")])
            .await;
        shown.expect(200);
        assert_eq!(shown.page(), "token-secret");
        assert_eq!(shown.header("cache-control"), Some("no-store"));
        let token = shown.text_of("#token-value");
        assert!(token.starts_with("roster_"), "{token}");
        assert_eq!(shown.text_of("#target-url"), app.base_url("default"));
        assert!(shown.text_of("#shown-once").contains("will not be shown again"));
        assert_eq!(shown.attrs("button[data-copy]", "data-copy"), ["token-value", "target-url"]);
        assert_eq!(shown.count("[hx-history=false]"), 1);
        assert!(shown.text_of(".secret-box").contains("JumpCloud"));
        // It works for SCIM at once.
        let scim = ScimClient::new(&shown.text_of("#target-url"), Some(&token));
        scim.get("/Users").await.expect(200);
        let tokens = app.core.list_tokens("default").await.unwrap();
        assert_eq!(tokens.len(), 2);
        let new = tokens.iter().find(|t| t.name == "prod").unwrap();
        assert_eq!(new.idp_name, "JumpCloud");
        let ninety = new.expires_at.unwrap() - new.created_at;
        assert_eq!(ninety, time::Duration::days(90));

        // Back on the page: both tokens listed, never the secret; Generate is unavailable.
        let page = portal.get("/admin/t/default/provisioning").await;
        assert!(!page.text.contains(&token));
        assert_eq!(page.count("#token-status tbody tr"), 2);
        let row = page.text_of(&format!("#token-{}", new.id));
        assert!(row.contains("JumpCloud") && row.contains("prod") && row.contains("Active"), "{row}");
        assert_eq!(page.count("#generate-button[disabled]"), 1);
        assert!(page.text_of("#generate-unavailable").contains("already holds 2 tokens"));
        let options = page.texts(&format!("#action-{} option", new.id));
        assert_eq!(options, ["Select…", "Set to Active", "Set to Inactive", "Renew", "Remove"]);
        // At the limit the steps refuse, with the reason.
        let r = portal.post("/admin/t/default/provisioning/confirm", &[("idp", "okta")]).await;
        r.expect(409);
        assert!(r.text_of("#page-error").contains("already holds 2 tokens"));
        let r = portal.post("/admin/t/default/tokens", &[("idp", "okta")]).await;
        r.expect(409);
        assert_eq!(app.core.list_tokens("default").await.unwrap().len(), 2);
        // A bad IdP is a 400 with the form again.
        app.core.remove_token(&Actor::system(), "default", &new.id).await.unwrap();
        let r = portal.post("/admin/t/default/provisioning/confirm", &[("idp", "myspace")]).await;
        r.expect(400);
        assert!(r.text_of("#page-error").contains("Choose an identity provider"));
        // A refreshed result page (GET) goes back to the section without re-posting.
        let r = portal.get("/admin/t/default/tokens").await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/provisioning");
    })
    .await;
}

#[tokio::test]
async fn the_select_menu_sets_inactive_and_active_renews_and_removes_with_confirmation() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let id = token_id(&app).await;
        let path = format!("/admin/t/default/tokens/{id}");

        let r = portal.post(&path, &[("action", "deactivate")]).await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/provisioning?done=deactivated");
        app.scim.get("/Users").await.expect(401);
        let page = portal.get(r.location()).await;
        assert!(page.text_of("#flash").contains("inactive"));
        assert_eq!(page.attr(&format!("#token-{id} [data-status]"), "data-status"), "Inactive");
        assert_eq!(page.count(&format!("#action-{id} option[value=deactivate][disabled]")), 1);

        portal.post(&path, &[("action", "activate")]).await.expect(303);
        app.scim.get("/Users").await.expect(200);

        // No action chosen: back with a hint.
        let r = portal.post(&path, &[("action", "")]).await;
        assert_eq!(r.location(), "/admin/t/default/provisioning?done=choose");

        // Renew: a confirmation first (the old secret still works), then the new secret once.
        let ask = portal.post(&path, &[("action", "renew")]).await;
        ask.expect(200);
        assert_eq!(ask.page(), "confirm");
        assert!(ask.text_of("h1").contains("Renew the token for Okta"));
        assert_eq!(ask.attr("#confirm-form input[name=confirm]", "value"), "yes");
        assert_eq!(ask.count("#confirm-form select[name=expires_in]"), 1);
        app.scim.get("/Users").await.expect(200);
        let renewed = portal.post(&path, &[("action", "renew"), ("confirm", "yes"), ("expires_in", "30d")]).await;
        renewed.expect(200);
        assert_eq!(renewed.page(), "token-secret");
        assert!(renewed.text_of("h1").contains("Renewed SCIM token for Okta"));
        let secret = renewed.text_of("#token-value");
        assert_ne!(secret, app.token);
        app.scim.get("/Users").await.expect(401);
        app.scim.with_token(Some(&secret)).get("/Users").await.expect(200);

        // Remove: a confirmation first, then gone.
        let ask = portal.post(&path, &[("action", "remove")]).await;
        ask.expect(200);
        assert!(ask.text_of("h1").contains("Remove the token for Okta"));
        assert_eq!(ask.count("#confirm-action.danger"), 1);
        assert_eq!(app.core.list_tokens("default").await.unwrap().len(), 1);
        let r = portal.post(&path, &[("action", "remove"), ("confirm", "yes")]).await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/provisioning?done=removed");
        assert!(app.core.list_tokens("default").await.unwrap().is_empty());
        app.scim.with_token(Some(&secret)).get("/Users").await.expect(401);
        let page = portal.get("/admin/t/default/provisioning").await;
        assert_eq!(page.count("#token-status tbody tr[data-token-id]"), 0);
        // An unknown token is a 404 page.
        portal.post(&path, &[("action", "activate")]).await.expect(404);

        // All of it, by alice, on the Audit Trail with the IdP in DETAILS.
        let audit = portal.get("/admin/t/default/audit").await;
        let rows = audit.texts("#audit-events tbody tr");
        let ours: Vec<&String> = rows.iter().filter(|r| r.contains("admin alice")).collect();
        assert_eq!(ours.len(), 4, "{rows:#?}");
        for (row, event) in
            ours.iter().zip(["SCIM Token Deleted", "SCIM Token Renewed", "SCIM Token Enabled", "SCIM Token Disabled"])
        {
            assert!(row.contains(event) && row.contains("IdP: Okta"), "{row}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_audit_trail_filters_by_event_type_and_time_and_pages() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let id = token_id(&app).await;
        let actor = Actor::admin("bob");
        for _ in 0..30 {
            app.core.set_token_active(&actor, "default", &id, false).await.unwrap();
            app.core.set_token_active(&actor, "default", &id, true).await.unwrap();
        }
        // 61 tenant events (the token's creation and 60 changes), 50 a page, newest first.
        let first = portal.get("/admin/t/default/audit").await;
        first.expect(200);
        assert_eq!(first.texts("#audit-events thead th"), ["Time", "Actor", "Event", "Target", "Details"]);
        assert_eq!(first.count("#audit-events tbody tr"), 50);
        assert_eq!(first.attr("#audit-events tbody tr", "data-event"), "scim_token.enabled");
        assert_eq!(first.count("#newest"), 0);
        let older = first.attr("#older", "href");
        let second = portal.get(&older).await;
        assert_eq!(second.count("#audit-events tbody tr"), 11);
        assert_eq!(second.count("#older"), 0);
        assert_eq!(second.attr("#newest", "href"), "/admin/t/default/audit");
        let last = second.texts("#audit-events tbody tr").pop().unwrap();
        assert!(last.contains("SCIM Token Created") && last.contains("IdP: Okta") && last.contains("Roster"), "{last}");

        // By event type (the filter is kept in the form and in the paging links).
        let disabled = portal.get("/admin/t/default/audit?event=scim_token.disabled").await;
        assert_eq!(disabled.count("#audit-events tbody tr[data-event='scim_token.disabled']"), 30);
        assert_eq!(disabled.count("#audit-events tbody tr"), 30);
        assert_eq!(disabled.attr("#event option[selected]", "value"), "scim_token.disabled");
        // Every event type is offered.
        assert!(disabled.count("#event option") > 16);

        // By time: nothing after an hour from now; everything since yesterday.
        let now = app.core.clock.now();
        let fmt = |t: time::OffsetDateTime| {
            format!("{:04}-{:02}-{:02}T{:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        };
        let later =
            portal.get(&format!("/admin/t/default/audit?since={}", enc(&fmt(now + time::Duration::hours(1))))).await;
        assert_eq!(later.count("#audit-events tbody tr[data-event]"), 0);
        assert_eq!(later.text_of("#audit-events tbody td.empty"), "No events match.");
        let since = fmt(now - time::Duration::days(1));
        let all = portal.get(&format!("/admin/t/default/audit?since={}&event=scim_token.enabled", enc(&since))).await;
        assert_eq!(all.count("#audit-events tbody tr[data-event]"), 30);
        assert_eq!(all.attr("#since", "value"), since);
        let until = portal.get(&format!("/admin/t/default/audit?until={}", enc(&since))).await;
        assert_eq!(until.count("#audit-events tbody tr[data-event]"), 0);
        // A time that is not one is reported, not a 500.
        let bad = portal.get("/admin/t/default/audit?since=yesterday").await;
        bad.expect(200);
        assert!(bad.text_of(".error-box").contains("is not a time"));

        // Installation-wide events (sign-ins) are a scope of their own.
        let installation = portal.get("/admin/t/default/audit?scope=installation").await;
        let rows = installation.texts("#audit-events tbody tr");
        assert!(rows.iter().any(|r| r.contains("Admin Signed In") && r.contains("admin alice")), "{rows:?}");
        assert!(!rows.iter().any(|r| r.contains("SCIM Token")));
    })
    .await;
}

#[tokio::test]
async fn the_provisioning_log_filters_by_token_and_status_and_marks_failures() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let okta = token_id(&app).await;
        let entra = app
            .core
            .issue_token(&Actor::system(), "default", roster_core::Idp::Entra, "", Expiry::DEFAULT, &app.public_url)
            .await
            .unwrap();
        let entra_client = app.scim.with_token(Some(&entra.token));
        app.scim.create_user("ok@example.com", json!({})).await;
        app.scim.post("/Users", &json!({"schemas": [body::USER]})).await.expect(400);
        entra_client.create_user("entra@example.com", json!({})).await;
        app.core.log.flush().await;

        let page = portal.get("/admin/t/default/log").await;
        page.expect(200);
        assert_eq!(page.count("#provisioning-log tbody tr[data-status]"), 3);
        let failures = page.texts("#provisioning-log tbody tr.failure");
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].contains("400 failed") && failures[0].contains("POST /scim/v2/default/Users"),
            "{failures:?}"
        );
        assert!(failures[0].contains("Okta"));
        let ok = page.texts("#provisioning-log tbody tr:not(.failure)");
        assert!(ok.iter().any(|r| r.contains("user ok@example.com created") && r.contains("201")), "{ok:?}");
        let mut options = page.attrs("#token option", "value");
        options.sort();
        let mut expected = vec![String::new(), okta.clone(), entra.id.clone()];
        expected.sort();
        assert_eq!(options, expected);
        // The summary links to the user.
        assert_eq!(page.count("#provisioning-log a[href^='/admin/t/default/users/']"), 2);

        let only_failures = portal.get("/admin/t/default/log?status=4xx").await;
        assert_eq!(only_failures.count("#provisioning-log tbody tr[data-status]"), 1);
        assert_eq!(only_failures.count("#provisioning-log tbody tr.failure"), 1);
        assert_eq!(only_failures.attr("#status option[selected]", "value"), "4xx");
        let successes = portal.get("/admin/t/default/log?status=2xx").await;
        assert_eq!(successes.count("#provisioning-log tbody tr[data-status]"), 2);
        let by_entra = portal.get(&format!("/admin/t/default/log?token={}", entra.id)).await;
        let rows = by_entra.texts("#provisioning-log tbody tr[data-status]");
        assert_eq!(rows.len(), 1);
        assert!(rows[0].contains("Microsoft Entra ID") && rows[0].contains("entra@example.com"), "{rows:?}");
        assert_eq!(by_entra.attr("#token option[selected]", "value"), entra.id);
        let both = portal.get(&format!("/admin/t/default/log?token={okta}&status=5xx")).await;
        assert_eq!(both.count("#provisioning-log tbody tr[data-status]"), 0);
        portal.get("/admin/t/default/log?status=teapot").await.expect(200);
    })
    .await;
}

#[tokio::test]
async fn users_and_groups_search_page_and_show_every_attribute_read_only() {
    each_backend(|app| async move {
        app.core
            .define_attribute(&Actor::system(), "default", "badgeNumber", "string", false, "Door badge")
            .await
            .unwrap();
        let custom = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
        let mut bj = body::user("bjensen@example.com");
        bj["displayName"] = json!("Barbara Jensen");
        bj["emails"] = json!([{"value": "barbara@mail.example", "type": "work", "primary": true}]);
        bj["schemas"] = json!([body::USER, body::ENTERPRISE, custom]);
        bj[body::ENTERPRISE] = json!({"employeeNumber": "701984", "department": "Tour Operations"});
        bj[custom] = json!({"badgeNumber": "B-42"});
        let r = app.scim.post("/Users", &bj).await;
        r.expect(201);
        let bjensen = r.id();
        let mut off = body::user("inactive@example.com");
        off["active"] = json!(false);
        app.scim.post("/Users", &off).await.expect(201);
        for i in 0..28 {
            app.scim.create_user(&format!("user{i:02}@example.com"), json!({})).await;
        }
        let group = app.scim.create_group("Tour Guides", &[&bjensen]).await;
        app.scim.create_group("Accounting", &[]).await;
        let portal = Portal::sign_in(&app).await;

        // 30 users, 25 a page, sorted by userName.
        let page1 = portal.get("/admin/t/default/users").await;
        page1.expect(200);
        assert_eq!(page1.text_of("#result-count"), "30 users");
        assert_eq!(page1.count("#resource-list tbody tr"), 25);
        assert_eq!(page1.texts("#resource-list tbody tr td:first-child")[0], "bjensen@example.com");
        assert!(page1.text_of(".pager").contains("Page 1 of 2"));
        let next = page1.attr("#next", "href");
        assert_eq!(next, "/admin/t/default/users?page=2");
        let page2 = portal.get(&next).await;
        assert_eq!(page2.count("#resource-list tbody tr"), 5);
        assert_eq!(page2.attr("#prev", "href"), "/admin/t/default/users?page=1");
        let rows = page1.texts("#resource-list tbody tr");
        assert!(rows.iter().any(|r| r.contains("inactive@example.com") && r.contains("Inactive")), "{rows:?}");
        assert!(
            rows[0].contains("Barbara Jensen")
                && rows[0].contains("barbara@mail.example")
                && rows[0].contains("Active")
        );

        // Search by userName, displayName and email (substring, any case).
        for q in ["BJENSEN", "barbara jen", "mail.example"] {
            let found = portal.get(&format!("/admin/t/default/users?q={}", enc(q))).await;
            assert_eq!(found.texts("#resource-list tbody tr td:first-child"), ["bjensen@example.com"], "{q}");
            assert_eq!(found.attr("#q", "value"), q);
        }
        let none = portal.get("/admin/t/default/users?q=%22%5C%28nobody").await;
        none.expect(200);
        assert_eq!(none.text_of("#resource-list td.empty"), "No match.");
        let paged = portal.get("/admin/t/default/users?q=user&page=2").await;
        assert_eq!(paged.attr("#prev", "href"), "/admin/t/default/users?q=user&page=1");
        // The live search is an htmx enhancement of the same URL.
        assert_eq!(page1.attr("#q", "hx-get"), "/admin/t/default/users");
        assert_eq!(page1.attr("#q", "hx-select"), "#results");

        // The detail page: core, enterprise and custom attributes, memberships, history.
        let detail = portal.get(&format!("/admin/t/default/users/{bjensen}")).await;
        detail.expect(200);
        assert!(detail.text_of("#resource-name").contains("bjensen@example.com"));
        let core_rows = detail.texts("#core-attributes tr");
        for expected in
            ["id ", "name.givenName Test", "emails barbara@mail.example", "displayName Barbara Jensen", "active true"]
        {
            assert!(core_rows.iter().any(|r| r.starts_with(expected)), "{expected}: {core_rows:?}");
        }
        assert!(core_rows.iter().any(|r| r.contains("type: work")), "{core_rows:?}");
        let sections = detail.texts("h2");
        assert!(sections.contains(&"Enterprise User extension".to_string()), "{sections:?}");
        assert!(sections.contains(&"Custom attributes".to_string()), "{sections:?}");
        let ext = detail.texts("table.extension tr");
        assert!(ext.contains(&"employeeNumber 701984".to_string()), "{ext:?}");
        assert!(ext.contains(&"badgeNumber B-42".to_string()), "{ext:?}");
        assert_eq!(detail.texts("#related tbody tr td:first-child"), ["Tour Guides"]);
        assert_eq!(detail.attr("#related a", "href"), format!("/admin/t/default/groups/{group}"));
        let history = detail.texts("#history tbody tr");
        assert_eq!(history.len(), 1);
        assert!(history[0].contains("user bjensen@example.com created") && history[0].contains("201"), "{history:?}");
        // Read-only: no form changes a user.
        assert_eq!(detail.count("main form"), 0);

        // Groups: search and detail with members.
        let groups = portal.get("/admin/t/default/groups").await;
        assert_eq!(groups.texts("#resource-list tbody tr td:first-child"), ["Accounting", "Tour Guides"]);
        let found = portal.get("/admin/t/default/groups?q=tour").await;
        assert_eq!(found.texts("#resource-list tbody tr td:first-child"), ["Tour Guides"]);
        let g = portal.get(&format!("/admin/t/default/groups/{group}")).await;
        // Members show their displayName.
        assert_eq!(g.texts("#related tbody tr td:first-child"), ["Barbara Jensen"]);
        assert_eq!(g.attr("#related a", "href"), format!("/admin/t/default/users/{bjensen}"));
        assert!(g.text_of("#history").contains("group Tour Guides created with 1 member"));
    })
    .await;
}

#[tokio::test]
async fn idp_supplied_text_is_escaped_on_every_page() {
    each_backend(|app| async move {
        let evil = "<script>alert(1)</script>";
        let mut user = body::user("evil@example.com");
        user["displayName"] = json!(evil);
        user["name"] = json!({"givenName": "<img src=x onerror=alert(2)>", "familyName": "\"'&"});
        let r = app.scim.post("/Users", &user).await;
        r.expect(201);
        let id = r.id();
        let group = app.scim.create_group("<b onmouseover=alert(3)>Admins</b>", &[&id]).await;
        // A failed request whose summary would carry IdP text.
        app.scim.post("/Users", &json!({"schemas": [body::USER], "userName": evil})).await;
        app.core.log.flush().await;
        let portal = Portal::sign_in(&app).await;
        for path in [
            "/admin/t/default/users".to_string(),
            format!("/admin/t/default/users/{id}"),
            "/admin/t/default/groups".to_string(),
            format!("/admin/t/default/groups/{group}"),
            "/admin/t/default/log".to_string(),
            "/admin/t/default".to_string(),
            format!("/admin/t/default/users?q={}", enc(evil)),
        ] {
            let r = portal.get(&path).await;
            r.expect(200);
            assert!(!r.text.contains("<script>alert"), "{path}: {}", r.text);
            assert!(!r.text.contains("<img src=x"), "{path}");
            assert!(!r.text.contains("<b onmouseover"), "{path}");
            assert_page_is_csp_clean(&r, &portal.csrf);
        }
        let list = portal.get("/admin/t/default/users").await;
        assert!(list.text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{}", list.text);
        assert!(list.texts("#resource-list td").contains(&evil.to_string()));
        let detail = portal.get(&format!("/admin/t/default/users/{id}")).await;
        assert!(detail.texts("#core-attributes td").contains(&"<img src=x onerror=alert(2)>".to_string()));
        let searched = portal.get(&format!("/admin/t/default/users?q={}", enc(evil))).await;
        assert_eq!(searched.attr("#q", "value"), evil);
    })
    .await;
}

#[tokio::test]
async fn attributes_are_defined_and_removed_with_confirmation_and_policies_saved() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let page = portal.get("/admin/t/default/attributes").await;
        page.expect(200);
        assert_eq!(page.text_of("#schema-urn"), "urn:ietf:params:scim:schemas:extension:roster:2.0:User");
        assert_eq!(page.text_of("#attribute-list td.empty"), "No custom attributes yet.");
        assert_eq!(page.attrs("#attr-type option", "value").len(), 6);
        assert_eq!(page.attr("input[name=username_changes][checked]", "value"), "reject");
        assert_eq!(page.attr("input[name=unknown_attributes][checked]", "value"), "lenient");
        assert_eq!(page.attr("input[name=unknown_members][checked]", "value"), "skip");

        let r = portal
            .post(
                "/admin/t/default/attributes",
                &[("name", "badgeNumber"), ("type", "string"), ("multi_valued", "on"), ("description", "Door <badge>")],
            )
            .await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/attributes?done=defined");
        let page = portal.get(r.location()).await;
        let row = page.text_of("#attribute-list tr[data-attribute=badgeNumber]");
        assert!(row.contains("string") && row.contains("yes") && row.contains("Door <badge>"), "{row}");
        assert!(row.contains("urn:ietf:params:scim:schemas:extension:roster:2.0:User:badgeNumber"), "{row}");
        assert!(!page.text.contains("Door <badge>") && page.text.contains("Door &#60;badge&#62;"));
        // It is in /Schemas at once.
        let schemas = app.scim.get("/Schemas").await;
        assert!(schemas.text.contains("badgeNumber"));
        // Bad input: the form again with the reason, and the values kept.
        let r = portal.post("/admin/t/default/attributes", &[("name", "bad name!"), ("type", "string")]).await;
        r.expect(400);
        assert_eq!(r.attr("#attr-name", "value"), "bad name!");
        assert!(!r.text_of("#page-error").is_empty());
        let r = portal.post("/admin/t/default/attributes", &[("name", "badgeNumber"), ("type", "string")]).await;
        r.expect(409);

        // Remove asks first.
        let ask = portal.post("/admin/t/default/attributes/badgeNumber/remove", &[]).await;
        ask.expect(200);
        assert_eq!(ask.page(), "confirm");
        assert!(ask.text_of("h1").contains("Remove the attribute badgeNumber?"));
        assert!(ask.text_of(".warning").contains("stored value"));
        assert_eq!(app.core.custom_schema("default").await.unwrap().attributes.len(), 1);
        let r = portal.post(&ask.attr("#confirm-form", "action"), &[("confirm", "yes")]).await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/default/attributes?done=attribute-removed");
        assert!(app.core.custom_schema("default").await.unwrap().attributes.is_empty());
        portal.post("/admin/t/default/attributes/badgeNumber/remove", &[]).await.expect(404);

        // The vendor URN and the policies.
        let r = portal.post("/admin/t/default/settings", &[("form", "vendor"), ("vendor", "acme")]).await;
        r.expect(303);
        let page = portal.get(r.location()).await;
        assert_eq!(page.text_of("#schema-urn"), "urn:ietf:params:scim:schemas:extension:acme:2.0:User");
        let r = portal.post("/admin/t/default/settings", &[("form", "vendor"), ("vendor", "no spaces")]).await;
        r.expect(400);
        let r = portal
            .post(
                "/admin/t/default/settings",
                &[
                    ("form", "policies"),
                    ("username_changes", "allow"),
                    ("unknown_attributes", "strict"),
                    ("unknown_members", "reject"),
                    ("nested_groups", "on"),
                    ("group_patch_response", "no_content"),
                    ("max_tokens", "3"),
                ],
            )
            .await;
        r.expect(303);
        let settings = app.core.tenant("default").await.unwrap().settings;
        assert_eq!(serde_json::to_value(&settings).unwrap()["username_changes"], "allow");
        assert_eq!(serde_json::to_value(&settings).unwrap()["unknown_attributes"], "strict");
        assert_eq!(serde_json::to_value(&settings).unwrap()["unknown_members"], "reject");
        assert!(settings.nested_groups);
        assert_eq!(settings.max_tokens, 3);
        assert_eq!(settings.vendor, "acme");
        let page = portal.get("/admin/t/default/attributes").await;
        assert_eq!(page.attr("input[name=username_changes][checked]", "value"), "allow");
        assert_eq!(page.count("input[name=nested_groups][checked]"), 1);
        let r = portal.post("/admin/t/default/settings", &[("form", "policies"), ("max_tokens", "0")]).await;
        r.expect(400);
        // Every change is audited with the admin's name.
        let audit = portal.get("/admin/t/default/audit").await;
        let rows = audit.texts("#audit-events tbody tr");
        assert!(rows.iter().any(|r| r.contains("Custom Attribute Defined") && r.contains("admin alice")));
        assert!(rows.iter().any(|r| r.contains("Custom Attribute Removed")));
        assert!(
            rows.iter().any(|r| r.contains("Tenant Settings Changed") && r.contains("max_tokens: 2 → 3")),
            "{rows:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_shows_counts_tokens_last_request_per_idp_and_failures() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let empty = portal.get("/admin/t/default").await;
        assert_eq!(empty.text_of("#last-requests tbody tr"), "Okta 1 No request yet.");
        let a = app.scim.create_user("a@example.com", json!({})).await;
        let mut b = body::user("b@example.com");
        b["active"] = json!(false);
        app.scim.post("/Users", &b).await.expect(201);
        app.scim.create_group("G", &[&a]).await;
        app.scim.get("/Users/does-not-exist").await.expect(404);
        app.core.log.flush().await;

        let page = portal.get("/admin").await;
        page.expect(303);
        assert_eq!(page.location(), "/admin/t/default");
        let page = portal.get("/admin/t/default").await;
        page.expect(200);
        assert_eq!(page.text_of("#card-users"), "2 Users (1 active)");
        assert_eq!(page.text_of("#card-groups"), "1 Groups");
        assert_eq!(page.text_of("#card-tokens"), "1 / 2 SCIM tokens");
        let token = page.text_of("#dashboard-tokens tbody tr");
        assert!(token.contains("Okta") && token.contains("Active") && token.contains("in 365 days"), "{token}");
        let last = page.text_of("#last-requests tbody tr");
        assert!(last.contains("Okta") && last.contains("GET /scim/v2/default/Users/does-not-exist"), "{last}");
        let failures = page.texts("#recent-failures tbody tr.failure");
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("404"), "{failures:?}");
        // A token close to expiry is flagged.
        app.clock.advance(time::Duration::days(350));
        // (The session ended long ago: sessions last 12 hours.)
        portal.get("/admin/t/default").await.expect(303);
        let portal = Portal::sign_in(&app).await;
        let page = portal.get("/admin/t/default").await;
        assert_eq!(page.count("#dashboard-tokens .badge.warn"), 1);
    })
    .await;
}

#[tokio::test]
async fn the_tenant_switcher_opens_the_same_section_of_another_tenant() {
    each_backend(|app| async move {
        app.core.create_tenant("acme").await.unwrap();
        let portal = Portal::sign_in(&app).await;
        let page = portal.get("/admin/t/default/users").await;
        let mut slugs = page.attrs("#tenant-switch option", "value");
        slugs.sort();
        assert_eq!(slugs, ["acme", "default"]);
        assert_eq!(page.attr("form.switcher input[name=section]", "value"), "users");
        let r = portal.get("/admin/switch?tenant=acme&section=users").await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/t/acme/users");
        let acme = portal.get(r.location()).await;
        acme.expect(200);
        assert_eq!(acme.attr("#tenant-switch option[selected]", "value"), "acme");
        assert_eq!(acme.attr("#nav-provisioning", "href"), "/admin/t/acme/provisioning");
        let r = portal.get("/admin/switch?tenant=acme&section=../../elsewhere").await;
        assert_eq!(r.location(), "/admin/t/acme");
        portal.get("/admin/switch?tenant=nope").await.expect(404);
        // Each tenant has its own target URL and tokens.
        let prov = portal.get("/admin/t/acme/provisioning").await;
        assert!(prov.text.contains(&app.base_url("acme")));
        assert_eq!(prov.count("#token-status tbody tr[data-token-id]"), 0);
    })
    .await;
}

#[tokio::test]
async fn sign_out_ends_the_session_and_clears_the_cookie() {
    each_backend(|app| async move {
        let portal = Portal::sign_in(&app).await;
        let r = portal.post("/admin/sign-out", &[]).await;
        r.expect(303);
        assert_eq!(r.location(), "/admin/sign-in");
        let cleared = set_cookie(&r, "roster_session").unwrap().to_ascii_lowercase();
        assert!(cleared.starts_with("roster_session=;") && cleared.contains("max-age=0"), "{cleared}");
        let r = portal.get("/admin/t/default").await;
        r.expect(303);
        assert!(r.location().starts_with("/admin/sign-in"));
    })
    .await;
}

#[tokio::test]
async fn assets_are_embedded_and_htmx_posts_keep_the_address_bar() {
    each_backend(|app| async move {
        let http = client();
        let get = |path: &str| read(http.get(format!("{}{path}", app.public_url)));
        let htmx = get("/admin/assets/htmx.min.js").await;
        htmx.expect(200);
        assert_eq!(htmx.header("content-type"), Some("text/javascript; charset=utf-8"));
        assert!(htmx.text.contains("htmx") && htmx.text.contains("2.0.11"));
        assert_eq!(htmx.header("x-content-type-options"), Some("nosniff"));
        assert!(htmx.header("cache-control").unwrap().contains("max-age"));
        let css = get("/admin/assets/portal.css").await;
        assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
        let js = get("/admin/assets/portal.js").await;
        assert!(js.text.contains("data-copy"));
        get("/admin/assets/nope.js").await.expect(404);

        // A form posted by htmx that renders a page (not a redirect) must not put the POST URL
        // into the address bar (a refresh would then GET it).
        let portal = Portal::sign_in(&app).await;
        let r = read(
            portal
                .http
                .post(format!("{}/admin/t/default/provisioning/confirm", portal.base))
                .header("Cookie", &portal.cookie)
                .header("HX-Request", "true")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&[("csrf", &portal.csrf), ("idp", "okta")])),
        )
        .await;
        r.expect(200);
        assert_eq!(r.header("hx-push-url"), Some("false"));
        let r = portal.get("/admin/t/default").await;
        assert_eq!(r.header("hx-push-url"), None);
    })
    .await;
}
