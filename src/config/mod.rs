//! Every setting of the service, read once from the environment (and `.env`),
//! validated, and passed down as a `Config` made of a few sub-settings
//! (server, database, mail, sign-in, SIS, classes, chat, campus time), each
//! parsed by its own small function that names the variable that was wrong.
//! Nothing else reads the environment.

mod database;
mod limits;
mod server;
mod sis;
mod terms;

use std::collections::HashMap;

use crate::campus_time::CampusTime;

pub use database::{DatabaseSettings, DatabaseUrl};
pub use limits::{ChatSettings, ClassSettings, MailSettings, SignInLimits};
pub use server::{
    parse_trusted_proxies, AppEnv, LogFormat, SecretKey, ServerSettings, DEFAULT_TRUSTED_PROXIES,
};
pub use sis::{SisSettings, SIS_PRODUCTION_URL};
pub use terms::ConfiguredTermDates;

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

/// Validated settings for one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    /// The key behind pseudonyms, CSRF tokens and other MACs (`SECRET_KEY`).
    pub secret_key: SecretKey,
    /// A key still accepted, never used to sign (`SECRET_KEY_PREVIOUS`).
    pub secret_key_previous: Option<SecretKey>,
    pub mail: MailSettings,
    pub sign_in: SignInLimits,
    pub sis: SisSettings,
    pub classes: ClassSettings,
    pub chat: ChatSettings,
    /// The zone every shown time is written in (`CAMPUS_TIME_ZONE`).
    pub campus_time: CampusTime,
}

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

/// A variable parsed as `T`, or `default` when unset; a bad value names the variable.
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

/// `CAMPUS_TIME_ZONE`, an IANA zone name; `America/New_York` when unset.
fn campus_time_from_source(src: &dyn Source) -> Result<CampusTime, ConfigError> {
    match src.get("CAMPUS_TIME_ZONE") {
        None => Ok(CampusTime::default()),
        Some(raw) => CampusTime::parse(&raw).map_err(|problem| {
            invalid(
                "CAMPUS_TIME_ZONE",
                format!("{problem}; for example CAMPUS_TIME_ZONE=America/New_York"),
            )
        }),
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

    /// Reads every setting from `src`; the first wrong variable is the error.
    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigError> {
        let server = ServerSettings::from_source(src)?;
        let database = DatabaseSettings::from_source(src)?;
        let secret_key = SecretKey::from_source(src, &server)?;
        let secret_key_previous = SecretKey::previous_from_source(src)?;
        let sign_in = SignInLimits::from_source(src)?;
        let mail = MailSettings::from_source(src, &server)?;
        let classes = ClassSettings::from_source(src)?;
        let sis = SisSettings::from_source(src)?;
        let chat = ChatSettings::from_source(src)?;
        let campus_time = campus_time_from_source(src)?;
        Ok(Config {
            server,
            database,
            secret_key,
            secret_key_previous,
            mail,
            sign_in,
            sis,
            classes,
            chat,
            campus_time,
        })
    }

    /// The keys a CSRF token or an unsubscribe link may be signed with: the
    /// key, then `SECRET_KEY_PREVIOUS` while a rotation is under way.
    pub fn accepted_keys(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.secret_key.expose())
            .chain(self.secret_key_previous.as_ref().map(SecretKey::expose))
    }

    /// Whether `APP_ENV` is production.
    pub fn is_production(&self) -> bool {
        self.server.app_env == AppEnv::Production
    }

    /// The dev mailbox shows every sign-in link to whoever opens it, so it is
    /// served only in development, only while bound to a loopback address, and
    /// only when `BASE_URL` is this machine over http: a development server
    /// behind a proxy or tunnel with a public address serves none.
    pub fn serves_dev_mailbox(&self) -> bool {
        let base = &self.server.base_url;
        self.server.app_env == AppEnv::Development
            && self.server.bind_addr.ip().to_canonical().is_loopback()
            && base.scheme() == "http"
            && base.host_str().is_some_and(is_loopback_host)
    }

    /// Cookies carry `Secure` and responses HSTS only when we are served over https.
    pub fn is_https(&self) -> bool {
        self.server.base_url.scheme() == "https"
    }
}

