//! Sliding-window rate limits kept in the database, so every app process counts
//! the same hits. A bucket is a string such as `login-email:mst3k`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::rate_limit_hits;
use crate::db::{DbConn, Tx};

/// The limit was reached; the caller may try again at `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_at: NaiveDateTime,
}

/// Records one hit in `bucket` unless `limit` hits already fall inside `window`.
/// It takes a transaction: on PostgreSQL an advisory lock on the bucket
/// serializes concurrent callers, on SQLite the immediate transaction does.
pub fn hit(
    tx: &mut Tx,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<Result<(), Limited>> {
    lock(tx, bucket)?;
    if let Some(limited) = reached(tx, bucket, limit, window, now)? {
        return Ok(Err(limited));
    }
    record(tx, bucket, now)?;
    Ok(Ok(()))
}

/// Records one hit in `bucket`, unconditionally: for a caller that holds the
/// bucket's `lock` and has already read it (`reached`) in this transaction.
pub fn record(tx: &mut Tx, bucket: &str, now: NaiveDateTime) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    diesel::insert_into(rate_limit_hits::table)
        .values((
            rate_limit_hits::id.eq(uuid::Uuid::new_v4().to_string()),
            rate_limit_hits::bucket.eq(bucket),
            rate_limit_hits::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Serializes the callers of `bucket` for the rest of the transaction: on
/// PostgreSQL an advisory lock (taken again by the same transaction, it
/// returns at once), on SQLite the immediate transaction already does. For a
/// caller that reads the bucket (`reached`) and then decides whether to
/// `record` a hit.
pub fn lock(tx: &mut Tx, bucket: &str) -> QueryResult<()> {
    crate::db::lock_key(tx, bucket)
}

/// Whether `limit` hits of `bucket` already fall inside `window`, recording
/// none: when they do, the time the oldest that counts ages out.
pub fn reached(
    conn: &mut DbConn,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<Option<Limited>> {
    let recent: Vec<NaiveDateTime> = rate_limit_hits::table
        .filter(rate_limit_hits::bucket.eq(bucket))
        .filter(rate_limit_hits::created_at.gt(now - window))
        .order(rate_limit_hits::created_at.asc())
        .select(rate_limit_hits::created_at)
        .load(conn)?;
    if (recent.len() as u64) < u64::from(limit) {
        return Ok(None);
    }
    // The window frees up when the oldest hit that still counts ages out (a
    // limit of 0, which configuration refuses, would never free up).
    let retry_at = match limit
        .checked_sub(1)
        .and_then(|back| recent.len().checked_sub(1 + back as usize))
    {
        Some(i) => recent[i] + window,
        None => now + window,
    };
    Ok(Some(Limited { retry_at }))
}

/// The longest window of any limit: older hits count against no one, and
/// cleanup removes them.
pub const LONGEST_WINDOW: Duration = Duration::days(1);

diesel::define_sql_function! {
    /// SQL's REPLACE (the same on SQLite and PostgreSQL).
    fn replace(text: diesel::sql_types::Text, from: diesel::sql_types::Text, to: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Buckets naming `id` (a student's are named by their account id), as a
/// `LIKE` pattern: ids are UUIDs, with nothing in them `LIKE` reads.
fn naming(id: &str) -> String {
    format!("%{id}%")
}

/// Whether a hit still counting (since `since`) is in a bucket of one of
/// these `kinds` naming `id` (see `rename`).
pub fn any_of_kinds(
    conn: &mut DbConn,
    id: &str,
    kinds: &[&str],
    since: NaiveDateTime,
) -> QueryResult<bool> {
    for kind in kinds {
        let found = diesel::select(diesel::dsl::exists(
            rate_limit_hits::table
                .filter(rate_limit_hits::bucket.like(format!("{kind}:%{id}%")))
                .filter(rate_limit_hits::created_at.gt(since)),
        ))
        .get_result(conn)?;
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Names `to` instead of `from` in the buckets of these `kinds` (the part
/// before the first `:`, such as `class-changes`) naming `from`: an erased
/// student's limits pass to the account their computing ID signs up on again.
pub fn rename(tx: &mut Tx, from: &str, to: &str, kinds: &[&str]) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    let mut renamed = 0;
    for kind in kinds {
        renamed += diesel::update(
            rate_limit_hits::table.filter(rate_limit_hits::bucket.like(format!("{kind}:%{from}%"))),
        )
        .set(rate_limit_hits::bucket.eq(replace(rate_limit_hits::bucket, from, to)))
        .execute(conn)?;
    }
    Ok(renamed)
}

/// Deletes the hits of one bucket: what they counted did not happen after
/// all (a notice withdrawn before it was mailed, say).
pub fn clear(tx: &mut Tx, bucket: &str) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::delete(rate_limit_hits::table.filter(rate_limit_hits::bucket.eq(bucket))).execute(conn)
}

/// Deletes the hits of every bucket naming `id`.
pub fn forget(tx: &mut Tx, id: &str) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::delete(rate_limit_hits::table.filter(rate_limit_hits::bucket.like(naming(id))))
        .execute(conn)
}

/// Removes hits older than `max_window`; they can no longer count against anyone.
pub fn prune(conn: &mut DbConn, older_than: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_limit_hits::table.filter(rate_limit_hits::created_at.lt(older_than)))
        .execute(conn)
}

/// Buckets this process already found over their limit, and until when. Checked
/// before the database: a client flooding a limited endpoint is answered from
/// memory in microseconds, with no connection, no write and no hashing. Only
/// refusals are remembered, and only until they lapse, so the database stays the
/// truth (another process that has not seen the flood asks it once, then knows).
#[derive(Debug, Default)]
pub struct KnownLimits {
    until: std::sync::Mutex<std::collections::HashMap<String, NaiveDateTime>>,
}

/// How many refused buckets a process keeps before it forgets the lapsed ones.
const KNOWN_LIMITS_CAPACITY: usize = 10_000;

impl KnownLimits {
    /// The refusal still standing for `bucket` at `now`, if this process saw one.
    pub fn check(&self, bucket: &str, now: NaiveDateTime) -> Option<Limited> {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until
            .get(bucket)
            .filter(|retry_at| **retry_at > now)
            .map(|retry_at| Limited {
                retry_at: *retry_at,
            })
    }

    /// Remembers that `bucket` is refused until `limited.retry_at`.
    pub fn remember(&self, bucket: &str, limited: Limited, now: NaiveDateTime) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.len() >= KNOWN_LIMITS_CAPACITY {
            until.retain(|_, retry_at| *retry_at > now);
            if until.len() >= KNOWN_LIMITS_CAPACITY {
                // Many clients limited at once: forgetting costs only a database check each.
                until.clear();
            }
        }
        until.insert(bucket.to_string(), limited.retry_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(12, minute, 0))
            .expect("a valid time")
    }

    #[test]
    fn a_known_refusal_stands_until_it_lapses() {
        let known = KnownLimits::default();
        assert_eq!(known.check("login-ip:1.2.3.4", at(0)), None);
        known.remember("login-ip:1.2.3.4", Limited { retry_at: at(10) }, at(0));
        assert_eq!(
            known.check("login-ip:1.2.3.4", at(9)),
            Some(Limited { retry_at: at(10) })
        );
        assert_eq!(known.check("login-ip:5.6.7.8", at(9)), None);
        assert_eq!(known.check("login-ip:1.2.3.4", at(10)), None);
    }

    #[test]
    fn a_full_memo_forgets_lapsed_refusals_first() {
        let known = KnownLimits::default();
        for i in 0..KNOWN_LIMITS_CAPACITY {
            known.remember(&format!("b{i}"), Limited { retry_at: at(1) }, at(0));
        }
        known.remember("fresh", Limited { retry_at: at(30) }, at(5));
        assert!(known.check("fresh", at(6)).is_some());
        assert_eq!(known.until.lock().unwrap().len(), 1);
    }
}
