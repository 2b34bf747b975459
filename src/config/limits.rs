//! The sign-in, mail, class and chat settings: who may sign in and how often,
//! where mail goes, which term pages show, and the joining, posting and
//! reporting limits. Each variable is parsed and refused by name here.

use std::path::PathBuf;

use super::{invalid, var_at_least_one, var_parsed, ConfigError, ServerSettings, Source};

/// The longest `REPORT_MIN_MEMBERSHIP_HOURS` accepted: 30 days.
const MAX_REPORT_MIN_MEMBERSHIP_HOURS: u32 = 720;

/// Who may sign in, and how often.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    /// `ALLOWED_EMAIL_DOMAINS` (default `virginia.edu`), lower-case.
    pub allowed_email_domains: Vec<String>,
    /// `LOGIN_EMAILS_PER_HOUR` (default 5).
    pub emails_per_hour: u32,
    /// `LOGIN_REQUESTS_PER_IP_10MIN` (default 30).
    pub requests_per_ip: u32,
    /// Sign-in code tries per client per 10 minutes (each code also has 5 tries).
    pub code_tries_per_ip: u32,
}

impl SignInLimits {
    /// Reads `ALLOWED_EMAIL_DOMAINS` and the `LOGIN_*` limits.
    pub fn from_source(src: &dyn Source) -> Result<SignInLimits, ConfigError> {
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
        Ok(SignInLimits {
            allowed_email_domains,
            // 0 would refuse every sign-in, not lift the limit.
            emails_per_hour: var_at_least_one(src, "LOGIN_EMAILS_PER_HOUR", 5)?,
            requests_per_ip: var_at_least_one(src, "LOGIN_REQUESTS_PER_IP_10MIN", 30)?,
            code_tries_per_ip: var_at_least_one(src, "LOGIN_CODE_TRIES_PER_IP_10MIN", 30)?,
        })
    }
}

/// Where email goes.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `SMTP_URL`; None writes each message to `dir` instead.
    pub smtp_url: Option<String>,
    /// `MAIL_FROM` (default `Common Grounds <no-reply@BASE_URL's host>`).
    pub from: String,
    /// `MAIL_DIR` (default `DATA_DIR/mail`).
    pub dir: PathBuf,
    /// `NOTIFICATION_EMAIL_INTERVAL_SECS` (default 15): how often each app
    /// process looks for notification emails and digests that are due.
    pub notification_interval_secs: u32,
}

