//! Staff actions on accounts: roles and suspensions. Each writes its audit
//! entry in the caller's transaction and ends the target's sessions, so a new
//! role or a suspension takes effect on the next request.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::{self, sessions, Role, User, UserChanges, UserId};
use crate::db::schema::users;
use crate::db::{self, DbConn};

/// Changes a user's role. `actor` is None when done from the command line.
pub fn set_role(
    conn: &mut DbConn,
    actor: Option<&UserId>,
    target: &User,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if target.role == role {
        return Ok(false);
    }
    accounts::update(
        conn,
        &target.id,
        &UserChanges {
            role: Some(role.as_str()),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    sessions::end_all(conn, &target.id)?;
    let details = format!("{} → {}", target.role.as_str(), role.as_str());
    super::record(
        conn,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: actor,
            action: AuditAction::RoleChange.as_str(),
            target_type: "user",
            target_id: target.id.as_str(),
            reason: None,
            details: Some(&details),
            created_at: now,
        },
    )?;
    Ok(true)
}

/// Suspends a user until `until`, with a reason they will be shown.
pub fn suspend(
    conn: &mut DbConn,
    actor: &UserId,
    target: &User,
    until: NaiveDateTime,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    accounts::update(
        conn,
        &target.id,
        &UserChanges {
            suspended_until: Some(Some(until)),
            suspension_reason: Some(Some(reason)),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    sessions::end_all(conn, &target.id)?;
    let details = format!("until {}", until.format("%Y-%m-%d %H:%M UTC"));
    super::record(
        conn,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: Some(actor),
            action: AuditAction::Suspend.as_str(),
            target_type: "user",
            target_id: target.id.as_str(),
            reason: Some(reason),
            details: Some(&details),
            created_at: now,
        },
    )?;
    Ok(())
}

/// Lifts a suspension.
pub fn lift(
    conn: &mut DbConn,
    actor: &UserId,
    target: &User,
    now: NaiveDateTime,
) -> QueryResult<()> {
    accounts::update(
        conn,
        &target.id,
        &UserChanges {
            suspended_until: Some(None),
            suspension_reason: Some(None),
            updated_at: Some(now),
            ..Default::default()
        },
    )?;
    super::record(
        conn,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: Some(actor),
            action: AuditAction::LiftSuspension.as_str(),
            target_type: "user",
            target_id: target.id.as_str(),
            reason: None,
            details: None,
            created_at: now,
        },
    )?;
    Ok(())
}

/// Users whose computing ID or address starts with `query` (at most `limit`).
pub fn search(conn: &mut DbConn, query: &str, limit: i64) -> QueryResult<Vec<User>> {
    let pattern = format!("{}%", db::like_escaped(&query.trim().to_ascii_lowercase()));
    users::table
        .filter(
            users::computing_id
                .like(pattern.clone())
                .escape('\\')
                .or(users::email.like(pattern).escape('\\')),
        )
        .filter(users::email_verified.eq(true))
        .order(users::computing_id)
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

/// A user by computing ID or address, as an operator types it.
pub fn find_by_login(conn: &mut DbConn, who: &str) -> QueryResult<Option<User>> {
    let who = who.trim().to_ascii_lowercase();
    users::table
        .filter(users::email.eq(&who).or(users::computing_id.eq(&who)))
        .select(User::as_select())
        .first(conn)
        .optional()
}
