//! UVA's class search (PeopleSoft `IScript_ClassSearch` and
//! `IScript_ClassSearchOptions`) over HTTP, or a folder of recorded pages: typed
//! pages that accept both page shapes and the format's quirks, and polite
//! fetching (few requests at once, pauses, retries with backoff). It knows
//! nothing of the database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

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
    pub fn from_config(config: &Config) -> ClientSettings {
        ClientSettings {
            base_url: config.sis_base_url.clone(),
            institution: config.sis_institution.clone(),
            concurrency: config.sis_concurrency,
            pause: config.sis_pause,
            max_retries: config.sis_max_retries,
            backoff: config.sis_backoff,
            connect_timeout: config.sis_connect_timeout,
            read_timeout: config.sis_read_timeout,
            user_agent: format!(
                "common-grounds/{} (class sync for {}; UVA class search reader)",
                env!("CARGO_PKG_VERSION"),
                config.base_url.as_str().trim_end_matches('/')
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

/// One page of sections, whichever shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub sections: Vec<SisSection>,
    /// Only the current shape says how many pages there are.
    pub page_count: Option<u32>,
}

/// A subject the term offers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubjectOption {
    pub subject: String,
    #[serde(default, deserialize_with = "text")]
    pub descr: Option<String>,
}

/// One section as SIS describes it (the fields the catalog uses; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisSection {
    #[serde(default, deserialize_with = "text")]
    pub strm: Option<String>,
    #[serde(deserialize_with = "class_number")]
    pub class_nbr: u32,
    #[serde(default, deserialize_with = "text")]
    pub subject: Option<String>,
    #[serde(deserialize_with = "required_text")]
    pub catalog_nbr: String,
    #[serde(default, deserialize_with = "text")]
    pub class_section: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub descr: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub topic: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub component: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub section_type: Option<String>,
    #[serde(default, deserialize_with = "count")]
    pub class_capacity: Option<i32>,
    #[serde(default, deserialize_with = "count")]
    pub enrollment_total: Option<i32>,
    #[serde(default, deserialize_with = "count")]
    pub enrollment_available: Option<i32>,
    #[serde(default, deserialize_with = "units")]
    pub units: Option<Units>,
    #[serde(default, deserialize_with = "list")]
    pub instructors: Vec<SisInstructor>,
    #[serde(default, deserialize_with = "list")]
    pub meetings: Vec<SisMeeting>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisInstructor {
    /// `None` when SIS says `-` (no instructor).
    #[serde(default, deserialize_with = "person")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
}

/// One weekly meeting pattern. Every "not known yet" form is `None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisMeeting {
    #[serde(default, deserialize_with = "days")]
    pub days: Option<String>,
    #[serde(default, deserialize_with = "wall_time")]
    pub start_time: Option<WallTime>,
    #[serde(default, deserialize_with = "wall_time")]
    pub end_time: Option<WallTime>,
    #[serde(default, deserialize_with = "place")]
    pub facility_descr: Option<String>,
    /// The meeting's instructors, in SIS's order; empty when "To Be Announced".
    #[serde(default, deserialize_with = "people")]
    pub instructor: Vec<String>,
}

/// Credit hours: fixed, or a range such as `1 - 12` for independent study.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Units {
    Fixed(f32),
    Range(f32, f32),
}

/// An Eastern wall-clock time of day, as SIS means it (its offset is meaningless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WallTime {
    pub hour: u8,
    pub minute: u8,
}

impl std::fmt::Display for WallTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl WallTime {
    /// `15.30.00.000000-05:00`, `15.30.00.000000`, `15.30.00`, `15:30`; the
    /// offset is always -05:00, even in summer, so it is ignored.
    pub fn parse(raw: &str) -> Result<Option<WallTime>, String> {
        let text = raw.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("TBA") {
            return Ok(None);
        }
        let clock = text.find(['-', '+', 'Z']).map_or(text, |at| &text[..at]);
        let mut parts = clock.split(['.', ':']);
        let hour = parts.next().and_then(|h| h.parse::<u8>().ok());
        let minute = parts.next().and_then(|m| m.parse::<u8>().ok());
        match (hour, minute) {
            (Some(hour), Some(minute)) if hour < 24 && minute < 60 => {
                Ok(Some(WallTime { hour, minute }))
            }
            _ => Err(format!("'{raw}' is not a time of day")),
        }
    }
}

