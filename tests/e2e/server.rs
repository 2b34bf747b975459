//! The app as it is deployed: its binary run as a child process (`serve`, and
//! the `migrate`, `sis-sync` and `grant-role` commands an operator runs), set
//! up only through environment variables, with email going to a real SMTP
//! listener and classes synced from a real HTTP server.
//!
//! Which binary: `E2E_SERVER_BIN` when set (a release build, say), otherwise
//! the binary Cargo built for this test run (what `.ci/run` uses).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's `SECRET_KEY` (the story seeds chat messages with the same
/// pseudonym key the server uses).
pub const SECRET_KEY: &str = "e2e-secret-key-that-is-long-enough-0123456789";

/// The binary under test.
pub fn binary() -> PathBuf {
    match std::env::var_os("E2E_SERVER_BIN").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.exists(),
                "E2E_SERVER_BIN={} does not exist (cargo build --release first)",
                path.display()
            );
            path
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_common-grounds")),
    }
}

/// The settings every run of the binary gets: one database, one data folder,
/// one secret, email to the loopback listener, SIS at the loopback server.
#[derive(Clone)]
pub struct Setup {
    pub database_url: String,
    pub smtp_port: u16,
    pub sis_base_url: String,
    pub port: u16,
    /// Working directory and DATA_DIR: no `.env` is read from the repository.
    pub dir: PathBuf,
}

impl Setup {
    pub fn new(database_url: String, smtp_port: u16, sis_base_url: String) -> Setup {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("cg-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Setup {
            database_url,
            smtp_port,
            sis_base_url,
            port,
            dir,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("DATA_DIR", self.dir.join("data"))
            .env("BIND_ADDR", format!("127.0.0.1:{}", self.port))
            .env("BASE_URL", self.base_url())
            .env("SECRET_KEY", SECRET_KEY)
            .env(
                "SMTP_URL",
                format!("smtp://127.0.0.1:{}?tls=none", self.smtp_port),
            )
            .env("MAIL_FROM", "Common Grounds <no-reply@cg.test>")
            .env("SIS_BASE_URL", &self.sis_base_url)
            .env("SIS_PAUSE_MS", "0")
            .env("SIS_BACKOFF_MS", "10")
            .env("RUST_LOG", "warn")
            // The story's reporters join a class minutes before reporting.
            .env("REPORT_MIN_MEMBERSHIP_HOURS", "0")
            .stdin(Stdio::null());
        command
    }

    /// Runs an operator's command to completion; panics with its output when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary().display()));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "common-grounds {} failed ({}):\n{stdout}\n{stderr}",
            args.join(" "),
            output.status
        );
        stdout
    }

    /// Starts `serve` and waits until it answers `/healthz`.
    pub async fn serve(&self) -> Server {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let into = output.clone();
            std::thread::spawn(move || collect(pipe, into));
        }
        let mut server = Server {
            child,
            output,
            dir: self.dir.clone(),
        };
        let probe = reqwest::Client::new();
        let url = format!("{}/healthz", self.base_url());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited ({status}):\n{}", server.output());
            }
            if let Ok(r) = probe.get(&url).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not answer {url}:\n{}", server.output());
    }
}

fn collect(mut from: Box<dyn Read + Send>, into: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        into.lock().unwrap().extend_from_slice(&buf[..n]);
    }
}

/// The running server; stopped (and its data folder removed) when dropped.
pub struct Server {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    dir: PathBuf,
}

impl Server {
    /// Everything it logged so far (warnings and errors only).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
