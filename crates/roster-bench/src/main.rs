//! `roster-bench`: a load benchmark of a real `roster serve` process on loopback.
//!
//! It starts the release binary on a fresh database, seeds N users and a group of M
//! members, runs each scenario at a fixed concurrency for a bounded number of requests,
//! and prints requests/s, p50/p99 latency and the server's CPU time per request (read from
//! /proc), plus the server's peak RSS and the database size, as a markdown table. It never
//! asserts times: the figures are for people to read and compare.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::future::join_all;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Load benchmark of roster serve (loopback only, bounded)")]
struct Args {
    /// Users to seed.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Members of the large group.
    #[arg(long, default_value_t = 5_000)]
    members: u64,
    /// Members of a second, small group, measured beside the large one in (d) and (e).
    #[arg(long, default_value_t = 1_000)]
    compare_members: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per scenario (upper bound).
    #[arg(long, default_value_t = 5_000)]
    requests: u64,
    /// Seconds per scenario (upper bound).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The roster binary (default: target/release/roster next to this one).
    #[arg(long)]
    roster: Option<PathBuf>,
    /// A database URL to use instead of a fresh SQLite file (it must be empty).
    #[arg(long)]
    database: Option<String>,
    /// Keep the database in this directory instead of a temporary one. When it already
    /// holds a database seeded by an earlier run (`bench-state.json`), seeding is skipped,
    /// so one large seed serves several runs (e.g. M=1,000 and M=100,000 on N=1,000,000).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only these scenarios (letters a-i), e.g. "bcde".
    #[arg(long, default_value = "abcdefghi")]
    only: String,
}

