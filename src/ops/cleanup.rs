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

/// Runs every cleanup rule once, each in its own short transaction.
pub fn run(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<CleanupReport> {
    let chat_events = db::write_tx(conn, |tx| chat::events::prune(tx, now - CHAT_EVENTS_KEPT))?;
    // Requests lapse first, so the unconfirmed addresses they kept can go below.
    let lapsed_friend_requests =
        db::write_tx(conn, |c| friends::requests::delete_lapsed_requests(c, now))?;
    let (notifications, notification_digests) =
        db::write_tx(conn, |tx| inbox::prune(tx, now - inbox::KEPT_FOR))?;
    db::refresh_statistics(conn)?;
    Ok(CleanupReport {
        chat_events,
        lapsed_friend_requests,
        notifications,
        notification_digests,
        sign_in_links: db::write_tx(conn, |c| {
            signin::delete_stale_links(c, now, Duration::days(7))
        })?,
        sessions: db::write_tx(conn, |c| sessions::delete_expired(c, now))?,
        unconfirmed_accounts: db::write_tx(conn, |tx| {
            crate::accounts::delete_unconfirmed(tx, now)
        })?,
        rate_limit_hits: db::write_tx(conn, |c| rate_limit::prune(c, now - Duration::days(1)))?,
        delivered_emails: db::write_tx(conn, |c| {
            outbox::delete_sent_before(c, now - Duration::days(30))
        })?,
        failed_emails: db::write_tx(conn, |c| {
            outbox::delete_failed_before(c, now - Duration::days(30))
        })?,
    })
}
