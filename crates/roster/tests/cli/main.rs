//! The `roster` command line, run as a real process against a temporary `--data-dir`
//! (issue 4 and 5): the token lifecycle with `--json`, the audit trail it leaves, tenants,
//! custom attributes, admin accounts and API keys, `migrate`, `copy`, and bad input that
//! exits non-zero with a clear message and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod crash;
mod logs;
mod ops;
mod process;
mod tls;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{Value, json};

use roster_core::{Core, RandomIds, ScimCtx, SystemClock};
use roster_scim::discovery::ServiceProviderConfig;
use roster_store::{SqlStore, StoreOptions};

use process::{ServerProc, field, http};

/// The OS user the CLI names as the actor of its changes.
const CLI_USER: &str = "cli-tester";
const PUBLIC_URL: &str = "https://roster.example.com";

/// What a run of the binary printed.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "the command failed: {self:#?}");
        self
    }

    /// The command failed with a message on stderr containing every one of `words`.
    #[track_caller]
    fn fails_saying(self, words: &[&str]) -> Run {
        assert_ne!(self.code, Some(0), "the command should fail: {self:#?}");
        assert_eq!(self.code, Some(1), "{self:#?}");
        for w in words {
            assert!(self.stderr.contains(w), "stderr should contain {w:?}: {self:#?}");
        }
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A temporary installation: its data directory.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        Install { dir: tempfile::tempdir().unwrap() }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.data_dir().join("roster.db").display())
    }

    /// The `roster` global options that select this installation.
    fn global_args(&self) -> Vec<String> {
        vec!["--data-dir".into(), self.data_dir().to_str().unwrap().into()]
    }

    /// Runs `roster --data-dir DIR args...` with a clean environment.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.run_with(args, stdin, &[])
    }

    /// Runs `roster --data-dir DIR args...` with a clean environment plus `env`.
    fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let global = self.global_args();
        let all: Vec<&str> = global.iter().map(String::as_str).chain(args.iter().copied()).collect();
        run_binary_env(&all, stdin, env)
    }

    /// A new SCIM token for the `default` tenant.
    fn token(&self, idp: &str) -> String {
        self.run(&["token", "create", "--idp", idp, "--json"]).ok().json()["token"].as_str().unwrap().to_string()
    }

    /// The services on this installation's database, in-process (to check what the CLI did).
    async fn core(&self) -> (Core, SqlStore) {
        open_core(&self.db_url()).await
    }
}

fn run_binary(args: &[&str], stdin: Option<&str>) -> Run {
    run_binary_env(args, stdin, &[])
}

/// Runs `roster args...` with a clean environment (`USER`, `PATH`) plus `env`.
fn run_binary_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(args)
        .env_clear()
        .env("USER", CLI_USER)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run roster");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn open_core(url: &str) -> (Core, SqlStore) {
    let store = SqlStore::connect(url, &StoreOptions::default()).await.unwrap();
    let core = Core::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        ServiceProviderConfig::default(),
    );
    (core, store)
}

/// Whether a SCIM request with `token` would be accepted on `tenant`.
async fn token_works(core: &Core, tenant: &str, token: &str) -> bool {
    core.authenticate(tenant, Some(&format!("Bearer {token}")), format!("{PUBLIC_URL}/scim/v2/{tenant}")).await.is_ok()
}

/// The SCIM request context `token` opens on `tenant` (which must accept it).
async fn scim_ctx(core: &Core, tenant: &str, token: &str) -> ScimCtx {
    core.authenticate(tenant, Some(&format!("Bearer {token}")), format!("http://x/scim/v2/{tenant}")).await.unwrap()
}

fn secret_of(token: &str) -> &str {
    roster_core::tokens::parse(token).expect("a Roster token").1
}

fn events(run: &Run) -> Vec<Value> {
    run.json().as_array().unwrap_or_else(|| panic!("not a list: {run:#?}")).clone()
}