impl Units {
    pub fn parse(raw: &str) -> Option<Units> {
        let text = raw.trim();
        match text.split_once('-') {
            Some((low, high)) => Some(Units::Range(
                low.trim().parse().ok()?,
                high.trim().parse().ok()?,
            )),
            None => text.parse().ok().map(Units::Fixed),
        }
    }
}

impl SisClient {
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
        let body = response.bytes().await.map_err(transport)?;
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

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else {
        // Without the URL: it is always the same and the query is logged apart.
        FetchError::Transport(error.without_url().to_string())
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

/// The current shape `{"classes": [...], "pageCount": N}` or the older bare
/// array (`[]` past the end). An object without `classes` is an error, not an
/// empty page: reading an error document as "no sections" would deactivate them.
pub fn parse_page(value: Value) -> Result<Page, String> {
    let (items, page_count) = match value {
        Value::Array(items) => (items, None),
        Value::Object(mut map) => {
            let items = match map.remove("classes") {
                Some(Value::Array(items)) => items,
                Some(other) => return Err(format!("\"classes\" is {}, not a list", kind(&other))),
                None => {
                    let keys: Vec<&String> = map.keys().take(5).collect();
                    return Err(format!("an object without \"classes\" (keys: {keys:?})"));
                }
            };
            let page_count = match map.get("pageCount") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_u64().map(|n| n.min(u32::MAX as u64) as u32),
                Some(Value::String(s)) => s.trim().parse().ok(),
                Some(_) => None,
            };
            (items, page_count)
        }
        other => {
            return Err(format!(
                "expected an object with \"classes\" or a list of sections, got {}",
                kind(&other)
            ))
        }
    };
    let sections = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let number = item.get("class_nbr").map(|n| n.to_string());
            serde_json::from_value::<SisSection>(item).map_err(|e| match number {
                Some(n) => format!("section {} (class_nbr {n}): {e}", i + 1),
                None => format!("section {}: {e}", i + 1),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        sections,
        page_count,
    })
}

/// `{"subjects": [{"subject": "CS", "descr": "..."}]}` (or the bare list).
pub fn parse_options(value: Value) -> Result<Vec<SubjectOption>, String> {
    let items = match value {
        Value::Object(mut map) => match map.remove("subjects") {
            Some(Value::Array(items)) => items,
            _ => return Err("an object without a \"subjects\" list".to_string()),
        },
        Value::Array(items) => items,
        other => return Err(format!("expected a subject list, got {}", kind(&other))),
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value::<SubjectOption>(item).map_err(|e| e.to_string()))
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// Field readers. PeopleSoft omits fields, sends null, numbers as strings, and
// placeholders ("TBA", "***", "-") for "not known yet"; each reader maps those
// to None and refuses only what cannot be read at all.

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d)?.ok_or_else(|| serde::de::Error::custom("is empty"))
}

fn class_number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = Value::deserialize(d)?;
    let number = match &value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number
        .filter(|n| (1..=u32::MAX as u64).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| serde::de::Error::custom(format!("class_nbr {value} is not a class number")))
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a count"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a count"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "{} is not a count",
            kind(&other)
        ))),
    }
}

fn units<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Units>, D::Error> {
    // Units are informative only: an odd value is dropped, not fatal.
    Ok(text(d)?.as_deref().and_then(Units::parse))
}

fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn person<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(d)?.filter(|name| !is_nobody(name)))
}

fn is_nobody(name: &str) -> bool {
    name == "-" || name.eq_ignore_ascii_case("To Be Announced") || name.eq_ignore_ascii_case("TBA")
}

/// One string, several names joined with `",\n\r"`.
fn people<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(split_people(text(d)?.as_deref().unwrap_or("")))
}

pub fn split_people(joined: &str) -> Vec<String> {
    joined
        .split(['\n', '\r'])
        .map(|name| name.trim().trim_end_matches(',').trim())
        .filter(|name| !name.is_empty() && !is_nobody(name))
        .map(str::to_string)
        .collect()
}

