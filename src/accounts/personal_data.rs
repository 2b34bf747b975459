//! A student's own data in the account tables: their profile and sessions for
//! the data export, and the erasure of the account itself (its sign-in links
//! and sessions go with it). `ops::student_data` composes this with the rest.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::User;
use crate::db::schema::{magic_links, rate_limit_hits, sessions, users};
use crate::db::{DbConn, Tx};

/// The account as its owner sees it.
#[derive(Debug, Serialize)]
pub struct Profile {
    pub email: String,
    pub computing_id: String,
    pub display_name: Option<String>,
    pub hide_classes: bool,
    /// A moderator removed their display name: no new one before this.
    pub display_name_locked_until: Option<NaiveDateTime>,
    pub role: String,
    pub email_verified: bool,
    pub suspended_until: Option<NaiveDateTime>,
    pub suspension_reason: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// One signed-in device.
#[derive(Debug, Serialize)]
pub struct SessionEntry {
    pub device: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// One sign-in email asked for: when, until when it could work, whether it is
/// closed, and how many code tries were counted against it (never its link
/// or code).
#[derive(Debug, Serialize)]
pub struct SignInRequest {
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Used, or closed when another email's link or code signed in.
    pub closed: bool,
    /// Code tries counted against it, right or wrong: a try counts against
    /// every live email of the address, and an email takes five.
    pub code_tries: i32,
}

/// The account part of a student's export.
#[derive(Debug)]
pub struct AccountExport {
    pub profile: Profile,
    pub sessions: Vec<SessionEntry>,
    pub sign_in_requests: Vec<SignInRequest>,
}

/// The profile of `user`, their sessions and their sign-in emails, oldest first.
pub fn export_user(conn: &mut DbConn, user: &User) -> QueryResult<AccountExport> {
    let me = &user.id;
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
    let request_rows: Vec<(NaiveDateTime, NaiveDateTime, bool, i32)> = magic_links::table
        .filter(magic_links::user_id.eq(me))
        .order(magic_links::created_at)
        .select((
            magic_links::created_at,
            magic_links::expires_at,
            magic_links::used,
            magic_links::code_attempts,
        ))
        .load(conn)?;
    Ok(AccountExport {
        profile: Profile {
            email: user.email.clone(),
            computing_id: user.computing_id.clone(),
            display_name: user.display_name.clone(),
            hide_classes: user.hide_classes,
            display_name_locked_until: user.display_name_locked_until,
            role: user.role.as_str().to_string(),
            email_verified: user.email_verified,
            suspended_until: user.suspended_until,
            suspension_reason: user.suspension_reason.clone(),
            last_login_at: user.last_login_at,
            created_at: user.created_at,
        },
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
        sign_in_requests: request_rows
            .into_iter()
            .map(
                |(created_at, expires_at, closed, code_tries)| SignInRequest {
                    created_at,
                    expires_at,
                    closed,
                    code_tries,
                },
            )
            .collect(),
    })
}

/// Deletes the account of `user`, and the count of sign-in emails to their
/// computing ID (one bucket at every allowed domain); their sessions and
/// sign-in links go with the account. The rate limits named by their account
/// id are the caller's (`ops::student_data::erase`): those still counting
/// pass to the account their computing ID signs up on again.
pub fn erase_user(tx: &mut Tx, user: &User) -> QueryResult<()> {
    let me = &user.id;
    diesel::delete(
        rate_limit_hits::table
            .filter(rate_limit_hits::bucket.eq(super::signin::email_bucket(&user.computing_id))),
    )
    .execute(&mut **tx)?;
    // Audit entries keep a NULL actor, shown as "deleted account".
    diesel::delete(users::table.find(me)).execute(&mut **tx)?;
    super::sessions::announce_access_changed(tx, me)
}
