//! Email for notifications: each notification whose delivery is "immediate" is
//! emailed on its own, and those for the digest are gathered into one email a
//! day at the student's hour. Both are claimed in the database in the
//! transaction that queues the email in `mail`'s outbox (`emailed_at` for one
//! notification, a `notification_digests` row per student and campus date for
//! a digest), so two app processes, or a restart between claiming and sending,
//! neither drop nor double one: before the commit nothing happened, after it
//! the outbox delivers.
//!
//! Every email carries a signed one-click unsubscribe link (RFC 8058) for the
//! topics it is about. Nothing here names the author of a chat message: the
//! emails say what the inbox says (`NotificationView::headline`, pseudonyms
//! only), and the logs hold counts.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;
use url::Url;

use super::settings::{self, DigestHour};
use super::view::{self, NotificationView};
use super::{Delivery, NotificationId, Topic};
use crate::accounts::UserId;
use crate::campus_time::CampusTime;
use crate::chat::MessageId;
use crate::config::{Config, SecretKey};
use crate::db::schema::{notification_digests, notification_schedules, notifications, users};
use crate::db::{self, DbConn, Pool, Tx};
use crate::mail::messages::{self, NotificationFooter, NotificationItem};
use crate::mail::worker::OutboxSignal;
use crate::mail::{outbox, MailError};

/// The MAC label of unsubscribe links, so their signatures are never those of
/// anything else keyed by the same secret (pseudonyms, CSRF tokens).
const UNSUBSCRIBE_LABEL: &[u8] = b"unsubscribe v1";

/// At most this many immediate emails are queued per run (the next run takes the rest).
const IMMEDIATE_BATCH: i64 = 200;

crate::define_id!(
    /// One claimed digest window (a row of `notification_digests`).
    DigestId
);

/// What building a notification email can fail on.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl From<askama::Error> for EmailError {
    fn from(e: askama::Error) -> Self {
        EmailError::Mail(MailError::Render(e))
    }
}

/// What notification emails need to know: where links point, the key that
/// signs unsubscribe links, and the campus time zone (digest hours, times shown).
#[derive(Debug, Clone)]
pub struct NotificationMail {
    pub base_url: Url,
    pub secret: SecretKey,
    pub campus: CampusTime,
}

impl NotificationMail {
    pub fn from_config(config: &Config) -> NotificationMail {
        NotificationMail {
            base_url: config.server.base_url.clone(),
            secret: config.secret_key.clone(),
            campus: config.campus_time,
        }
    }

    fn link(&self, path: &str) -> String {
        self.base_url
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{path}", self.base_url.as_str().trim_end_matches('/')))
    }

    /// The student's one-click unsubscribe URL for these topics.
    pub fn unsubscribe_url(&self, user: &UserId, topics: &[Topic]) -> String {
        self.link(&unsubscribe_path(self.secret.expose(), user, topics))
    }
}

// ---------------------------------------------------------------------------
// One-click unsubscribe links

/// An unsubscribe link that does not parse (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsubscribeError {
    #[error("This unsubscribe link is not complete. Copy the whole link from the email, or change your choices on the settings page.")]
    Malformed,
    /// A tampered signature, another student's id, an unknown topic (404:
    /// nothing says which).
    #[error("not found")]
    NotFound,
}

/// A verified unsubscribe link: who, and what to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub user: UserId,
    pub topics: Vec<Topic>,
}

