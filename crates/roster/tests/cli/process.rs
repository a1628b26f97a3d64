//! A `roster serve` child process for the tests that need the real binary (crash safety,
//! TLS, what the logs hold, operations): started on a free port, its stderr collected line
//! by line for as long as it runs.

use std::ffi::OsStr;
use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The first administrator's password [`ServerProc::start`] gives the server.
pub const ADMIN_PASSWORD: &str = "first admin password for tests";

/// reqwest is built with rustls but no crypto provider (the server's push client installs
/// ring); a test client needs one installed before it is built.
pub fn install_crypto() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A running server.
pub struct ServerProc {
    pub child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: JoinHandle<()>,
}

impl ServerProc {
    /// Starts `roster <global...> serve --listen 127.0.0.1:0 <serve_args...>` with a clean
    /// environment (`USER`, `PATH`, `ROSTER_LOG=info` and [`ADMIN_PASSWORD`] as
    /// `ROSTER_ADMIN_PASSWORD`) plus `env`, and waits until it says it is serving.
    pub fn start(global: &[impl AsRef<OsStr>], serve_args: &[&str], env: &[(&str, &str)]) -> ServerProc {
        let path = std::env::var("PATH").unwrap_or_default();
        let mut all = vec![("PATH", path.as_str()), ("ROSTER_LOG", "info"), ("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)];
        all.extend_from_slice(env);
        ServerProc::start_plain(global, serve_args, &all)
    }

    /// [`ServerProc::start`] with nothing in the environment but `USER` and `env`: Roster's
    /// default log filter, and no admin password (a first start generates one and prints it).
    pub fn start_plain(global: &[impl AsRef<OsStr>], serve_args: &[&str], env: &[(&str, &str)]) -> ServerProc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
        cmd.args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve_args)
            .env_clear()
            .env("USER", super::CLI_USER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("roster serve");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let serving = lines.lock().unwrap().iter().find(|l| l.contains("Roster is serving")).cloned();
            if let Some(line) = serving {
                let addr = field(&line, "listen").unwrap_or_else(|| panic!("no listen address in {line}"));
                return ServerProc { child, addr, lines, reader };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("roster serve exited with {status}: {:#?}", lines.lock().unwrap());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("roster serve did not start: {:#?}", lines.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server printed on stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGKILL: no shutdown handler runs, nothing is flushed. Returns every line it wrote.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.read_to_end()
    }

    /// SIGTERM and wait for a graceful exit; returns every line it wrote.
    pub fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.read_to_end()
    }

    /// Once the process is gone: the log, after the reader has seen EOF (or 5 s).
    fn read_to_end(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name=value` in a pretty log line, or `"name": "value"` in a JSON one.
pub fn field(line: &str, name: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<Value>(line) {
        return v["fields"][name].as_str().map(str::to_string);
    }
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).map(|s| s.trim_matches('"').to_string())
}

/// An HTTP/1.1 exchange over a fresh connection: status, lower-cased headers, body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Type: application/scim+json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
