//! Signed-in browsers. The cookie holds a random token; the database holds only its
//! SHA-256. Sessions slide for 30 days of use, up to 90 days in all.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{NewSession, Session, SessionId, UserId};
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
/// adds to the session lookup name their student by it, each a probe of the
/// token's unique index. Whether the session is live
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

/// Sessions whose idle expiry is due to slide, held in memory and written
/// together every few seconds (`flush`, by the server's background job and
/// when it stops) rather than by the request that noticed: a page's read
/// path writes nothing, and many touches cost one transaction. A session is
/// due when its row was last written more than `TOUCH_INTERVAL` ago; until
/// the flush, each request of it notes it again (a map insert). A crash loses
/// at most the last few seconds of sliding, which moves a 30-day expiry by
/// seconds.
#[derive(Debug, Default)]
pub struct Touches(std::sync::Mutex<std::collections::HashMap<SessionId, Touch>>);

/// Sessions one transaction of `Touches::flush` writes, at most.
pub const TOUCHES_PER_WRITE: usize = 500;

/// When a session was used, and the expiry that use slides it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Touch {
    used_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl Touches {
    /// Notes that `session` was used at `now`, sliding the caller's copy of
    /// its expiry when due; writes nothing.
    pub fn note(&self, session: &mut Session, now: NaiveDateTime) {
        if now - session.last_used_at < TOUCH_INTERVAL {
            return;
        }
        let expires_at = (now + IDLE_LIFETIME).min(session.created_at + ABSOLUTE_LIFETIME);
        let touch = Touch {
            used_at: now,
            expires_at,
        };
        self.held()
            .entry(session.id.clone())
            .and_modify(|held| {
                if touch.used_at > held.used_at {
                    *held = touch;
                }
            })
            .or_insert(touch);
        session.last_used_at = now;
        session.expires_at = expires_at;
    }

    /// How many sessions wait to be written.
    pub fn pending(&self) -> usize {
        self.held().len()
    }

    /// Writes up to `TOUCHES_PER_WRITE` noted sessions in one transaction (an
    /// UPDATE each, never moving a row back in time; a session ended
    /// meanwhile stays ended): after a pause, thousands of sessions slide at
    /// once, and smaller transactions keep the pages' requests flowing
    /// between them. Returns how many it wrote; on failure they are kept for
    /// the next try.
    pub fn flush(&self, conn: &mut DbConn) -> QueryResult<usize> {
        let due: Vec<(SessionId, Touch)> = {
            let mut held = self.held();
            let ids: Vec<SessionId> = held.keys().take(TOUCHES_PER_WRITE).cloned().collect();
            ids.into_iter()
                .filter_map(|id| held.remove(&id).map(|touch| (id, touch)))
                .collect()
        };
        if due.is_empty() {
            return Ok(0);
        }
        let written = crate::db::write_tx(conn, |tx| {
            let conn: &mut DbConn = tx;
            for (id, touch) in &due {
                diesel::update(
                    sessions::table
                        .find(id)
                        .filter(sessions::last_used_at.lt(touch.used_at)),
                )
                .set((
                    sessions::last_used_at.eq(touch.used_at),
                    sessions::expires_at.eq(touch.expires_at),
                ))
                .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(due.len())
        });
        if written.is_err() {
            let mut held = self.held();
            for (id, touch) in due {
                held.entry(id).or_insert(touch);
            }
        }
        written
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<SessionId, Touch>> {
        // A panic while holding this lock left nothing half-written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

/// The PostgreSQL `NOTIFY` channel that tells every app process a student's
/// access changed (a session ended, a class left, the account erased), so
/// that student's open streams check at once on every process, not at their
/// minute's check. The payload is the student's id.
pub const ACCESS_CHANNEL: &str = "cg_access";

/// Announces, at commit (or at once outside a transaction), that `user_id`'s
/// access changed. PostgreSQL only: SQLite runs one app process, whose
/// handlers tell its bus themselves (`live::Bus::access_changed`).
pub fn announce_access_changed(conn: &mut DbConn, user_id: &UserId) -> QueryResult<()> {
    if let DbConn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(ACCESS_CHANNEL)
            .bind::<diesel::sql_types::Text, _>(user_id.as_str())
            .execute(pg)?;
    }
    Ok(())
}

/// Ends one of the user's own sessions, in its own transaction with its
/// announcement; returns whether it existed.
pub fn end(conn: &mut DbConn, user_id: &UserId, session_id: &SessionId) -> QueryResult<bool> {
    crate::db::write_tx(conn, |tx| {
        let n = diesel::delete(
            sessions::table
                .filter(sessions::id.eq(session_id))
                .filter(sessions::user_id.eq(user_id)),
        )
        .execute(&mut **tx)?;
        announced(tx, user_id, n).map(|n| n > 0)
    })
}

/// Ends every session of the user but `keep`, in its own transaction with
/// its announcement.
pub fn end_others(conn: &mut DbConn, user_id: &UserId, keep: &SessionId) -> QueryResult<usize> {
    crate::db::write_tx(conn, |tx| {
        let n = diesel::delete(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::id.ne(keep)),
        )
        .execute(&mut **tx)?;
        announced(tx, user_id, n)
    })
}

/// Ends every session of the user: on suspension, role change or deletion,
/// inside the caller's transaction.
pub fn end_all(conn: &mut DbConn, user_id: &UserId) -> QueryResult<usize> {
    let n = diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    announced(conn, user_id, n)
}

/// Sessions one student keeps at once: every device they use, and then some.
pub const MAX_PER_STUDENT: i64 = 20;

/// Ends the user's sessions beyond the `MAX_PER_STUDENT` used most lately
/// (called as a session starts): each holds live streams, and signing in
/// over and over must not pile them up without end.
pub fn end_beyond_limit(conn: &mut DbConn, user_id: &UserId) -> QueryResult<usize> {
    let beyond: Vec<SessionId> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order((sessions::last_used_at.desc(), sessions::created_at.desc()))
        .offset(MAX_PER_STUDENT)
        .select(sessions::id)
        .load(conn)?;
    if beyond.is_empty() {
        return Ok(0);
    }
    let n = diesel::delete(sessions::table.filter(sessions::id.eq_any(&beyond))).execute(conn)?;
    announced(conn, user_id, n)
}

/// `ended`, after announcing the change when any session ended.
fn announced(conn: &mut DbConn, user_id: &UserId, ended: usize) -> QueryResult<usize> {
    if ended > 0 {
        announce_access_changed(conn, user_id)?;
    }
    Ok(ended)
}

/// Ends every session (after a restore from a snapshot: sessions ended since
/// it was taken, by sign-out, suspension or a role change, would live again).
pub fn end_everyones(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(sessions::table).execute(conn)
}

/// Removes sessions past their expiry (cleanup). `expires_at` never passes the
/// absolute limit (see `live_session!`), so one indexed condition covers both.
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