/// Whether a URL's or `Host` header's host (no port) names this machine:
/// `localhost`, or a loopback address (`127.0.0.1`, `[::1]`).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;
    use std::fs;
    use std::net::IpAddr;

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
        // A Unix socket, as libpq reads it.
        assert!(
            DatabaseUrl::parse("postgres:///db?host=/var/run/postgresql&user=u")
                .unwrap()
                .is_postgres()
        );
    }

    #[test]
    fn database_url_with_a_user_and_no_host_says_how_to_name_a_socket() {
        let err = DatabaseUrl::parse("postgres://u@/db?host=/var/run/postgresql")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("postgres:///DB?host=/var/run/postgresql&user=USER"),
            "{err}"
        );
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
    fn pool_size_and_slow_read_default_and_refuse_nonsense() {
        let config = Config::from_source(&source(&[])).unwrap();
        assert_eq!(config.database.pool_max_size, 4);
        assert_eq!(
            config.database.slow_read,
            std::time::Duration::from_millis(250)
        );
        for (name, value, words) in [
            ("DATABASE_POOL_SIZE", "0", "at least 1"),
            ("DATABASE_POOL_SIZE", "401", "at most 400"),
            ("DATABASE_SLOW_READ_MS", "0", "at least 1"),
        ] {
            let err = Config::from_source(&source(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(name) && err.contains(words), "{err}");
        }
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
        let err = Config::from_source(&source(&[
            ("APP_ENV", "production"),
            ("BASE_URL", "https://cg.example.edu"),
            ("SECRET_KEY", &"k".repeat(40)),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("SMTP_URL"), "{err}");
        assert!(err.contains("no one can sign in"), "{err}");
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
        assert_eq!(config.sis.base_url.as_str(), SIS_PRODUCTION_URL);
        assert_eq!(config.sis.institution, "UVA01");
        assert_eq!(config.sis.concurrency, 2);
        let folder = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("SIS_BASE_URL", "file:///srv/sis-pages"),
        ]))
        .unwrap();
        assert_eq!(folder.sis.base_url.scheme(), "file");
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
        assert_eq!(config.classes.max_sections_per_term, 10);
        assert_eq!(config.classes.max_class_changes_per_day, 20);
        assert_eq!(config.chat.posts_per_hour, 60);
        let set = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("MAX_SECTIONS_PER_TERM", "12"),
            ("MAX_CLASS_CHANGES_PER_DAY", "5"),
            ("POSTS_PER_HOUR", "7"),
        ]))
        .unwrap();
        assert_eq!(
            (
                set.classes.max_sections_per_term,
                set.classes.max_class_changes_per_day,
                set.chat.posts_per_hour
            ),
            (12, 5, 7)
        );
        // A sign-in limit of 0 would refuse every student (and once made
        // every sign-in panic): refused at start like the rest.
        for name in [
            "MAX_SECTIONS_PER_TERM",
            "MAX_CLASS_CHANGES_PER_DAY",
            "POSTS_PER_HOUR",
            "LOGIN_EMAILS_PER_HOUR",
            "LOGIN_REQUESTS_PER_IP_10MIN",
            "LOGIN_CODE_TRIES_PER_IP_10MIN",
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
    fn the_shutdown_drain_defaults_to_none_and_refuses_more_than_two_minutes() {
        let key = "k".repeat(40);
        let drain = |value: Option<&str>| {
            let mut vars = vec![("SECRET_KEY", key.as_str())];
            vars.extend(value.map(|v| ("SHUTDOWN_DRAIN_SECS", v)));
            Config::from_source(&source(&vars)).map(|c| c.server.shutdown_drain)
        };
        assert_eq!(drain(None).unwrap(), std::time::Duration::ZERO);
        assert_eq!(drain(Some("10")).unwrap().as_secs(), 10);
        for bad in ["121", "-1", "ten"] {
            let err = drain(Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("SHUTDOWN_DRAIN_SECS"), "{bad}: {err}");
        }
    }

    #[test]
    fn trusted_proxies_take_ranges_and_addresses_and_a_bad_one_is_named() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        let loopback: Vec<IpNet> =
            vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(config.server.trusted_proxies, loopback);
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
        let at = |env: &str, bind: &str, base: &str| {
            Config::from_source(&source(&[
                ("SECRET_KEY", &key),
                ("APP_ENV", env),
                ("BIND_ADDR", bind),
                ("BASE_URL", base),
                ("SMTP_URL", "smtp://mail.example.edu:587"),
            ]))
            .unwrap()
            .serves_dev_mailbox()
        };
        let local = "http://127.0.0.1:8080";
        assert!(at("development", "127.0.0.1:8080", local));
        assert!(at("development", "[::1]:8080", "http://[::1]:8080"));
        assert!(at("development", "127.0.0.1:8080", "http://localhost:8080"));
        assert!(!at("development", "0.0.0.0:8080", local));
        assert!(!at("development", "[::]:8080", local));
        assert!(!at("development", "192.0.2.10:8080", local));
        assert!(!at("production", "127.0.0.1:8080", local));
        // Behind a proxy or tunnel on the same machine, with a public address.
        assert!(!at(
            "development",
            "127.0.0.1:8080",
            "https://cg.example.edu"
        ));
        assert!(!at(
            "development",
            "127.0.0.1:8080",
            "http://cg.example.edu"
        ));
        assert!(!at(
            "development",
            "127.0.0.1:8080",
            "https://localhost:8080"
        ));
    }

    #[test]
    fn loopback_hosts_are_this_machine_only() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "cg.example.edu",
            "localhost.evil.test",
            "10.0.0.1",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_campus_time_zone_defaults_to_new_york_and_a_bad_one_is_named() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.campus_time.zone_name(), "America/New_York");
        let west = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("CAMPUS_TIME_ZONE", "America/Los_Angeles"),
        ]))
        .unwrap();
        assert_eq!(west.campus_time.zone_name(), "America/Los_Angeles");
        for bad in ["Eastern", "America/Nowhere", "EST5EDT/x"] {
            let err =
                Config::from_source(&source(&[("SECRET_KEY", &key), ("CAMPUS_TIME_ZONE", bad)]))
                    .unwrap_err()
                    .to_string();
            assert!(
                err.starts_with("CAMPUS_TIME_ZONE")
                    && err.contains(bad)
                    && err.contains("America/New_York"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn report_membership_age_defaults_to_a_day_and_refuses_more_than_a_month() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.chat.report_min_membership_hours, 24);
        let none = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("REPORT_MIN_MEMBERSHIP_HOURS", "0"),
        ]))
        .unwrap();
        assert_eq!(none.chat.report_min_membership_hours, 0);
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

    #[test]
    fn the_anonymity_warning_defaults_to_five_posters_and_refuses_nonsense() {
        let key = "k".repeat(40);
        let config = Config::from_source(&source(&[("SECRET_KEY", &key)])).unwrap();
        assert_eq!(config.chat.anonymity_min_posters, 5);
        let never = Config::from_source(&source(&[
            ("SECRET_KEY", &key),
            ("ANONYMITY_MIN_POSTERS", "0"),
        ]))
        .unwrap();
        assert_eq!(never.chat.anonymity_min_posters, 0);
        for bad in ["1001", "-1", "five"] {
            let err = Config::from_source(&source(&[
                ("SECRET_KEY", &key),
                ("ANONYMITY_MIN_POSTERS", bad),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.contains("ANONYMITY_MIN_POSTERS"), "{err}");
        }
    }
}
