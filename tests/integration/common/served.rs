//! The real `common-grounds serve` binary as a child process on a free port,
//! its stdout and stderr collected as they come: for what only the binary
//! shows (start-up warnings, logs as written).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The app binary serving, with its own data folder.
pub struct Served {
    child: Child,
    base: String,
    dir: PathBuf,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    /// The app's stdout and stderr when nothing reads them (`start_unread`),
    /// until `close_output`.
    unread: Option<(ChildStdout, ChildStderr)>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `serve` on SQLite in a throwaway folder with these settings, expecting
/// it to refuse to start: returns what it wrote to stderr.
pub fn refused_start(settings: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join(format!("cg-refused-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_common-grounds"));
    command
        .arg("serve")
        .current_dir(&dir)
        .env_remove("APP_ENV")
        .env("DATA_DIR", &dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("app.db").display()),
        )
        .env("BIND_ADDR", "127.0.0.1:0");
    for (name, value) in settings {
        command.env(name, value);
    }
    // Bounded: an app that does start (the refusal broken) fails the test
    // after 30 s instead of serving until the run's timeout.
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.is_some_and(|s| !s.success()),
        "it must not start: {stderr}"
    );
    stderr
}

impl Served {
    /// Starts `serve` on `host` (a free port) with a fresh data folder (the dev
    /// mailbox writes there: no SMTP), the database at `database_url` (None: a
    /// SQLite file in the data folder) and the given settings on top.
    pub fn start(database_url: Option<String>, host: &str, extra: &[(&str, &str)]) -> Served {
        Self::spawn(database_url, host, extra, true)
    }

    /// As `start`, but nothing reads the app's stdout and stderr: the test
    /// closes them with `close_output`, as a supervisor that went away would.
    pub fn start_unread(
        database_url: Option<String>,
        host: &str,
        extra: &[(&str, &str)],
    ) -> Served {
        Self::spawn(database_url, host, extra, false)
    }

    fn spawn(
        database_url: Option<String>,
        host: &str,
        extra: &[(&str, &str)],
        read_output: bool,
    ) -> Served {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("cg-served-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url =
            database_url.unwrap_or_else(|| format!("sqlite://{}", dir.join("app.db").display()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_common-grounds"));
        command
            .arg("serve")
            .current_dir(&dir)
            .env_remove("APP_ENV")
            .env_remove("SMTP_URL")
            .env_remove("MAIL_DIR")
            .env_remove("METRICS_TOKEN")
            .env_remove("LOG_FORMAT")
            .env_remove("RUST_LOG")
            .env("BIND_ADDR", format!("{host}:{port}"))
            .env("BASE_URL", format!("http://127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("DATA_DIR", &dir)
            .env(
                "SECRET_KEY",
                "test-secret-key-that-is-long-enough-0123456789",
            );
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipes = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (readers, unread) = if read_output {
            let readers = vec![
                collect(pipes.0, stdout.clone()),
                collect(pipes.1, stderr.clone()),
            ];
            (readers, None)
        } else {
            (Vec::new(), Some(pipes))
        };
        Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            stdout,
            stderr,
            readers,
            unread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The app's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The app's data folder (the dev mailbox is `mail/` inside it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).to_string()
    }

    /// Waits until the app answers `/healthz`.
    pub async fn ready(&mut self) {
        let probe = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the app exited ({status}): {}{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            if let Ok(r) = probe.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the app did not start: {}{}", self.stdout(), self.stderr());
    }

    /// Waits until stderr holds `text` (or the time runs out) and returns stderr.
    pub async fn stderr_until(&self, text: &str) -> String {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let stderr = self.stderr();
            if stderr.contains(text) {
                return stderr;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stderr()
    }

    /// Closes the app's stdout and stderr (after `start_unread`).
    pub fn close_output(&mut self) {
        self.unread = None;
    }

    /// Sends SIGTERM, as in production, without waiting.
    pub fn send_term(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Whether the app has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Sends SIGTERM, as in production, and waits up to `within` for the app
    /// to exit: its exit status, or None if it is still running.
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        self.send_term();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the app (SIGTERM, as in production), removes its data folder and
    /// returns (stdout, stderr).
    pub fn stop(mut self) -> (String, String) {
        if self.terminate(Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let output = (self.stdout(), self.stderr());
        let _ = std::fs::remove_dir_all(&self.dir);
        output
    }
}

/// A test that ends (or fails) without `stop` still ends its app: without
/// this, `drop(served)` left the process serving, on a database the test had
/// already dropped, until the machine stopped.
impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
