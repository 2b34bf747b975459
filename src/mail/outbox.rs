//! The email outbox: messages are queued in the same transaction as whatever
//! caused them, and leave it only when a server has accepted them.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::OutgoingEmail;
use crate::db::schema::email_outbox;
use crate::db::{DbConn, Tx};

crate::define_id!(OutboxId);

crate::text_enum!(
    /// Where a queued email stands.
    OutboxStatus {
        Queued => "queued",
        Sent => "sent",
        Failed => "failed",
    }
);

/// A message still undelivered this long after it was queued is marked failed
/// and left for an operator. By age, not by tries: with the backoff capped at
/// an hour, twenty tries came to about ten hours, so a relay down for a day
/// lost everything queued in its first half.
pub const GIVE_UP_AFTER: Duration = Duration::hours(48);
/// How long a worker owns a claimed message before another may take it.
pub const LEASE: Duration = Duration::seconds(120);

/// The claimed message's row while `message`'s lease is the one on it (a
/// claim always sets one): a worker that stalled past its lease, so another
/// took the message over, must not record an outcome over the newer one's,
/// nor put a sent message back in the queue.
macro_rules! while_leased {
    ($message:expr) => {
        email_outbox::table
            .filter(email_outbox::id.eq(&$message.id))
            .filter(email_outbox::status.eq(OutboxStatus::Queued.as_str()))
            .filter(email_outbox::locked_until.eq($message.locked_until))
    };
}

/// A row of `email_outbox`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxMessage {
    pub id: OutboxId,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    #[diesel(deserialize_as = String)]
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub list_unsubscribe: Option<String>,
}

impl OutboxMessage {
    /// A sign-in email whose link expired before a server took it: sent
    /// now, it would only say "expired" (the student has asked again by
    /// then). Sign-in mail is the mail with no unsubscribe link.
    pub fn is_stale_sign_in(&self, now: NaiveDateTime) -> bool {
        self.list_unsubscribe.is_none()
            && self.created_at + crate::accounts::signin::LINK_LIFETIME <= now
    }

    pub fn email(&self) -> OutgoingEmail {
        OutgoingEmail {
            to: self.to_address.clone(),
            subject: self.subject.clone(),
            text: self.body_text.clone(),
            html: self.body_html.clone(),
            unsubscribe: self.list_unsubscribe.clone(),
            outbox_id: Some(self.id.to_string()),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = email_outbox)]
pub struct NewOutboxMessage<'a> {
    pub id: &'a OutboxId,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub list_unsubscribe: Option<&'a str>,
    pub notification_id: Option<&'a str>,
}

/// Queues an email, in the transaction that makes the email true (it is sent
/// only if that transaction commits).
pub fn enqueue(
    tx: &mut Tx<'_>,
    email: &OutgoingEmail,
    now: NaiveDateTime,
) -> QueryResult<OutboxId> {
    insert(tx, email, None, now)
}

/// Queues the email of one notification: deleting the notification (withdrawn,
/// erased) deletes the email too while it waits (`ON DELETE CASCADE`).
pub fn enqueue_for_notification(
    tx: &mut Tx<'_>,
    email: &OutgoingEmail,
    notification_id: &str,
    now: NaiveDateTime,
) -> QueryResult<OutboxId> {
    insert(tx, email, Some(notification_id), now)
}