/// The topics as one path segment, in `Topic::ALL` order without repeats:
/// `replies+friends`. A digest spans topics; its link stops exactly the topics
/// it listed (what the student saw in it), not every digest, and says so.
pub fn topics_segment(topics: &[Topic]) -> String {
    Topic::ALL
        .iter()
        .filter(|t| topics.contains(t))
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

fn signature(secret: &[u8], user: &UserId, segment: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(UNSUBSCRIBE_LABEL);
    mac.update(b"\0");
    mac.update(user.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(segment.as_bytes());
    mac.finalize().into_bytes().into()
}

/// `/notifications/unsubscribe/{user_id}/{topics}/{sig}`, the signature an
/// HMAC-SHA256 of the user and topics under the app's secret key, in hex.
pub fn unsubscribe_path(secret: &[u8], user: &UserId, topics: &[Topic]) -> String {
    let segment = topics_segment(topics);
    format!(
        "/notifications/unsubscribe/{user}/{segment}/{}",
        hex::encode(signature(secret, user, &segment))
    )
}

/// Checks a link's three segments. The signature is compared in constant time.
pub fn verify_unsubscribe(
    secret: &[u8],
    user: &str,
    topics: &str,
    sig: &str,
) -> Result<Unsubscribe, UnsubscribeError> {
    use subtle::ConstantTimeEq;
    let user = UserId::parse(user).ok_or(UnsubscribeError::Malformed)?;
    let given = hex::decode(sig).map_err(|_| UnsubscribeError::Malformed)?;
    if given.len() != 32 || topics.is_empty() || topics.len() > 100 {
        return Err(UnsubscribeError::Malformed);
    }
    let mut parsed = Vec::new();
    for word in topics.split('+') {
        let topic: Topic = word.parse().map_err(|_| UnsubscribeError::NotFound)?;
        parsed.push(topic);
    }
    // Only the spelling we sign is ours: a reordered or repeated list is not.
    if topics_segment(&parsed) != topics {
        return Err(UnsubscribeError::NotFound);
    }
    let expected = signature(secret, &user, topics);
    if !bool::from(expected.ct_eq(given.as_slice())) {
        return Err(UnsubscribeError::NotFound);
    }
    Ok(Unsubscribe {
        user,
        topics: parsed,
    })
}

/// Turns the link's topics off for its student. False when the student no
/// longer exists (the link then answers 404).
pub fn apply_unsubscribe(
    conn: &mut DbConn,
    link: &Unsubscribe,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let exists: bool =
        diesel::select(diesel::dsl::exists(users::table.find(&link.user))).get_result(conn)?;
    if !exists {
        return Ok(false);
    }
    settings::turn_off(conn, &link.user, &link.topics, now)?;
    Ok(true)
}

/// "replies and friend requests": what an unsubscribe link stops, in words.
pub fn topics_in_words(topics: &[Topic]) -> String {
    let words: Vec<&str> = Topic::ALL
        .iter()
        .filter(|t| topics.contains(t))
        .map(|t| match t {
            Topic::Replies => "replies",
            Topic::Answers => "answers",
            Topic::Friends => "friend requests",
            Topic::Moderation => "moderators' decisions",
        })
        .collect();
    match words.as_slice() {
        [] => "these notifications".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

// ---------------------------------------------------------------------------
// The worker's steps

/// What one run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    pub immediate: usize,
    pub digests: usize,
}

impl Queued {
    pub fn total(&self) -> usize {
        self.immediate + self.digests
    }
}

/// One pass: notifications already read are no longer waiting, then the
/// immediate emails, then the digests that are due.
pub fn run_once(
    conn: &mut DbConn,
    mail: &NotificationMail,
    now: NaiveDateTime,
) -> Result<Queued, EmailError> {
    settle_read(conn, now)?;
    Ok(Queued {
        immediate: send_immediate(conn, mail, now)?,
        digests: send_digests(conn, mail, now)?,
    })
}

/// Marks notifications read in the app before any email went out as no longer
/// waiting (stamped, never emailed): a read one is not news.
pub fn settle_read(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::emailed_at.is_null())
            .filter(notifications::digest_id.is_null())
            .filter(notifications::delivery.ne(Delivery::Off.as_str()))
            .filter(notifications::read_at.is_not_null())
            .filter(notifications::created_at.le(now)),
    )
    .set(notifications::emailed_at.eq(now))
    .execute(conn)
}

/// Queues one email per unread notification due "immediately", each claimed in
/// its own transaction with the email it queues. Returns how many were queued.
pub fn send_immediate(
    conn: &mut DbConn,
    mail: &NotificationMail,
    now: NaiveDateTime,
) -> Result<usize, EmailError> {
    let due: Vec<(NotificationId, UserId)> = notifications::table
        .filter(notifications::delivery.eq(Delivery::Immediate.as_str()))
        .filter(notifications::emailed_at.is_null())
        .filter(notifications::read_at.is_null())
        .filter(notifications::created_at.le(now))
        .order((notifications::created_at.asc(), notifications::id.asc()))
        .select((notifications::id, notifications::user_id))
        .limit(IMMEDIATE_BATCH)
        .load(conn)?;
    let mut queued = 0;
    for (id, user) in due {
        match db::write_tx(conn, |tx| email_one(tx, mail, &id, &user, now)) {
            Ok(true) => queued += 1,
            Ok(false) => {}
            // A message that cannot be rendered stays unclaimed (and is tried
            // again); the others still go.
            Err(EmailError::Mail(error)) => {
                tracing::warn!(%error, "a notification email could not be built; will retry")
            }
            Err(error) => return Err(error),
        }
    }
    Ok(queued)
}

/// Claims one notification (`emailed_at`, compare-and-set: a second process
/// finds it taken) and queues its email. False when someone else had it.
fn email_one(
    tx: &mut Tx,
    mail: &NotificationMail,
    id: &NotificationId,
    user: &UserId,
    now: NaiveDateTime,
) -> Result<bool, EmailError> {
    let conn: &mut DbConn = tx;
    let claimed = diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::emailed_at.is_null())
            .filter(notifications::read_at.is_null())
            .filter(notifications::delivery.eq(Delivery::Immediate.as_str())),
    )
    .set(notifications::emailed_at.eq(now))
    .execute(conn)?;
    if claimed != 1 {
        return Ok(false);
    }
    let Some(notice) = view::by_ids(conn, user, std::slice::from_ref(id))?
        .into_iter()
        .find(|n| !n.quiet)
    else {
        // A kind this build does not know, or about a class the student
        // has left or muted since: stamped, not emailed.
        return Ok(false);
    };
    let Some(to) = address_of(conn, user)? else {
        return Ok(false);
    };
    let topics = [notice.kind.topic()];
    let email =
        messages::notification_email(&to, &item(mail, &notice), &footer(mail, user, &topics))?;
    outbox::enqueue_for_notification(tx, &email, id.as_str(), now)?;
    Ok(true)
}

