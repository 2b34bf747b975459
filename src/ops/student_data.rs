//! A student's own data: everything stored about them as one JSON document,
//! and erasure of the account. Erasure keeps other students' threads whole:
//! the student's messages that others replied to become "[deleted]"
//! placeholders with no author; everything else of theirs goes, except
//! evidence under review (see `erase`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::accounts::{User, UserId};
use crate::chat::{self, ClassMessage, MessageId, RevisionEnd};
use crate::classes::Term;
use crate::db::schema::{
    class_messages, classes, email_outbox, friendships, message_flags, rate_limit_hits, sessions,
    user_classes, users,
};
use crate::db::{DbConn, Tx};
use crate::friends::{Friendship, FriendshipStatus};

#[derive(Debug, Serialize)]
pub struct Export {
    pub format: &'static str,
    pub exported_at: NaiveDateTime,
    pub profile: Profile,
    pub classes: Vec<ClassEntry>,
    pub friendships: Vec<FriendshipEntry>,
    pub messages: Vec<MessageEntry>,
    /// Earlier versions of the student's own messages, kept because they were reported.
    pub revisions: Vec<RevisionEntry>,
    pub flags: Vec<FlagEntry>,
    pub sessions: Vec<SessionEntry>,
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub email: String,
    pub computing_id: String,
    pub display_name: Option<String>,
    pub hide_classes: bool,
    pub role: String,
    pub email_verified: bool,
    pub suspended_until: Option<NaiveDateTime>,
    pub suspension_reason: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Serialize)]
pub struct ClassEntry {
    pub class_id: String,
    pub term: String,
    pub term_name: String,
    pub course: String,
    pub section: Option<String>,
    pub title: Option<String>,
    pub joined_at: NaiveDateTime,
}

#[derive(Debug, Serialize)]
pub struct FriendshipEntry {
    /// The other student's computing ID (what the student typed or saw).
    pub computing_id: String,
    pub status: String,
    /// "sent" when this student asked (or blocked), "received" otherwise.
    pub direction: &'static str,
    pub since: NaiveDateTime,
}

#[derive(Debug, Serialize)]
pub struct MessageEntry {
    pub id: String,
    pub class_id: String,
    pub course: String,
    pub term: String,
    pub pseudonym: String,
    pub content: String,
    pub reply_to: Option<String>,
    pub hidden: bool,
    pub deleted: bool,
    pub created_at: NaiveDateTime,
    pub edited_at: Option<NaiveDateTime>,
}

#[derive(Debug, Serialize)]
pub struct RevisionEntry {
    pub message_id: String,
    pub content: String,
    /// When this text first showed.
    pub written_at: NaiveDateTime,
    /// When an edit replaced it, or a delete removed it from view.
    pub ended_at: NaiveDateTime,
    /// "edit" or "author_delete".
    pub ended_by: String,
}

#[derive(Debug, Serialize)]
pub struct FlagEntry {
    pub message_id: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Serialize)]
