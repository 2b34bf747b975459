//! Sliding-window rate limits kept in the database, so every app process counts
//! the same hits. A bucket is a string such as `login-email:mst3k@virginia.edu`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::rate_limit_hits;
use crate::db::DbConn;

/// The limit was reached; the caller may try again at `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_at: NaiveDateTime,
}

/// Records one hit in `bucket` unless `limit` hits already fall inside `window`.
/// Call inside a write transaction: on PostgreSQL an advisory lock on the bucket
/// serializes concurrent callers, on SQLite the immediate transaction does.
pub fn hit(
    conn: &mut DbConn,
    bucket: &str,
    limit: u32,
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<Result<(), Limited>> {
    if let DbConn::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(bucket)
            .execute(pg)?;
    }
    let since = now - window;
    let recent: Vec<NaiveDateTime> = rate_limit_hits::table
        .filter(rate_limit_hits::bucket.eq(bucket))
        .filter(rate_limit_hits::created_at.gt(since))
        .order(rate_limit_hits::created_at.asc())
        .select(rate_limit_hits::created_at)
        .load(conn)?;
    if recent.len() as u64 >= u64::from(limit) {
        // The window frees up when the oldest hit that still counts ages out.
        let oldest_counting = recent[recent.len() - limit.max(1) as usize];
        return Ok(Err(Limited {
            retry_at: oldest_counting + window,
        }));
    }
    diesel::insert_into(rate_limit_hits::table)
        .values((
            rate_limit_hits::id.eq(uuid::Uuid::new_v4().to_string()),
            rate_limit_hits::bucket.eq(bucket),
            rate_limit_hits::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Ok(()))
}

/// Removes hits older than `max_window`; they can no longer count against anyone.
pub fn prune(conn: &mut DbConn, older_than: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_limit_hits::table.filter(rate_limit_hits::created_at.lt(older_than)))
        .execute(conn)
}
