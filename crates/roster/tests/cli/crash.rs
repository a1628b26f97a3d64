//! Crash safety (issue 10, item 1): a write load against a real `roster serve`, killed with
//! SIGKILL at random moments and restarted, on SQLite and PostgreSQL. Afterwards every write
//! that got a 2xx is there, nothing appeared that nobody asked for, and nothing is half
//! written: every user has the provisioning-log row its create journaled in the same
//! transaction, every acknowledged request's row is there, and no membership points at a
//! missing resource.
//!
//! The load: workers create users and add each to one of a few groups with PATCH, and now
//! and then remove a member they added. Each request carries its own `X-Request-Id`, so
//! the journal row of each acknowledged write can be found. A request that got no answer
//! (the server died under it) may or may not have happened; both are accepted, but only
//! for those requests. Set `ROSTER_CRASH_SEED` to replay a run.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;

use super::process::ServerProc;

/// Kills per backend; each run of load lasts a random 0.3 to 1.5 s before its kill.
const KILLS: usize = 8;
const WORKERS: usize = 6;
const GROUPS: usize = 4;

/// A small xorshift generator: the test needs reproducible randomness, not good randomness.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("ROSTER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        (nanos as u64) | 1
    })
}

/// What the load did, as the clients saw it.
#[derive(Debug, Default)]
struct Ledger {
    /// Acknowledged creates: user id → (userName, request id).
    users: HashMap<String, (String, String)>,
    /// userNames of creates that got no answer.
    unanswered_users: HashSet<String>,
    /// Acknowledged member adds and removes: (group, user) → request id.
    adds: HashMap<(String, String), String>,
    removes: HashMap<(String, String), String>,
    /// Member changes that got no answer.
    unanswered_adds: HashSet<(String, String)>,
    unanswered_removes: HashSet<(String, String)>,
    /// Request ids of every acknowledged write.
    acked_requests: Vec<String>,
    tried: u64,
    refused: u64,
}

/// The database a run uses.
struct Db {
    /// `roster` global options that select it.
    global: Vec<String>,
    /// The URL the checks connect with.
    url: String,
    /// PostgreSQL: the schema to drop afterwards.
    pg_schema: Option<String>,
    _dir: tempfile::TempDir,
}

async fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    let url = format!("sqlite://{}", path.display());
    Db { global: vec!["--database".into(), url.clone()], url, pg_schema: None, _dir: dir }
}

async fn postgres_db(base: &str) -> Db {
    let schema = format!(
        "crash_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    // Creates the schema and migrates it; the binary then runs in it through the URL.
    let store = roster_store::SqlStore::connect(
        base,
        &roster_store::StoreOptions { pg_schema: Some(schema.clone()), ..Default::default() },
    )
    .await
    .unwrap();
    store.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Db {
        global: vec!["--database".into(), url.clone()],
        url,
        pg_schema: Some(schema),
        _dir: tempfile::tempdir().unwrap(),
    }
}

fn postgres_url() -> Option<String> {
    std::env::var("ROSTER_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

fn global(db: &Db) -> Vec<&str> {
    db.global.iter().map(String::as_str).collect()
}

fn start(db: &Db) -> ServerProc {
    // The load is a burst no IdP sends; the quotas have their own tests.
    ServerProc::start(
        &global(db),
        &[],
        &[
            ("ROSTER_RATE_LIMIT_PER_TOKEN", "0"),
            ("ROSTER_RATE_LIMIT_PER_TENANT", "0"),
            ("ROSTER_LOG", "warn,roster=info"),
        ],
    )
}

/// One SCIM write; `Some(status, body)` when an answer came back.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    request_id: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let response = http
        .request(method, url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/scim+json")
        .header("X-Request-Id", request_id)
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Some((status, body))
}

fn patch_body(op: &str, path: &str, value: Option<Value>) -> Value {
    let mut operation = json!({"op": op, "path": path});
    if let Some(v) = value {
        operation["value"] = v;
    }
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]})
}

