//! Every setting of the service, read once from the environment (and `.env`),
//! validated, and passed down as a `Config`. Nothing else reads the environment.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use rand::RngCore;
use url::Url;

/// A setting that is missing or malformed, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("{0}")]
    Io(String),
}

fn invalid(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        problem: problem.into(),
    }
}

/// Where the data lives: an embedded SQLite file or a PostgreSQL server.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts a bare path, `sqlite://PATH`, or `postgres://` / `postgresql://`.
    /// Anything else is refused with a message that lists what is accepted.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, ConfigError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid("DATABASE_URL", "it is empty"));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(invalid(
                    "DATABASE_URL",
                    "sqlite:// needs a file path after it",
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| {
                invalid("DATABASE_URL", format!("not a valid PostgreSQL URL ({e})"))
            })?;
            return Ok(DatabaseUrl::Postgres(raw.to_string()));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "unsupported scheme '{scheme}://'; use a file path, sqlite://PATH or postgres://USER@HOST/DB"
                ),
            ));
        }
        if raw.starts_with("sqlite:")
            || raw.starts_with("postgres:")
            || raw.starts_with("postgresql:")
        {
            return Err(invalid(
                "DATABASE_URL",
                "write the scheme with '//': sqlite://PATH or postgres://...",
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(raw)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }

    /// A form safe to print: the password of a PostgreSQL URL is masked.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(raw) => match Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("****"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://(unparseable)".to_string(),
            },
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `development` enables the dev mailbox and a generated secret; `production` refuses both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The key behind pseudonyms, CSRF tokens and other MACs. Never printed.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub const MIN_LEN: usize = 32;

    pub fn from_text(text: &str) -> Result<SecretKey, ConfigError> {
        let text = text.trim();
        if text.len() < Self::MIN_LEN {
            return Err(invalid(
                "SECRET_KEY",
                format!(
                    "it must be at least {} characters; generate one with `openssl rand -hex 32`",
                    Self::MIN_LEN
                ),
            ));
        }
        Ok(SecretKey(text.as_bytes().to_vec()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

/// Validated settings for one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    pub base_url: Url,
    pub secret_key: SecretKey,
    pub app_env: AppEnv,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub data_dir: PathBuf,
    pub pool_max_size: u32,
    pub pool_timeout: Duration,
    pub allowed_email_domains: Vec<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_dir: PathBuf,
    pub trusted_proxy: bool,
    /// The proxies whose `X-Forwarded-For` counts (with `trusted_proxy`): the socket
    /// peer must be one of them, and the client is the rightmost hop that is not.
    pub trusted_proxies: Vec<IpNet>,
    pub login_emails_per_hour: u32,
    pub login_requests_per_ip: u32,
    /// Sign-in code tries per client per 10 minutes (each code also has 5 tries).
    pub login_code_tries_per_ip: u32,
    /// The term pages show by default (`1262` = Spring 2026); None means the newest in the catalog.
    pub current_term: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// The SIS class search: an http(s) address, or a `file://` folder of recorded pages.
    pub sis_base_url: Url,
    pub sis_institution: String,
    /// At most this many requests to SIS at once.
    pub sis_concurrency: usize,
    /// A pause after each request to SIS, to be gentle with it.
    pub sis_pause: Duration,
    /// Retries of a request that failed in a way worth retrying (429, 5xx, timeout, HTML).
    pub sis_max_retries: u32,
    /// The first retry waits about this long; each later one twice as long (with jitter).
    pub sis_backoff: Duration,
    pub sis_connect_timeout: Duration,
    /// How long one SIS page may take to arrive once connected.
    pub sis_read_timeout: Duration,
    /// Distinct students whose reports hide a chat message until a moderator looks.
    pub flag_hide_threshold: u32,
    /// At most this many sections one student may join in a term (`MAX_SECTIONS_PER_TERM`).
    pub max_sections_per_term: u32,
    /// At most this many joins plus leaves per student in 24 hours (`MAX_CLASS_CHANGES_PER_DAY`).
    pub max_class_changes_per_day: u32,
    /// At most this many chat posts per student per hour across all classes (`POSTS_PER_HOUR`).
    pub posts_per_hour: u32,
    /// A report counts toward hiding only from a student who joined the class at
    /// least this many hours before (0 to 720; newer members' reports still reach moderators).
    pub report_min_membership_hours: u32,
}

/// The longest `REPORT_MIN_MEMBERSHIP_HOURS` accepted: 30 days.
const MAX_REPORT_MIN_MEMBERSHIP_HOURS: u32 = 720;

/// The production SIS class search (UVA's PeopleSoft).
pub const SIS_PRODUCTION_URL: &str = "https://sisuva.admin.virginia.edu/psc/ihprd/UVSS/SA/s";

/// Where settings come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment, after `.env` has been loaded.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

fn var_parsed<T: std::str::FromStr>(
    src: &dyn Source,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match src.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| invalid(name, format!("'{raw}' ({e})"))),
    }
}

/// A limit that must allow at least one of what it counts (0 would lock everyone out).
fn var_at_least_one(
    src: &dyn Source,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match var_parsed(src, name, default)? {
        0 => Err(invalid(
            name,
            "it must be at least 1 (0 would refuse everyone)",
        )),
        n => Ok(n),
    }
}

impl Config {
    /// Reads `.env` (if present) and the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        // A missing .env is normal; a malformed one is worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::Io(format!(".env could not be read: {e}"))),
        }
        Config::from_source(&Env)
    }

    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigError> {
        let app_env = match src.get("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(invalid(
                    "APP_ENV",
                    format!("'{other}'; use development or production"),
                ))
            }
        };
        let data_dir = PathBuf::from(src.get("DATA_DIR").unwrap_or_else(|| "data".to_string()));
        let database_url = DatabaseUrl::parse(
            &src.get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://data/common-grounds.db".into()),
        )?;
        let bind_addr: SocketAddr = var_parsed(
            src,
            "BIND_ADDR",
            "127.0.0.1:8080".parse().expect("literal address"),
        )?;
        let base_url = match src.get("BASE_URL") {
            Some(raw) => parse_base_url(&raw)?,
            None if app_env == AppEnv::Production => {
                return Err(invalid(
                    "BASE_URL",
                    "it must be set in production (for example https://commongrounds.virginia.edu); email links are built from it",
                ))
            }
            None => parse_base_url(&format!("http://{bind_addr}"))?,
        };
        let secret_key = match (src.get("SECRET_KEY"), app_env) {
            (Some(raw), _) => SecretKey::from_text(&raw)?,
            (None, AppEnv::Production) => {
                return Err(invalid(
                    "SECRET_KEY",
                    "it must be set in production: at least 32 characters, e.g. from `openssl rand -hex 32`",
                ))
            }
            (None, AppEnv::Development) => development_secret(&data_dir)?,
        };
        let log_format = match src.get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("'{other}'; use text or json"),
                ))
            }
        };
        let default_pool = if database_url.is_postgres() { 16 } else { 8 };
        let pool_max_size: u32 = var_parsed(src, "DATABASE_POOL_SIZE", default_pool)?;
        if pool_max_size == 0 {
            return Err(invalid("DATABASE_POOL_SIZE", "it must be at least 1"));
        }
        let pool_timeout_ms: u64 = var_parsed(src, "DATABASE_POOL_TIMEOUT_MS", 1500)?;
        let allowed_email_domains: Vec<String> = src
            .get("ALLOWED_EMAIL_DOMAINS")
            .unwrap_or_else(|| "virginia.edu".into())
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if allowed_email_domains.is_empty() {
            return Err(invalid(
                "ALLOWED_EMAIL_DOMAINS",
                "list at least one domain, e.g. virginia.edu",
            ));
        }
        let smtp_url = src.get("SMTP_URL");
        if let Some(raw) = &smtp_url {
            let url =
                Url::parse(raw).map_err(|e| invalid("SMTP_URL", format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "smtp" | "smtps") {
                return Err(invalid(
                    "SMTP_URL",
                    "use smtp://user:pass@host:587 (STARTTLS) or smtps://... (TLS)",
                ));
            }
        }
        let mail_from = src.get("MAIL_FROM").unwrap_or_else(|| {
            format!(
                "Common Grounds <no-reply@{}>",
                base_url.host_str().unwrap_or("localhost")
            )
        });
        let mail_dir = src
            .get("MAIL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("mail"));
        let current_term = match src.get("CURRENT_TERM") {
            None => None,
            Some(raw) => {
                let raw = raw.trim().to_string();
                let b = raw.as_bytes();
                let valid = b.len() == 4
                    && b[0] == b'1'
                    && b.iter().all(u8::is_ascii_digit)
                    && matches!(b[3], b'1' | b'2' | b'6' | b'8');
                if !valid {
                    return Err(invalid(
                        "CURRENT_TERM",
                        format!("'{raw}' is not a SIS term code: use 1 + two-digit year + season (1 January, 2 spring, 6 summer, 8 fall), e.g. 1262 for Spring 2026"),
                    ));
                }
                Some(raw)
            }
        };
        let sis_base_url = parse_sis_base_url(
            &src.get("SIS_BASE_URL")
                .unwrap_or_else(|| SIS_PRODUCTION_URL.to_string()),
        )?;
        let sis_institution = src.get("SIS_INSTITUTION").unwrap_or_else(|| "UVA01".into());
        let sis_institution = sis_institution.trim().to_string();
        if !sis_institution.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(
                "SIS_INSTITUTION",
                format!("'{sis_institution}'; use the PeopleSoft institution code, e.g. UVA01"),
            ));
        }
        let sis_concurrency: usize = var_parsed(src, "SIS_CONCURRENCY", 2)?;
        if !(1..=8).contains(&sis_concurrency) {
            return Err(invalid(
                "SIS_CONCURRENCY",
                format!("{sis_concurrency}; use 1 to 8 (SIS times out when hit hard)"),
            ));
        }
        let sis_pause_ms: u64 = var_parsed(src, "SIS_PAUSE_MS", 200)?;
        if sis_pause_ms > 60_000 {
            return Err(invalid("SIS_PAUSE_MS", "at most 60000 (one minute)"));
        }
        let sis_max_retries: u32 = var_parsed(src, "SIS_MAX_RETRIES", 4)?;
        if sis_max_retries > 10 {
            return Err(invalid("SIS_MAX_RETRIES", "at most 10"));
        }
        let sis_backoff_ms: u64 = var_parsed(src, "SIS_BACKOFF_MS", 1000)?;
        if !(1..=60_000).contains(&sis_backoff_ms) {
            return Err(invalid("SIS_BACKOFF_MS", "use 1 to 60000 milliseconds"));
        }
        let sis_connect_timeout_ms: u64 = var_parsed(src, "SIS_CONNECT_TIMEOUT_MS", 10_000)?;
        if !(1..=300_000).contains(&sis_connect_timeout_ms) {
            return Err(invalid(
                "SIS_CONNECT_TIMEOUT_MS",
                "use 1 to 300000 milliseconds",
            ));
        }
        let sis_read_timeout_ms: u64 = var_parsed(src, "SIS_READ_TIMEOUT_MS", 60_000)?;
        if !(1..=600_000).contains(&sis_read_timeout_ms) {
            return Err(invalid(
                "SIS_READ_TIMEOUT_MS",
                "use 1 to 600000 milliseconds",
            ));
        }
        Ok(Config {
            database_url,
            bind_addr,
            base_url,
            secret_key,
            app_env,
            log_filter: src
                .get("RUST_LOG")
                .unwrap_or_else(|| "info,common_grounds=info".into()),
            log_format,
            data_dir,
            pool_max_size,
            pool_timeout: Duration::from_millis(pool_timeout_ms),
            allowed_email_domains,
            smtp_url,
            mail_from,
            mail_dir,
            trusted_proxy: var_parsed(src, "TRUSTED_PROXY", false)?,
            trusted_proxies: parse_trusted_proxies(
                &src.get("TRUSTED_PROXIES")
                    .unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.to_string()),
            )
            .map_err(|problem| invalid("TRUSTED_PROXIES", problem))?,
            login_emails_per_hour: var_parsed(src, "LOGIN_EMAILS_PER_HOUR", 5)?,
            login_requests_per_ip: var_parsed(src, "LOGIN_REQUESTS_PER_IP_10MIN", 30)?,
            login_code_tries_per_ip: var_parsed(src, "LOGIN_CODE_TRIES_PER_IP_10MIN", 30)?,
            current_term,
            metrics_token: src.get("METRICS_TOKEN").map(|t| t.trim().to_string()),
            sis_base_url,
            sis_institution,
            sis_concurrency,
            sis_pause: Duration::from_millis(sis_pause_ms),
            sis_max_retries,
            sis_backoff: Duration::from_millis(sis_backoff_ms),
            sis_connect_timeout: Duration::from_millis(sis_connect_timeout_ms),
            sis_read_timeout: Duration::from_millis(sis_read_timeout_ms),
            flag_hide_threshold: match var_parsed(src, "FLAG_HIDE_THRESHOLD", 3u32)? {
                0 => {
                    return Err(invalid(
                        "FLAG_HIDE_THRESHOLD",
                        "it must be at least 1 (distinct reports that hide a message)",
                    ))
                }
                n => n,
            },
            max_sections_per_term: var_at_least_one(src, "MAX_SECTIONS_PER_TERM", 10)?,
            max_class_changes_per_day: var_at_least_one(src, "MAX_CLASS_CHANGES_PER_DAY", 20)?,
            posts_per_hour: var_at_least_one(src, "POSTS_PER_HOUR", 60)?,
            report_min_membership_hours: match var_parsed(
                src,
                "REPORT_MIN_MEMBERSHIP_HOURS",
                24u32,
            )? {
                n if n > MAX_REPORT_MIN_MEMBERSHIP_HOURS => {
                    return Err(invalid(
                        "REPORT_MIN_MEMBERSHIP_HOURS",
                        "it must be at most 720 (30 days): longer would leave a term's new classes with no reports that count",
                    ))
                }
                n => n,
            },
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// The dev mailbox shows every sign-in link to whoever opens it, so it is
    /// served only in development and only while bound to a loopback address.
    pub fn serves_dev_mailbox(&self) -> bool {
        self.app_env == AppEnv::Development && self.bind_addr.ip().to_canonical().is_loopback()
    }

    /// Cookies carry `Secure` and responses HSTS only when we are served over https.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

/// Proxies trusted to set `X-Forwarded-For` when `TRUSTED_PROXIES` is unset: this
/// machine only (a proxy on the same host).
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.1,::1";

/// Parses a `TRUSTED_PROXIES` list: comma-separated CIDRs (`10.0.0.0/8`) or bare
/// addresses (`127.0.0.1`, one host). The error names the entry that is wrong.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let net = match entry.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => match entry.parse::<IpAddr>() {
                Ok(address) => IpNet::from(address.to_canonical()),
                Err(_) => {
                    return Err(format!(
                    "'{entry}' is not an address or CIDR range (write e.g. 10.0.0.0/8,127.0.0.1)"
                ))
                }
            },
        };
        nets.push(net);
    }
    if nets.is_empty() {
        return Err("list at least one proxy address or range, e.g. 127.0.0.1".into());
    }
    Ok(nets)
}

fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| invalid("BASE_URL", format!("'{raw}' is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "BASE_URL",
            format!("'{raw}' must be an http:// or https:// address"),
        ));
    }
    Ok(url)
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

/// In development a missing key is generated once and kept, owner-only, in the data folder,
/// so pseudonyms and sessions survive restarts.
fn development_secret(data_dir: &Path) -> Result<SecretKey, ConfigError> {
    let path = data_dir.join("secret_key");
    if let Ok(text) = fs::read_to_string(&path) {
        return SecretKey::from_text(&text).map_err(|_| {
            ConfigError::Io(format!(
                "{} is too short; delete it to generate a new key",
                path.display()
            ))
        });
    }
    fs::create_dir_all(data_dir)
        .map_err(|e| ConfigError::Io(format!("cannot create {}: {e}", data_dir.display())))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let text = hex::encode(bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| ConfigError::Io(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| ConfigError::Io(format!("cannot write {}: {e}", path.display())))?;
    SecretKey::from_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn database_url_accepts_paths_sqlite_and_postgres() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert!(DatabaseUrl::parse("postgres://u@localhost/db")
            .unwrap()
            .is_postgres());
        assert!(DatabaseUrl::parse("postgresql://u@localhost/db")
            .unwrap()
            .is_postgres());
    }

    #[test]
    fn database_url_refuses_unknown_schemes_by_name() {
        let err = DatabaseUrl::parse("mysql://root@localhost/x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("mysql://"),
            "{err}"
        );
    }

    #[test]
    fn production_without_a_secret_key_says_what_to_set() {
        let err = Config::from_source(&source(&[
            ("APP_ENV", "production"),
            ("BASE_URL", "https://cg.example.edu"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("SECRET_KEY"), "{err}");
        let err = Config::from_source(&source(&[
            ("APP_ENV", "production"),
            ("BASE_URL", "https://cg.example.edu"),
            ("SECRET_KEY", "short"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("at least 32"), "{err}");
    }

    #[test]
    fn development_generates_a_private_secret_once() {
        let dir = std::env::temp_dir().join(format!("cg-config-{}", uuid::Uuid::new_v4()));
        let src = source(&[("DATA_DIR", dir.to_str().unwrap())]);
        let first = Config::from_source(&src).unwrap();
        let second = Config::from_source(&src).unwrap();
        assert_eq!(first.secret_key.expose(), second.secret_key.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("secret_key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sis_settings_default_to_the_production_search_and_refuse_nonsense() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.sis_base_url.as_str(), SIS_PRODUCTION_URL);
        assert_eq!(config.sis_institution, "UVA01");
        assert_eq!(config.sis_concurrency, 2);
        let folder = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("SIS_BASE_URL", "file:///srv/sis-pages"),
        ]))
        .unwrap();
        assert_eq!(folder.sis_base_url.scheme(), "file");
        for (name, value) in [
            ("SIS_BASE_URL", "ftp://sis.example"),
            ("SIS_BASE_URL", "not a url"),
            ("SIS_CONCURRENCY", "0"),
            ("SIS_CONCURRENCY", "50"),
            ("SIS_MAX_RETRIES", "many"),
            ("SIS_BACKOFF_MS", "0"),
            ("SIS_READ_TIMEOUT_MS", "0"),
            ("SIS_INSTITUTION", "UVA 01"),
        ] {
            let err = Config::from_source(&source(&[("SECRET_KEY", &key), (name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn class_and_posting_limits_default_and_refuse_zero() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.max_sections_per_term, 10);
        assert_eq!(config.max_class_changes_per_day, 20);
        assert_eq!(config.posts_per_hour, 60);
        let set = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("MAX_SECTIONS_PER_TERM", "12"),
            ("MAX_CLASS_CHANGES_PER_DAY", "5"),
            ("POSTS_PER_HOUR", "7"),
        ]))
        .unwrap();
        assert_eq!(
            (
                set.max_sections_per_term,
                set.max_class_changes_per_day,
                set.posts_per_hour
            ),
            (12, 5, 7)
        );
        for name in [
            "MAX_SECTIONS_PER_TERM",
            "MAX_CLASS_CHANGES_PER_DAY",
            "POSTS_PER_HOUR",
        ] {
            for value in ["0", "-1", "lots"] {
                let err = Config::from_source(&source(&[("SECRET_KEY", &key), (name, value)]))
                    .unwrap_err()
                    .to_string();
                assert!(err.starts_with(name), "{name}={value}: {err}");
            }
        }
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        let err = Config::from_source(&source(&[
            ("SECRET_KEY", &"k".repeat(40)),
            ("BIND_ADDR", "nope"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("BIND_ADDR"), "{err}");
    }

    #[test]
    fn trusted_proxies_take_ranges_and_addresses_and_a_bad_one_is_named() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        let loopback: Vec<IpNet> =
            vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(config.trusted_proxies, loopback);
        let nets = parse_trusted_proxies(" 10.0.0.0/8 , 127.0.0.1, ::1, fd00::/8").unwrap();
        assert_eq!(nets.len(), 4);
        assert!(nets[0].contains(&"10.200.3.4".parse::<IpAddr>().unwrap()));
        assert!(!nets[1].contains(&"127.0.0.2".parse::<IpAddr>().unwrap()));
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8,nope", " , "] {
            let err =
                Config::from_source(&source(&[("SECRET_KEY", &key), ("TRUSTED_PROXIES", bad)]))
                    .unwrap_err()
                    .to_string();
            assert!(err.starts_with("TRUSTED_PROXIES"), "{bad}: {err}");
        }
        let err = parse_trusted_proxies("10.0.0.0/8,10.0.0.0/33").unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }

    #[test]
    fn the_dev_mailbox_is_served_only_in_development_on_loopback() {
        let key = "k".repeat(40);
        let at = |env: &str, bind: &str| {
            Config::from_source(&source(&[
                ("SECRET_KEY", &key),
                ("APP_ENV", env),
                ("BIND_ADDR", bind),
                ("BASE_URL", "https://cg.example.edu"),
            ]))
            .unwrap()
            .serves_dev_mailbox()
        };
        assert!(at("development", "127.0.0.1:8080"));
        assert!(at("development", "[::1]:8080"));
        assert!(!at("development", "0.0.0.0:8080"));
        assert!(!at("development", "[::]:8080"));
        assert!(!at("development", "192.0.2.10:8080"));
        assert!(!at("production", "127.0.0.1:8080"));
    }

    #[test]
    fn report_membership_age_defaults_to_a_day_and_refuses_more_than_a_month() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.report_min_membership_hours, 24);
        let none = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("REPORT_MIN_MEMBERSHIP_HOURS", "0"),
        ]))
        .unwrap();
        assert_eq!(none.report_min_membership_hours, 0);
        for bad in ["721", "-1", "a day"] {
            let err = Config::from_source(&source(&[
                ("SECRET_KEY", &key),
                ("REPORT_MIN_MEMBERSHIP_HOURS", bad),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.contains("REPORT_MIN_MEMBERSHIP_HOURS"), "{err}");
        }
    }
}