impl MailSettings {
    /// Reads `SMTP_URL`, `MAIL_FROM`, `MAIL_DIR` and `NOTIFICATION_EMAIL_INTERVAL_SECS`.
    pub fn from_source(
        src: &dyn Source,
        server: &ServerSettings,
    ) -> Result<MailSettings, ConfigError> {
        let smtp_url = src.get("SMTP_URL");
        if let Some(raw) = &smtp_url {
            let url = url::Url::parse(raw)
                .map_err(|e| invalid("SMTP_URL", format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "smtp" | "smtps") {
                return Err(invalid(
                    "SMTP_URL",
                    "use smtp://user:pass@host:587 (STARTTLS) or smtps://... (TLS)",
                ));
            }
        }
        // Without a server, mail is written to `MAIL_DIR`: fine for a
        // developer (the dev mailbox reads it), but in production no one
        // reads those files, so no student could ever sign in.
        if smtp_url.is_none() && server.app_env == super::AppEnv::Production {
            return Err(invalid(
                "SMTP_URL",
                "must be set in production (smtp://user:pass@host:587): without it, sign-in email is only written to files and no one can sign in",
            ));
        }
        let from = src.get("MAIL_FROM").unwrap_or_else(|| {
            format!(
                "Common Grounds <no-reply@{}>",
                server.base_url.host_str().unwrap_or("localhost")
            )
        });
        let dir = src
            .get("MAIL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| server.data_dir.join("mail"));
        Ok(MailSettings {
            smtp_url,
            from,
            dir,
            notification_interval_secs: var_at_least_one(
                src,
                "NOTIFICATION_EMAIL_INTERVAL_SECS",
                15,
            )?,
        })
    }
}

/// Which term pages show, and how many sections a student may join.
#[derive(Debug, Clone)]
pub struct ClassSettings {
    /// The term pages show by default (`1262` = Spring 2026); None means the newest in the catalog.
    pub current_term: Option<String>,
    /// At most this many sections one student may join in a term (`MAX_SECTIONS_PER_TERM`).
    pub max_sections_per_term: u32,
    /// At most this many joins plus leaves per student in 24 hours (`MAX_CLASS_CHANGES_PER_DAY`).
    pub max_class_changes_per_day: u32,
    /// Terms' first and last days of classes (`TERMS`), for terms SIS gives no dates for.
    pub terms: Vec<super::ConfiguredTermDates>,
    /// Days without classes inside terms (`TERM_BREAKS`): breaks, reading days.
    pub breaks: Vec<super::ConfiguredTermDates>,
}

impl ClassSettings {
    /// Reads `CURRENT_TERM`, `MAX_SECTIONS_PER_TERM` and `MAX_CLASS_CHANGES_PER_DAY`.
    pub fn from_source(src: &dyn Source) -> Result<ClassSettings, ConfigError> {
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
        Ok(ClassSettings {
            current_term,
            max_sections_per_term: var_at_least_one(src, "MAX_SECTIONS_PER_TERM", 10)?,
            max_class_changes_per_day: var_at_least_one(src, "MAX_CLASS_CHANGES_PER_DAY", 20)?,
            terms: super::terms::from_source(src)?,
            breaks: super::terms::breaks_from_source(src)?,
        })
    }
}

/// The chat's posting and reporting limits.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// At most this many chat posts per student per hour across all classes (`POSTS_PER_HOUR`).
    pub posts_per_hour: u32,
    /// Distinct students whose reports hide a chat message until a moderator looks.
    pub flag_hide_threshold: u32,
    /// A report counts toward hiding only from a student who joined the class at
    /// least this many hours before (0 to 720; newer members' reports still reach moderators).
    pub report_min_membership_hours: u32,
    /// Below this many distinct recent posters in a class (14 days, the student
    /// counted), its compose box warns that classmates may guess who is writing
    /// (`ANONYMITY_MIN_POSTERS`, 0 to 1000; 0 never warns).
    pub anonymity_min_posters: u32,
}

impl ChatSettings {
    /// Reads `FLAG_HIDE_THRESHOLD`, `POSTS_PER_HOUR`, `REPORT_MIN_MEMBERSHIP_HOURS`
    /// and `ANONYMITY_MIN_POSTERS`.
    pub fn from_source(src: &dyn Source) -> Result<ChatSettings, ConfigError> {
        let flag_hide_threshold = match var_parsed(src, "FLAG_HIDE_THRESHOLD", 3u32)? {
            0 => {
                return Err(invalid(
                    "FLAG_HIDE_THRESHOLD",
                    "it must be at least 1 (distinct reports that hide a message)",
                ))
            }
            n => n,
        };
        let posts_per_hour = var_at_least_one(src, "POSTS_PER_HOUR", 60)?;
        let report_min_membership_hours =
            match var_parsed(src, "REPORT_MIN_MEMBERSHIP_HOURS", 24u32)? {
                n if n > MAX_REPORT_MIN_MEMBERSHIP_HOURS => {
                    return Err(invalid(
                        "REPORT_MIN_MEMBERSHIP_HOURS",
                        "it must be at most 720 (30 days): longer would leave a term's new classes with no reports that count",
                    ))
                }
                n => n,
            };
        let anonymity_min_posters = match var_parsed(
            src,
            "ANONYMITY_MIN_POSTERS",
            crate::chat::anonymity::DEFAULT_MIN_POSTERS,
        )? {
            n if n > 1000 => {
                return Err(invalid(
                    "ANONYMITY_MIN_POSTERS",
                    "it must be at most 1000 (recent posters below which the compose box warns; 0 never warns)",
                ))
            }
            n => n,
        };
        Ok(ChatSettings {
            posts_per_hour,
            flag_hide_threshold,
            report_min_membership_hours,
            anonymity_min_posters,
        })
    }
}