/// One worker's load until `stop` is set.
#[allow(clippy::too_many_arguments)]
async fn worker(
    base: String,
    token: String,
    groups: Arc<Vec<String>>,
    tag: String,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    mine: Arc<Mutex<Vec<(String, String)>>>,
) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut n = 0u64;
    let note = |f: &mut dyn FnMut(&mut Ledger)| f(&mut ledger.lock().unwrap());
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let removing = n.is_multiple_of(5) && !mine.lock().unwrap().is_empty();
        if removing {
            let pick = rng.below(mine.lock().unwrap().len() as u64) as usize;
            let (group, user) = mine.lock().unwrap().swap_remove(pick);
            let rid = format!("{tag}-{n}-remove");
            let body = patch_body("remove", &format!("members[value eq \"{user}\"]"), None);
            let answer =
                send(&http, reqwest::Method::PATCH, &format!("{base}/Groups/{group}"), &token, &rid, &body).await;
            note(&mut |l| {
                l.tried += 1;
                match &answer {
                    Some((s, _)) if (200..300).contains(s) => {
                        l.removes.insert((group.clone(), user.clone()), rid.clone());
                        l.acked_requests.push(rid.clone());
                    }
                    Some(_) => l.refused += 1,
                    None => {
                        l.unanswered_removes.insert((group.clone(), user.clone()));
                    }
                }
            });
            if answer.is_none() {
                return;
            }
            continue;
        }
        let user_name = format!("{tag}-{n}@crash.example");
        let rid = format!("{tag}-{n}-create");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
                          "name": {"givenName": "Crash", "familyName": "Test"}, "active": true});
        let answer = send(&http, reqwest::Method::POST, &format!("{base}/Users"), &token, &rid, &body).await;
        let id = match answer {
            Some((201, body)) => {
                let id = body["id"].as_str().unwrap().to_string();
                note(&mut |l| {
                    l.tried += 1;
                    l.users.insert(id.clone(), (user_name.clone(), rid.clone()));
                    l.acked_requests.push(rid.clone());
                });
                id
            }
            Some((status, body)) => panic!("create of {user_name} got {status}: {body}"),
            None => {
                note(&mut |l| {
                    l.tried += 1;
                    l.unanswered_users.insert(user_name.clone());
                });
                return;
            }
        };
        let group = groups[rng.below(groups.len() as u64) as usize].clone();
        let rid = format!("{tag}-{n}-add");
        let body = patch_body("add", "members", Some(json!([{"value": id}])));
        let answer = send(&http, reqwest::Method::PATCH, &format!("{base}/Groups/{group}"), &token, &rid, &body).await;
        note(&mut |l| {
            l.tried += 1;
            match &answer {
                Some((s, _)) if (200..300).contains(s) => {
                    l.adds.insert((group.clone(), id.clone()), rid.clone());
                    l.acked_requests.push(rid.clone());
                }
                Some((s, b)) => panic!("member add got {s}: {b}"),
                None => {
                    l.unanswered_adds.insert((group.clone(), id.clone()));
                }
            }
        });
        if answer.is_none() {
            return;
        }
        mine.lock().unwrap().push((group, id));
    }
}

