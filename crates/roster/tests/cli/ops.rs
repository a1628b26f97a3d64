//! Running Roster (issue 11), through the real binary: `roster healthcheck`, `roster config
//! check` (layering, `_FILE` secrets, redaction, unknown-variable warnings), the log output
//! (request ids on every line of a request, JSON lines, no token or cookie ever written),
//! `roster backup` under write load and `roster restore`, the metrics listener, and an
//! upgrade from a database at the first released schema version.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use super::process::{ServerProc, header, http};
use super::{Install, Run, open_core, run_binary_env, scim_ctx};

/// Runs `roster args...` with a clean environment plus `env`.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_binary_env(args, None, env)
}

/// `roster serve` on `install` with nothing in the environment but `USER` and `env`.
fn serve(install: &Install, extra: &[&str], env: &[(&str, &str)]) -> ServerProc {
    ServerProc::start_plain(&install.global_args(), extra, env)
}

/// Asserts that `tenant` has exactly one user named `user_name`, as `token` sees it.
fn assert_one_user(addr: &str, tenant: &str, user_name: &str, token: &str) {
    let (status, _, body) = http(
        addr,
        "GET",
        &format!("/scim/v2/{tenant}/Users?filter=userName%20eq%20%22{user_name}%22"),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["totalResults"], 1, "{body}");
}

/// An address nothing listens on (so `restore` finds no running server there).
const NOBODY: &str = "127.0.0.1:1";

#[tokio::test]
async fn healthcheck_exits_0_while_the_server_is_ready_and_1_otherwise() {
    let install = Install::new();
    let server = serve(&install, &[], &[]);
    let addr = server.addr.clone();
    let r = run_env(&["healthcheck", "--url", &format!("http://{addr}/readyz")], &[]).ok();
    assert!(r.stdout.contains("ready"), "{r:#?}");
    // Without --url it checks /readyz on the configured listen address.
    run_env(&["healthcheck"], &[("ROSTER_LISTEN", &addr)]).ok();
    server.kill();
    run_env(&["healthcheck"], &[("ROSTER_LISTEN", &addr)]).fails_saying(&["readyz"]);
    run_env(&["healthcheck", "--url", "http://127.0.0.1:1/readyz", "--timeout", "2"], &[])
        .fails_saying(&["127.0.0.1:1"]);
    // A 404 is not ready either.
    let server = serve(&install, &[], &[]);
    run_env(&["healthcheck", "--url", &format!("http://{}/nope", server.addr)], &[]).fails_saying(&["404"]);
    server.kill();
}

#[tokio::test]
async fn metrics_listener_serves_metrics_and_health_checks_apart_from_the_api() {
    let install = Install::new();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = probe.local_addr().unwrap().to_string();
    drop(probe);
    let server = serve(&install, &["--metrics-listen", &metrics_addr], &[]);
    let (status, headers, body) = http(&metrics_addr, "GET", "/metrics", &[], None);
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(body.contains("roster_tenant_users{tenant=\"default\"} 0"), "{body}");
    assert!(body.contains("roster_db_pool_connections{pool=\"write\""), "{body}");
    assert_eq!(http(&server.addr, "GET", "/metrics", &[], None).0, 404);
    // With a metrics listener, healthcheck goes there.
    run_env(&["healthcheck"], &[("ROSTER_METRICS_LISTEN", &metrics_addr), ("ROSTER_LISTEN", NOBODY)]).ok();
    server.kill();
}

