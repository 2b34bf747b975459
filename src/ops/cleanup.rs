//! Removes what has expired: used or stale sign-in links, dead sessions, addresses
//! never confirmed, old rate-limit hits, delivered email, week-old chat events
//! (a live page away that long reloads rather than replays), email given up
//! on a month ago, and notifications and digest claims older than 90 days.

use chrono::{Duration, NaiveDateTime};

use diesel::QueryResult;

use crate::accounts::{rate_limit, sessions, signin};
use crate::chat;
use crate::db::{self, DbConn};
use crate::friends;
use crate::mail::outbox;
use crate::notifications::inbox;

/// What one cleanup removed, for the command's output and the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanupReport {
    pub sign_in_links: usize,
    pub sessions: usize,
    pub unconfirmed_accounts: usize,
    pub rate_limit_hits: usize,
    pub delivered_emails: usize,
    pub failed_emails: usize,
    pub lapsed_friend_requests: usize,
    pub notifications: usize,
    pub notification_digests: usize,
    pub chat_events: usize,
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} sign-in links, {} sessions, {} unconfirmed addresses, {} rate-limit hits, {} delivered emails, {} failed emails, {} lapsed friend requests, {} old notifications, {} old digest claims, {} week-old chat events",
            self.sign_in_links, self.sessions, self.unconfirmed_accounts, self.rate_limit_hits, self.delivered_emails, self.failed_emails, self.lapsed_friend_requests, self.notifications, self.notification_digests, self.chat_events
        )
    }
}

/// How long chat events are kept for live pages to catch up from.
pub const CHAT_EVENTS_KEPT: Duration = Duration::days(7);

/// A cleanup in which some rules failed: what the others removed, and why
/// each failed one did (a lock held too long on a busy server, say).
#[derive(Debug)]
pub struct CleanupFailed {
    pub report: CleanupReport,
    pub failures: Vec<String>,
}

impl std::fmt::Display for CleanupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; FAILED: {}", self.report, self.failures.join("; "))
    }
}

impl std::error::Error for CleanupFailed {}

/// Runs every cleanup rule once, each in its own short transaction. A rule
/// that fails does not stop the rest: one lock timeout on old chat events
/// must not keep expired sessions alive or failed mail bodies past their month.
pub fn run(conn: &mut DbConn, now: NaiveDateTime) -> Result<CleanupReport, CleanupFailed> {
    let mut failures = Vec::new();
    let mut report = CleanupReport {
        chat_events: counted(
            &mut failures,
            "week-old chat events",
            db::write_tx(conn, |tx| chat::events::prune(tx, now - CHAT_EVENTS_KEPT)),
        ),
        // Requests lapse first, so the unconfirmed addresses they kept can go below.
        lapsed_friend_requests: counted(
            &mut failures,
            "lapsed friend requests",
            db::write_tx(conn, |c| friends::requests::delete_lapsed_requests(c, now)),
        ),
        ..CleanupReport::default()
    };
    match db::write_tx(conn, |tx| inbox::prune(tx, now - inbox::KEPT_FOR)) {
        Ok((notices, digests)) => {
            report.notifications = notices;
            report.notification_digests = digests;
        }
        Err(error) => failures.push(format!("old notifications: {error}")),
    }
    if let Err(error) = db::refresh_statistics(conn) {
        failures.push(format!("planner statistics: {error}"));
    }
    report.sign_in_links = counted(
        &mut failures,
        "sign-in links",
        db::write_tx(conn, |c| {
            signin::delete_stale_links(c, now, Duration::days(7))
        }),
    );
    report.sessions = counted(
        &mut failures,
        "sessions",
        db::write_tx(conn, |c| sessions::delete_expired(c, now)),
    );
    report.unconfirmed_accounts = counted(
        &mut failures,
        "unconfirmed addresses",
        db::write_tx(conn, |tx| crate::accounts::delete_unconfirmed(tx, now)),
    );
    report.rate_limit_hits = counted(
        &mut failures,
        "rate-limit hits",
        db::write_tx(conn, |c| rate_limit::prune(c, now - Duration::days(1))),
    );
    report.delivered_emails = counted(
        &mut failures,
        "delivered emails",
        db::write_tx(conn, |c| {
            outbox::delete_sent_before(c, now - Duration::days(30))
        }),
    );
    report.failed_emails = counted(
        &mut failures,
        "failed emails",
        db::write_tx(conn, |c| {
            outbox::delete_failed_before(c, now - Duration::days(30))
        }),
    );
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(CleanupFailed { report, failures })
    }
}

/// A rule's count, or 0 with its failure noted.
fn counted(failures: &mut Vec<String>, rule: &str, result: QueryResult<usize>) -> usize {
    result.unwrap_or_else(|error| {
        failures.push(format!("{rule}: {error}"));
        0
    })
}