fn place<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(d)?.filter(|p| p != "***" && !p.eq_ignore_ascii_case("TBA")))
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(days) = text(d)? else {
        return Ok(None);
    };
    if days.eq_ignore_ascii_case("TBA") {
        return Ok(None);
    }
    let valid = days.len() % 2 == 0
        && days
            .as_bytes()
            .chunks(2)
            .all(|day| matches!(day, b"Mo" | b"Tu" | b"We" | b"Th" | b"Fr" | b"Sa" | b"Su"));
    if valid {
        Ok(Some(days))
    } else {
        Err(serde::de::Error::custom(format!(
            "days '{days}' is not a run of Mo Tu We Th Fr Sa Su"
        )))
    }
}

fn wall_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WallTime>, D::Error> {
    match text(d)? {
        None => Ok(None),
        Some(raw) => WallTime::parse(&raw).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_keep_the_wall_clock_and_drop_the_offset() {
        let t = |s| WallTime::parse(s).unwrap().map(|t| t.to_string());
        assert_eq!(t("15.30.00.000000-05:00").as_deref(), Some("15:30"));
        assert_eq!(t("09.05.00.000000").as_deref(), Some("09:05"));
        assert_eq!(t("9:05").as_deref(), Some("09:05"));
        assert_eq!(t(""), None);
        assert_eq!(t("TBA"), None);
        assert!(WallTime::parse("25.00.00").is_err());
        assert!(WallTime::parse("noon").is_err());
    }

    #[test]
    fn units_may_be_a_range() {
        assert_eq!(Units::parse("3"), Some(Units::Fixed(3.0)));
        assert_eq!(Units::parse("1 - 12"), Some(Units::Range(1.0, 12.0)));
        assert_eq!(Units::parse("lots"), None);
    }

    #[test]
    fn several_instructors_in_one_string_are_split() {
        assert_eq!(
            split_people("Grace Hopper,\n\rAlan Turing"),
            vec!["Grace Hopper", "Alan Turing"]
        );
        assert!(split_people("To Be Announced").is_empty());
        assert!(split_people("-").is_empty());
    }

    fn minimal(extra: Value) -> Value {
        let mut section = json!({"class_nbr": 1, "catalog_nbr": "1010"});
        section
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        section
    }

    #[test]
    fn both_page_shapes_read_the_same_sections() {
        let section = minimal(json!({"subject": "CS"}));
        let object = parse_page(json!({"classes": [section.clone()], "pageCount": 3})).unwrap();
        let array = parse_page(json!([section])).unwrap();
        assert_eq!(object.sections, array.sections);
        assert_eq!(object.page_count, Some(3));
        assert_eq!(array.page_count, None);
        assert!(parse_page(json!([])).unwrap().sections.is_empty());
    }

    #[test]
    fn missing_and_placeholder_fields_become_none() {
        let page = parse_page(json!([minimal(json!({
            "class_capacity": "30",
            "enrollment_available": null,
            "units": "1 - 12",
            "instructors": null,
            "meetings": [{"days": "TBA", "start_time": "", "facility_descr": "***",
                          "instructor": "To Be Announced"}]
        }))]))
        .unwrap();
        let s = &page.sections[0];
        assert_eq!(s.class_capacity, Some(30));
        assert_eq!(s.enrollment_available, None);
        assert_eq!(s.units, Some(Units::Range(1.0, 12.0)));
        assert!(s.instructors.is_empty());
        let m = &s.meetings[0];
        assert_eq!(
            (&m.days, m.start_time, m.end_time, &m.facility_descr),
            (&None, None, None, &None)
        );
        assert!(m.instructor.is_empty());
    }

    #[test]
    fn malformed_pages_say_where_in_one_line() {
        let err = parse_page(json!({"error": "session expired"})).unwrap_err();
        assert!(err.contains("without \"classes\""), "{err}");
        let err = parse_page(json!("nope")).unwrap_err();
        assert!(err.contains("got a string"), "{err}");
        let err = parse_page(json!([minimal(json!({})), {"catalog_nbr": "2"}])).unwrap_err();
        assert!(err.starts_with("section 2"), "{err}");
        let err = parse_page(json!([minimal(
            json!({"meetings": [{"start_time": "99.00"}]})
        )]))
        .unwrap_err();
        assert!(err.contains("'99.00' is not a time of day"), "{err}");
        let err = parse_page(json!([minimal(json!({"meetings": [{"days": "MWF"}]}))])).unwrap_err();
        assert!(err.contains("days 'MWF'"), "{err}");
        assert!(!err.contains('\n'));
    }

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
