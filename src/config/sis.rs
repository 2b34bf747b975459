//! The SIS settings: where the class search is (`SIS_BASE_URL`) and how
//! gently to read it. Each variable is parsed and refused by name here.

use std::time::Duration;

use url::Url;

use super::{invalid, var_parsed, ConfigError, Source};

/// The production SIS class search (UVA's PeopleSoft).
pub const SIS_PRODUCTION_URL: &str = "https://sisuva.admin.virginia.edu/psc/ihprd/UVSS/SA/s";

/// How to reach SIS and how gently.
#[derive(Debug, Clone)]
pub struct SisSettings {
    /// The SIS class search: an http(s) address, or a `file://` folder of recorded pages.
    pub base_url: Url,
    pub institution: String,
    /// At most this many requests to SIS at once.
    pub concurrency: usize,
    /// A pause after each request to SIS, to be gentle with it.
    pub pause: Duration,
    /// Retries of a request that failed in a way worth retrying (429, 5xx, timeout, HTML).
    pub max_retries: u32,
    /// The first retry waits about this long; each later one twice as long (with jitter).
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// How long one SIS page may take to arrive once connected.
    pub read_timeout: Duration,
}

impl SisSettings {
    /// Reads the `SIS_*` variables.
    pub fn from_source(src: &dyn Source) -> Result<SisSettings, ConfigError> {
        let base_url = parse_sis_base_url(
            &src.get("SIS_BASE_URL")
                .unwrap_or_else(|| SIS_PRODUCTION_URL.to_string()),
        )?;
        let institution = src.get("SIS_INSTITUTION").unwrap_or_else(|| "UVA01".into());
        let institution = institution.trim().to_string();
        if !institution.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(
                "SIS_INSTITUTION",
                format!("'{institution}'; use the PeopleSoft institution code, e.g. UVA01"),
            ));
        }
        let concurrency: usize = var_parsed(src, "SIS_CONCURRENCY", 2)?;
        if !(1..=8).contains(&concurrency) {
            return Err(invalid(
                "SIS_CONCURRENCY",
                format!("{concurrency}; use 1 to 8 (SIS times out when hit hard)"),
            ));
        }
        let pause_ms: u64 = var_parsed(src, "SIS_PAUSE_MS", 200)?;
        if pause_ms > 60_000 {
            return Err(invalid("SIS_PAUSE_MS", "at most 60000 (one minute)"));
        }
        let max_retries: u32 = var_parsed(src, "SIS_MAX_RETRIES", 4)?;
        if max_retries > 10 {
            return Err(invalid("SIS_MAX_RETRIES", "at most 10"));
        }
        let backoff_ms: u64 = var_parsed(src, "SIS_BACKOFF_MS", 1000)?;
        if !(1..=60_000).contains(&backoff_ms) {
            return Err(invalid("SIS_BACKOFF_MS", "use 1 to 60000 milliseconds"));
        }
        let connect_timeout_ms: u64 = var_parsed(src, "SIS_CONNECT_TIMEOUT_MS", 10_000)?;
        if !(1..=300_000).contains(&connect_timeout_ms) {
            return Err(invalid(
                "SIS_CONNECT_TIMEOUT_MS",
                "use 1 to 300000 milliseconds",
            ));
        }
        let read_timeout_ms: u64 = var_parsed(src, "SIS_READ_TIMEOUT_MS", 60_000)?;
        if !(1..=600_000).contains(&read_timeout_ms) {
            return Err(invalid(
                "SIS_READ_TIMEOUT_MS",
                "use 1 to 600000 milliseconds",
            ));
        }
        Ok(SisSettings {
            base_url,
            institution,
            concurrency,
            pause: Duration::from_millis(pause_ms),
            max_retries,
            backoff: Duration::from_millis(backoff_ms),
            connect_timeout: Duration::from_millis(connect_timeout_ms),
            read_timeout: Duration::from_millis(read_timeout_ms),
        })
    }
}

/// An http(s) address of the class search, or a `file://` folder of recorded pages.
fn parse_sis_base_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| invalid("SIS_BASE_URL", format!("'{raw}' is not a URL ({e})")))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "file" if url.to_file_path().is_ok() => Ok(url),
        _ => Err(invalid(
            "SIS_BASE_URL",
            format!(
                "'{raw}'; use an http:// or https:// address, or file:///FOLDER of recorded pages"
            ),
        )),
    }
}
