//! A student's own data in the chat tables: their messages, the kept versions
//! of them, their reports, their upvotes and how far they have read, for the
//! data export; and the erasure of their messages (and votes, out of the
//! counts they were in), which keeps other students' threads whole and keeps
//! evidence under review for the moderators. `ops::student_data` composes this with the rest.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{ClassMessage, MessageId, RevisionEnd};
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::{
    chat_class_reads, chat_pseudonyms, chat_thread_reads, class_messages, classes, message_flags,
    message_revisions,
};
use crate::db::{DbConn, Tx};

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
    /// Held for review because it names a person: only its author and
    /// moderators see it until released.
    pub held: bool,
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

/// One of the student's upvotes: which message, in which class. Theirs alone:
/// no page shows who voted.
#[derive(Debug, Serialize)]
pub struct VoteEntry {
    pub message_id: String,
    pub class_id: String,
    pub created_at: NaiveDateTime,
}

/// A name the student holds in a class's chat, whether or not they have
/// posted under it yet.
#[derive(Debug, Serialize)]
pub struct NameEntry {
    pub class_id: String,
    pub course: String,
    pub term: String,
    pub name: String,
    pub since: NaiveDateTime,
}

/// How far the student has read a class's chat (a thread, or the whole class).
#[derive(Debug, Serialize)]
pub struct ReadMarkEntry {
    pub class_id: String,
    /// None for the class-wide mark ("Mark all read").
    pub thread_id: Option<String>,
    pub read_through: NaiveDateTime,
}

/// The chat part of a student's export.
#[derive(Debug)]
pub struct ChatExport {
    pub messages: Vec<MessageEntry>,
    pub revisions: Vec<RevisionEntry>,
    pub flags: Vec<FlagEntry>,
    pub read_marks: Vec<ReadMarkEntry>,
    pub votes: Vec<VoteEntry>,
    pub names: Vec<NameEntry>,
}

