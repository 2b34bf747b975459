//! A real SMTP listener on loopback: enough of RFC 5321 for lettre to deliver
//! to it. It can be stopped and started again on the same port.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The plain-text part, with its transfer encoding (quoted-printable or
    /// none) undone: what a person reads in their mail program.
    pub fn plain_text(&self) -> String {
        let data = self.data.replace("\r\n", "\n");
        let part = data
            .split("\n--")
            .find(|part| {
                part.to_ascii_lowercase()
                    .contains("content-type: text/plain")
            })
            .expect("a text/plain part");
        let (headers, body) = part
            .split_once("\n\n")
            .expect("part headers end with a blank line");
        let encoding = headers
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-transfer-encoding:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "7bit".into());
        match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(body),
            "7bit" | "8bit" => body.to_string(),
            other => panic!("unexpected transfer encoding {other}"),
        }
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 text")
}

pub struct SmtpServer {
    pub port: u16,
    pub inbox: Arc<Mutex<Vec<Received>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, inbox.clone()));
        SmtpServer {
            port,
            inbox,
            task: Some(task),
        }
    }

    /// Stops listening: connections are refused until `restart`.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.task = Some(tokio::spawn(accept(listener, self.inbox.clone())));
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits (up to `secs`) for `n` messages.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        for _ in 0..(secs * 20) {
            if self.received().len() >= n {
                return self.received();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "SMTP listener expected {n} messages, got {}",
            self.received().len()
        );
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, inbox: Arc<Mutex<Vec<Received>>>) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let inbox = inbox.clone();
        // Sessions die with the listener task (JoinSet aborts them on drop).
        sessions.spawn(async move {
            let _ = session(stream, inbox).await;
        });
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    inbox: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 cg-test ESMTP\r\n").await?;
    let (mut from, mut to, mut line) = (String::new(), Vec::new(), String::new());
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write
                .write_all(b"250-cg-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_string();
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            // A mailbox that does not exist, for tests of a permanent refusal.
            if upper.contains("<NOSUCHBOX") {
                write
                    .write_all(b"550 5.1.1 No such mailbox here\r\n")
                    .await?;
                continue;
            }
            // A relay that will not relay for us: every message would get it.
            if upper.contains("<RELAYDENIED") {
                write
                    .write_all(b"554 5.7.1 Relay access denied\r\n")
                    .await?;
                continue;
            }
            to.push(line[8..].trim().to_string());
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("DATA") {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            inbox.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            write.write_all(b"250 OK\r\n").await?;
        } else {
            write.write_all(b"502 Command not implemented\r\n").await?;
        }
    }
}