#[tokio::test]
async fn the_token_lifecycle_through_the_cli_with_json() {
    let install = Install::new();
    let created = install
        .run(&["token", "create", "--idp", "okta", "--name", "Okta prod", "--public-url", PUBLIC_URL, "--json"])
        .ok();
    let t = created.json();
    let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expires_at", "id", "idp", "status", "target_url", "token"]);
    let id = t["id"].as_str().unwrap().to_string();
    let first = t["token"].as_str().unwrap().to_string();
    assert!(first.starts_with(&format!("roster_{id}_")), "{first}");
    assert_eq!(t["target_url"], format!("{PUBLIC_URL}/scim/v2/default"));
    assert_eq!(t["idp"], "okta");
    assert_eq!(t["status"], "active");
    assert!(t["expires_at"].as_str().is_some_and(|s| s.starts_with(&((time_year() + 1).to_string()))), "{t}");

    // The text form shows the secret and the target URL too (once).
    let text =
        install.run(&["token", "create", "--idp", "entra", "--expires-in", "never", "--public-url", PUBLIC_URL]).ok();
    assert!(text.stdout.contains("Microsoft Entra ID"), "{text:#?}");
    assert!(text.stdout.contains(&format!("{PUBLIC_URL}/scim/v2/default")), "{text:#?}");
    assert!(text.stdout.contains("never"), "{text:#?}");
    let second_token =
        text.stdout.split_whitespace().find(|w| w.starts_with("roster_")).expect("the token is printed").to_string();

    // The list never shows a secret.
    let list = install.run(&["token", "list", "--json"]).ok();
    let tokens = list.json();
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["id"], id.as_str());
    assert_eq!(tokens[0]["idp_name"], "Okta");
    assert_eq!(tokens[0]["name"], "Okta prod");
    assert_eq!(tokens[0]["status"], "active");
    assert!(tokens[1]["expires_at"].is_null());
    for t in tokens {
        assert!(t.get("token").is_none() && t.get("secret_hash").is_none(), "{t}");
        assert_eq!(t["fingerprint"].as_str().unwrap().len(), 8);
    }
    for secret in [secret_of(&first), secret_of(&second_token)] {
        assert!(!list.stdout.contains(secret), "{list:#?}");
    }
    let table = install.run(&["token", "list"]).ok();
    assert!(table.stdout.contains(&id) && !table.stdout.contains(secret_of(&first)), "{table:#?}");

    // The limit: a third token is refused, saying how to free a slot.
    install.run(&["token", "create", "--idp", "okta", "--json"]).fails_saying(&[
        "2 SCIM tokens",
        "remove one",
        "free a slot",
    ]);
    assert_eq!(install.run(&["token", "list", "--json"]).ok().json().as_array().unwrap().len(), 2);

    let (core, _) = install.core().await;
    assert!(token_works(&core, "default", &first).await);

    let r = install.run(&["token", "disable", &id, "--json"]).ok().json();
    assert_eq!((r["id"].as_str(), r["status"].as_str()), (Some(id.as_str()), Some("inactive")));
    assert!(r.get("token").is_none());
    assert!(!token_works(&core, "default", &first).await);
    let r = install.run(&["token", "enable", &id, "--json"]).ok().json();
    assert_eq!(r["status"], "active");
    assert!(token_works(&core, "default", &first).await);

    let renewed =
        install.run(&["token", "renew", &id, "--expires-in", "30d", "--public-url", PUBLIC_URL, "--json"]).ok();
    let r = renewed.json();
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["target_url"], format!("{PUBLIC_URL}/scim/v2/default"));
    let renewed_token = r["token"].as_str().unwrap().to_string();
    assert_ne!(renewed_token, first);
    assert!(!token_works(&core, "default", &first).await, "the old secret stops at once");
    assert!(token_works(&core, "default", &renewed_token).await);

    let r = install.run(&["token", "remove", &id, "--json"]).ok().json();
    assert_eq!(r, json!({"id": id, "removed": true}));
    assert!(!token_works(&core, "default", &renewed_token).await);
    let tokens = install.run(&["token", "list", "--json"]).ok().json();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    // The slot is free again.
    install.run(&["token", "create", "--idp", "google", "--json"]).ok();

    // The audit trail has each transition, named for people, with the IdP and the CLI actor.
    let audit = install.run(&["audit", "--json"]).ok();
    let rows = events(&audit);
    let tokens_rows: Vec<&Value> =
        rows.iter().filter(|e| e["event"].as_str().unwrap().starts_with("scim_token.")).collect();
    let names: Vec<&str> = tokens_rows.iter().map(|e| e["event_name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "SCIM Token Created",
            "SCIM Token Deleted",
            "SCIM Token Renewed",
            "SCIM Token Enabled",
            "SCIM Token Disabled",
            "SCIM Token Created",
            "SCIM Token Created"
        ],
        "newest first: {audit:#?}"
    );
    for e in &tokens_rows[1..5] {
        assert_eq!(e["target"], format!("token {id}"), "{e}");
        assert!(e["details"].as_str().unwrap().contains("IdP: Okta"), "{e}");
        assert_eq!(e["tenant"], "default");
    }
    assert!(tokens_rows[0]["details"].as_str().unwrap().contains("IdP: Google Workspace"));
    assert!(tokens_rows[5]["details"].as_str().unwrap().contains("IdP: Microsoft Entra ID"));
    for e in &tokens_rows {
        assert_eq!(e["actor"], json!({"kind": "cli", "name": CLI_USER}), "{e}");
    }
    for secret in [secret_of(&first), secret_of(&renewed_token)] {
        assert!(!audit.stdout.contains(secret));
    }
    // Filters and the text form.
    let only = events(&install.run(&["audit", "--event", "SCIM Token Renewed", "--json"]).ok());
    assert_eq!(only.len(), 1);
    assert!(only[0]["details"].as_str().unwrap().contains("IdP: Okta"));
    assert_eq!(events(&install.run(&["audit", "--tenant", "default", "--limit", "2", "--json"]).ok()).len(), 2);
    let text = install.run(&["audit"]).ok();
    assert!(text.stdout.contains("SCIM Token Disabled") && text.stdout.contains(&format!("CLI ({CLI_USER})")));
}

