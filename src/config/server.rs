//! The server's own settings (environment, address, public URL, logs, data
//! folder, proxies, metrics) and the secret key. Each variable is parsed and
//! refused by name here; in development a missing key is generated once.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use rand::RngCore;
use url::Url;

use super::{invalid, var_parsed, ConfigError, Source};

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

/// Where and how the process serves.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub app_env: AppEnv,
    pub data_dir: PathBuf,
    pub bind_addr: SocketAddr,
    pub base_url: Url,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub trusted_proxy: bool,
    /// The proxies whose `X-Forwarded-For` counts (with `trusted_proxy`): the socket
    /// peer must be one of them, and the client is the rightmost hop that is not.
    pub trusted_proxies: Vec<IpNet>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// After SIGTERM, how long `/readyz` answers 503 while pages are still
    /// served, before the server stops taking requests: a load balancer's
    /// health checks see the server leave before its connections are
    /// refused (`SHUTDOWN_DRAIN_SECS`, 0 to 120; 0 stops at once).
    pub shutdown_drain: std::time::Duration,
}

impl ServerSettings {
    /// Reads `APP_ENV`, `DATA_DIR`, `BIND_ADDR`, `BASE_URL`, `LOG_FORMAT`,
    /// `RUST_LOG`, `TRUSTED_PROXY`, `TRUSTED_PROXIES`, `METRICS_TOKEN` and
    /// `SHUTDOWN_DRAIN_SECS`.
    pub fn from_source(src: &dyn Source) -> Result<ServerSettings, ConfigError> {
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
        let bind_addr: SocketAddr =
            var_parsed(src, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
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
        // A filter that does not parse would be dropped for "info" without a
        // word: an operator turning on debug in an incident would never know.
        let log_filter = src
            .get("RUST_LOG")
            .unwrap_or_else(|| "info,common_grounds=info".into());
        if let Err(problem) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(invalid(
                "RUST_LOG",
                format!("'{log_filter}' ({problem}); use a level such as info or debug, or directives such as info,common_grounds=debug"),
            ));
        }
        Ok(ServerSettings {
            app_env,
            data_dir,
            bind_addr,
            base_url,
            log_filter,
            log_format,
            trusted_proxy: var_parsed(src, "TRUSTED_PROXY", false)?,
            trusted_proxies: parse_trusted_proxies(
                &src.get("TRUSTED_PROXIES")
                    .unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.to_string()),
            )
            .map_err(|problem| invalid("TRUSTED_PROXIES", problem))?,
            metrics_token: src.get("METRICS_TOKEN").map(|t| t.trim().to_string()),
            shutdown_drain: match var_parsed(src, "SHUTDOWN_DRAIN_SECS", 0u64)? {
                secs @ 0..=120 => std::time::Duration::from_secs(secs),
                other => {
                    return Err(invalid(
                        "SHUTDOWN_DRAIN_SECS",
                        format!("{other} seconds; use 0 to 120 (10 is plenty behind a load balancer that checks /readyz every few seconds)"),
                    ))
                }
            },
        })
    }
}

/// The key behind pseudonyms, CSRF tokens and other MACs. Never printed.
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    /// The shortest key accepted, in characters.
    pub const MIN_LEN: usize = 32;

    /// A key from its text; refused (naming `SECRET_KEY`) when shorter than `MIN_LEN`.
    pub fn from_text(text: &str) -> Result<SecretKey, ConfigError> {
        Self::named("SECRET_KEY", text)
    }

    /// A key from the text of the setting `name`, refused (naming it) when
    /// shorter than `MIN_LEN`.
    fn named(name: &'static str, text: &str) -> Result<SecretKey, ConfigError> {
        let text = text.trim();
        if text.len() < Self::MIN_LEN {
            return Err(invalid(
                name,
                format!(
                    "it must be at least {} characters; generate one with `openssl rand -hex 32`",
                    Self::MIN_LEN
                ),
            ));
        }
        Ok(SecretKey(text.as_bytes().to_vec()))
    }

    /// The key's bytes, for MACs only: never print them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl SecretKey {
    /// `SECRET_KEY`; required in production, generated once and kept in development.
    pub fn from_source(
        src: &dyn Source,
        server: &ServerSettings,
    ) -> Result<SecretKey, ConfigError> {
        match (src.get("SECRET_KEY"), server.app_env) {
            (Some(raw), _) => SecretKey::from_text(&raw),
            (None, AppEnv::Production) => Err(invalid(
                "SECRET_KEY",
                "it must be set in production: at least 32 characters, e.g. from `openssl rand -hex 32`",
            )),
            (None, AppEnv::Development) => development_secret(&server.data_dir),
        }
    }

    /// `SECRET_KEY_PREVIOUS`: a key whose CSRF tokens and unsubscribe links
    /// are still accepted, never used to sign anything, so the key can be
    /// rotated without refusing open forms or the links in sent email (README,
    /// "Rotating SECRET_KEY").
    pub fn previous_from_source(src: &dyn Source) -> Result<Option<SecretKey>, ConfigError> {
        src.get("SECRET_KEY_PREVIOUS")
            .filter(|raw| !raw.trim().is_empty())
            .map(|raw| SecretKey::named("SECRET_KEY_PREVIOUS", &raw))
            .transpose()
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
