//! Moderation: the append-only audit log of every staff action (and of an
//! author's delete of a reported message). Rows are only ever inserted; there is
//! deliberately no update or delete here. The log is for staff pages; the one
//! exception is `public_log`, a class's hides and removals by pseudonym and category.

pub mod audit_targets;
pub mod class_reads;
pub mod messages;
pub mod public_log;
pub mod reveals;
pub mod stats;
pub mod sync;
pub mod users;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::db::schema::audit_log;
use crate::db::{DbConn, Tx};

crate::define_id!(AuditId);

crate::text_enum!(
    /// What a moderator or admin did.
    AuditAction {
        Hide => "hide",
        Restore => "restore",
        Delete => "delete",
        Reveal => "reveal",
        Suspend => "suspend",
        LiftSuspension => "lift_suspension",
        RoleChange => "role_change",
        SyncStarted => "sync_started",
        // Not a staff action: an author deleted their message while it was
        // under report (its text is kept for moderators).
        AuthorDelete => "author_delete",
        Pin => "pin",
        Unpin => "unpin",
        // Reports found wrong: the message is left as it was.
        Dismiss => "dismiss",
        // A staff member read a class's chat without joining it.
        ViewClass => "view_class",
        // The two-person reveal: asked with a reason, then a second staff
        // member approves or declines; an admin's urgent reveal needs no second.
        RevealRequest => "reveal_request",
        RevealApprove => "reveal_approve",
        RevealDecline => "reveal_decline",
        RevealUrgent => "reveal_urgent",
        // A held post (it named a classmate) shown to the class.
        Release => "release",
        // An operator's `student export` / `student erase` (the command line,
        // for a request made to the university; no actor).
        ExportData => "export_data",
        EraseAccount => "erase_account",
        // A display name removed by a moderator (its owner waits for a new one).
        ClearDisplayName => "clear_display_name",
        // That wait ended early (a removal found mistaken).
        EndNameWait => "end_name_wait",
        // Staff marked (or unmarked) the answer of a student's thread.
        MarkAnswer => "mark_answer",
        UnmarkAnswer => "unmark_answer",
    }
);

crate::text_enum!(
    /// Why a moderator hid or removed a message, from a short list: the
    /// category is all the class's public moderation log shows of a reason (the
    /// moderator's own words go to the author and the staff log only).
    ReasonCategory {
        Harassment => "harassment",
        PersonalInfo => "personal_info",
        Hate => "hate",
        Spam => "spam",
        AcademicIntegrity => "academic_integrity",
        Other => "other",
    }
);

impl ReasonCategory {
    /// The category in words, as moderators pick it and the class reads it.
    pub fn label(self) -> &'static str {
        match self {
            ReasonCategory::Harassment => "harassment or bullying",
            ReasonCategory::PersonalInfo => "personal information",
            ReasonCategory::Hate => "hate",
            ReasonCategory::Spam => "spam or off-topic",
            ReasonCategory::AcademicIntegrity => "academic dishonesty (sharing answers)",
            ReasonCategory::Other => "other",
        }
    }
}

/// A row of `audit_log`. `actor_id` is None once the actor's account is deleted.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: AuditId,
    pub actor_id: Option<UserId>,
    #[diesel(deserialize_as = String)]
    pub action: AuditAction,
    pub target_type: String,
    pub target_id: String,
    pub reason: Option<String>,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
    /// The class the entry is about, when it is about one (a message, a class read).
    pub class_id: Option<String>,
    /// A hide's or removal's reason category (`ReasonCategory`): all the public
    /// moderation log shows of the reason.
    pub category: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: &'a AuditId,
    pub actor_id: Option<&'a UserId>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub reason: Option<&'a str>,
    pub details: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub class_id: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// A staff reason or note as it is kept: one line, without control
/// characters (a pasted NUL would fail the write on PostgreSQL); line breaks
/// and runs of spaces become one space ("spam\r\nagain" is "spam again").
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Appends an entry, in the transaction of the action it records.
pub fn record(tx: &mut Tx, entry: &NewAuditEntry<'_>) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
}

