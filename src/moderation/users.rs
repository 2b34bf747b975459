//! Staff actions on accounts: roles and suspensions, with their rules (nobody
//! changes their own role, staff cannot be suspended, a suspension ends in the
//! future and says why). Each action writes its audit entry in its own write
//! transaction and ends the target's sessions, so a new role or a suspension
//! takes effect on the next request.

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;

use super::{AuditAction, AuditEntry, AuditId, NewAuditEntry};
use crate::accounts::{self, sessions, CampusEmail, Role, User, UserChanges, UserId};
use crate::campus_time::CampusTime;
use crate::db::schema::{audit_log, class_messages, message_flags, users};
use crate::db::{self, DbConn, Tx};
use crate::notifications;

/// Why a staff action on an account was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountActionError {
    #[error("There is no account by that computing ID or address: it may have been deleted, or the ID is mistyped. Nothing was changed.")]
    NotFound,
    #[error("You cannot change your own role; ask another admin.")]
    OwnRole,
    #[error("Staff accounts cannot be suspended; change the role first.")]
    StaffCannotBeSuspended,
    #[error("That account is suspended: a suspended account cannot be made staff. Lift the suspension first, if it should end. Nothing was changed.")]
    SuspendedCannotBeStaff,
    #[error("That account has not finished signing in (its address was never confirmed), and cleanup deletes such accounts. Ask them to sign in once, then give the role. Nothing was changed.")]
    NotSignedInYet,
    #[error("The suspension must end in the future.")]
    EndNotInFuture,
    #[error("Give the end as a date with a four-digit year, like 2027-01-15.")]
    EndTooFar,
    #[error("Give a reason of 10 to 500 characters; the student will see it.")]
    ReasonLength,
    #[error("That account has no display name (it may have just been removed or cleared). Nothing was changed.")]
    NoDisplayName,
    #[error("That account is not waiting for a new display name, or its wait changed since the page was loaded (it may have ended). Nothing was changed; reload the person's page.")]
    NoNameWait,
    #[error("That display name has changed to “{0}” since the page was loaded; nothing was changed. Look at the new name before removing it.")]
    NameChanged(String),
    #[error("The form did not say which display name it removes, or which wait it ends; nothing was changed. Reload the person's page and try again.")]
    StaleForm,
    #[error("That account is already suspended, until {0} (another moderator may have just suspended it). Nothing was changed; to set another end, lift it first.")]
    AlreadySuspended(String),
    #[error("That account is not suspended (another moderator may have lifted it, or it ran out). Nothing was changed.")]
    NotSuspended,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The account a staff action changed: its id (whose streams must check
/// their access) and its computing ID (for the page to name).
#[derive(Debug, Clone)]
pub struct ActedOn {
    pub user_id: UserId,
    pub computing_id: String,
}

impl ActedOn {
    fn of(target: User) -> ActedOn {
        ActedOn {
            user_id: target.id,
            computing_id: target.computing_id,
        }
    }
}

/// Gives the account `who` (computing ID or address) the role `role`, as
/// `actor`, who may not change their own; returns the account.
pub fn change_role(
    conn: &mut DbConn,
    actor: &UserId,
    who: &str,
    role: Role,
    now: NaiveDateTime,
) -> Result<ActedOn, AccountActionError> {
    db::write_tx(conn, |tx| {
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        if &target.id == actor {
            return Err(AccountActionError::OwnRole);
        }
        // Read again under the row's lock, so the audit entry's old role is the
        // one replaced, and a suspension in flight sees the new role (or waits).
        accounts::lock_row(tx, &target.id)?;
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        set_role(tx, Some(actor), &target, role, now)?;
        Ok(ActedOn::of(target))
    })
}

/// Suspends the student `who` until `until` (which must be after `now`), with a
/// reason of 10 to 500 characters they will be shown; staff cannot be
/// suspended. Returns the account. The audit entry writes the
/// end in `campus` time, with its zone. A running suspension is replaced only
/// when `replace` says so: the admin pages offer the form only to an account
/// that is not suspended, so from them a running one means another moderator
/// suspended it since the page was loaded.
#[allow(clippy::too_many_arguments)]
pub fn suspend_account(
    conn: &mut DbConn,
    actor: &UserId,
    who: &str,
    until: NaiveDateTime,
    reason: &str,
    replace: bool,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Result<ActedOn, AccountActionError> {
    if until <= now {
        return Err(AccountActionError::EndNotInFuture);
    }
    // A five-digit year is a typo, and SQLite's text timestamps would sort it
    // before every four-digit one (`+20266-…` < `2026-…`), hiding it from lists.
    if until.year() > 9999 {
        return Err(AccountActionError::EndTooFar);
    }
    let reason = &student_reason(reason)?;
    db::write_tx(conn, |tx| {
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        // Read again under the row's lock, and judged only from that read: two
        // moderators suspending at the same moment would otherwise both find
        // it not suspended, and a promotion committing meanwhile would let a
        // moderator be suspended.
        accounts::lock_row(tx, &target.id)?;
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        if target.role.is_staff() {
            return Err(AccountActionError::StaffCannotBeSuspended);
        }
        if let (Some(running), false) = (target.suspended_at(now), replace) {
            return Err(AccountActionError::AlreadySuspended(
                campus.exact(running).title,
            ));
        }
        suspend(tx, actor, &target, until, reason, now, campus)?;
        Ok(ActedOn::of(target))
    })
}

/// Lifts the suspension of `who`; returns the target's computing ID.
pub fn lift_suspension(
    conn: &mut DbConn,
    actor: &UserId,
    who: &str,
    now: NaiveDateTime,
) -> Result<ActedOn, AccountActionError> {
    db::write_tx(conn, |tx| {
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        if !accounts::end_running_suspension(tx, &target.id, now)? {
            return Err(AccountActionError::NotSuspended);
        }
        lift(tx, actor, &target, now)?;
        Ok(ActedOn::of(target))
    })
}

/// A staff reason the student will read, kept on one line: 10 to 500
/// characters.
fn student_reason(reason: &str) -> Result<String, AccountActionError> {
    let reason = super::one_line(reason);
    match reason.chars().count() {
        10..=500 => Ok(reason),
        _ => Err(AccountActionError::ReasonLength),
    }
}

/// Removes the display name of `who`, which must still be `seen` (the name
/// the moderator judged; an empty one is a stale form), with a reason of 10
/// to 500 characters they will be shown, and keeps a new one off for
/// `accounts::NAME_LOCK_AFTER_REMOVAL_DAYS`: for a name chosen to abuse, shown
/// to friends or matched in classmates' posts (`chat::naming`). Staff names
/// too: a name is not a role. The audit entry keeps the reason and the wait,
/// not the name (the log outlives an erasure). Returns the account and when a
/// new name is allowed.
pub fn remove_display_name(
    conn: &mut DbConn,
    actor: &UserId,
    who: &str,
    seen: &str,
    reason: &str,
    now: NaiveDateTime,
    campus: CampusTime,
) -> Result<(ActedOn, NaiveDateTime), AccountActionError> {
    if seen.trim().is_empty() {
        return Err(AccountActionError::StaleForm);
    }
    let reason = &student_reason(reason)?;
    let until = now + chrono::Duration::days(accounts::NAME_LOCK_AFTER_REMOVAL_DAYS);
    db::write_tx(conn, |tx| {
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        match accounts::remove_display_name(tx, &target.id, seen, until, now)? {
            accounts::NameRemoval::Removed => {}
            accounts::NameRemoval::Changed(other) => {
                return Err(AccountActionError::NameChanged(other))
            }
            accounts::NameRemoval::NoName => return Err(AccountActionError::NoDisplayName),
        }
        notifications::account::display_name_removed(tx, &target.id, until, reason, now, campus)?;
        // Stored words outlive a change of zone, so they name theirs ("EST").
        // Not the name itself: an erasure of the account must leave no copy
        // of it (it may be their own), and the log is never rewritten.
        let details = format!("a new one from {}", campus.exact(until).title);
        record(
            tx,
            Some(actor),
            AuditAction::ClearDisplayName,
            &target,
            Some(reason),
            Some(&details),
            now,
        )?;
        Ok((ActedOn::of(target), until))
    })
}

/// The audit entry of a staff action on the account `target` (`actor` None:
/// the command line).
fn record(
    tx: &mut Tx,
    actor: Option<&UserId>,
    action: AuditAction,
    target: &User,
    reason: Option<&str>,
    details: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    super::record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: actor,
            action: action.as_str(),
            target_type: "user",
            target_id: target.id.as_str(),
            reason,
            details,
            created_at: now,
            class_id: None,
            category: None,
        },
    )?;
    Ok(())
}