#[tokio::test]
async fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nmax_connections = 4\ndatabase_url = \"postgres://roster:hunter2@db.internal/roster\"\n",
    )
    .unwrap();
    let pw = dir.path().join("admin-password");
    std::fs::write(&pw, "s3cret-admin\n").unwrap();
    let env = [
        ("ROSTER_CONFIG", file.to_str().unwrap()),
        ("ROSTER_ADMIN_PASSWORD_FILE", pw.to_str().unwrap()),
        ("ROSTER_MAX_CONNECTIONS", "16"),
        ("ROSTER_PUBLIC_URL", "https://scim.example.com"),
    ];
    let r = run_env(&["--data-dir", "/srv/roster", "config", "check"], &env).ok();
    let out = &r.stdout;
    for secret in ["hunter2", "s3cret-admin"] {
        assert!(!out.contains(secret) && !r.stderr.contains(secret), "{secret} printed: {r:#?}");
    }
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key}: {out}"))
            .to_string()
    };
    assert!(line("listen").contains("\"0.0.0.0:9000\"") && line("listen").contains("# file "), "{out}");
    assert!(line("max_connections").contains("16") && line("max_connections").contains("env ROSTER_MAX_CONNECTIONS"));
    assert!(line("public_url").contains("env ROSTER_PUBLIC_URL"), "{out}");
    assert!(line("data_dir").contains("/srv/roster") && line("data_dir").contains("# flag"), "{out}");
    assert!(line("database_url").contains("postgres://roster:***@db.internal/roster"), "{out}");
    assert!(line("admin_password").contains("\"***\"") && line("admin_password").contains("admin_password_file"));
    assert!(line("log_format").contains("# default"), "{out}");
    assert!(out.contains("configuration OK"), "{out}");

    let r = run_env(&["config", "check", "--json"], &env).ok();
    let v = r.json();
    assert_eq!(v["config"]["listen"], "0.0.0.0:9000");
    assert_eq!(v["config"]["max_connections"], 16);
    assert_eq!(v["config"]["admin_password"], "***");
    assert_eq!(v["sources"]["max_connections"], "env ROSTER_MAX_CONNECTIONS");
    assert_eq!(v["database"], "postgres://roster:***@db.internal/roster");
    assert!(!r.stdout.contains("hunter2") && !r.stdout.contains("s3cret-admin"));

    // A bad value fails with its key named, and exit code 1.
    run_env(&["config", "check"], &[("ROSTER_LOG_FORMAT", "xml")]).fails_saying(&["log_format"]);
    run_env(&["config", "check"], &[("ROSTER_MAX_CONNECTIONS", "many")])
        .fails_saying(&["ROSTER_MAX_CONNECTIONS", "many"]);
    std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
    run_env(&["config", "check"], &[("ROSTER_CONFIG", file.to_str().unwrap())]).fails_saying(&["lisen"]);
}