/// Runs the kill loop on `db` and checks the outcome; returns (requests, kills, writes checked).
async fn crash_and_check(db: &Db, label: &str) -> (u64, usize, usize) {
    super::process::install_crypto();
    let mut rng = Rng(seed());
    println!("{label}: seed {} (set ROSTER_CRASH_SEED to replay)", rng.0);
    let token = {
        let mut args = global(db);
        args.extend(["token", "create", "--idp", "other", "--json"]);
        let run = super::run_binary(&args, None).ok();
        run.json()["token"].as_str().unwrap().to_string()
    };
    // Groups first, on a server that is then stopped gracefully.
    let server = start(db);
    let base = format!("http://{}/scim/v2/default", server.addr);
    let http = reqwest::Client::new();
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("crash-group-{g}")});
        let (status, body) =
            send(&http, reqwest::Method::POST, &format!("{base}/Groups"), &token, &format!("{label}-g{g}"), &body)
                .await
                .unwrap();
        assert_eq!(status, 201, "{body}");
        groups.push(body["id"].as_str().unwrap().to_string());
    }
    server.stop();
    let groups = Arc::new(groups);

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut kills = 0;
    let mine: Vec<_> = (0..WORKERS).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    for round in 0..KILLS {
        let server = start(db);
        let base = format!("http://{}/scim/v2/default", server.addr);
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WORKERS)
            .map(|w| {
                tokio::spawn(worker(
                    base.clone(),
                    token.clone(),
                    groups.clone(),
                    format!("{label}-r{round}-w{w}"),
                    Rng(rng.next() | 1),
                    stop.clone(),
                    ledger.clone(),
                    mine[w].clone(),
                ))
            })
            .collect();
        let run_for = Duration::from_millis(300 + rng.below(1200));
        tokio::time::sleep(run_for).await;
        server.kill();
        kills += 1;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
    }

    // Recovery: a plain start on what the kills left.
    let server = start(db);
    let base = format!("http://{}/scim/v2/default", server.addr);
    let ledger = Arc::try_unwrap(ledger).unwrap().into_inner().unwrap();
    let checked = check_through_scim(&http, &base, &token, &groups, &ledger).await;
    server.stop();
    check_in_the_database(db, &ledger).await;
    println!(
        "{label}: {} requests tried, {} acknowledged writes, {} unanswered, {kills} SIGKILLs survived, \
         {checked} writes checked, nothing lost",
        ledger.tried,
        ledger.acked_requests.len(),
        ledger.unanswered_users.len() + ledger.unanswered_adds.len() + ledger.unanswered_removes.len(),
    );
    assert!(ledger.users.len() >= KILLS, "the load hardly ran: {} users created", ledger.users.len());
    (ledger.tried, kills, checked)
}