/// Ends the wait `remove_display_name` set on `who`'s next name, now (a
/// removal found mistaken), if it is still the wait `seen` the moderator was
/// shown; they are told. Returns the account.
pub fn end_name_wait(
    conn: &mut DbConn,
    actor: &UserId,
    who: &str,
    seen: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<ActedOn, AccountActionError> {
    db::write_tx(conn, |tx| {
        let target = find_by_login(tx, who)?.ok_or(AccountActionError::NotFound)?;
        if !accounts::end_name_wait(tx, &target.id, seen, now)? {
            return Err(AccountActionError::NoNameWait);
        }
        notifications::account::name_wait_ended(tx, &target.id, now)?;
        record(
            tx,
            Some(actor),
            AuditAction::EndNameWait,
            &target,
            None,
            None,
            now,
        )?;
        Ok(ActedOn::of(target))
    })
}

/// Changes a user's role. `actor` is None when done from the command line.
/// A suspended account is not made staff: staff cannot be suspended, and a
/// suspended moderator could still hide posts and approve reveals.
pub fn set_role(
    tx: &mut Tx,
    actor: Option<&UserId>,
    target: &User,
    role: Role,
    now: NaiveDateTime,
) -> Result<bool, AccountActionError> {
    if target.role == role {
        return Ok(false);
    }
    if role.is_staff() && target.suspended_at(now).is_some() {
        return Err(AccountActionError::SuspendedCannotBeStaff);
    }
    if role.is_staff() && !target.email_verified {
        return Err(AccountActionError::NotSignedInYet);
    }
    accounts::update(
        tx,
        &target.id,
        &UserChanges {
            role: Some(role.as_str()),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    sessions::end_all(tx, &target.id)?;
    let details = format!("{} → {}", target.role.as_str(), role.as_str());
    record(
        tx,
        actor,
        AuditAction::RoleChange,
        target,
        None,
        Some(&details),
        now,
    )?;
    Ok(true)
}

/// Suspends a user until `until`, with a reason they will be shown.
pub fn suspend(
    tx: &mut Tx,
    actor: &UserId,
    target: &User,
    until: NaiveDateTime,
    reason: &str,
    now: NaiveDateTime,
    campus: CampusTime,
) -> QueryResult<()> {
    accounts::update(
        tx,
        &target.id,
        &UserChanges {
            suspended_until: Some(Some(until)),
            suspension_reason: Some(Some(reason)),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    sessions::end_all(tx, &target.id)?;
    // A suspended account's reports stop counting toward automatic hides
    // (they stay in the queue): suspended brigaders must not still hide a
    // post with one more report.
    crate::chat::flags::uncount_reports_by(tx, &target.id)?;
    notifications::account::suspended(tx, &target.id, until, reason, now, campus)?;
    // Stored words outlive a change of zone, so they name theirs ("EST").
    let details = format!("until {}", campus.exact(until).title);
    record(
        tx,
        Some(actor),
        AuditAction::Suspend,
        target,
        Some(reason),
        Some(&details),
        now,
    )?;
    Ok(())
}

/// Tells the student and logs a suspension `lift_suspension` has just ended.
fn lift(tx: &mut Tx, actor: &UserId, target: &User, now: NaiveDateTime) -> QueryResult<()> {
    notifications::account::suspension_lifted(tx, &target.id, now)?;
    record(
        tx,
        Some(actor),
        AuditAction::LiftSuspension,
        target,
        None,
        None,
        now,
    )?;
    Ok(())
}

/// Accented letters and the plain ones they are found by ("Ángela" by
/// "ange"), folded the same way in SQL (`replace`, on both backends) and in Rust.
const FOLDS: &[(char, char)] = &[
    ('á', 'a'),
    ('à', 'a'),
    ('â', 'a'),
    ('ä', 'a'),
    ('ã', 'a'),
    ('å', 'a'),
    ('é', 'e'),
    ('è', 'e'),
    ('ê', 'e'),
    ('ë', 'e'),
    ('í', 'i'),
    ('ì', 'i'),
    ('î', 'i'),
    ('ï', 'i'),
    ('ó', 'o'),
    ('ò', 'o'),
    ('ô', 'o'),
    ('ö', 'o'),
    ('õ', 'o'),
    ('ú', 'u'),
    ('ù', 'u'),
    ('û', 'u'),
    ('ü', 'u'),
    ('ñ', 'n'),
    ('ç', 'c'),
    ('ý', 'y'),
    ('ÿ', 'y'),
];

/// `text` lowered and with its accents taken off: the one fold of names
/// (`accounts::display_name::folded`), which takes off at least those of `FOLDS`.
fn folded(text: &str) -> String {
    crate::accounts::display_name::folded(text)
}

/// The SQL for `folded(column)`: `lower` (which lowers every letter on both
/// backends), then one `replace` per accented letter.
fn folded_sql(column: &str) -> String {
    FOLDS
        .iter()
        .fold(format!("lower({column})"), |inner, (from, to)| {
            format!("replace({inner}, '{from}', '{to}')")
        })
}

/// Confirmed users whose computing ID, address or display name contains
/// `query`, in any case and with or without accents (at most `limit`, by
/// computing ID). `%` and `_` in the query are literal. Control characters
/// are dropped from it: no computing ID, address or name holds one, and
/// PostgreSQL refuses a statement whose text holds a NUL.
pub fn search(conn: &mut DbConn, query: &str, limit: i64) -> QueryResult<Vec<User>> {
    let pattern = format!("%{}%", db::like_escaped(&folded(&super::one_line(query))));
    let by_name = diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "{} LIKE ",
        folded_sql("users.display_name")
    ))
    .bind::<diesel::sql_types::Text, _>(pattern.clone())
    .sql(" ESCAPE '\\'");
    users::table
        .filter(
            db::lower(users::computing_id.nullable())
                .like(pattern.clone())
                .escape('\\')
                .or(db::lower(users::email.nullable())
                    .like(pattern)
                    .escape('\\'))
                .or(by_name.nullable()),
        )
        .filter(users::email_verified.eq(true))
        .order(users::computing_id)
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

/// The suspensions running at `now`, soonest end first, in one statement.
pub fn current_suspensions(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::suspended_until.gt(now))
        .order((users::suspended_until, users::computing_id))
        .select(User::as_select())
        .load(conn)
}

/// What to look `who` up by: the computing ID of a campus address at any of
/// the `allowed` domains (or their `email.` form), since sign-in knows a
/// student by computing ID and stores one address for them; otherwise `who`
/// as typed (a bare computing ID is left as it is).
pub fn login_key(who: &str, allowed: &[String]) -> String {
    match who.contains('@').then(|| CampusEmail::parse(who, allowed)) {
        Some(Ok(email)) => email.computing_id().to_string(),
        _ => who.trim().to_string(),
    }
}

/// A user by computing ID or address, as an operator types it. Text with a
/// control character names nobody (and PostgreSQL refuses to bind a NUL,
/// which would fail the page as a 500).
pub fn find_by_login(conn: &mut DbConn, who: &str) -> QueryResult<Option<User>> {
    let who = who.trim().to_ascii_lowercase();
    if who.chars().any(char::is_control) {
        return Ok(None);
    }
    users::table
        .filter(users::email.eq(&who).or(users::computing_id.eq(&who)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// What a staff member's user page shows of one account: who they are, their
/// suspensions now and past, and reports against them as counts only. Never
/// a message's text, and never a list of their messages across classes (that
/// would undo the pseudonyms beyond what a reveal allowed).
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: User,
    /// Suspensions, their lifting, display names removed and their waits
    /// ended, newest first, with the acting staff member's computing ID (None
    /// once that account is deleted).
    pub history: Vec<(AuditEntry, Option<String>)>,
    /// The report counts, only for a viewer already entitled to know this
    /// person wrote something (see `entitled`); None for anyone else.
    pub counts: Option<ReportCounts>,
}

/// Reports against those of one person's messages that were revealed to the
/// viewer, as counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportCounts {
    /// Their messages revealed to the viewer (what the counts are of).
    pub messages_revealed: i64,
    /// Reports made against their messages.
    pub reports_received: i64,
    /// Their messages hidden now (by reports or a moderator).
    pub messages_hidden: i64,
    /// Their messages a moderator removed.
    pub messages_removed: i64,
}

/// The messages of `author` revealed to `viewer`, in two statements: those
/// whose reveal a second staff member approved for them, and those they
/// revealed alone as urgent. Only these are counted on the user page: counts
/// of all their messages would be a reveal oracle, even for a viewer a
/// reveal already told about one (hide a message, then watch "hidden now" go
/// up, and its author is known without two people; a new report in the
/// queue, and "reports received").
fn revealed_to(conn: &mut DbConn, viewer: &UserId, author: &UserId) -> QueryResult<Vec<String>> {
    use super::reveals::RevealStatus;
    use crate::db::schema::reveal_requests;
    let theirs = || {
        class_messages::table
            .filter(class_messages::user_id.eq(author))
            .select(class_messages::id)
    };
    let mut ids: Vec<String> = reveal_requests::table
        .filter(reveal_requests::requester_id.eq(viewer))
        .filter(reveal_requests::status.eq(RevealStatus::Approved.as_str()))
        .filter(reveal_requests::message_id.eq_any(theirs()))
        .select(reveal_requests::message_id)
        .load(conn)?;
    ids.extend(
        audit_log::table
            .filter(audit_log::actor_id.eq(viewer))
            .filter(audit_log::action.eq(AuditAction::RevealUrgent.as_str()))
            .filter(audit_log::target_type.eq("message"))
            .filter(audit_log::target_id.eq_any(theirs()))
            .select(audit_log::target_id)
            .load::<String>(conn)?,
    );
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The account `id` for its user page as `viewer` sees it, in at most seven
/// statements; None when unknown. The report counts are of the messages
/// revealed to `viewer` (`revealed_to`), and None when there are none.
pub fn profile(conn: &mut DbConn, viewer: &UserId, id: &UserId) -> QueryResult<Option<Profile>> {
    let Some(user) = accounts::find(conn, id)? else {
        return Ok(None);
    };
    let history = audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::actor_id)))
        .filter(audit_log::target_type.eq("user"))
        .filter(audit_log::target_id.eq(id.as_str()))
        .filter(audit_log::action.eq_any([
            AuditAction::Suspend.as_str(),
            AuditAction::LiftSuspension.as_str(),
            AuditAction::ClearDisplayName.as_str(),
            AuditAction::EndNameWait.as_str(),
        ]))
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(100)
        .select((AuditEntry::as_select(), users::computing_id.nullable()))
        .load(conn)?;
    let revealed = revealed_to(conn, viewer, id)?;
    let counts = if revealed.is_empty() {
        None
    } else {
        Some(report_counts(conn, id, &revealed)?)
    };
    Ok(Some(Profile {
        user,
        history,
        counts,
    }))
}

/// Reports against those of `id`'s messages in `revealed`, in three statements.
fn report_counts(conn: &mut DbConn, id: &UserId, revealed: &[String]) -> QueryResult<ReportCounts> {
    let theirs = || {
        class_messages::table
            .filter(class_messages::user_id.eq(id))
            .filter(class_messages::id.eq_any(revealed.to_vec()))
            .select(class_messages::id)
    };
    let reports_received = message_flags::table
        .filter(message_flags::message_id.eq_any(theirs()))
        .count()
        .get_result(conn)?;
    let messages_hidden = class_messages::table
        .filter(class_messages::user_id.eq(id))
        .filter(class_messages::id.eq_any(revealed.to_vec()))
        .filter(class_messages::hidden.eq(true))
        .filter(class_messages::deleted.eq(false))
        .count()
        .get_result(conn)?;
    let messages_removed = audit_log::table
        .filter(audit_log::action.eq(AuditAction::Delete.as_str()))
        .filter(audit_log::target_type.eq("message"))
        .filter(audit_log::target_id.eq_any(theirs()))
        .select(audit_log::target_id)
        .distinct()
        .load::<String>(conn)?
        .len() as i64;
    Ok(ReportCounts {
        messages_revealed: revealed.len() as i64,
        reports_received,
        messages_hidden,
        messages_removed,
    })
}
