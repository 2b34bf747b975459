//! UVA's class search (PeopleSoft `IScript_ClassSearch` and
//! `IScript_ClassSearchOptions`) over HTTP, or a folder of recorded pages:
//! polite fetching (few requests at once, pauses, retries with backoff). The
//! JSON itself is read by `wire`; this knows nothing of the database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::wire::{parse_options, parse_page, Page, SubjectOption};
use super::{Subject, Term};
use crate::config::Config;

const SEARCH: &str = "WEBLIB_HCX_CM.H_CLASS_SEARCH.FieldFormula.IScript_ClassSearch";
const OPTIONS: &str = "WEBLIB_HCX_CM.H_CLASS_SEARCH.FieldFormula.IScript_ClassSearchOptions";
/// No backoff waits longer than this, whatever the attempt or `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How to reach SIS and how gently; built from `Config`.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: Url,
    pub institution: String,
    pub concurrency: usize,
    pub pause: Duration,
    pub max_retries: u32,
    pub backoff: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub user_agent: String,
}

impl ClientSettings {
    /// The live settings: `SIS_*` from the configuration, and a user agent naming us.
    pub fn from_config(config: &Config) -> ClientSettings {
        ClientSettings {
            base_url: config.sis.base_url.clone(),
            institution: config.sis.institution.clone(),
            concurrency: config.sis.concurrency,
            pause: config.sis.pause,
            max_retries: config.sis.max_retries,
            backoff: config.sis.backoff,
            connect_timeout: config.sis.connect_timeout,
            read_timeout: config.sis.read_timeout,
            user_agent: format!(
                "common-grounds/{} (class sync for {}; UVA class search reader)",
                env!("CARGO_PKG_VERSION"),
                config.server.base_url.as_str().trim_end_matches('/')
            ),
        }
    }

    /// Pages recorded in a folder (`file://`): read at once, never retried
    /// for long. The demo catalog is synced this way.
    pub fn for_files(dir: Url) -> ClientSettings {
        ClientSettings {
            base_url: dir,
            institution: "UVA01".into(),
            concurrency: 2,
            pause: Duration::ZERO,
            max_retries: 0,
            backoff: Duration::from_millis(10),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            user_agent: format!("common-grounds/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why a page could not be had. `retryable` says which are worth another try.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("SIS answered HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("SIS answered a page that is not JSON ({hint})")]
    NotJson { hint: String },
    #[error("SIS did not answer in time")]
    Timeout,
    #[error("cannot reach SIS: {0}")]
    Transport(String),
    #[error("{0}")]
    Malformed(String),
    #[error("no recorded page {0}")]
    MissingFile(String),
    #[error("SIS_BASE_URL names a folder that does not exist: {0}")]
    NoFolder(String),
    #[error("{last} ({tries} tries)")]
    GaveUp { tries: u32, last: Box<FetchError> },
}

impl FetchError {
    /// 429, 5xx, timeouts, broken connections and HTML-instead-of-JSON are
    /// what SIS does under load; anything else will not get better by asking again.
    pub fn retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::NotJson { .. } | FetchError::Timeout | FetchError::Transport(_) => true,
            FetchError::Malformed(_)
            | FetchError::MissingFile(_)
            | FetchError::NoFolder(_)
            | FetchError::GaveUp { .. } => false,
        }
    }
}

/// Counters shared by every request of a client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchCounts {
    pub pages: u32,
    pub retries: u32,
}

#[derive(Debug, Default)]
struct Counters {
    pages: AtomicU32,
    retries: AtomicU32,
}

enum Source {
    Http { http: reqwest::Client, base: String },
    Files { dir: PathBuf },
}

/// A client for one sync: at most `concurrency` requests in flight, shared
/// by every clone.
#[derive(Clone)]
pub struct SisClient {
    source: Arc<Source>,
    settings: Arc<ClientSettings>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
}

impl SisClient {
    /// A client over HTTP, or over a folder for a `file://` base URL (which must exist).
    pub fn new(settings: ClientSettings) -> Result<SisClient, FetchError> {
        let source = match settings.base_url.scheme() {
            "file" => {
                let dir = settings.base_url.to_file_path().map_err(|()| {
                    FetchError::Malformed(format!(
                        "SIS_BASE_URL {} is not a folder",
                        settings.base_url
                    ))
                })?;
                if !dir.is_dir() {
                    return Err(FetchError::NoFolder(dir.display().to_string()));
                }
                Source::Files { dir }
            }
            _ => {
                let http = reqwest::Client::builder()
                    .user_agent(settings.user_agent.clone())
                    .connect_timeout(settings.connect_timeout)
                    .read_timeout(settings.read_timeout)
                    .timeout(settings.connect_timeout + settings.read_timeout)
                    .build()
                    .map_err(|e| FetchError::Transport(e.to_string()))?;
                let base = settings.base_url.as_str().trim_end_matches('/').to_string();
                Source::Http { http, base }
            }
        };
        Ok(SisClient {
            source: Arc::new(source),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings: Arc::new(settings),
            counters: Arc::new(Counters::default()),
        })
    }

    /// How this client reaches SIS.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Pages read and requests retried so far.
    pub fn counts(&self) -> FetchCounts {
        FetchCounts {
            pages: self.counters.pages.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
        }
    }

    /// The subjects SIS offers in a term.
    pub async fn subjects(&self, term: &Term) -> Result<Vec<SubjectOption>, FetchError> {
        let value = self
            .get_json(
                OPTIONS,
                &[("term", term.as_str())],
                &format!("options-{term}.json"),
                None,
            )
            .await?;
        parse_options(value)
            .map_err(|e| FetchError::Malformed(format!("subject list of term {term}: {e}")))
    }