#[tokio::test]
async fn unknown_roster_variables_are_warned_about_by_every_command() {
    let install = Install::new();
    let r = run_env(&["config", "check"], &[("ROSTER_LISTN", "0.0.0.0:1"), ("ROSTER_LOG", "warn")]).ok();
    assert!(
        r.stderr
            .contains("warning: unknown environment variable ROSTER_LISTN is ignored (did you mean ROSTER_LISTEN?)"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("ROSTER_LOG "), "known variables are not warned about: {r:#?}");
    let r = install.run(&["tenant", "list"]).ok();
    assert!(!r.stderr.contains("warning"), "{r:#?}");
    // `serve` says it in its log.
    let server = serve(&install, &[], &[("ROSTER_DATABSE_URL", "sqlite://elsewhere.db"), ("ROSTER_LOG", "info")]);
    let lines = server.kill();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("ROSTER_DATABSE_URL") && l.contains("ROSTER_DATABASE_URL")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn secrets_come_from_files_named_by_file_variables() {
    let install = Install::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let url_file = dir.path().join("database-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", db.display())).unwrap();
    let pw_file = dir.path().join("admin-password");
    std::fs::write(&pw_file, "001234567890123\n").unwrap();
    let server = serve(
        &install,
        &[],
        &[
            ("ROSTER_DATABASE_URL_FILE", url_file.to_str().unwrap()),
            ("ROSTER_ADMIN_PASSWORD_FILE", pw_file.to_str().unwrap()),
        ],
    );
    let lines = server.kill();
    assert!(db.exists(), "the database is where the file says: {lines:#?}");
    assert!(!install.data_dir().join("roster.db").exists());
    assert!(lines.iter().all(|l| !l.contains("001234567890123")), "{lines:#?}");
    let (core, store) = open_core(&format!("sqlite://{}", db.display())).await;
    assert!(core.sign_in("admin", "001234567890123", "test").await.is_ok(), "a password of digits stays a string");
    store.close().await;
}

#[tokio::test]
async fn logs_name_the_request_on_every_line_and_never_the_token_or_cookie() {
    let install = Install::new();
    let token = install.token("okta");
    let cookie_secret = "roster_session=c00kie-s3cret-value";
    let server = serve(&install, &[], &[("ROSTER_LOG_FORMAT", "json"), ("ROSTER_LOG", "debug")]);
    let auth = format!("Bearer {token}");
    let (status, headers, body) = http(
        &server.addr,
        "POST",
        "/scim/v2/default/Users",
        &[("Authorization", &auth), ("Cookie", cookie_secret)],
        Some(r#"{"userName": "logged@x.io"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created_id = header(&headers, "x-request-id").unwrap().to_string();
    let (status, headers, body) =
        http(&server.addr, "GET", "/admin/api/tenants", &[("Cookie", cookie_secret), ("Authorization", &auth)], None);
    assert_eq!(status, 403, "{body}");
    let refused_id = header(&headers, "x-request-id").unwrap().to_string();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["request_id"], refused_id.as_str());
    let (status, _, _) =
        http(&server.addr, "GET", "/scim/v2/default/Users", &[("Authorization", "Bearer roster_wrong")], None);
    assert_eq!(status, 401);
    std::thread::sleep(Duration::from_millis(300));
    let lines = server.kill();

    let text = lines.join("\n");
    let secret = token.rsplit('_').next().unwrap();
    for leaked in [token.as_str(), secret, "c00kie-s3cret-value", "roster_wrong"] {
        assert!(!text.contains(leaked), "{leaked} was logged:\n{text}");
    }
    // Every line is a JSON object; every line written while serving a request names it.
    let json: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let mut in_requests = 0;
    for v in &json {
        let Some(spans) = v["spans"].as_array() else { continue };
        if let Some(request) = spans.iter().find(|s| s["name"] == "request") {
            in_requests += 1;
            assert!(request["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{v}");
            assert!(v["span"]["request_id"].is_string() || v["span"]["name"] != "request", "{v}");
        }
    }
    assert!(in_requests >= 3, "{text}");
    // The request's closing line: its id (the one the client saw), route template and status.
    let finished = |id: &str| {
        json.iter()
            .find(|v| v["span"]["request_id"] == id && v["fields"]["message"] == "finished processing request")
            .unwrap_or_else(|| panic!("no closing line for {id}:\n{text}"))
            .clone()
    };
    let created = finished(&created_id);
    assert_eq!(created["span"]["route"], "/scim/v2/{tenant}/{resource}", "{created}");
    assert_eq!(created["fields"]["status"], 201, "{created}");
    assert_eq!(created["level"], "INFO");
    finished(&refused_id);
}

#[tokio::test]
async fn logs_are_human_readable_by_default_and_filtered_by_roster_log() {
    let install = Install::new();
    let server = serve(&install, &[], &[("ROSTER_LOG", "warn,roster::cli=info")]);
    let (_, headers, _) = http(&server.addr, "GET", "/scim/v2/default/Users", &[], None);
    let id = header(&headers, "x-request-id").unwrap().to_string();
    let lines = server.kill();
    assert!(lines.iter().all(|l| !l.contains(&id)), "INFO request lines are filtered out at warn: {lines:#?}");
    let server = serve(&install, &["--log-format", "pretty"], &[("ROSTER_LOG", "info")]);
    let (_, headers, _) = http(&server.addr, "GET", "/scim/v2/default/Users", &[], None);
    let id = header(&headers, "x-request-id").unwrap().to_string();
    std::thread::sleep(Duration::from_millis(300));
    let lines = server.kill();
    let line = lines.iter().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(line.contains(&format!("request_id={id}")) && line.contains("status=401"), "{line}");
    assert!(serde_json::from_str::<Value>(line).is_err(), "pretty is not JSON: {line}");
}

/// `PRAGMA integrity_check` and the userNames of a SQLite database file.
async fn check_database(path: &Path) -> Vec<String> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await.unwrap();
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.unwrap();
    assert_eq!(problems, ["ok"], "{}", path.display());
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT data FROM resources WHERE kind = 1").fetch_all(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    rows.iter().map(|d| serde_json::from_str::<Value>(d).unwrap()["userName"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_backup_taken_under_write_load_restores_every_write_acknowledged_before_it() {
    let install = Install::new();
    let token = install.token("okta");
    let unlimited = [("ROSTER_RATE_LIMIT_PER_TOKEN", "0"), ("ROSTER_RATE_LIMIT_PER_TENANT", "0")];
    let server = serve(&install, &[], &unlimited);
    let addr = server.addr.clone();
    // Writers: each acknowledged create is recorded once its 201 is in.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acknowledged, stop, addr, auth) =
                (acknowledged.clone(), stop.clone(), addr.clone(), format!("Bearer {token}"));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("load-{w}-{n}@x.io");
                    let body = json!({"userName": name}).to_string();
                    let (status, _, text) =
                        http(&addr, "POST", "/scim/v2/default/Users", &[("Authorization", &auth)], Some(&body));
                    assert_eq!(status, 201, "{text}");
                    acknowledged.lock().unwrap().push(name);
                    n += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < 150 {
        assert!(Instant::now() < deadline && !writers.iter().any(|w| w.is_finished()), "the writers stalled");
        std::thread::sleep(Duration::from_millis(20));
    }
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = backup_dir.path().join("roster-backup.db");
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let r = install.run(&["backup", backup.to_str().unwrap(), "--json"]).ok();
    let during = acknowledged.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let total = acknowledged.lock().unwrap().len();
    let report = r.json();
    assert!(report["users"].as_u64().unwrap() >= before.len() as u64, "{report}");
    assert_eq!(
        report["schema_version"],
        roster_store::migration_versions(roster_store::Backend::Sqlite).last().unwrap().0
    );
    assert!(total > during || during > before.len(), "the writers kept writing while the backup ran");

    // The backup is private to its owner, and a second backup does not overwrite it silently.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    }
    install.run(&["backup", backup.to_str().unwrap()]).fails_saying(&["exists", "--force"]);

    // Restore into a fresh installation (while the original keeps serving).
    let restored = Install::new();
    let r = restored.run_with(&["restore", backup.to_str().unwrap()], None, &[("ROSTER_LISTEN", NOBODY)]).ok();
    assert!(r.stdout.contains("restored"), "{r:#?}");
    let users = check_database(&restored.data_dir().join("roster.db")).await;
    let missing: Vec<_> = before.iter().filter(|u| !users.contains(u)).collect();
    assert!(missing.is_empty(), "acknowledged before the backup but not in it: {missing:?}");
    assert!(users.len() <= total);
    // The restored installation serves, with the same token.
    let server2 = serve(&restored, &[], &[]);
    assert_one_user(&server2.addr, "default", &before[0], &token);
    server2.kill();
    server.kill();
}

#[tokio::test]
async fn restore_refuses_to_replace_data_without_force_or_under_a_running_server() {
    let install = Install::new();
    install.run(&["tenant", "create", "kept"]).ok();
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = backup_dir.path().join("b.db");
    install.run(&["backup", backup.to_str().unwrap()]).ok();
    install.run(&["tenant", "create", "after-backup"]).ok();

    let nobody = [("ROSTER_LISTEN", NOBODY)];
    install.run_with(&["restore", backup.to_str().unwrap()], None, &nobody).fails_saying(&["not empty", "--force"]);
    // Not a backup at all.
    let junk = backup_dir.path().join("junk.db");
    std::fs::write(&junk, "this is not a database").unwrap();
    install.run_with(&["restore", junk.to_str().unwrap(), "--force"], None, &nobody).fails_saying(&["junk.db"]);
    // A server answering on the configured address: refused even with --force.
    let server = serve(&install, &[], &[]);
    let listen = [("ROSTER_LISTEN", server.addr.as_str())];
    install.run_with(&["restore", backup.to_str().unwrap(), "--force"], None, &listen).fails_saying(&["stop it"]);
    server.kill();
    // With --force the old database is kept beside the restored one.
    let r = install.run_with(&["restore", backup.to_str().unwrap(), "--force", "--json"], None, &nobody).ok();
    let previous = r.json()["previous"].as_str().unwrap().to_string();
    assert!(Path::new(&previous).exists(), "{r:#?}");
    let slugs = install.run(&["tenant", "list", "--json"]).ok().json();
    let slugs: Vec<&str> = slugs.as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert!(slugs.contains(&"kept") && !slugs.contains(&"after-backup"), "{slugs:?}");
    // PostgreSQL is backed up with its own tools.
    run_env(&["--database", "postgres://u:pw@127.0.0.1:1/x", "backup", "x.db"], &[]).fails_saying(&["pg_dump"]);
}

#[tokio::test]
async fn a_database_at_the_first_released_schema_is_upgraded_and_keeps_its_data() {
    let install = Install::new();
    std::fs::create_dir_all(install.data_dir()).unwrap();
    let db = install.data_dir().join("roster.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    // Schema version 1 exactly as sqlx applied it: the first migration file alone, with
    // sqlx's own bookkeeping (version, checksum) in _sqlx_migrations.
    let v1 = tempfile::tempdir().unwrap();
    let first = Path::new(env!("CARGO_MANIFEST_DIR")).join("../roster-store/migrations/sqlite/0001_init.sql");
    std::fs::copy(&first, v1.path().join("0001_init.sql")).unwrap();
    let migrator = sqlx::migrate::Migrator::new(v1.path()).await.unwrap();
    assert_eq!(migrator.iter().count(), 1);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    migrator.run(&mut conn).await.unwrap();
    // Data written the way version 1 wrote it.
    let secret = "5".repeat(64);
    let token = format!("roster_00112233aabbccdd_{secret}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let settings = serde_json::to_string(&roster_core::TenantSettings::default()).unwrap();
    sqlx::query("INSERT INTO tenants (slug, settings, schema_version, created_at) VALUES ('legacy', ?, 1, ?)")
        .bind(&settings)
        .bind(now)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO scim_tokens (id, tenant_id, idp, name, secret_hash, status, created_at) \
         VALUES ('00112233aabbccdd', (SELECT id FROM tenants WHERE slug = 'legacy'), 'okta', 'v1', ?, 'active', ?)",
    )
    .bind(roster_core::tokens::hash_secret(&secret))
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
    let data = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Legacy@Example.com", "active": true});
    sqlx::query(
        "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, active, display, display_key, created, last_modified, version, data) \
         VALUES ((SELECT id FROM tenants WHERE slug = 'legacy'), 1, 'c0ffee00-0000-4000-8000-000000000001', 'legacy@example.com', NULL, 1, \
                 'Legacy@Example.com', 'legacy@example.com', ?, ?, 3, ?)",
    )
    .bind(now)
    .bind(now)
    .bind(data.to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // The binary upgrades it (roster migrate), and the store finds it ready.
    install.run(&["migrate"]).ok();
    let (core, store) = open_core(&format!("sqlite://{}", db.display())).await;
    roster_core::Store::ready(&store).await.expect("ready after the upgrade");
    let ctx = scim_ctx(&core, "legacy", &token).await;
    let user = core
        .get(&ctx, roster_scim::ResourceKind::User, "c0ffee00-0000-4000-8000-000000000001", &Default::default(), None)
        .await
        .unwrap();
    let roster_core::Fetched::Resource(user) = user else { panic!("not modified?") };
    assert_eq!(user.body["userName"], "Legacy@Example.com");
    assert_eq!(user.etag(), "W/\"3\"");
    // Tables of later versions work: a change writes its audit row.
    core.create_tenant_as(&roster_core::audit::Actor::cli(), "after-upgrade").await.unwrap();
    store.close().await;
    let audit = install.run(&["audit", "--json"]).ok().json();
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["target"].as_str().unwrap_or_default().contains("after-upgrade")),
        "{audit}"
    );
    // And `roster serve` starts on it.
    let server = serve(&install, &[], &[]);
    assert_one_user(&server.addr, "legacy", "legacy@example.com", &token);
    server.kill();
}