fn insert(
    tx: &mut Tx<'_>,
    email: &OutgoingEmail,
    notification_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<OutboxId> {
    let conn: &mut DbConn = tx;
    let id = OutboxId::new();
    diesel::insert_into(email_outbox::table)
        .values(NewOutboxMessage {
            id: &id,
            to_address: &email.to,
            subject: &email.subject,
            body_text: &email.text,
            body_html: &email.html,
            status: OutboxStatus::Queued.as_str(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            list_unsubscribe: email.unsubscribe.as_deref(),
            notification_id,
        })
        .execute(conn)?;
    Ok(id)
}

/// Claims the next due message for this worker: sign-in mail first (its link
/// lasts 15 minutes, and a digest rush at the digest hour must not hold it
/// back), then the rest in the order they fell due. The claim is a
/// compare-and-set on `locked_until`, so several workers in several processes
/// never send one message twice at once; a crashed worker's lease simply runs out.
pub fn claim_next(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Option<OutboxMessage>> {
    // Sign-in mail is the mail with no unsubscribe link: the condition of
    // the partial index `idx_email_outbox_sign_in_due`.
    let urgent: Vec<OutboxId> = due(now)
        .filter(email_outbox::list_unsubscribe.is_null())
        .order(email_outbox::next_attempt_at.asc())
        .select(email_outbox::id)
        .limit(5)
        .load(conn)?;
    if let Some(claimed) = claim_first(conn, urgent, now)? {
        return Ok(Some(claimed));
    }
    let candidates: Vec<OutboxId> = due(now)
        .order((
            email_outbox::next_attempt_at.asc(),
            email_outbox::created_at.asc(),
        ))
        .select(email_outbox::id)
        .limit(5)
        .load(conn)?;
    claim_first(conn, candidates, now)
}

/// Queued mail due at `now` whose lease (if any) has run out.
fn due(now: NaiveDateTime) -> email_outbox::BoxedQuery<'static, crate::db::MultiBackend> {
    email_outbox::table
        .filter(email_outbox::status.eq(OutboxStatus::Queued.as_str()))
        .filter(email_outbox::next_attempt_at.le(now))
        .filter(
            email_outbox::locked_until
                .is_null()
                .or(email_outbox::locked_until.lt(now)),
        )
        .into_boxed()
}

/// Claims the first of `candidates` that no other worker claimed meanwhile.
fn claim_first(
    conn: &mut DbConn,
    candidates: Vec<OutboxId>,
    now: NaiveDateTime,
) -> QueryResult<Option<OutboxMessage>> {
    for id in candidates {
        let claimed = diesel::update(
            email_outbox::table
                .filter(email_outbox::id.eq(&id))
                .filter(email_outbox::status.eq(OutboxStatus::Queued.as_str()))
                .filter(
                    email_outbox::locked_until
                        .is_null()
                        .or(email_outbox::locked_until.lt(now)),
                ),
        )
        .set((
            email_outbox::locked_until.eq(now + LEASE),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
        ))
        .execute(conn)?;
        if claimed == 1 {
            return email_outbox::table
                .find(&id)
                .select(OutboxMessage::as_select())
                .first(conn)
                .optional();
        }
    }
    Ok(None)
}

/// Records delivery, if `message`'s lease still holds (1) or not (0). The
/// bodies are blanked: a delivered sign-in email's link and code have no
/// business staying in the database.
pub fn mark_sent(
    conn: &mut DbConn,
    message: &OutboxMessage,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(while_leased!(message))
        .set((
            email_outbox::status.eq(OutboxStatus::Sent.as_str()),
            email_outbox::sent_at.eq(Some(now)),
            email_outbox::locked_until.eq(None::<NaiveDateTime>),
            email_outbox::body_text.eq(""),
            email_outbox::body_html.eq(""),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// Exponential backoff: 5 s, 10 s, 20 s ... capped at one hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    Duration::seconds((5i64 << exp.min(10)).min(3600))
}

/// Records a failed try (if `message`'s lease still holds) and schedules the next, or gives up: after
/// `GIVE_UP_AFTER`, or at once when the try can never succeed (`for_good`: the
/// server refused the address for good, or a sign-in link expired unsent).
pub fn mark_failed_try(
    conn: &mut DbConn,
    message: &OutboxMessage,
    error: &str,
    for_good: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let give_up = for_good || message.created_at + GIVE_UP_AFTER <= now;
    let status = if give_up {
        OutboxStatus::Failed
    } else {
        OutboxStatus::Queued
    };
    let error: String = error.chars().take(500).collect();
    diesel::update(while_leased!(message))
        .set((
            email_outbox::status.eq(status.as_str()),
            email_outbox::next_attempt_at.eq(now + backoff(message.attempts)),
            email_outbox::locked_until.eq(None::<NaiveDateTime>),
            email_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
}

/// How many messages wait and how many have failed for good.
pub fn counts(conn: &mut DbConn) -> QueryResult<(i64, i64)> {
    let queued = email_outbox::table
        .filter(email_outbox::status.eq(OutboxStatus::Queued.as_str()))
        .count()
        .get_result(conn)?;
    let failed = email_outbox::table
        .filter(email_outbox::status.eq(OutboxStatus::Failed.as_str()))
        .count()
        .get_result(conn)?;
    Ok((queued, failed))
}

/// Sets aside every queued message as failed, with `why` (after a restore
/// from a snapshot: what was queued then has mostly been sent since, and a
/// sign-in code or a day-old digest sent again would only confuse).
pub fn set_aside_queued(conn: &mut DbConn, why: &str) -> QueryResult<usize> {
    diesel::update(
        email_outbox::table.filter(email_outbox::status.eq(OutboxStatus::Queued.as_str())),
    )
    .set((
        email_outbox::status.eq(OutboxStatus::Failed.as_str()),
        email_outbox::locked_until.eq(None::<NaiveDateTime>),
        email_outbox::last_error.eq(Some(why)),
    ))
    .execute(conn)
}

/// Removes delivered messages sent before `before` (cleanup).
pub fn delete_sent_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    // The status as literal SQL, the very condition of the partial index
    // `idx_email_outbox_sent`: SQLite (built with the planner stability
    // guarantee, `.cargo/config.toml`) does not look at a bound value to
    // see that an index's condition holds.
    let sent = format!("email_outbox.status = '{}'", OutboxStatus::Sent.as_str());
    diesel::delete(
        email_outbox::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&sent))
            .filter(email_outbox::sent_at.lt(before)),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(5));
        assert_eq!(backoff(2), Duration::seconds(10));
        assert_eq!(backoff(4), Duration::seconds(40));
        assert_eq!(backoff(19), Duration::seconds(3600));
    }
}

/// Removes mail given up on (failed for good) that was queued before
/// `before` (cleanup). Its body may quote a chat message its author has since
/// deleted, or hold a sign-in link: the operator has had the time to look.
pub fn delete_failed_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::status.eq(OutboxStatus::Failed.as_str()))
            .filter(email_outbox::created_at.lt(before)),
    )
    .execute(conn)
}

