//! The database settings: which database (`DATABASE_URL`) and how many
//! pooled connections, each parsed here and refused with its variable's name.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{invalid, var_parsed, ConfigError, Source};

/// Which database, and how connections to it are pooled.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL` (default `sqlite://data/common-grounds.db`).
    pub url: DatabaseUrl,
    /// `DATABASE_POOL_SIZE` (default 16 on PostgreSQL, 4 on SQLite).
    pub pool_max_size: u32,
    /// `DATABASE_POOL_TIMEOUT_MS` (default 1500).
    pub pool_timeout: Duration,
    /// `DATABASE_SLOW_READ_MS` (default 250): a busiest page's read running
    /// this long on an HTTP worker is held up, not reading, and sends reads
    /// to blocking threads for a while (`web::state::Database`).
    pub slow_read: Duration,
}

impl DatabaseSettings {
    /// Reads `DATABASE_URL`, `DATABASE_POOL_SIZE`, `DATABASE_POOL_TIMEOUT_MS`
    /// and `DATABASE_SLOW_READ_MS`.
    pub fn from_source(src: &dyn Source) -> Result<DatabaseSettings, ConfigError> {
        let url = DatabaseUrl::parse(
            &src.get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://data/common-grounds.db".into()),
        )?;
        // SQLite's reads are CPU in this process, so a few connections keep the
        // cores busy; each more connection only adds its page cache to the
        // RSS. On the bench campus 4 gave the same req/s as 8 on every page
        // within this machine's noise, half the p99 on posting (204-217 ms
        // against 418-604) and 20 to 30 MB less peak RSS (bench/README.md,
        // session 13). PostgreSQL's connections wait on the network and the
        // server, so it keeps more.
        let default_pool = if url.is_postgres() { 16 } else { 4 };
        let pool_max_size: u32 = var_parsed(src, "DATABASE_POOL_SIZE", default_pool)?;
        if pool_max_size == 0 {
            return Err(invalid("DATABASE_POOL_SIZE", "it must be at least 1"));
        }
        // The server runs an HTTP worker for each connection, and one more a
        // core, and actix allows 512 (`web::server::http_workers`).
        if pool_max_size > 400 {
            return Err(invalid(
                "DATABASE_POOL_SIZE",
                "it must be at most 400 (the server runs an HTTP worker for each connection)",
            ));
        }
        let pool_timeout_ms: u64 = var_parsed(src, "DATABASE_POOL_TIMEOUT_MS", 1500)?;
        // A page's reads take about a millisecond, tens under a full load.
        let slow_read_ms: u64 = var_parsed(src, "DATABASE_SLOW_READ_MS", 250)?;
        if slow_read_ms == 0 {
            return Err(invalid("DATABASE_SLOW_READ_MS", "it must be at least 1"));
        }
        Ok(DatabaseSettings {
            url,
            pool_max_size,
            pool_timeout: Duration::from_millis(pool_timeout_ms),
            slow_read: Duration::from_millis(slow_read_ms),
        })
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
            Url::parse(raw).map_err(|e| match e {
                // libpq reads `postgres://USER@/DB?host=/socket/dir`, but a URL
                // with a user must name a host; libpq's other spelling of a
                // Unix socket is one: say it.
                url::ParseError::EmptyHost => invalid(
                    "DATABASE_URL",
                    "not a valid PostgreSQL URL (a user but no host); for a Unix socket \
                     write postgres:///DB?host=/var/run/postgresql&user=USER",
                ),
                e => invalid("DATABASE_URL", format!("not a valid PostgreSQL URL ({e})")),
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

    /// Whether this is a PostgreSQL server (not a SQLite file).
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
