//! A student's own data: everything stored about them as one JSON document,
//! and erasure of the account. Erasure keeps other students' threads whole:
//! the student's messages that others replied to become "[deleted]"
//! placeholders with no author; everything else of theirs goes, except
//! evidence under review (see `erase`).
//!
//! Each module exports and erases its own tables (`accounts`, `classes`,
//! `friends`, `chat`, `notifications`); this module only composes them into one document and
//! one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

pub use crate::accounts::personal_data::{Profile, SessionEntry, SignInRequest};
use crate::accounts::{self, rate_limit, User};
use crate::calendar;
pub use crate::calendar::feeds::FeedStatus;
use crate::chat;
pub use crate::chat::personal_data::{
    Erased, FlagEntry, MessageEntry, NameEntry, ReadMarkEntry, RevisionEntry, VoteEntry,
    PLACEHOLDER_PSEUDONYM,
};
use crate::classes;
pub use crate::classes::personal_data::ClassEntry;
use crate::db::{self, DbConn, Tx};
use crate::friends;
pub use crate::friends::personal_data::FriendshipEntry;
use crate::mail;
pub use crate::mail::outbox::MailEntry;
use crate::notifications::inbox::personal_data as notification_data;
pub use crate::notifications::inbox::personal_data::NotificationData;

/// A student's data export, as one JSON document.
#[derive(Debug, Serialize)]
pub struct Export {
    pub format: &'static str,
    /// The zone of every timestamp in the document: each is written without
    /// an offset (`2026-12-06T15:04:05`), so the document says which it is.
    /// (A digest's hour and date are the campus's, as the student chose them.)
    pub timestamps_zone: &'static str,
    pub exported_at: NaiveDateTime,
    pub profile: Profile,
    pub classes: Vec<ClassEntry>,
    pub friendships: Vec<FriendshipEntry>,
    pub messages: Vec<MessageEntry>,
    /// The texts of the student's own messages that a moderator removed
    /// (`chat::revisions::of_author`).
    pub revisions: Vec<RevisionEntry>,
    pub flags: Vec<FlagEntry>,
    /// How far they have read each class's chat: theirs alone, shown to no one else.
    pub chat_read_marks: Vec<ReadMarkEntry>,
    /// Which messages they upvoted (by id and class): theirs alone, shown to no one.
    pub chat_votes: Vec<VoteEntry>,
    /// The name they hold in each class's chat (shown to classmates, never
    /// with who holds it).
    pub chat_names: Vec<NameEntry>,
    /// Their notifications, followed threads, muted classes and email choices.
    pub notifications: NotificationData,
    /// Whether they have a private calendar link, and since when (never the link).
    pub calendar_feed: Option<FeedStatus>,
    pub sessions: Vec<SessionEntry>,
    /// Sign-in emails asked for, and whether each was used (never the link or code).
    pub sign_in_requests: Vec<SignInRequest>,
    /// Every email kept for them: sign-in emails, digests (never a body).
    pub emails: Vec<MailEntry>,
}

/// Everything stored about `user`, limited to what they could already see of
/// others: no other student's email, no author of another message, and no
/// decline or block by someone else.
/// Downloads of one's data a day: each reads every row the student has, so
/// more would be a way to keep the database busy, not to see more.
pub const EXPORTS_PER_DAY: u32 = 10;

/// Counts one download of `user`'s data, or refuses it (counting nothing)
/// past `EXPORTS_PER_DAY` in a day.
pub fn count_export(
    conn: &mut DbConn,
    user: &User,
    now: NaiveDateTime,
) -> QueryResult<Result<(), accounts::rate_limit::Limited>> {
    let bucket = format!("account-export:{}", user.id);
    crate::db::write_tx(conn, |tx| {
        accounts::rate_limit::hit(tx, &bucket, EXPORTS_PER_DAY, chrono::Duration::days(1), now)
    })
}