pub struct SessionEntry {
    pub device: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// id, term, subject, catalog number, section, title, joined.
type ClassRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// Everything stored about `user`, limited to what they could already see of
/// others: no other student's email, no author of another message, and no
/// decline or block by someone else.
pub fn export(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> QueryResult<Export> {
    let me = &user.id;
    let class_rows: Vec<ClassRow> = user_classes::table
        .inner_join(classes::table)
        .filter(user_classes::user_id.eq(me))
        .order((
            classes::term.desc(),
            classes::subject,
            classes::catalog_number,
        ))
        .select((
            classes::id,
            classes::term,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
            classes::title,
            user_classes::enrolled_at,
        ))
        .load(conn)?;
    let as_first: Vec<(Friendship, String)> = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_2)))
        .filter(friendships::user_id_1.eq(me))
        .select((Friendship::as_select(), users::computing_id))
        .load(conn)?;
    let as_second: Vec<(Friendship, String)> = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_1)))
        .filter(friendships::user_id_2.eq(me))
        .select((Friendship::as_select(), users::computing_id))
        .load(conn)?;
    let mut friendship_entries = Vec::new();
    for (row, computing_id) in as_first {
        // A request of mine that they declined still reads, to me, as sent.
        let status = match row.status {
            FriendshipStatus::Rejected => FriendshipStatus::Pending,
            other => other,
        };
        friendship_entries.push(FriendshipEntry {
            computing_id,
            status: status.as_str().to_string(),
            direction: "sent",
            since: row.created_at,
        });
    }
    for (row, computing_id) in as_second {
        if row.status == FriendshipStatus::Blocked {
            continue; // they blocked me: not mine to see
        }
        friendship_entries.push(FriendshipEntry {
            computing_id,
            status: row.status.as_str().to_string(),
            direction: "received",
            since: row.created_at,
        });
    }
    type MessageRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        bool,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let message_rows: Vec<MessageRow> = class_messages::table
        .inner_join(classes::table)
        .filter(class_messages::user_id.eq(me))
        .order(class_messages::created_at)
        .select((
            class_messages::id,
            class_messages::class_id,
            classes::subject,
            classes::catalog_number,
            classes::term,
            class_messages::anonymous_identifier,
            class_messages::content,
            class_messages::parent_message_id,
            class_messages::hidden,
            class_messages::deleted,
            class_messages::created_at,
            class_messages::edited_at,
        ))
        .load(conn)?;
    let flags: Vec<(String, Option<String>, NaiveDateTime)> = message_flags::table
        .filter(message_flags::user_id.eq(me))
        .order(message_flags::created_at)
        .select((
            message_flags::message_id,
            message_flags::reason,
            message_flags::created_at,
        ))
        .load(conn)?;
    let revisions = chat::revisions::of_author(conn, me)?;
    let session_rows: Vec<(Option<String>, NaiveDateTime, NaiveDateTime, NaiveDateTime)> =
        sessions::table
            .filter(sessions::user_id.eq(me))
            .order(sessions::created_at)
            .select((
                sessions::user_agent,
                sessions::created_at,
                sessions::last_used_at,
                sessions::expires_at,
            ))
            .load(conn)?;
    Ok(Export {
        format: "common-grounds-export/1",
        exported_at: now,
        profile: Profile {
            email: user.email.clone(),
            computing_id: user.computing_id.clone(),
            display_name: user.display_name.clone(),
            hide_classes: user.hide_classes,
            role: user.role.as_str().to_string(),
            email_verified: user.email_verified,
            suspended_until: user.suspended_until,
            suspension_reason: user.suspension_reason.clone(),
            last_login_at: user.last_login_at,
            created_at: user.created_at,
        },
        classes: class_rows
            .into_iter()
            .map(
                |(id, term, subject, catalog, section, title, joined_at)| ClassEntry {
                    class_id: id,
                    term_name: Term::parse(&term).map(|t| t.name()).unwrap_or_default(),
                    term,
                    course: format!("{subject} {catalog}"),
                    section,
                    title,
                    joined_at,
                },
            )
            .collect(),
        friendships: friendship_entries,
        messages: message_rows
            .into_iter()
            .map(
                |(
                    id,
                    class_id,
                    subject,
                    catalog,
                    term,
                    pseudonym,
                    content,
                    reply_to,
                    hidden,
                    deleted,
                    created_at,
                    edited_at,
                )| {
                    MessageEntry {
                        id,
                        class_id,
                        course: format!("{subject} {catalog}"),
                        term,
                        pseudonym,
                        content,
                        reply_to,
                        hidden,
                        deleted,
                        created_at,
                        edited_at,
                    }
                },
            )
            .collect(),
        revisions: revisions
            .into_iter()
            .map(|r| RevisionEntry {
                message_id: r.message_id.to_string(),
                content: r.content,
                written_at: r.written_at,
                ended_at: r.created_at,
                ended_by: r.ended_by.as_str().to_string(),
            })
            .collect(),
        flags: flags
            .into_iter()
            .map(|(message_id, reason, created_at)| FlagEntry {
                message_id,
                reason,
                created_at,
            })
            .collect(),
        sessions: session_rows
            .into_iter()
            .map(
                |(device, created_at, last_used_at, expires_at)| SessionEntry {
                    device,
                    created_at,
                    last_used_at,
                    expires_at,
                },
            )
            .collect(),
    })
}

/// What an erasure removed, for the log and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub messages_removed: usize,
    /// Placeholders kept: messages others replied to, and evidence under review.
    pub messages_kept_as_placeholders: usize,
    /// Of those, messages under review whose text was kept for the moderators.
    pub messages_kept_as_evidence: usize,
}

/// The text a placeholder message carries (its `deleted` flag says the rest).
pub const PLACEHOLDER_PSEUDONYM: &str = "Anon_deleted";

