//! Email: what we send (`messages`), the outbox that makes sending reliable
//! (`outbox`), the worker that drains it (`worker`), and the `Mailer` backends.
//! Requests never talk to SMTP; only the worker does.

pub mod messages;
pub mod outbox;
pub mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use url::Url;

/// One email ready to send or queue: plain text and HTML parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click unsubscribe URL (RFC 8058) of every email that is not a
    /// sign-in email: sent as `List-Unsubscribe` with `List-Unsubscribe-Post`.
    /// Messages written before it existed read as None.
    #[serde(default)]
    pub unsubscribe: Option<String>,
    /// The outbox row it is sent from: its `Message-ID` is made of it, the
    /// same on every try, so a copy sent twice (a crash after the server took
    /// it) is one message to the mail program. None before it is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_id: Option<String>,
}

/// The two headers of RFC 8058's one-click unsubscribe for `url`: what a mail
/// program shows as "Unsubscribe" and POSTs to without opening a page.
pub fn unsubscribe_headers(url: &str) -> [(&'static str, String); 2] {
    [
        ("List-Unsubscribe", format!("<{url}>")),
        (
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_string(),
        ),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad mail setting: {0}")]
    Config(String),
    #[error("could not render an email: {0}")]
    Render(#[from] askama::Error),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("the mail server refused or failed: {0}")]
    Smtp(String),
    /// A sign-in email whose link expired before any server took it.
    #[error("its sign-in link expired before a mail server took it")]
    Stale,
    /// A 5xx answer about the recipient (no such mailbox, say): trying again
    /// cannot help (`refused_for_the_recipient`).
    #[error("the mail server refused it for good: {0}")]
    Refused(String),
    #[error("could not write the message file: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether a permanent (5xx) answer is about this message's recipient (no
/// such mailbox, not a local user, a name the server will not take): trying
/// again cannot help. Any other 5xx is about us (authentication 530/535,
/// relaying or policy 554 and every enhanced 5.7.x, a server out of service):
/// every message would get it until the operator fixes the relay, and giving
/// each up for good would drop the whole queue; those are tried again.
pub fn refused_for_the_recipient(code: Option<&str>, said: &str) -> bool {
    matches!(code, Some("550" | "551" | "553")) && !said.contains(" 5.7.")
}

/// Where email goes: an SMTP server, a folder (development), or memory (tests).
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Directory {
        dir: PathBuf,
    },
    Memory(Arc<Mutex<Vec<OutgoingEmail>>>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { .. } => f.write_str("Mailer::Smtp"),
            Mailer::Directory { dir } => write!(f, "Mailer::Directory({})", dir.display()),
            Mailer::Memory(_) => f.write_str("Mailer::Memory"),
        }
    }
}

impl Mailer {
    /// SMTP when `smtp_url` is set, else a folder of message files.
    pub fn from_settings(
        smtp_url: Option<&str>,
        from: &str,
        dir: PathBuf,
    ) -> Result<Mailer, MailError> {
        match smtp_url {
            Some(url) => Mailer::smtp(url, from),
            None => Ok(Mailer::Directory { dir }),
        }
    }

    /// `smtp://user:pass@host:587` uses STARTTLS (required, except on loopback where
    /// it is used when offered); `smtps://` uses TLS from the first byte.
    /// `?tls=none|opportunistic|required` overrides.
    pub fn smtp(raw: &str, from: &str) -> Result<Mailer, MailError> {
        let url = Url::parse(raw).map_err(|e| MailError::Config(format!("SMTP_URL: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| MailError::Config("SMTP_URL has no host".into()))?
            .trim_matches(['[', ']'])
            .to_string();
        let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1");
        let tls_params = || {
            TlsParameters::new(host.clone())
                .map_err(|e| MailError::Config(format!("SMTP TLS for {host}: {e}")))
        };
        let tls_choice = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (tls, default_port) = match (url.scheme(), tls_choice.as_deref()) {
            ("smtps", _) => (Tls::Wrapper(tls_params()?), 465),
            ("smtp", Some("none")) => (Tls::None, 25),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(tls_params()?), 587),
            ("smtp", Some("required")) => (Tls::Required(tls_params()?), 587),
            ("smtp", None) if loopback => (Tls::Opportunistic(tls_params()?), 587),
            ("smtp", None) => (Tls::Required(tls_params()?), 587),
            (scheme, choice) => {
                return Err(MailError::Config(format!(
                    "SMTP_URL: scheme {scheme} with tls={choice:?} is not supported; use smtp:// or smtps://"
                )))
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if !url.username().is_empty() {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            builder = builder.credentials(Credentials::new(user, pass));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Config(format!("MAIL_FROM '{from}': {e}")))?;
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from,
        })
    }

    pub fn memory() -> (Mailer, Arc<Mutex<Vec<OutgoingEmail>>>) {
        let store = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(store.clone()), store)
    }

    pub fn is_directory(&self) -> bool {
        matches!(self, Mailer::Directory { .. })
    }

    /// Delivers one email. Returns only after the server (or folder) accepted it.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        match self {
            Mailer::Smtp { transport, from } => {
                let to: Mailbox = email
                    .to
                    .parse()
                    .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
                // Mail with no Message-ID is marked down or refused by many
                // filters (RFC 5322 says SHOULD); lettre adds none unasked.
                let message_id = email
                    .outbox_id
                    .as_ref()
                    .map(|id| format!("<{id}@{}>", from.email.domain()));
                let mut builder = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(email.subject.clone())
                    .message_id(message_id);
                if let Some(url) = &email.unsubscribe {
                    // A URL with a line break would be a header injection; ours
                    // are built from BASE_URL and ids, so this only guards.
                    if url.chars().any(|c| c.is_control() || c == '>') {
                        return Err(MailError::Build("unsubscribe URL is malformed".into()));
                    }
                    for (name, value) in unsubscribe_headers(url) {
                        builder = builder.raw_header(HeaderValue::new(
                            HeaderName::new_from_ascii_str(name),
                            value,
                        ));
                    }
                }
                let message = builder
                    .multipart(
                        MultiPart::alternative()
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_PLAIN)
                                    .body(email.text.clone()),
                            )
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_HTML)
                                    .body(email.html.clone()),
                            ),
                    )
                    .map_err(|e| MailError::Build(e.to_string()))?;
                transport.send(message).await.map(|_| ()).map_err(|e| {
                    let code = e.status().map(|c| c.to_string());
                    if e.is_permanent()
                        && refused_for_the_recipient(code.as_deref(), &e.to_string())
                    {
                        MailError::Refused(e.to_string())
                    } else {
                        MailError::Smtp(e.to_string())
                    }
                })
            }
            Mailer::Directory { dir } => {
                // Sign-in links and codes are in these files: the folder and
                // each file are their owner's alone, never readable by every
                // local account.
                tokio::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .await?;
                let name = format!(
                    "{}-{}.json",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    uuid::Uuid::new_v4().simple()
                );
                let body = serde_json::to_vec_pretty(email)
                    .map_err(|e| MailError::Build(e.to_string()))?;
                let tmp = dir.join(format!(".{name}.tmp"));
                let mut file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .await?;
                tokio::io::AsyncWriteExt::write_all(&mut file, &body).await?;
                tokio::io::AsyncWriteExt::flush(&mut file).await?;
                drop(file);
                let path = dir.join(&name);
                tokio::fs::rename(&tmp, &path).await?;
                // Only where the message is: a sign-in link or code in the log
                // would let anyone who reads the logs sign in.
                tracing::info!(file = %path.display(), "email written to the dev mailbox (see /dev/mailbox)");
                Ok(())
            }
            Mailer::Memory(store) => {
                store.lock().expect("mail store lock").push(email.clone());
                Ok(())
            }
        }
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Lists the messages the directory mailer wrote, newest first (dev mailbox).
pub fn read_directory(
    dir: &std::path::Path,
    limit: usize,
) -> std::io::Result<Vec<(String, OutgoingEmail)>> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    names.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = Vec::new();
    for name in names.into_iter().take(limit) {
        let bytes = std::fs::read(dir.join(&name))?;
        if let Ok(email) = serde_json::from_slice::<OutgoingEmail>(&bytes) {
            out.push((name, email));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_refusal_of_the_recipient_is_for_good() {
        let about = |code: &str, said: &str| {
            refused_for_the_recipient(Some(code), &format!("permanent error ({code}): {said}"))
        };
        assert!(about("550", "5.1.1 No such mailbox here"));
        assert!(about("551", "User not local"));
        assert!(about("553", "5.1.3 Bad recipient address syntax"));
        // The relay refusing us: every message would get it.
        assert!(!about("550", "5.7.1 Relaying denied"));
        assert!(!about("554", "5.7.1 Relay access denied"));
        assert!(!about("535", "5.7.8 Authentication credentials invalid"));
        assert!(!about("530", "5.7.0 Authentication required"));
        assert!(!about("554", "Transaction failed"));
        assert!(!refused_for_the_recipient(None, "connection refused"));
    }

    #[tokio::test]
    async fn the_dev_mailbox_is_its_owners_alone() {
        let dir = std::env::temp_dir()
            .join(format!("cg-mailbox-{}", uuid::Uuid::new_v4().simple()))
            .join("mail");
        let mailer = Mailer::Directory { dir: dir.clone() };
        let email = OutgoingEmail {
            to: "mst3k@virginia.edu".into(),
            subject: "Your sign-in code".into(),
            text: "Your code is 123456".into(),
            html: "<p>Your code is 123456</p>".into(),
            unsubscribe: None,
            outbox_id: None,
        };
        mailer.send(&email).await.unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(mode(&files[0]), 0o600);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}