/// Withdraws the notification mail not delivered yet that quotes any of
/// `messages` (gone: deleted by their author, removed by a moderator, or their
/// author erased): the notices' own emails, and the digests listing them. A
/// digest withdrawn while still queued lists other notices too: its claim is
/// taken back, so the next pass mails them again (without the message gone,
/// whose notices are read by then, or deleted with it, or left out as
/// `[deleted]`). A digest given up on keeps its claim: weeks-old notices are
/// not mailed again.
///
/// On PostgreSQL every notice this may write is locked first, in one
/// statement, in id order: those about the messages, and the others their
/// digests list. A worker claiming one right now (its `emailed_at` set, its
/// email rendered from the text as it was, not committed yet) is waited for,
/// and then its email is seen and goes; a worker that comes after waits, and
/// finds the notice read or the message gone. Two withdrawals sharing a
/// digest take its notices in the same order, so neither holds one the other
/// waits for. (SQLite runs one writer at a time.)
pub fn withdraw_unsent_quoting(
    tx: &mut Tx,
    messages: &[MessageId],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut notices = Vec::new();
    // Each digest's mail, and the digest.
    let mut digests: HashMap<String, String> = HashMap::new();
    for chunk in messages.chunks(500) {
        let conn: &mut DbConn = tx;
        if let DbConn::Postgresql(pg) = conn {
            let about = diesel::alias!(notifications as about);
            let in_their_digests = about
                .filter(about.field(notifications::message_id).eq_any(chunk))
                .filter(about.field(notifications::digest_id).is_not_null())
                .select(about.field(notifications::digest_id));
            notifications::table
                .filter(
                    notifications::message_id
                        .eq_any(chunk)
                        .or(notifications::digest_id.eq_any(in_their_digests)),
                )
                .order(notifications::id)
                .select(notifications::id)
                .for_no_key_update()
                .load::<NotificationId>(pg)?;
        }
        let rows: Vec<(NotificationId, Option<String>, Option<String>)> = notifications::table
            .left_join(notification_digests::table)
            .filter(notifications::message_id.eq_any(chunk))
            .filter(notifications::emailed_at.is_not_null())
            .select((
                notifications::id,
                notification_digests::id.nullable(),
                notification_digests::outbox_id.nullable(),
            ))
            .load(conn)?;
        for (notice, digest, digest_mail) in rows {
            match (digest, digest_mail) {
                (Some(digest), Some(outbox_id)) => {
                    digests.insert(outbox_id, digest);
                }
                _ => notices.push(notice.to_string()),
            }
        }
    }
    if notices.is_empty() && digests.is_empty() {
        return Ok(0);
    }
    let digest_mail: Vec<String> = digests.keys().cloned().collect();
    let withdrawn = outbox::withdraw_unsent(tx, &digest_mail, &notices, now)?;
    let reclaimed: Vec<&String> = withdrawn
        .iter()
        .filter(|(_, queued)| *queued)
        .filter_map(|(mail, _)| digests.get(mail))
        .collect();
    let conn: &mut DbConn = tx;
    for chunk in reclaimed.chunks(500) {
        diesel::update(notifications::table.filter(notifications::digest_id.eq_any(chunk)))
            .set((
                notifications::emailed_at.eq(None::<NaiveDateTime>),
                notifications::digest_id.eq(None::<String>),
            ))
            .execute(conn)?;
        diesel::delete(notification_digests::table.filter(notification_digests::id.eq_any(chunk)))
            .execute(conn)?;
    }
    Ok(withdrawn.len())
}