struct Server {
    child: Child,
    pid: u32,
    base: String,
    token: String,
    /// The data directory; a temporary one is removed on drop.
    dir: DataDir,
    database: Option<String>,
    roster: PathBuf,
    common: Vec<String>,
    listen: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn roster_binary(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.roster {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let candidate = me.parent().context("exe dir")?.join("roster");
    if candidate.exists() {
        return Ok(candidate);
    }
    bail!("build the server first: cargo build --release -p roster (or pass --roster PATH)")
}

/// CPU time (user + system) of a process, from /proc/PID/stat, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size (VmHWM) in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.metadata().map(|m| if m.is_dir() { dir_size(&e.path()) } else { m.len() }).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

enum DataDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temporary(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

/// What a kept data directory remembers between runs.
#[derive(serde::Serialize, serde::Deserialize)]
struct SeedState {
    token: String,
    user_ids: Vec<String>,
}

fn seed_state_path(dir: &Path) -> PathBuf {
    dir.join("bench-state.json")
}

fn load_seed_state(dir: &Path) -> Option<SeedState> {
    let bytes = std::fs::read(seed_state_path(dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn start(args: &Args) -> anyhow::Result<(Server, Option<Vec<String>>)> {
    let roster = roster_binary(args)?;
    let dir = match &args.data_dir {
        Some(p) => {
            std::fs::create_dir_all(p)?;
            DataDir::Kept(p.clone())
        }
        None => DataDir::Temporary(tempfile::tempdir()?),
    };
    let mut common: Vec<String> = vec!["--data-dir".into(), dir.path().display().to_string()];
    if let Some(db) = &args.database {
        common.extend(["--database".into(), db.clone()]);
    }
    let seeded = load_seed_state(dir.path());
    let (token, ids) = match seeded {
        Some(state) => (state.token, Some(state.user_ids)),
        None => {
            let out =
                Command::new(&roster).args(&common).args(["token", "create", "--idp", "other", "--json"]).output()?;
            if !out.status.success() {
                bail!("token create failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let token = serde_json::from_slice::<Value>(&out.stdout)?["token"].as_str().context("token")?.to_string();
            (token, None)
        }
    };
    let listen = format!("127.0.0.1:{}", free_port()?);
    let (child, ready) = spawn_ready(&roster, &common, &listen)?;
    let pid = child.id();
    println!("server ready in {:.0} ms (pid {pid})", ready.as_secs_f64() * 1000.0);
    let base = format!("http://{listen}/scim/v2/default");
    Ok((Server { child, pid, base, token, dir, database: args.database.clone(), roster, common, listen }, ids))
}

/// Starts `roster serve` and waits until `/readyz` answers 200; returns the time that took.
fn spawn_ready(roster: &Path, common: &[String], listen: &str) -> anyhow::Result<(Child, Duration)> {
    let started = Instant::now();
    let child = Command::new(roster)
        .args(common)
        .args(["serve", "--listen", listen])
        .env("ROSTER_LOG", std::env::var("ROSTER_LOG").unwrap_or_else(|_| "warn".into()))
        .env("ROSTER_ADMIN_PASSWORD", "bench-password-123")
        // The bench measures the server, not its per-token and per-tenant quotas.
        .env("ROSTER_RATE_LIMIT_PER_TOKEN", "0")
        .env("ROSTER_RATE_LIMIT_PER_TENANT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    while !is_ready(listen) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("roster did not become ready");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok((child, started.elapsed()))
}

/// One blocking `GET /readyz`; true on a 200.
fn is_ready(listen: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(listen) else { return false };
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

impl Server {
    /// Stops the server gracefully (SIGTERM) and starts it again on the same database;
    /// returns the time from spawn to ready, which is start-up on a seeded database.
    fn restart(&mut self) -> anyhow::Result<Duration> {
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let _ = self.child.wait();
        let (child, ready) = spawn_ready(&self.roster, &self.common, &self.listen)?;
        self.pid = child.id();
        self.child = child;
        Ok(ready)
    }
}

#[derive(Debug, Default)]
struct Outcome {
    name: String,
    requests: u64,
    errors: u64,
    wall: Duration,
    latencies: Vec<Duration>,
    cpu: f64,
    /// SCIM operations per request (Bulk counts its operations).
    ops_per_request: u64,
}

impl Outcome {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[idx.min(sorted.len() - 1)]
    }

    fn row(&self) -> String {
        let rps = self.requests as f64 / self.wall.as_secs_f64().max(1e-9);
        let cpu_us = self.cpu * 1e6 / self.requests.max(1) as f64;
        let ops = if self.ops_per_request > 1 {
            format!(" ({:.0} ops/s)", rps * self.ops_per_request as f64)
        } else {
            String::new()
        };
        format!(
            "| {} | {} | {} | {:.0}{ops} | {:.2} | {:.2} | {:.0} |",
            self.name,
            self.requests,
            self.errors,
            rps,
            self.percentile(0.5).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            cpu_us
        )
    }
}

/// Runs `make(i)` requests at `concurrency` until `total` are done or `seconds` pass.
async fn run<F, Fut>(server: &Server, name: &str, concurrency: usize, total: u64, seconds: u64, make: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = cpu_seconds(server.pid);
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let next = next.clone();
        let errors = errors.clone();
        let make = make.clone();
        async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                if !make(i).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed());
            }
            lat
        }
    });
    let latencies: Vec<Duration> = join_all(workers).await.into_iter().flatten().collect();
    let wall = started.elapsed();
    let cpu = cpu_seconds(server.pid) - cpu_before;
    Outcome {
        name: name.into(),
        requests: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        wall,
        latencies,
        cpu,
        ops_per_request: 1,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap_or_default()
}

/// A user; `tag` keeps the userNames of one run's creates apart from every other run's.
fn user_body(i: u64, tag: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("user{tag}{i:08}@bench.example"),
        "externalId": format!("ext-{tag}{i}"),
        "name": {"givenName": "Bench", "familyName": format!("User {i}")},
        "displayName": format!("Bench User {i}"),
        "emails": [{"value": format!("user{tag}{i:08}@bench.example"), "type": "work", "primary": true}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("Dept {}", i % 50)}
    })
}

async fn send(client: &reqwest::Client, rb: reqwest::RequestBuilder) -> Option<Value> {
    let _ = client;
    let r = rb.send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    if r.status() == reqwest::StatusCode::NO_CONTENT {
        return Some(Value::Null);
    }
    r.json::<Value>().await.ok()
}

/// Seeds users [from, to) through /Bulk (1,000 operations a request); returns their ids.
async fn seed_users(server: &Server, from: u64, to: u64, concurrency: usize) -> anyhow::Result<(Vec<String>, Outcome)> {
    let http = client();
    let base = server.base.clone();
    let token = server.token.clone();
    let chunks: Vec<(u64, u64)> = (from..to).step_by(1000).map(|s| (s, (s + 1000).min(to))).collect();
    let n = chunks.len() as u64;
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids2 = ids.clone();
    let chunks = Arc::new(chunks);
    let outcome = run(server, "(g) /Bulk, 1,000 creates a request", concurrency, n, 3600, move |i| {
        let http = http.clone();
        let base = base.clone();
        let token = token.clone();
        let chunks = chunks.clone();
        let ids = ids2.clone();
        async move {
            let (s, e) = chunks[i as usize];
            let ops: Vec<Value> = (s..e)
                .map(|u| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{u}"), "data": user_body(u, "")}))
                .collect();
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
            let Some(resp) = send(&http, http.post(format!("{base}/Bulk")).bearer_auth(&token).json(&body)).await
            else {
                return false;
            };
            let mut ok = true;
            let mut got = Vec::new();
            for op in resp["Operations"].as_array().into_iter().flatten() {
                match op["location"].as_str() {
                    Some(loc) if op["status"] == "201" => {
                        got.push(loc.rsplit('/').next().unwrap_or_default().to_string())
                    }
                    _ => ok = false,
                }
            }
            if let Ok(mut all) = ids.lock() {
                all.extend(got);
            }
            ok
        }
    })
    .await;
    let ids = ids.lock().map(|v| v.clone()).unwrap_or_default();
    Ok((ids, Outcome { ops_per_request: 1000, ..outcome }))
}

/// Creates a group and adds `members` to it, 1,000 per PATCH; returns its id.
async fn create_group(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    members: &[String],
) -> anyhow::Result<String> {
    let group = send(http, http.post(format!("{base}/Groups")).bearer_auth(token).json(&json!({"displayName": name})))
        .await
        .and_then(|g| g["id"].as_str().map(str::to_string))
        .context("create group")?;
    for chunk in members.chunks(1000) {
        let members: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": members}]});
        send(
            http,
            http.patch(format!("{base}/Groups/{group}?excludedAttributes=members")).bearer_auth(token).json(&body),
        )
        .await
        .context("seed members")?;
    }
    Ok(group)
}

/// Walks every user with `cursor` and `count=100` until no `nextCursor` is given (or the
/// time bound passes); one request at a time, so the figures are the walk's own cost.
async fn cursor_walk(server: &Server, http: &reqwest::Client, seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = cpu_seconds(server.pid);
    let started = Instant::now();
    let (mut latencies, mut errors, mut seen) = (Vec::new(), 0, 0usize);
    let mut cursor = String::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        let rb = http
            .get(format!("{}/Users", server.base))
            .query(&[("cursor", cursor.as_str()), ("count", "100")])
            .bearer_auth(&server.token);
        let page = send(http, rb).await;
        latencies.push(t.elapsed());
        let Some(page) = page else {
            errors += 1;
            break;
        };
        seen += page["Resources"].as_array().map_or(0, Vec::len);
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let wall = started.elapsed();
    println!("cursor walk read {seen} users in {} pages, {:.1} s", latencies.len(), wall.as_secs_f64());
    Outcome {
        name: "(h) list, count=100, cursor walk of all users".into(),
        requests: latencies.len() as u64,
        errors,
        wall,
        latencies,
        cpu: cpu_seconds(server.pid) - cpu_before,
        ops_per_request: 1,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (mut server, seeded) = start(&args)?;
    let has = |c: char| args.only.contains(c);
    let mut rows = Vec::new();
    let http = client();
    let base = server.base.clone();
    let token = server.token.clone();
    // Names this run's new users and group apart from earlier runs on a kept database.
    let run_tag = format!(
        "r{}-",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
    );

    let ids = match seeded {
        Some(ids) => {
            println!("reusing the {} users seeded earlier in {}", ids.len(), server.dir.path().display());
            if has('g') {
                println!("(g) needs a fresh seed: skipped");
            }
            ids
        }
        None => {
            println!("seeding {} users through /Bulk ...", args.users);
            let (ids, bulk) = seed_users(&server, 0, args.users, args.concurrency).await?;
            println!("seeded {} users in {:.1} s", ids.len(), bulk.wall.as_secs_f64());
            if has('g') {
                rows.push(bulk.row());
            }
            if let DataDir::Kept(dir) = &server.dir {
                let state = SeedState { token: token.clone(), user_ids: ids.clone() };
                std::fs::write(seed_state_path(dir), serde_json::to_vec(&state)?)?;
            }
            ids
        }
    };
    let users = ids.len() as u64;
    let ids = Arc::new(ids);

    // The groups: created empty, members added 1,000 per PATCH. The small one shows in the
    // same run whether (d) and (e) cost depends on the group's size.
    let m = args.members.min(ids.len() as u64) as usize;
    let small = (args.compare_members as usize).min(m);
    let mut groups = Vec::new();
    for size in [small, m] {
        if size == 0 || groups.iter().any(|(s, _)| *s == size) {
            continue;
        }
        let group = create_group(&http, &base, &token, &format!("Group of {size} {run_tag}"), &ids[..size]).await?;
        println!("group of {size} members ready");
        groups.push((size, group));
    }

    let c = args.concurrency;
    let (n, secs) = (args.requests, args.seconds);

    if has('a') {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        let (offset, run_tag) = (users, run_tag.clone());
        rows.push(
            run(&server, "(a) POST /Users", c, n, secs, move |i| {
                let rb = http.post(format!("{base}/Users")).bearer_auth(&token).json(&user_body(offset + i, &run_tag));
                let http = http.clone();
                async move { send(&http, rb).await.is_some() }
            })
            .await
            .row(),
        );
    }
    if has('b') {
        let (http, base, token, ids) = (http.clone(), base.clone(), token.clone(), ids.clone());
        rows.push(
            run(&server, "(b) GET /Users/{id}", c, n, secs, move |i| {
                let id = &ids[(i.wrapping_mul(2_654_435_761) % ids.len() as u64) as usize];
                let rb = http.get(format!("{base}/Users/{id}")).bearer_auth(&token);
                let http = http.clone();
                async move { send(&http, rb).await.is_some() }
            })
            .await
            .row(),
        );
    }
    if has('c') {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        rows.push(
            run(&server, "(c) GET /Users?filter=userName eq", c, n, secs, move |i| {
                let u = i.wrapping_mul(2_654_435_761) % users;
                let rb = http
                    .get(format!("{base}/Users"))
                    .query(&[("filter", format!("userName eq \"user{u:08}@bench.example\""))])
                    .bearer_auth(&token);
                let http = http.clone();
                async move { send(&http, rb).await.is_some_and(|v| v["totalResults"] == 1) }
            })
            .await
            .row(),
        );
    }
    if has('d') {
        for (size, group) in &groups {
            // Add then remove a member outside the first M, alternating, so the group keeps its size.
            let (http, base, token, ids, group) =
                (http.clone(), base.clone(), token.clone(), ids.clone(), group.clone());
            let spare = ids.len().saturating_sub(m).max(1);
            rows.push(
                run(&server, &format!("(d) PATCH group of {size}: add 1 member"), c, n, secs, move |i| {
                    let id = &ids[(m + (i as usize % spare)).min(ids.len() - 1)];
                    let body = if (i / spare as u64).is_multiple_of(2) {
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})
                    } else {
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
                    };
                    let rb = http
                        .patch(format!("{base}/Groups/{group}?excludedAttributes=members"))
                        .bearer_auth(&token)
                        .json(&body);
                    let http = http.clone();
                    async move { send(&http, rb).await.is_some() }
                })
                .await
                .row(),
            );
        }
    }
    if has('e') {
        for (size, group) in &groups {
            let (http, base, token, group) = (http.clone(), base.clone(), token.clone(), group.clone());
            rows.push(
                run(&server, &format!("(e) GET group of {size}, excludedAttributes=members"), c, n, secs, move |_| {
                    let rb = http.get(format!("{base}/Groups/{group}?excludedAttributes=members")).bearer_auth(&token);
                    let http = http.clone();
                    async move { send(&http, rb).await.is_some_and(|v| v.get("members").is_none()) }
                })
                .await
                .row(),
            );
        }
    }
    if has('f') {
        // Index paging: pages spread over the whole list (a full walk at large N is
        // O(N²) for offsets and would not finish; the page number's cost shows here).
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        let pages = users.div_ceil(100).max(1);
        rows.push(
            run(&server, "(f) list, count=100, startIndex across all pages", c, n.min(2000), secs, move |i| {
                let start = (i.wrapping_mul(2_654_435_761) % pages) * 100 + 1;
                let rb = http.get(format!("{base}/Users?startIndex={start}&count=100")).bearer_auth(&token);
                let http = http.clone();
                async move { send(&http, rb).await.is_some() }
            })
            .await
            .row(),
        );
    }
    if has('i') {
        // Totals only: `count=0` answers totalResults from the index without reading rows.
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        rows.push(
            run(&server, "(i) GET /Users?count=0 (total only)", c, n.min(2000), secs, move |_| {
                let rb = http.get(format!("{base}/Users?count=0")).bearer_auth(&token);
                let http = http.clone();
                async move { send(&http, rb).await.is_some_and(|v| v["totalResults"].as_u64().is_some()) }
            })
            .await
            .row(),
        );
    }
    if has('h') {
        // Cursor paging (RFC 9865): one client walks the whole list, page after page.
        rows.push(cursor_walk(&server, &http, 1800).await.row());
    }

    let rss = peak_rss_mib(server.pid);
    let restart = server.restart()?;
    let db_size = match &server.database {
        None => dir_size(server.dir.path()),
        Some(_) => 0,
    };
    println!("\nN = {users} users, M = {m} members, concurrency {c}\n");
    println!("| scenario | requests | errors | requests/s | p50 ms | p99 ms | server CPU µs/request |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nserver peak RSS: {rss:.1} MiB; database size: {:.1} MiB; start-up to ready on this database: {:.0} ms",
        db_size as f64 / 1048576.0,
        restart.as_secs_f64() * 1000.0
    );
    Ok(())
}