pub fn export(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> QueryResult<Export> {
    db::read_snapshot(conn, |conn| export_in(conn, user, now))
}

/// `export`'s reads, in its snapshot.
fn export_in(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> QueryResult<Export> {
    let account = accounts::personal_data::export_user(conn, user)?;
    let classes = classes::personal_data::export_user(conn, &user.id)?;
    let friendships = friends::personal_data::export_user(conn, &user.id, now)?;
    let chat = chat::personal_data::export_user(conn, &user.id)?;
    let notifications = notification_data::export_user(conn, &user.id)?;
    let calendar_feed = calendar::feeds::export_user(conn, &user.id)?;
    let emails = mail::outbox::of_student(conn, &user.email, &user.computing_id)?;
    Ok(Export {
        format: "common-grounds-export/1",
        timestamps_zone: "UTC",
        exported_at: now,
        profile: account.profile,
        classes,
        friendships,
        messages: chat.messages,
        revisions: chat.revisions,
        flags: chat.flags,
        chat_read_marks: chat.read_marks,
        chat_votes: chat.votes,
        chat_names: chat.names,
        notifications,
        calendar_feed,
        sessions: account.sessions,
        sign_in_requests: account.sign_in_requests,
        emails,
    })
}

/// Why a student's own "Delete my account" did nothing.
#[derive(Debug, thiserror::Error)]
pub enum DeleteRefused {
    /// Staff actions stay attributed in the audit log: an admin makes the
    /// account a student first (audited), as the CLI's erasure requires.
    #[error("A staff account cannot be deleted here: its actions are in the audit log. Ask an admin to make it a student account first.")]
    Staff,
    /// Made a student since, but its staff actions (`moderation::acted_as_staff`)
    /// stay attributed: the account is kept.
    #[error("This account took staff actions (moderation or reveals) that the audit log keeps under its name, so it is not deleted. Nothing was changed; an admin can say what is kept and why.")]
    StaffRecord,
    /// Already erased (a second tab, or the CLI) while this was on its way.
    #[error("This account was already deleted.")]
    Gone,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Deletes a student's account at their request: [`erase`] and the audit
/// entry `audit` writes, in one write transaction, judged from the account as
/// it is under its row's lock (a role granted meanwhile counts). Staff
/// accounts are refused, as by the CLI, and so are former staff whose
/// actions the audit log keeps.
pub fn delete_account(
    conn: &mut DbConn,
    user: &User,
    now: NaiveDateTime,
    audit: impl FnOnce(&mut Tx, &User) -> QueryResult<()>,
) -> Result<Erased, DeleteRefused> {
    crate::db::write_tx(conn, |tx| {
        accounts::lock_row(tx, &user.id)?;
        let user = accounts::find(tx, &user.id)?.ok_or(DeleteRefused::Gone)?;
        if user.role.is_staff() {
            return Err(DeleteRefused::Staff);
        }
        if crate::moderation::acted_as_staff(tx, &user.id)? {
            return Err(DeleteRefused::StaffRecord);
        }
        let erased = erase(tx, &user, now)?;
        audit(tx, &user)?;
        Ok(erased)
    })
}

/// What `erase_again` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasedAgain {
    /// Accounts the snapshot held, erased since: erased again.
    pub accounts: usize,
    /// Erasures of accounts the snapshot did not hold (erased before it, or
    /// made after it) that its log lacked: logged, so that a later restore
    /// of a newer snapshot, which may hold them, erases them too.
    pub logged_only: usize,
}

/// Why each entry `erase_again` writes is there: an account erased again,
/// or only the erasure, of an account the snapshot did not hold.
const ERASED_AGAIN: &str =
    "Erased again when the database was restored from a snapshot taken before.";
const LOGGED_AGAIN: &str =
    "Logged again when the database was restored from a snapshot: erased in the live database, after or before it.";

/// Erases again, in a database restored from a snapshot, every account the
/// live database's log says was erased (`moderation::erasures`): the snapshot
/// holds them as they were before. Every erasure the restored log lacks is
/// logged at the time it was first made, erased here or not, so this
/// database's log is the whole list again and a later restore carries it on.
/// The role is not asked: the account was a student's when it was erased,
/// whatever the snapshot says.
pub fn erase_again(
    tx: &mut Tx,
    erasures: &[crate::moderation::Erasure],
    now: NaiveDateTime,
) -> QueryResult<ErasedAgain> {
    let logged: std::collections::HashSet<_> = crate::moderation::erasures(tx)?
        .into_iter()
        .map(|e| e.account)
        .collect();
    let mut done = ErasedAgain::default();
    for erasure in erasures {
        let why = match accounts::find(tx, &erasure.account)? {
            Some(user) => {
                erase(tx, &user, now)?;
                done.accounts += 1;
                ERASED_AGAIN
            }
            None if logged.contains(&erasure.account) => continue,
            None => {
                done.logged_only += 1;
                LOGGED_AGAIN
            }
        };
        crate::moderation::record_erasure(tx, &erasure.account, Some(why), erasure.at)?;
    }
    Ok(done)
}

/// The rate limits (bucket kinds) an erased student's computing ID keeps for
/// the rest of their window: a day's joins and leaves (who reads a class's
/// chat), friend requests and blocks, display-name changes, exports. Never a
/// chat limit: a chat bucket names the class, and its hits carry the very
/// instant of each post, which would tie the messages kept after the erasure
/// (evidence, `[deleted]` placeholders) to the computing ID the placeholder
/// holds. Those go with the account, as every hit past its day does.
pub const KEPT_PAST_ERASURE: &[&str] = &[
    "class-changes",
    "friend-request",
    "friend-block",
    "display-name",
    "account-export",
];

/// Erases a student.
///
/// Evidence under review survives: a message of theirs that is hidden, or has
/// reports no moderator has reviewed yet, stays as an authorless "[deleted]"
/// placeholder whose text (and reports) only moderators can read, so deleting
/// an account is no way to destroy the evidence of harassment a moderator is
/// about to act on. What identifies the student goes (the account, and with it
/// the link from the message to a person: a reveal finds no one). Messages whose
/// reports were all reviewed and dismissed are erased like any other.
pub fn erase(tx: &mut Tx, user: &User, now: NaiveDateTime) -> QueryResult<Erased> {
    // The account's row before anything else, as a post holds it before its
    // class (`accounts::hold_row`): a post in flight lands first and is
    // erased here, or waits and then finds no account. Without it, a post to
    // a class this student had no message in could commit halfway through,
    // and outlive the account as authorless text.
    accounts::lock_row(tx, &user.id)?;
    // Messages first: the counts of the reports this student made are set
    // right while their reports still exist.
    let erased = chat::personal_data::erase_user(tx, &user.id, now)?;
    let others_choices = friends::personal_data::erase_user(tx, &user.id)?;
    // Theirs, and other students' notifications that name them.
    notification_data::erase_user(tx, &user.id)?;
    classes::personal_data::erase_user(tx, &user.id)?;
    calendar::feeds::erase_user(tx, &user.id)?;
    // Mail kept for them, at every address of theirs: sign-in mail goes to
    // the computing ID at whichever allowed domain was typed.
    mail::outbox::forget_student(tx, &user.email, &user.computing_id)?;
    let limited = rate_limit::any_of_kinds(
        tx,
        user.id.as_str(),
        KEPT_PAST_ERASURE,
        now - rate_limit::LONGEST_WINDOW,
    )?;
    accounts::personal_data::erase_user(tx, user)?;
    // Others' blocks (and declines) of this computing ID stay, on the same
    // kind of unconfirmed placeholder a request to a stranger makes: signing
    // up again must not lift them. So does a running suspension, or a wait
    // for a new display name a moderator set: deleting the account and
    // signing up again must not end them early. (Only their ends, and the
    // suspension's reason the student is shown, are kept.) So are the
    // limits of `KEPT_PAST_ERASURE` still counting: the placeholder's (the
    // account the ID signs up on again), for their day, or deleting the
    // account and signing up again would reset them.
    let suspended = user.suspended_at(now);
    let name_lock = user.name_locked_at(now);
    if !others_choices.is_empty() || suspended.is_some() || name_lock.is_some() || limited {
        let domain = user.email.rsplit('@').next().unwrap_or_default();
        let placeholder = friends::requests::placeholder(tx, &user.computing_id, domain, now)?;
        if limited {
            rate_limit::rename(
                tx,
                user.id.as_str(),
                placeholder.as_str(),
                KEPT_PAST_ERASURE,
            )?;
        }
        if !others_choices.is_empty() {
            friends::personal_data::keep_for(tx, others_choices, &user.id, &placeholder)?;
        }
        if suspended.is_some() || name_lock.is_some() {
            accounts::update(
                tx,
                &placeholder,
                &accounts::UserChanges {
                    suspended_until: suspended.map(Some),
                    suspension_reason: suspended.and(user.suspension_reason.as_deref()).map(Some),
                    display_name_locked_until: name_lock.map(Some),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )?;
        }
    }
    // Hits past their day, or none: nothing still counts, nothing names them.
    rate_limit::forget(tx, user.id.as_str())?;
    Ok(erased)
}