/// Queues the digests that are due at `now`: for each student whose campus
/// hour has come today, one email listing what was waiting at that hour.
/// What comes after the hour waits for tomorrow's: a student with nothing at
/// 5 PM gets no one-line "digest" at the first reply that evening.
/// Returns how many digests were queued.
pub fn send_digests(
    conn: &mut DbConn,
    mail: &NotificationMail,
    now: NaiveDateTime,
) -> Result<usize, EmailError> {
    // Each student waiting, with their earliest waiting notice: one that
    // came after today's hour waits for tomorrow's digest, decided here
    // without a write transaction per student on every pass of the evening.
    // (The filters of `waiting_for_digest`, spelled out: a boxed query
    // takes no GROUP BY.)
    let earliest: Vec<(UserId, Option<NaiveDateTime>)> = notifications::table
        .filter(notifications::delivery.eq(Delivery::Digest.as_str()))
        .filter(notifications::emailed_at.is_null())
        .filter(notifications::digest_id.is_null())
        .filter(notifications::read_at.is_null())
        .filter(notifications::created_at.le(now))
        .group_by(notifications::user_id)
        .select((
            notifications::user_id,
            diesel::dsl::min(notifications::created_at),
        ))
        .load(conn)?;
    if earliest.is_empty() {
        return Ok(0);
    }
    let waiting: Vec<UserId> = earliest.iter().map(|(user, _)| user.clone()).collect();
    let earliest: HashMap<UserId, NaiveDateTime> = earliest
        .into_iter()
        .filter_map(|(user, at)| Some((user, at?)))
        .collect();
    let mut hours: HashMap<UserId, DigestHour> = HashMap::new();
    for chunk in waiting.chunks(500) {
        let rows: Vec<(UserId, i32)> = notification_schedules::table
            .filter(notification_schedules::user_id.eq_any(chunk))
            .select((
                notification_schedules::user_id,
                notification_schedules::digest_hour,
            ))
            .load(conn)?;
        for (user, hour) in rows {
            if let Some(hour) = u32::try_from(hour).ok().and_then(DigestHour::new) {
                hours.insert(user, hour);
            }
        }
    }
    let today = mail.campus.date_of(now);
    // Who already had today's digest: what came since waits for tomorrow's,
    // without a write transaction per student on every pass.
    let mut done_today: std::collections::HashSet<UserId> = std::collections::HashSet::new();
    for chunk in waiting.chunks(500) {
        let rows: Vec<UserId> = notification_digests::table
            .filter(notification_digests::user_id.eq_any(chunk))
            .filter(notification_digests::campus_date.eq(today.format("%Y-%m-%d").to_string()))
            .select(notification_digests::user_id)
            .load(conn)?;
        done_today.extend(rows);
    }
    let mut queued = 0;
    for user in waiting {
        if done_today.contains(&user) {
            continue;
        }
        let hour = hours
            .get(&user)
            .copied()
            .unwrap_or(settings::DEFAULT_DIGEST_HOUR);
        let due = mail.campus.at_hour(today, hour.get());
        if now < due || earliest.get(&user).is_some_and(|first| *first > due) {
            continue;
        }
        match db::write_tx(conn, |tx| email_digest(tx, mail, &user, today, due, now)) {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(EmailError::Mail(error)) => {
                tracing::warn!(%error, "a digest could not be built; will retry")
            }
            Err(error) => return Err(error),
        }
    }
    Ok(queued)
}