/// The messages `me` wrote (oldest first), their kept versions and the
/// reports `me` made; never another student's authorship.
// Stays whole: one read per table chat owns, side by side, so a reviewer sees
// at a glance that nothing of another student's is exported.
pub fn export_user(conn: &mut DbConn, me: &UserId) -> QueryResult<ChatExport> {
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
        bool,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    // A deleted message is theirs to see only as the "[deleted]" their
    // pages keep in place: one kept with nothing shown under it is kept as
    // evidence (a report, a reveal asked), which its author is not told of.
    let shown: Vec<MessageId> = super::own_placeholders_shown(conn, me)?
        .into_iter()
        .collect();
    let message_rows: Vec<MessageRow> = class_messages::table
        .inner_join(classes::table)
        .filter(class_messages::user_id.eq(me))
        .filter(
            class_messages::deleted
                .eq(false)
                .or(class_messages::id.eq_any(&shown)),
        )
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
            class_messages::held,
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
    let revisions = super::revisions::of_author(conn, me)?;
    let votes = super::votes::of_voter(conn, me)?;
    let class_marks: Vec<(String, NaiveDateTime)> = chat_class_reads::table
        .filter(chat_class_reads::user_id.eq(me))
        .order(chat_class_reads::class_id)
        .select((chat_class_reads::class_id, chat_class_reads::read_through))
        .load(conn)?;
    let thread_marks: Vec<(String, String, NaiveDateTime)> = chat_thread_reads::table
        .filter(chat_thread_reads::user_id.eq(me))
        .order((chat_thread_reads::class_id, chat_thread_reads::thread_id))
        .select((
            chat_thread_reads::class_id,
            chat_thread_reads::thread_id,
            chat_thread_reads::read_through,
        ))
        .load(conn)?;
    let read_marks = class_marks
        .into_iter()
        .map(|(class_id, read_through)| ReadMarkEntry {
            class_id,
            thread_id: None,
            read_through,
        })
        .chain(
            thread_marks
                .into_iter()
                .map(|(class_id, thread_id, read_through)| ReadMarkEntry {
                    class_id,
                    thread_id: Some(thread_id),
                    read_through,
                }),
        )
        .collect();
    let name_rows: Vec<(String, String, String, String, String, NaiveDateTime)> =
        chat_pseudonyms::table
            .inner_join(classes::table)
            .filter(chat_pseudonyms::user_id.eq(me))
            .order(chat_pseudonyms::created_at)
            .select((
                chat_pseudonyms::class_id,
                classes::subject,
                classes::catalog_number,
                classes::term,
                chat_pseudonyms::name,
                chat_pseudonyms::created_at,
            ))
            .load(conn)?;
    Ok(ChatExport {
        read_marks,
        names: name_rows
            .into_iter()
            .map(
                |(class_id, subject, catalog, term, name, since)| NameEntry {
                    class_id,
                    course: format!("{subject} {catalog}"),
                    term,
                    name,
                    since,
                },
            )
            .collect(),
        votes: votes
            .into_iter()
            .map(|v| VoteEntry {
                message_id: v.message_id.to_string(),
                class_id: v.class_id.to_string(),
                created_at: v.created_at,
            })
            .collect(),
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
                    held,
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
                        held,
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

/// Erases the student's messages and keeps the reports on others' messages
/// true, inside the account erasure's transaction.
///
/// Evidence under review survives: a message of theirs that is hidden, or has
/// reports no moderator has reviewed yet, stays as an authorless "[deleted]"
/// placeholder whose text (and reports) only moderators can read. Messages
/// whose reports were all reviewed and dismissed are erased like any other;
/// messages others replied to stay as placeholders with no author.
// Stays whole: which rows go and which stay as evidence is decided here in one
// place, in the order the foreign keys need.
pub fn erase_user(tx: &mut Tx, me: &UserId, now: NaiveDateTime) -> QueryResult<Erased> {
    let mut erased = Erased::default();
    // Every message of theirs leaves students' view: live pages hear of it.
    // Classes are locked in one order, so two erasures cannot deadlock, and
    // before the messages are read, so each event goes out for the message
    // as it is (a release committed meanwhile is seen: `record` sends
    // nothing for a held one).
    // Every class they wrote in, deleted messages too: what the class sees
    // of those threads is read before and after (`Seen`).
    let classes: Vec<ClassId> = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .select(class_messages::class_id)
        .distinct()
        .order(class_messages::class_id)
        .load(&mut **tx)?;
    for class_id in &classes {
        super::lock_class(tx, class_id)?;
    }
    // What the class sees of every thread they wrote in, to tell after what
    // left every page (`Seen::settle`).
    let threads: Vec<(MessageId, Option<MessageId>)> = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .select((class_messages::id, class_messages::thread_root_id))
        .load(&mut **tx)?;
    let seen = super::Seen::of(
        tx,
        threads.iter().map(|(id, root)| root.as_ref().unwrap_or(id)),
    )?;
    let mut mine: Vec<ClassMessage> = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .filter(class_messages::deleted.eq(false))
        .select(ClassMessage::as_select())
        .load(&mut **tx)?;
    mine.sort_by(|a, b| (&a.class_id, &a.id).cmp(&(&b.class_id, &b.id)));
    for message in &mine {
        super::events::record(tx, message, super::EventKind::Delete, now)?;
    }
    // Mail still on its way that quotes them goes too, while the notices that
    // tie it to them are still there (their own deletes withdrew it already).
    let ids: Vec<MessageId> = mine.iter().map(|m| m.id.clone()).collect();
    crate::notifications::email::withdraw_unsent_quoting(tx, &ids, now)?;
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
        super::revisions::keep(tx, message, RevisionEnd::Erasure, now)?;
    }
    let held_ids: Vec<MessageId> = held.iter().map(|m| m.id.clone()).collect();
    // Remove leaf messages repeatedly: a reply of mine to my own message goes
    // first, then the message it answered, until only messages that others
    // replied to (or evidence) are left.
    let mut above: Vec<MessageId> = Vec::new();
    loop {
        let children = diesel::alias!(class_messages as children);
        let leaves: Vec<(MessageId, Option<MessageId>)> = class_messages::table
            .filter(class_messages::user_id.eq(me))
            .filter(diesel::dsl::not(class_messages::id.eq_any(&held_ids)))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                children.filter(
                    children
                        .field(class_messages::parent_message_id)
                        .eq(class_messages::id.nullable()),
                ),
            )))
            .select((class_messages::id, class_messages::parent_message_id))
            .load(&mut **tx)?;
        if leaves.is_empty() {
            break;
        }
        let ids: Vec<&MessageId> = leaves.iter().map(|(id, _)| id).collect();
        erased.messages_removed +=
            diesel::delete(class_messages::table.filter(class_messages::id.eq_any(&ids)))
                .execute(&mut **tx)?;
        above.extend(leaves.into_iter().filter_map(|(_, parent)| parent));
    }
    // A classmate's deleted message that stood only above theirs goes too,
    // as it would had they deleted their replies themselves.
    above.sort();
    above.dedup();
    for parent in above {
        super::prune_placeholders(tx, Some(parent))?;
    }
    // A placeholder that is not evidence keeps no earlier text either: what an
    // edit or a delete kept while it was under a report now reviewed goes.
    let placeholders = class_messages::table
        .filter(class_messages::user_id.eq(me))
        .filter(diesel::dsl::not(class_messages::id.eq_any(&held_ids)))
        .select(class_messages::id);
    diesel::delete(
        message_revisions::table.filter(message_revisions::message_id.eq_any(placeholders)),
    )
    .execute(&mut **tx)?;
    // What is left becomes a placeholder: its votes go, as a delete's do
    // (`tombstone`).
    super::votes::erase_on_messages_of(tx, me)?;
    // Nor is any of them a thread's answer, as with a row (`tombstone`).
    // (Their ids were read above; those gone since were cleared by the
    // reference's ON DELETE SET NULL.)
    let theirs: Vec<&MessageId> = threads.iter().map(|(id, _)| id).collect();
    diesel::update(class_messages::table.filter(class_messages::answer_id.eq_any(&theirs)))
        .set(class_messages::answer_id.eq(None::<MessageId>))
        .execute(&mut **tx)?;
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
    // Their reports go with the account; keep the counts true: only a report
    // that counted and was not reviewed yet is in a message's count.
    super::flags::uncount_reports_by(tx, me)?;
    diesel::delete(message_flags::table.filter(message_flags::user_id.eq(me)))
        .execute(&mut **tx)?;
    // Their votes go too, but not out of the counts: every count dropping by
    // one as an account vanishes would tell a classmate what it had upvoted.
    super::votes::erase_voter(tx, me)?;
    // Their messages' events went out above; a placeholder of someone else's
    // that stood only above theirs hears now, and what is kept looks gone.
    let told: std::collections::HashSet<&MessageId> =
        mine.iter().flat_map(super::told_by_delete).collect();
    seen.settle(tx, &told, now)?;
    Ok(erased)
}