fn time_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

#[tokio::test]
async fn bad_input_exits_non_zero_with_a_clear_message_and_writes_nothing() {
    let install = Install::new();
    let t = install.run(&["token", "create", "--idp", "okta", "--json"]).ok().json();
    let id = t["id"].as_str().unwrap().to_string();
    let audit_before = install.run(&["audit", "--json"]).ok().stdout;
    let tokens_before = install.run(&["token", "list", "--json"]).ok().stdout;

    install.run(&["token", "create", "--idp", "keycloak"]).fails_saying(&["unknown IdP", "keycloak", "okta", "entra"]);
    for bad in ["tomorrow", "0d", "12x", "-3d"] {
        install
            .run(&["token", "create", "--idp", "okta", &format!("--expires-in={bad}")])
            .fails_saying(&["not an expiry", "never"]);
        install.run(&["token", "renew", &id, &format!("--expires-in={bad}")]).fails_saying(&["not an expiry"]);
    }
    for action in ["enable", "disable", "renew", "remove"] {
        install.run(&["token", action, "0123456789abcdef"]).fails_saying(&["no token", "0123456789abcdef"]);
    }
    install.run(&["token", "create", "--idp", "okta", "--tenant", "nowhere"]).fails_saying(&["no tenant", "nowhere"]);
    install.run(&["token", "list", "--tenant", "nowhere"]).fails_saying(&["no tenant"]);
    install.run(&["token", "disable", &id, "--tenant", "nowhere"]).fails_saying(&["no tenant"]);
    install.run(&["audit", "--event", "nonsense"]).fails_saying(&["unknown audit event"]);
    install.run(&["audit", "--since", "yesterday"]).fails_saying(&["RFC 3339"]);
    // A token of another tenant is unknown under this one.
    install.run(&["tenant", "create", "acme"]).ok();
    install.run(&["token", "disable", &id, "--tenant", "acme"]).fails_saying(&["no token"]);
    // Usage errors are clap's (exit 2).
    let r = install.run(&["token", "create"]);
    assert_eq!(r.code, Some(2), "{r:#?}");
    assert!(r.stderr.contains("--idp"), "{r:#?}");

    assert_eq!(install.run(&["token", "list", "--json"]).ok().stdout, tokens_before);
    let audit_after = events(&install.run(&["audit", "--json"]).ok());
    // Only the tenant creation was added.
    assert_eq!(audit_after.len(), serde_json::from_str::<Vec<Value>>(&audit_before).unwrap().len() + 1);
    assert_eq!(audit_after[0]["event"], "tenant.created");
    assert_eq!(install.run(&["token", "list", "--json", "--tenant", "acme"]).ok().json(), json!([]));
}

