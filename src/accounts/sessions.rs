//! Signed-in browsers. The cookie holds a random token; the database holds only its
//! SHA-256. Sessions slide for 30 days of use, up to 90 days in all.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{NewSession, Session, SessionId, User, UserId};
use crate::db::schema::sessions;
use crate::db::DbConn;

pub const IDLE_LIFETIME: Duration = Duration::days(30);
pub const ABSOLUTE_LIFETIME: Duration = Duration::days(90);
/// `last_used_at` is written at most this often, not on every request.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(5);

/// A random secret of 256 bits, hex encoded: session tokens and link tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 (hex) we store instead of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session just created, with the token for the cookie (shown once, never stored).
pub struct NewlyCreated {
    pub session: Session,
    pub token: String,
}

/// Starts a session for `user_id`.
pub fn create(
    conn: &mut DbConn,
    user_id: &UserId,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<NewlyCreated> {
    let token = random_token();
    let hash = hash_token(&token);
    let id = SessionId::new();
    let agent = user_agent.map(|a| truncate(a, 200));
    let row = NewSession {
        id: &id,
        user_id,
        token_hash: &hash,
        user_agent: agent.as_deref(),
        expires_at: now + IDLE_LIFETIME,
        created_at: now,
        last_used_at: now,
    };
    diesel::insert_into(sessions::table)
        .values(&row)
        .execute(conn)?;
    let session = Session {
        id: id.clone(),
        user_id: user_id.clone(),
        token_hash: hash.clone(),
        user_agent: agent.clone(),
        expires_at: row.expires_at,
        created_at: now,
        last_used_at: now,
    };
    Ok(NewlyCreated { session, token })
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The hash to look a cookie token up by, or `None` for a value no token of
/// ours can have (no statement is run for it).
pub fn lookup_hash(token: &str) -> Option<String> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash_token(token))
}

/// The live session with this token hash, joined with its user, as a query
/// to select from: the session lookup is the first read of every signed-in
/// request, and a page adds its own columns to it (the nav's marks) rather
/// than running a statement of its own.
macro_rules! live_session {
    ($hash:expr, $now:expr) => {{
        use $crate::db::schema::{sessions, users};
        let now: chrono::NaiveDateTime = $now;
        sessions::table
            .inner_join(users::table)
            .filter(sessions::token_hash.eq($hash))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::created_at.gt(now - $crate::accounts::sessions::ABSOLUTE_LIFETIME))
    }};
}
pub(crate) use live_session;

diesel::alias!(sessions as token_owner: TokenOwner);

/// Who a token hash belongs to, as a one-row subquery (on `sessions` under
/// another name, so it can sit inside `live_session!`): the columns a page
/// adds to the session lookup name their student by it, and the database
/// reads it once, by the token's unique index. Whether the session is live
/// is the outer query's business.
macro_rules! session_owner {
    ($hash:expr) => {{
        use $crate::accounts::sessions::token_owner;
        use $crate::db::schema::sessions;
        token_owner
            .filter(token_owner.field(sessions::token_hash).eq($hash))
            .select(token_owner.field(sessions::user_id))
            .single_value()
    }};
}
pub(crate) use session_owner;

/// Slides a session's idle expiry when it was last written more than
/// `TOUCH_INTERVAL` ago (one UPDATE every few minutes per browser, not one
/// per request).
pub fn slide(conn: &mut DbConn, session: &mut Session, now: NaiveDateTime) -> QueryResult<()> {
    if now - session.last_used_at < TOUCH_INTERVAL {
        return Ok(());
    }
    let expires_at = (now + IDLE_LIFETIME).min(session.created_at + ABSOLUTE_LIFETIME);
    diesel::update(sessions::table.find(&session.id))
        .set((
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    session.last_used_at = now;
    session.expires_at = expires_at;
    Ok(())
}

/// The live session and its user for a cookie token, sliding its expiry when due.
pub fn authenticate(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(Session, User)>> {
    let Some(hash) = lookup_hash(token) else {
        return Ok(None);
    };
    let found: Option<(Session, User)> = live_session!(hash, now)
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    let Some((mut session, user)) = found else {
        return Ok(None);
    };
    slide(conn, &mut session, now)?;
    Ok(Some((session, user)))
}

/// A user's live sessions, most recently used first.
pub fn list_for_user(
    conn: &mut DbConn,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::last_used_at.desc())
        .select(Session::as_select())
        .load(conn)
}

/// Ends one of the user's own sessions; returns whether it existed.
pub fn end(conn: &mut DbConn, user_id: &UserId, session_id: &SessionId) -> QueryResult<bool> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Ends every session of the user but `keep`.
pub fn end_others(conn: &mut DbConn, user_id: &UserId, keep: &SessionId) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}

/// Ends every session of the user: on suspension, role change or deletion.
pub fn end_all(conn: &mut DbConn, user_id: &UserId) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Removes sessions past their expiry (cleanup). `expires_at` never passes the
/// absolute limit (see `authenticate`), so one indexed condition covers both.
pub fn delete_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_only_their_hash_is_kept() {
        let token = random_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, random_token());
        let hash = hash_token(&token);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, token);
    }
}