    /// One page (from 1) of a subject's sections in a term.
    pub async fn page(
        &self,
        term: &Term,
        subject: &Subject,
        page: u32,
    ) -> Result<Page, FetchError> {
        let number = page.to_string();
        let file = format!(
            "{}-{term}-page{page}.json",
            subject.as_str().to_ascii_lowercase()
        );
        let fallback = format!("{subject}-{term}-page{page}.json");
        let value = self
            .get_json(
                SEARCH,
                &[
                    ("term", term.as_str()),
                    ("page", &number),
                    ("subject", subject.as_str()),
                ],
                &file,
                Some(&fallback),
            )
            .await?;
        let parsed = parse_page(value).map_err(FetchError::Malformed)?;
        self.counters.pages.fetch_add(1, Ordering::Relaxed);
        Ok(parsed)
    }

    /// One JSON document, retried with exponential backoff and jitter when
    /// the failure is one SIS recovers from.
    async fn get_json(
        &self,
        script: &str,
        query: &[(&str, &str)],
        file: &str,
        fallback_file: Option<&str>,
    ) -> Result<Value, FetchError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = match &*self.source {
                Source::Files { dir } => read_recorded(dir, file, fallback_file).await,
                Source::Http { http, base } => {
                    let _permit = self.permits.acquire().await.expect("never closed");
                    let result = self.get_once(http, base, script, query).await;
                    if !self.settings.pause.is_zero() {
                        // Held with the permit: the pause spaces out requests.
                        tokio::time::sleep(self.settings.pause).await;
                    }
                    result
                }
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.retryable() {
                return Err(error);
            }
            if tries > self.settings.max_retries {
                return Err(FetchError::GaveUp {
                    tries,
                    last: Box::new(error),
                });
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            let wait = self.backoff(tries, &error);
            tracing::warn!(%error, try_number = tries, wait_ms = wait.as_millis() as u64, ?query, "SIS request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_once(
        &self,
        http: &reqwest::Client,
        base: &str,
        script: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, FetchError> {
        let mut params = vec![("institution", self.settings.institution.as_str())];
        params.extend_from_slice(query);
        let response = http
            .get(format!("{base}/{script}"))
            .query(&params)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if status != 200 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(FetchError::Status {
                status,
                retry_after,
            });
        }
        // Read up to a cap, not whatever comes: a wrong SIS_BASE_URL, or a
        // proxy streaming an error page without end, must fail the page,
        // not hold the sync's memory.
        if response
            .content_length()
            .is_some_and(|length| length > MAX_PAGE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        json_body(&body)
    }

    /// Doubles from `backoff` per try, with jitter so that clients retrying
    /// together spread out; a server's `Retry-After` is honoured.
    fn backoff(&self, tries: u32, error: &FetchError) -> Duration {
        let doubled = self
            .settings
            .backoff
            .saturating_mul(1 << (tries - 1).min(16))
            .min(MAX_BACKOFF);
        let jittered = doubled.mul_f64(rand::rng().random_range(0.5..=1.0));
        match error {
            FetchError::Status {
                retry_after: Some(after),
                ..
            } => jittered.max(*after).min(MAX_BACKOFF),
            _ => jittered,
        }
    }
}

/// The most a page may hold. A page of UVA's class search is some hundreds
/// of kilobytes; one past this is not a page of it.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

fn too_large() -> FetchError {
    FetchError::Malformed(format!(
        "SIS answered a page larger than {} MB; check SIS_BASE_URL",
        MAX_PAGE_BYTES / (1024 * 1024)
    ))
}

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else {
        // Without the URL: it is always the same and the query is logged
        // apart. With its causes: "error sending request" alone is the same
        // for a name that does not resolve, a refused connection and a TLS
        // failure, and an operator acts differently on each.
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        FetchError::Transport(text)
    }
}

/// A body must be JSON; the HTML login page SIS serves under load is an error
/// to retry, never an empty page.
fn json_body(body: &[u8]) -> Result<Value, FetchError> {
    serde_json::from_slice(body).map_err(|_| {
        let text = String::from_utf8_lossy(&body[..body.len().min(60)]);
        let hint: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        FetchError::NotJson {
            hint: if hint.is_empty() {
                "empty body".to_string()
            } else {
                format!("starts with '{hint}'")
            },
        }
    })
}

async fn read_recorded(
    dir: &std::path::Path,
    file: &str,
    fallback: Option<&str>,
) -> Result<Value, FetchError> {
    let mut path = dir.join(file);
    if !path.exists() {
        if let Some(other) = fallback {
            path = dir.join(other);
        }
    }
    let body = tokio::fs::read(&path)
        .await
        .map_err(|_| FetchError::MissingFile(dir.join(file).display().to_string()))?;
    json_body(&body).map_err(|e| FetchError::Malformed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_not_json_and_is_worth_retrying() {
        let err = json_body(b"<!DOCTYPE html>\n<html><title>Sign in</title>").unwrap_err();
        assert!(err.retryable());
        assert!(
            err.to_string().contains("starts with '<!DOCTYPE html>"),
            "{err}"
        );
        assert!(!FetchError::Malformed("x".into()).retryable());
        assert!(FetchError::Status {
            status: 503,
            retry_after: None
        }
        .retryable());
        assert!(!FetchError::Status {
            status: 404,
            retry_after: None
        }
        .retryable());
    }
}
