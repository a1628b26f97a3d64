//! Secrets never reach the log (issue 10, item 6): a real `roster serve` at the most verbose
//! level (`ROSTER_LOG=trace`, JSON lines, every crate's events), driven with SCIM tokens
//! (right, wrong, in the query string), an admin password (right and wrong), a session
//! cookie and its CSRF token, an admin API key, a token issued and renewed through the admin
//! API, and a user's `password` attribute. Then its whole stderr is searched for each.

use serde_json::{Value, json};

use super::process::{ADMIN_PASSWORD, ServerProc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_password_key_or_cookie_ever_reaches_the_log() {
    super::process::install_crypto();
    let install = super::Install::new();
    let token = install.token("okta");
    let key = install.run(&["admin", "api-key", "create", "--json"]).ok().json()["key"].as_str().unwrap().to_string();
    let server = ServerProc::start(&install.global_args(), &["--log-format", "json"], &[("ROSTER_LOG", "trace")]);
    let base = format!("http://{}", server.addr);
    let scim = format!("{base}/scim/v2/default");
    let http = reqwest::Client::new();
    let (token_id, token_secret) = roster_core::tokens::parse(&token).unwrap();
    let wrong = format!("roster_{token_id}_{}", "e".repeat(64));
    let user_password = "Us3r-Pa55word-never-logged";

    // SCIM: the right token, a wrong secret, the token in the query string, a password attribute.
    let auth = |t: &str| format!("Bearer {t}");
    // A GET with `t` as the bearer credential: its status.
    let get = |url: String, t: &str| {
        let request = http.get(url).header("Authorization", auth(t));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(get(format!("{scim}/Users"), &token).await, 200);
    assert_eq!(get(format!("{scim}/Users"), &wrong).await, 401);
    assert_eq!(http.get(format!("{scim}/Users?access_token={token}")).send().await.unwrap().status(), 401);
    let created = http
        .post(format!("{scim}/Users"))
        .header("Authorization", auth(&token))
        .header("Content-Type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "pw@x.io", "password": user_password}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert!(created.get("password").is_none(), "{created}");

    // The admin API: a wrong password, the right one, the session cookie and CSRF token.
    let sign_in = |password: &str| {
        http.post(format!("{base}/admin/api/session")).json(&json!({"username": "admin", "password": password})).send()
    };
    assert_eq!(sign_in("not the password at all").await.unwrap().status(), 401);
    let session = sign_in(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(session.status(), 200);
    let cookie = session.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = session.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_string();
    let issued = http
        .post(format!("{base}/admin/api/tenants/default/tokens"))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"idp": "entra", "name": "logged?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    let issued_token = issued["token"].as_str().unwrap().to_string();
    let issued_id = issued["id"].as_str().unwrap().to_string();
    let renewed = http
        .post(format!("{base}/admin/api/tenants/default/tokens/{issued_id}/renew"))
        .header("Authorization", auth(&key))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let renewed_token = renewed.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(get(format!("{scim}/Groups"), &renewed_token).await, 200);
    assert_eq!(get(format!("{base}/admin/api/tenants"), &key).await, 200);

    let lines = server.stop();
    let log = lines.join("\n");
    // The log did capture the traffic (so the search below means something).
    assert!(log.contains("/scim/v2/default/Users"), "the trace log shows no SCIM request:\n{log}");
    assert!(lines.len() > 20, "{log}");
    let session_value = cookie.split_once('=').unwrap().1.to_string();
    let secrets = [
        ("the SCIM token", token.clone()),
        ("the SCIM token's secret", token_secret.to_string()),
        ("a wrong secret", wrong[wrong.len() - 64..].to_string()),
        ("the admin API key", key.clone()),
        ("the admin API key's secret", key[key.len() - 64..].to_string()),
        ("the admin password", ADMIN_PASSWORD.to_string()),
        ("a wrong admin password", "not the password at all".to_string()),
        ("the session cookie", session_value),
        ("the CSRF token", csrf.clone()),
        ("a token issued through the API", issued_token.clone()),
        ("a renewed token", renewed_token.clone()),
        ("a user's password", user_password.to_string()),
    ];
    for (what, secret) in &secrets {
        assert!(!secret.is_empty());
        if let Some(line) = lines.iter().find(|l| l.contains(secret.as_str())) {
            panic!("{what} is in the log: {line}");
        }
    }
    println!("{} log lines at trace level; none holds any of {} secrets", lines.len(), secrets.len());
}