async fn get_all(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http.get(url).header("Authorization", format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.json().await.unwrap()
}

/// What the API shows after the crashes; returns how many acknowledged writes were checked.
async fn check_through_scim(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    groups: &[String],
    ledger: &Ledger,
) -> usize {
    let mut checked = 0;
    // Every user: acknowledged, or created by a request that got no answer.
    let mut seen = HashSet::new();
    let mut start = 1;
    loop {
        let page =
            get_all(http, &format!("{base}/Users?startIndex={start}&count=1000&attributes=userName"), token).await;
        let resources = page["Resources"].as_array().unwrap().clone();
        for u in &resources {
            let id = u["id"].as_str().unwrap().to_string();
            let name = u["userName"].as_str().unwrap().to_string();
            match ledger.users.get(&id) {
                Some((acked_name, _)) => assert_eq!(acked_name, &name),
                None => assert!(ledger.unanswered_users.contains(&name), "user {name} was never asked for"),
            }
            seen.insert(id);
        }
        if resources.len() < 1000 {
            break;
        }
        start += 1000;
    }
    for (id, (name, _)) in &ledger.users {
        assert!(seen.contains(id), "acknowledged user {name} ({id}) is lost");
        checked += 1;
    }
    // Every group's members: acknowledged adds not removed are there; acknowledged removes
    // are gone; anything else was at least asked for.
    for g in groups {
        let group = get_all(http, &format!("{base}/Groups/{g}"), token).await;
        let members: BTreeSet<String> = group["members"]
            .as_array()
            .map(|m| m.iter().map(|e| e["value"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        for ((group_id, user), _) in ledger.adds.iter().filter(|((group_id, _), _)| group_id == g) {
            let pair = (group_id.clone(), user.clone());
            if ledger.removes.contains_key(&pair) {
                continue;
            }
            if !ledger.unanswered_removes.contains(&pair) {
                assert!(members.contains(user), "acknowledged member add {user} → {g} is lost");
                checked += 1;
            }
        }
        for ((group_id, user), _) in ledger.removes.iter().filter(|((group_id, _), _)| group_id == g) {
            assert!(!members.contains(user), "acknowledged removal of {user} from {group_id} is undone");
            checked += 1;
        }
        for user in &members {
            let pair = (g.clone(), user.clone());
            assert!(
                ledger.adds.contains_key(&pair) || ledger.unanswered_adds.contains(&pair),
                "member {user} of {g} was never added"
            );
            assert!(ledger.users.contains_key(user) || seen.contains(user), "member {user} of {g} is not a user");
        }
    }
    checked
}

/// The invariants only the database shows.
async fn check_in_the_database(db: &Db, ledger: &Ledger) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
    let strings = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect::<Vec<String>>()
        }
    };
    // Every user has the journal row of its create, written in the same transaction.
    let orphans = strings(
        "SELECT r.id FROM resources r WHERE r.kind = 1 AND NOT EXISTS (SELECT 1 FROM provisioning_log p \
         WHERE p.resource_id = r.id AND p.method = 'POST' AND p.status = 201)",
    )
    .await;
    assert!(orphans.is_empty(), "users without their provisioning-log row: {orphans:?}");
    // And no journal row of a create outlived a rolled-back user.
    let ghosts = strings(
        "SELECT p.resource_id FROM provisioning_log p WHERE p.method = 'POST' AND p.status = 201 \
         AND p.resource_type = 'User' AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = p.resource_id)",
    )
    .await;
    assert!(ghosts.is_empty(), "provisioning-log rows of users that do not exist: {ghosts:?}");
    // Every acknowledged write's row is there, with a 2xx.
    let logged: HashSet<String> =
        strings("SELECT request_id FROM provisioning_log WHERE status >= 200 AND status < 300")
            .await
            .into_iter()
            .collect();
    let missing: Vec<&String> = ledger.acked_requests.iter().filter(|r| !logged.contains(*r)).collect();
    assert!(missing.is_empty(), "acknowledged writes without their journal row: {missing:?}");
    // No membership points at a missing or foreign resource.
    let dangling = strings(
        "SELECT CAST(m.member_pk AS TEXT) FROM memberships m LEFT JOIN resources r ON r.pk = m.member_pk \
         LEFT JOIN resources g ON g.pk = m.group_pk WHERE r.pk IS NULL OR g.pk IS NULL \
         OR r.tenant_id <> m.tenant_id OR g.tenant_id <> m.tenant_id",
    )
    .await;
    assert!(dangling.is_empty(), "memberships to missing resources: {dangling:?}");
    let stray_values = strings(
        "SELECT CAST(v.resource_pk AS TEXT) FROM resource_values v LEFT JOIN resources r ON r.pk = v.resource_pk \
         WHERE r.pk IS NULL",
    )
    .await;
    assert!(stray_values.is_empty(), "index rows of missing resources: {stray_values:?}");
    if db.pg_schema.is_none() {
        let integrity = strings("PRAGMA integrity_check").await;
        assert_eq!(integrity, vec!["ok".to_string()]);
        let fk = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.unwrap();
        assert!(fk.is_empty(), "foreign key violations after the crashes");
    }
    pool.close().await;
    if let Some(schema) = &db.pg_schema {
        let base = postgres_url().unwrap();
        let admin = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await.unwrap();
        admin.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    let started = Instant::now();
    let db = sqlite_db().await;
    crash_and_check(&db, "sqlite").await;
    println!("sqlite crash test took {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_postgres() {
    let Some(url) = postgres_url() else {
        println!("ROSTER_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let started = Instant::now();
    let db = postgres_db(&url).await;
    crash_and_check(&db, "postgres").await;
    println!("postgres crash test took {:.1} s", started.elapsed().as_secs_f64());
}