/// Marks every notice still waiting for its email or digest as emailed (it
/// stays in the inbox): after a restore from a snapshot, most were mailed
/// since, and a day-old digest sent again would only confuse.
pub fn settle_waiting(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(notifications::table.filter(notifications::emailed_at.is_null()))
        .set(notifications::emailed_at.eq(now))
        .execute(conn)
}

/// The boxed filter of notifications waiting for a digest.
fn waiting_for_digest() -> notifications::BoxedQuery<'static, crate::db::MultiBackend> {
    notifications::table
        .filter(notifications::delivery.eq(Delivery::Digest.as_str()))
        .filter(notifications::emailed_at.is_null())
        .filter(notifications::digest_id.is_null())
        .filter(notifications::read_at.is_null())
        .into_boxed()
}

/// Claims the student's digest window for `today` and, in the same
/// transaction, stamps what it lists (what was waiting at `due`, the hour)
/// and queues its one email. False when there is nothing unread or the window
/// was already claimed (by this process earlier today, or another one now).
fn email_digest(
    tx: &mut Tx,
    mail: &NotificationMail,
    user: &UserId,
    today: NaiveDate,
    due: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, EmailError> {
    let ids: Vec<NotificationId> = {
        let conn: &mut DbConn = tx;
        waiting_for_digest()
            .filter(notifications::user_id.eq(user))
            .filter(notifications::created_at.le(due))
            .select(notifications::id)
            .load(conn)?
    };
    if ids.is_empty() {
        return Ok(false);
    }
    let digest = DigestId::new();
    let window = (
        notification_digests::id.eq(&digest),
        notification_digests::user_id.eq(user),
        notification_digests::campus_date.eq(today.format("%Y-%m-%d").to_string()),
        notification_digests::items.eq(ids.len() as i32),
        notification_digests::created_at.eq(now),
    );
    // The unique (user, campus date) key is the claim: a second insert does
    // nothing (on PostgreSQL it waits for the first to commit, then does nothing).
    let claimed =
        crate::on_each_backend!(tx, |c| diesel::insert_into(notification_digests::table)
            .values(window)
            .on_conflict_do_nothing()
            .execute(c))?;
    if claimed != 1 {
        return Ok(false);
    }
    let conn: &mut DbConn = tx;
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(&ids))
            .filter(notifications::digest_id.is_null())
            .filter(notifications::emailed_at.is_null()),
    )
    .set((
        notifications::digest_id.eq(&digest),
        notifications::emailed_at.eq(now),
    ))
    .execute(conn)?;
    // What is about a class they left or muted since is stamped, not listed.
    let listed: Vec<_> = view::by_ids(conn, user, &ids)?
        .into_iter()
        .filter(|n| !n.quiet)
        .collect();
    let Some(to) = address_of(conn, user)? else {
        return Ok(false);
    };
    if listed.is_empty() {
        return Ok(false);
    }
    let topics: Vec<Topic> = Topic::ALL
        .iter()
        .copied()
        .filter(|t| listed.iter().any(|n| n.kind.topic() == *t))
        .collect();
    // A day of a busy class could list hundreds: the newest first, up to
    // `DIGEST_ITEMS`, and a count of the rest with the inbox's link.
    let total = listed.len();
    let items: Vec<NotificationItem> = listed
        .iter()
        .take(DIGEST_ITEMS)
        .map(|n| item(mail, n))
        .collect();
    let more = (total > items.len()).then(|| messages::More {
        count: total - items.len(),
        inbox_link: mail.link("/notifications"),
    });
    let email = messages::digest_email(&to, &items, more, &footer(mail, user, &topics))?;
    let outbox_id = outbox::enqueue(tx, &email, now)?;
    let conn: &mut DbConn = tx;
    diesel::update(notification_digests::table.find(&digest))
        .set((
            notification_digests::outbox_id.eq(Some(outbox_id.as_str())),
            notification_digests::items.eq(total as i32),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The most notices one digest lists (the rest are counted and linked).
pub const DIGEST_ITEMS: usize = 50;

fn address_of(conn: &mut DbConn, user: &UserId) -> QueryResult<Option<String>> {
    users::table
        .find(user)
        .select(users::email)
        .first(conn)
        .optional()
}

fn item(mail: &NotificationMail, notice: &NotificationView) -> NotificationItem {
    NotificationItem {
        headline: notice.headline(),
        excerpt: notice.excerpt.clone(),
        detail: notice.detail.clone().map(|detail| {
            if notice.kind.detail_is_reason() {
                format!("Reason: {detail}")
            } else {
                detail
            }
        }),
        when: mail.campus.exact(notice.created_at).title,
        link: mail.link(&notice.open_path()),
    }
}

fn footer(mail: &NotificationMail, user: &UserId, topics: &[Topic]) -> NotificationFooter {
    NotificationFooter {
        settings_link: mail.link("/account/notifications"),
        unsubscribe_link: mail.unsubscribe_url(user, topics),
        unsubscribe_what: topics_in_words(topics),
    }
}

// ---------------------------------------------------------------------------
// The loop inside `serve`

/// Runs `run_once` every `every` until `shutdown` turns true, waking the outbox
/// worker when it queued something. Database trouble is logged and retried.
pub async fn run(
    pool: Pool,
    mail: NotificationMail,
    signal: OutboxSignal,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() || shutdown.has_changed().is_err() {
            break;
        }
        let pass = {
            let pool = pool.clone();
            let mail = mail.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Queued> {
                let mut conn = pool.get()?;
                Ok(run_once(&mut conn, &mail, crate::clock::now())?)
            })
            .await
        };
        match pass {
            Ok(Ok(queued)) if queued.total() > 0 => {
                signal.notify();
                tracing::info!(
                    immediate = queued.immediate,
                    digests = queued.digests,
                    "notification emails queued"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "notification emails: pass failed; will retry")
            }
            Err(error) => tracing::error!(%error, "notification emails: task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("notification email worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-k";

    fn parts(path: &str) -> (String, String, String) {
        let rest = path.strip_prefix("/notifications/unsubscribe/").unwrap();
        let mut it = rest.split('/');
        (
            it.next().unwrap().into(),
            it.next().unwrap().into(),
            it.next().unwrap().into(),
        )
    }

    #[test]
    fn a_signed_link_verifies_and_names_its_topics() {
        let user = UserId::new();
        let path = unsubscribe_path(KEY, &user, &[Topic::Friends, Topic::Replies]);
        let (u, t, s) = parts(&path);
        assert_eq!(t, "replies+friends");
        let link = verify_unsubscribe(KEY, &u, &t, &s).unwrap();
        assert_eq!(link.user, user);
        assert_eq!(link.topics, vec![Topic::Replies, Topic::Friends]);
    }

    #[test]
    fn tampered_links_are_refused() {
        let user = UserId::new();
        let (u, t, s) = parts(&unsubscribe_path(KEY, &user, &[Topic::Replies]));
        let other = UserId::new();
        assert_eq!(
            verify_unsubscribe(KEY, other.as_str(), &t, &s),
            Err(UnsubscribeError::NotFound)
        );
        assert_eq!(
            verify_unsubscribe(KEY, &u, "friends", &s),
            Err(UnsubscribeError::NotFound)
        );
        assert_eq!(
            verify_unsubscribe(KEY, &u, "everything", &s),
            Err(UnsubscribeError::NotFound)
        );
        let mut flipped = s.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            verify_unsubscribe(KEY, &u, &t, std::str::from_utf8(&flipped).unwrap()),
            Err(UnsubscribeError::NotFound)
        );
        assert_eq!(
            verify_unsubscribe(b"another-key-another-key-another", &u, &t, &s),
            Err(UnsubscribeError::NotFound)
        );
        assert_eq!(
            verify_unsubscribe(KEY, "not-a-user", &t, &s),
            Err(UnsubscribeError::Malformed)
        );
        assert_eq!(
            verify_unsubscribe(KEY, &u, &t, "abc"),
            Err(UnsubscribeError::Malformed)
        );
    }

    #[test]
    fn topics_read_as_words() {
        assert_eq!(topics_in_words(&[Topic::Replies]), "replies");
        assert_eq!(
            topics_in_words(&[Topic::Friends, Topic::Replies]),
            "replies and friend requests"
        );
    }
}
