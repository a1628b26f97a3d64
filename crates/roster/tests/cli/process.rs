//! A `roster serve` child process for the tests that need the real binary (crash safety,
//! TLS, what the logs hold): started on a free port, its stderr collected line by line for
//! as long as it runs.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

impl ServerProc {
    /// Starts `roster <global...> serve --listen 127.0.0.1:0 <serve_args...>` with a clean
    /// environment plus `env`, and waits until it says it is serving.
    pub fn start(global: &[&str], serve_args: &[&str], env: &[(&str, &str)]) -> ServerProc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
        cmd.args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve_args)
            .env_clear()
            .env("USER", super::CLI_USER)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROSTER_LOG", "info")
            .env("ROSTER_ADMIN_PASSWORD", "first admin password for tests")
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
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let addr = lines.lock().unwrap().iter().filter(|l| l.contains("Roster is serving")).find_map(|l| {
                match serde_json::from_str::<serde_json::Value>(l) {
                    // `--log-format json`
                    Ok(v) => v["fields"]["listen"].as_str().map(str::to_string),
                    Err(_) => l.split_whitespace().find_map(|w| w.strip_prefix("listen=")).map(str::to_string),
                }
            });
            if let Some(addr) = addr {
                return ServerProc { child, addr: addr.trim_matches('"').to_string(), lines };
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

    /// SIGKILL: no shutdown handler runs, nothing is flushed.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit (then every log line is in).
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
        // The reader thread sees EOF once the process is gone.
        std::thread::sleep(Duration::from_millis(100));
        self.log()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