/// Records an account's erasure, with no actor: the entry must not name
/// whom it erased beyond the (now vanished) account id, or staff could tie the
/// authorless placeholders it leaves back to a person. `reason` says who
/// asked, never who it was.
pub fn record_erasure(
    tx: &mut Tx,
    erased: &UserId,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: None,
            action: AuditAction::EraseAccount.as_str(),
            target_type: "user",
            target_id: erased.as_str(),
            reason,
            details: None,
            created_at: now,
            class_id: None,
            category: None,
        },
    )
    .map(drop)
}

/// An account's erasure, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub account: UserId,
    pub at: NaiveDateTime,
}

/// Every account erasure in the log, once per account, oldest first: what a
/// database restored from an earlier snapshot must erase again
/// (`ops::backup::erase_again`). Only the columns every version of the log
/// has, so an older database's log reads too.
pub fn erasures(conn: &mut DbConn) -> QueryResult<Vec<Erasure>> {
    let rows: Vec<(String, NaiveDateTime)> = audit_log::table
        .filter(audit_log::action.eq(AuditAction::EraseAccount.as_str()))
        .order((audit_log::created_at.asc(), audit_log::id.asc()))
        .select((audit_log::target_id, audit_log::created_at))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| UserId::parse(&id).map(|account| Erasure { account, at }))
        .filter(|e| seen.insert(e.account.clone()))
        .collect())
}

/// The newest entries first.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}

/// Whether `user` took a staff action that the audit log or a reveal
/// records of them: an entry they are the actor of (an author's own delete
/// aside), or a reveal they asked for or decided. Such an account is not
/// erased, whatever its role is now: erasing it would leave who hid, removed
/// or revealed what to "a deleted account", and the two-person reveal rule
/// rests on knowing who approved each reveal.
pub fn acted_as_staff(conn: &mut DbConn, user: &UserId) -> QueryResult<bool> {
    use crate::db::schema::reveal_requests;
    let audited: bool = diesel::select(diesel::dsl::exists(
        audit_log::table
            .filter(audit_log::actor_id.eq(user))
            .filter(audit_log::action.ne(AuditAction::AuthorDelete.as_str())),
    ))
    .get_result(conn)?;
    if audited {
        return Ok(true);
    }
    diesel::select(diesel::dsl::exists(
        reveal_requests::table.filter(
            reveal_requests::requester_id
                .eq(user)
                .or(reveal_requests::decided_by.eq(user)),
        ),
    ))
    .get_result(conn)
}

/// One page of the audit log, newest first, optionally for one actor and/or action.
/// `before` is the (time, id) of the last entry of the previous page.
pub fn page(
    conn: &mut DbConn,
    actor: Option<&UserId>,
    action: Option<AuditAction>,
    before: Option<(NaiveDateTime, AuditId)>,
    limit: i64,
) -> QueryResult<Vec<(AuditEntry, Option<String>)>> {
    use crate::db::schema::users;
    let mut q = audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::actor_id)))
        .into_boxed();
    if let Some(actor) = actor {
        // An author's delete names its author as the actor; listing them by
        // person would reveal who wrote what without a logged reveal.
        q = q
            .filter(audit_log::actor_id.eq(actor))
            .filter(audit_log::action.ne(AuditAction::AuthorDelete.as_str()));
    }
    if let Some(action) = action {
        q = q.filter(audit_log::action.eq(action.as_str()));
    }
    if let Some((time, id)) = before {
        q = q.filter(
            audit_log::created_at
                .lt(time)
                .or(audit_log::created_at.eq(time).and(audit_log::id.lt(id))),
        );
    }
    q.order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select((AuditEntry::as_select(), users::computing_id.nullable()))
        .load(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reason_is_kept_on_one_line_with_its_words_apart() {
        assert_eq!(super::one_line("  spam\r\nagain\u{0}!\t "), "spam again!");
        assert_eq!(super::one_line("\n"), "");
    }
}