/// Deletes a student's account at their request: [`erase`] in its own write
/// transaction.
pub fn delete_account(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> QueryResult<Erased> {
    crate::db::write_tx(conn, |tx| erase(tx, user, now))
}

/// Erases a student, inside the caller's write transaction.
///
/// Evidence under review survives: a message of theirs that is hidden, or has
/// reports no moderator has reviewed yet, stays as an authorless "[deleted]"
/// placeholder whose text (and reports) only moderators can read, so deleting
/// an account is no way to destroy the evidence of harassment a moderator is
/// about to act on. What identifies the student goes (the account, and with it
/// the link from the message to a person: a reveal finds no one). Messages whose
/// reports were all reviewed and dismissed are erased like any other.
pub fn erase(tx: &mut Tx, user: &User, now: NaiveDateTime) -> QueryResult<Erased> {
    let me: &UserId = &user.id;
    let mut erased = Erased::default();
    let pending = message_flags::table
        .filter(message_flags::message_id.eq(class_messages::id))
        .filter(message_flags::cleared_at.is_null());
    let held: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .filter(
            class_messages::hidden
                .eq(true)
                .or(diesel::dsl::exists(pending)),
        )
        .select(ClassMessage::as_select())
        .load(&mut **tx)?;
    for message in held.iter().filter(|m| !m.deleted) {
        chat::revisions::keep(tx, message, RevisionEnd::Erasure, now)?;
    }
    let held_ids: Vec<MessageId> = held.iter().map(|m| m.id.clone()).collect();
    // Remove leaf messages repeatedly: a reply of mine to my own message goes
    // first, then the message it answered, until only messages that others
    // replied to (or evidence) are left.
    loop {
        let children = diesel::alias!(class_messages as children);
        let leaves: Vec<String> = class_messages::table
            .filter(class_messages::user_id.eq(me))
            .filter(diesel::dsl::not(class_messages::id.eq_any(&held_ids)))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                children.filter(
                    children
                        .field(class_messages::parent_message_id)
                        .eq(class_messages::id.nullable()),
                ),
            )))
            .select(class_messages::id)
            .load(&mut **tx)?;
        if leaves.is_empty() {
            break;
        }
        erased.messages_removed +=
            diesel::delete(class_messages::table.filter(class_messages::id.eq_any(&leaves)))
                .execute(&mut **tx)?;
    }
    // Evidence keeps its pseudonym, so moderators can still read the thread.
    erased.messages_kept_as_evidence = diesel::update(
        class_messages::table
            .filter(class_messages::user_id.eq(me))
            .filter(class_messages::id.eq_any(&held_ids)),
    )
    .set((
        class_messages::user_id.eq(None::<String>),
        class_messages::content.eq(""),
        class_messages::deleted.eq(true),
    ))
    .execute(&mut **tx)?;
    erased.messages_kept_as_placeholders = erased.messages_kept_as_evidence
        + diesel::update(class_messages::table.filter(class_messages::user_id.eq(me)))
            .set((
                class_messages::user_id.eq(None::<String>),
                class_messages::content.eq(""),
                class_messages::anonymous_identifier.eq(PLACEHOLDER_PSEUDONYM),
                class_messages::deleted.eq(true),
            ))
            .execute(&mut **tx)?;
    // Their reports go with the account (cascade); keep the counts true: only a
    // report that counted and was not reviewed yet is in a message's count.
    let flagged = message_flags::table
        .filter(message_flags::user_id.eq(me))
        .filter(message_flags::counted.eq(true))
        .filter(message_flags::cleared_at.is_null())
        .select(message_flags::message_id);
    diesel::update(
        class_messages::table
            .filter(class_messages::id.eq_any(flagged))
            .filter(class_messages::flagged_count.gt(0)),
    )
    .set(class_messages::flagged_count.eq(class_messages::flagged_count - 1))
    .execute(&mut **tx)?;
    // Mail still queued to them, and rate-limit buckets named after them.
    diesel::delete(email_outbox::table.filter(email_outbox::to_address.eq(&user.email)))
        .execute(&mut **tx)?;
    diesel::delete(
        rate_limit_hits::table.filter(
            rate_limit_hits::bucket
                .eq(format!("login-email:{}", user.email))
                .or(rate_limit_hits::bucket.like(format!("%{}%", user.id))),
        ),
    )
    .execute(&mut **tx)?;
    // Sessions, links, enrollments, friendships and flags cascade; audit
    // entries keep a NULL actor, shown as "deleted account".
    diesel::delete(users::table.find(me)).execute(&mut **tx)?;
    Ok(erased)
}