/// One email to a student, for their data export: to where, what and when;
/// never the body, where a sign-in email's link would still work.
#[derive(Debug, Serialize)]
pub struct MailEntry {
    pub to: String,
    pub subject: String,
    /// "queued", "sent" or "failed".
    pub status: String,
    pub queued_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// The mail kept for a student, oldest first: to their address, or to their
/// computing ID at another allowed domain (sign-in can be asked for at either).
pub fn of_student(
    conn: &mut DbConn,
    email: &str,
    computing_id: &str,
) -> QueryResult<Vec<MailEntry>> {
    let rows: Vec<(String, String, String, NaiveDateTime, Option<NaiveDateTime>)> =
        email_outbox::table
            .filter(addressed_to(email, computing_id))
            .order(email_outbox::created_at)
            .select((
                email_outbox::to_address,
                email_outbox::subject,
                email_outbox::status,
                email_outbox::created_at,
                email_outbox::sent_at,
            ))
            .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(to, subject, status, queued_at, sent_at)| MailEntry {
            to,
            subject,
            status,
            queued_at,
            sent_at,
        })
        .collect())
}

/// Deletes the mail not delivered yet among `ids`, and the emails of the
/// notifications `notification_ids`: their text quotes a chat message that is
/// gone, and must not reach an inbox after it (a relay outage can hold mail
/// for two days). That is mail queued and not being sent right now, and mail
/// given up on (kept a month for the operator). Mail a worker holds (leased,
/// in the hands of the relay) goes out anyway, and is left to it; delivered
/// mail keeps no body (`mark_sent`). Returns each withdrawn id, and whether
/// it was still queued (not given up on).
pub fn withdraw_unsent(
    tx: &mut Tx,
    ids: &[String],
    notification_ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, bool)>> {
    let conn: &mut DbConn = tx;
    let withdrawable = || {
        email_outbox::status
            .eq(OutboxStatus::Failed.as_str())
            .or(email_outbox::status.eq(OutboxStatus::Queued.as_str()).and(
                email_outbox::locked_until
                    .is_null()
                    .or(email_outbox::locked_until.lt(now)),
            ))
    };
    let queued = || email_outbox::status.eq(OutboxStatus::Queued.as_str());
    let mut withdrawn = Vec::new();
    for chunk in ids.chunks(WITHDRAW_CHUNK) {
        withdrawn.extend(crate::on_each_backend!(conn, |c| diesel::delete(
            email_outbox::table
                .filter(withdrawable())
                .filter(email_outbox::id.eq_any(chunk)),
        )
        .returning((email_outbox::id, queued()))
        .get_results::<(String, bool)>(c))?);
    }
    for chunk in notification_ids.chunks(WITHDRAW_CHUNK) {
        withdrawn.extend(crate::on_each_backend!(conn, |c| diesel::delete(
            email_outbox::table
                .filter(withdrawable())
                .filter(email_outbox::notification_id.eq_any(chunk)),
        )
        .returning((email_outbox::id, queued()))
        .get_results::<(String, bool)>(c))?);
    }
    Ok(withdrawn)
}

/// Ids bound to one statement of `withdraw_unsent`, well under SQLite's limit.
const WITHDRAW_CHUNK: usize = 500;

/// Deletes the mail kept for a student, as [`of_student`] finds it (erasure).
pub fn forget_student(tx: &mut Tx, email: &str, computing_id: &str) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::delete(email_outbox::table.filter(addressed_to(email, computing_id))).execute(conn)
}

/// Mail to `email`, or to `computing_id` at any domain. (Computing IDs are
/// letters and digits: nothing in one is a `LIKE` pattern.)
fn addressed_to(
    email: &str,
    computing_id: &str,
) -> diesel::dsl::Or<
    diesel::dsl::Eq<email_outbox::to_address, String>,
    diesel::dsl::Like<email_outbox::to_address, String>,
> {
    email_outbox::to_address
        .eq(email.to_string())
        .or(email_outbox::to_address.like(format!("{computing_id}@%")))
}