#[tokio::test]
async fn tenants_are_created_listed_shown_and_set() {
    let install = Install::new();
    let r = install.run(&["tenant", "create", "acme", "--json"]).ok().json();
    assert_eq!(r["slug"], "acme");
    assert_eq!(r["target_url"], "http://127.0.0.1:8080/scim/v2/acme");
    let list = install.run(&["tenant", "list", "--json"]).ok().json();
    let mut slugs: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    slugs.sort_unstable();
    assert_eq!(slugs, ["acme", "default"]);
    assert!(list.as_array().unwrap().iter().any(|t| t["target_url"] == "http://127.0.0.1:8080/scim/v2/default"));

    let shown = install.run(&["tenant", "show", "acme", "--json"]).ok().json();
    assert_eq!(shown["settings"]["vendor"], "roster");
    assert_eq!(shown["settings"]["username_changes"], "reject");
    assert_eq!(shown["settings"]["unknown_attributes"], "lenient");
    assert_eq!(shown["settings"]["max_tokens"], 2);

    let set = install
        .run(&[
            "tenant",
            "set",
            "acme",
            "--vendor",
            "ivanti",
            "--username-changes",
            "allow",
            "--unknown-attributes",
            "strict",
            "--max-tokens",
            "3",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(set["settings"]["vendor"], "ivanti");
    assert_eq!(set["settings"]["username_changes"], "allow");
    assert_eq!(set["settings"]["unknown_attributes"], "strict");
    assert_eq!(set["settings"]["max_tokens"], 3);
    assert_eq!(install.run(&["tenant", "show", "acme", "--json"]).ok().json()["settings"], set["settings"]);
    // The default tenant is untouched.
    assert_eq!(install.run(&["tenant", "show", "default", "--json"]).ok().json()["settings"]["vendor"], "roster");
    // Three tokens now fit.
    for _ in 0..3 {
        install.run(&["token", "create", "--idp", "okta", "--tenant", "acme"]).ok();
    }
    install.run(&["token", "create", "--idp", "okta", "--tenant", "acme"]).fails_saying(&["3 SCIM tokens"]);

    // Bad input.
    install.run(&["tenant", "create", "acme"]).fails_saying(&["already exists"]);
    install.run(&["tenant", "create", "Not_A_Slug"]).fails_saying(&["not a valid tenant name"]);
    install.run(&["tenant", "show", "nowhere"]).fails_saying(&["no tenant"]);
    install.run(&["tenant", "set", "acme", "--username-changes", "sometimes"]).fails_saying(&["invalid setting"]);
    install.run(&["tenant", "set", "acme", "--vendor", "enterprise"]).fails_saying(&["reserved"]);
    install.run(&["tenant", "set", "acme", "--max-tokens", "0"]).fails_saying(&["max_tokens"]);
    assert_eq!(install.run(&["tenant", "show", "acme", "--json"]).ok().json()["settings"], set["settings"]);

    let audit = events(&install.run(&["audit", "--tenant", "acme", "--json"]).ok());
    let codes: Vec<&str> = audit.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(codes.last(), Some(&"tenant.created"));
    let changed: Vec<&Value> = audit.iter().filter(|e| e["event"] == "tenant.settings_changed").collect();
    assert_eq!(changed.len(), 1);
    let details = changed[0]["details"].as_str().unwrap();
    assert!(details.contains("vendor") && details.contains("ivanti") && details.contains("max_tokens"), "{details}");
}

#[tokio::test]
async fn attributes_are_defined_listed_and_removed() {
    let install = Install::new();
    install.run(&["tenant", "create", "acme"]).ok();
    install.run(&["tenant", "set", "acme", "--vendor", "ivanti"]).ok();
    let urn = "urn:ietf:params:scim:schemas:extension:ivanti:2.0:User";
    let badge = install
        .run(&[
            "attribute",
            "define",
            "badgeNumber",
            "--type",
            "integer",
            "--tenant",
            "acme",
            "--description",
            "Door badge",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(badge["name"], "badgeNumber");
    assert_eq!(badge["type"], "integer");
    assert_eq!(badge["multi_valued"], false);
    assert_eq!(badge["description"], "Door badge");
    assert_eq!(badge["path"], format!("{urn}:badgeNumber"));
    let text = install
        .run(&["attribute", "define", "deviceGroups", "--type", "string", "--multi-valued", "--tenant", "acme"])
        .ok();
    assert!(text.stdout.contains(&format!("{urn}:deviceGroups")), "{text:#?}");

    let list = install.run(&["attribute", "list", "--tenant", "acme", "--json"]).ok().json();
    assert_eq!(list["urn"], urn);
    let attrs = list["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 2);
    assert!(attrs.iter().any(|a| a["name"] == "deviceGroups" && a["multi_valued"] == true));
    // The default tenant has none, under its own URN.
    let default = install.run(&["attribute", "list", "--json"]).ok().json();
    assert_eq!(default, json!({"urn": "urn:ietf:params:scim:schemas:extension:roster:2.0:User", "attributes": []}));

    // Bad input writes nothing.
    install
        .run(&["attribute", "define", "x", "--type", "float", "--tenant", "acme"])
        .fails_saying(&["not a type", "integer"]);
    install
        .run(&["attribute", "define", "9lives", "--type", "string", "--tenant", "acme"])
        .fails_saying(&["not a valid attribute name"]);
    install
        .run(&["attribute", "define", "BADGENUMBER", "--type", "string", "--tenant", "acme"])
        .fails_saying(&["already exists"]);
    install.run(&["attribute", "remove", "nope", "--tenant", "acme"]).fails_saying(&["no custom attribute", "nope"]);
    install.run(&["attribute", "list", "--tenant", "nowhere"]).fails_saying(&["no tenant"]);
    assert_eq!(install.run(&["attribute", "list", "--tenant", "acme", "--json"]).ok().json(), list);

    let removed = install.run(&["attribute", "remove", "badgeNumber", "--tenant", "acme"]).ok();
    assert!(removed.stdout.contains("badgeNumber"), "{removed:#?}");
    let list = install.run(&["attribute", "list", "--tenant", "acme", "--json"]).ok().json();
    assert_eq!(list["attributes"].as_array().unwrap().len(), 1);

    let audit = events(&install.run(&["audit", "--tenant", "acme", "--json"]).ok());
    let names: Vec<&str> = audit
        .iter()
        .filter(|e| e["event"].as_str().unwrap().starts_with("attribute."))
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Custom Attribute Removed", "Custom Attribute Defined", "Custom Attribute Defined"]);
    assert_eq!(audit[0]["actor"]["kind"], "cli");
    assert!(audit[0]["details"].as_str().unwrap().contains(urn), "{}", audit[0]);
}

#[tokio::test]
async fn admins_and_api_keys_are_managed_from_the_cli() {
    let install = Install::new();
    let first = "correct horse battery";
    let second = "another long password";
    install.run_with_stdin(&["admin", "create", "alice", "--password-stdin"], Some(&format!("{first}\n"))).ok();
    let generated = install.run(&["admin", "create", "bob"]).ok();
    let bob_password = generated
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("a generated password is printed")
        .to_string();
    assert!(bob_password.len() >= 12);
    install
        .run_with_stdin(&["admin", "create", "carol", "--password-stdin"], Some("short\n"))
        .fails_saying(&["at least 12"]);
    install
        .run_with_stdin(&["admin", "create", "alice", "--password-stdin"], Some(&format!("{first}\n")))
        .fails_saying(&["alice"]);
    let admins = install.run(&["admin", "list", "--json"]).ok().json();
    let names: Vec<&str> = admins.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob"]);

    install.run_with_stdin(&["admin", "set-password", "alice", "--password-stdin"], Some(&format!("{second}\n"))).ok();
    install
        .run_with_stdin(&["admin", "set-password", "nobody", "--password-stdin"], Some(&format!("{second}\n")))
        .fails_saying(&["nobody"]);

    let key = install.run(&["admin", "api-key", "create", "--name", "ci", "--json"]).ok().json();
    assert!(key["key"].as_str().unwrap().starts_with(&format!("rosterkey_{}_", key["id"].as_str().unwrap())), "{key}");
    assert_eq!(key["name"], "ci");
    assert_eq!(key["scope"], "admin");
    assert!(key["tenant"].is_null());
    let read =
        install.run(&["admin", "api-key", "create", "--scope", "read", "--tenant", "default", "--json"]).ok().json();
    assert_eq!(read["scope"], "read");
    assert_eq!(read["tenant"], "default");
    install.run(&["admin", "api-key", "create", "--scope", "root"]).fails_saying(&["admin or read"]);
    install.run(&["admin", "api-key", "create", "--tenant", "nowhere"]).fails_saying(&["no tenant"]);
    let keys = install.run(&["admin", "api-key", "list", "--json"]).ok();
    assert_eq!(keys.json().as_array().unwrap().len(), 2);
    assert!(!keys.stdout.contains(key["key"].as_str().unwrap()), "{keys:#?}");

    // What the CLI did is what the server sees.
    let (core, _) = install.core().await;
    assert!(core.sign_in("alice", first, "test").await.is_err());
    assert!(core.sign_in("alice", second, "test").await.is_ok());
    assert!(core.sign_in("bob", &bob_password, "test").await.is_ok());
    let principal = core.authenticate_api_key(&format!("Bearer {}", key["key"].as_str().unwrap())).await.unwrap();
    assert!(principal.can_write() && principal.is_global());
    let principal = core.authenticate_api_key(&format!("Bearer {}", read["key"].as_str().unwrap())).await.unwrap();
    assert!(!principal.can_write());
    // An API key is no SCIM token.
    assert!(!token_works(&core, "default", key["key"].as_str().unwrap()).await);

    let audit = events(&install.run(&["audit", "--json"]).ok());
    let codes: Vec<&str> = audit.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for code in ["admin.created", "admin.password_changed", "api_key.created"] {
        assert!(codes.contains(&code), "{code} missing: {codes:?}");
    }
    let pw = audit.iter().find(|e| e["event"] == "admin.password_changed").unwrap();
    assert_eq!(pw["actor"], json!({"kind": "cli", "name": CLI_USER}));
    assert_eq!(pw["target"], "admin alice");
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(first) && !text.contains(second) && !text.contains(&bob_password));
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let install = Install::new();
    let r = install.run(&["migrate"]).ok();
    assert!(r.stdout.contains("up to date"), "{r:#?}");
    install.run(&["migrate"]).ok();
    assert!(install.data_dir().join("roster.db").exists());
    // A database URL that is neither SQLite nor PostgreSQL is refused.
    run_binary(&["--database", "mysql://localhost/x", "migrate"], None).fails_saying(&["sqlite://", "postgres://"]);
}

#[tokio::test]
async fn copy_into_a_fresh_sqlite_file_keeps_everything() {
    let install = Install::new();
    install.run(&["tenant", "create", "acme"]).ok();
    let token = install.run(&["token", "create", "--idp", "okta", "--tenant", "acme", "--json"]).ok().json();
    install.run(&["token", "create", "--idp", "entra", "--json"]).ok();
    install.run(&["attribute", "define", "badgeNumber", "--type", "integer", "--tenant", "acme"]).ok();
    install.run_with_stdin(&["admin", "create", "alice", "--password-stdin"], Some("correct horse battery\n")).ok();
    // A user, written through the services the server uses.
    {
        let (core, store) = install.core().await;
        let ctx = scim_ctx(&core, "acme", token["token"].as_str().unwrap()).await;
        let body = json!({"userName": "copied@x.io", "urn:ietf:params:scim:schemas:extension:roster:2.0:User": {"badgeNumber": 7}});
        let out = core.create(&ctx, roster_scim::ResourceKind::User, &body, &Default::default()).await.unwrap();
        assert_eq!(out.body["urn:ietf:params:scim:schemas:extension:roster:2.0:User"]["badgeNumber"], 7);
        store.close().await;
    }

    let target_dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", target_dir.path().join("copy.db").display());
    let r = install.run(&["copy", "--to", &target]).ok();
    assert!(r.stdout.contains("copied"), "{r:#?}");

    let from = |args: &[&str]| install.run(args).ok().stdout;
    let to = |args: &[&str]| {
        let mut all = vec!["--database", target.as_str()];
        all.extend_from_slice(args);
        run_binary(&all, None).ok().stdout
    };
    for args in [
        &["tenant", "list", "--json"][..],
        &["token", "list", "--json"],
        &["token", "list", "--tenant", "acme", "--json"],
        &["attribute", "list", "--tenant", "acme", "--json"],
        &["audit", "--json", "--limit", "1000"],
        &["admin", "list", "--json"],
    ] {
        assert_eq!(to(args), from(args), "{args:?} differs after the copy");
    }
    // The copy works as an installation: the token authenticates and the user is there.
    let (core, _) = open_core(&target).await;
    let ctx = scim_ctx(&core, "acme", token["token"].as_str().unwrap()).await;
    let users = core.list(&ctx, Some(roster_scim::ResourceKind::User), &Default::default()).await.unwrap();
    let users = format!("{users:?}");
    assert!(users.contains("copied@x.io") && users.contains("badgeNumber"), "{users}");
    assert!(core.sign_in("alice", "correct horse battery", "test").await.is_ok());
    // New rows in the copy do not collide with copied ones.
    let r = run_binary(&["--database", &target, "tenant", "create", "beta", "--json"], None).ok();
    assert_eq!(r.json()["slug"], "beta");

    // A target that is not empty is refused.
    run_binary(&["--database", &install.db_url(), "copy", "--to", &target], None).fails_saying(&["not empty"]);
}

/// `roster serve` as a first-time operator starts it: no `ROSTER_ADMIN_PASSWORD`.
fn serve(install: &Install, env: &[(&str, &str)]) -> ServerProc {
    let mut all = vec![("ROSTER_LOG", "info")];
    all.extend_from_slice(env);
    ServerProc::start_plain(&install.global_args(), &[], &all)
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let install = Install::new();
    let server = serve(&install, &[]);
    assert_eq!(http(&server.addr, "GET", "/healthz", &[], None).0, 200);
    let lines = server.kill();
    let line = lines.iter().find(|l| l.contains("first administrator")).unwrap_or_else(|| panic!("{lines:#?}"));
    let password = field(line, "password").unwrap_or_else(|| panic!("no password in {line}"));
    assert!(password.len() >= 12, "{line}");
    {
        let (core, store) = install.core().await;
        assert!(core.sign_in("admin", &password, "test").await.is_ok());
        store.close().await;
    }
    // The second start creates nothing and prints no password.
    let lines = serve(&install, &[]).kill();
    assert!(lines.iter().all(|l| !l.contains("first administrator") && !l.contains(&password)), "{lines:#?}");
    let admins = install.run(&["admin", "list", "--json"]).ok().json();
    assert_eq!(admins.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn first_start_uses_roster_admin_password_when_set() {
    let install = Install::new();
    let password = "from the environment";
    let lines = serve(&install, &[("ROSTER_ADMIN_PASSWORD", password)]).kill();
    assert!(lines.iter().all(|l| !l.contains(password) && !l.contains("first administrator")), "{lines:#?}");
    let (core, _) = install.core().await;
    assert!(core.sign_in("admin", password, "test").await.is_ok());
}
