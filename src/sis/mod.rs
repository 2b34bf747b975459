//! The university's class data (SIS): the record of each sync run. The client
//! and the sync job build on these rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sis_sync_runs;
use crate::db::DbConn;

crate::define_id!(SyncRunId);

crate::text_enum!(
    /// How a sync run ended (or that it is still going).
    SyncStatus {
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Partial => "partial",
    }
);

/// A row of `sis_sync_runs`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sis_sync_runs)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub term: String,
    pub subjects: String,
    #[diesel(deserialize_as = String)]
    pub status: SyncStatus,
    pub sections_added: i32,
    pub sections_changed: i32,
    pub sections_unchanged: i32,
    pub sections_deactivated: i32,
    pub pages_fetched: i32,
    pub retries: i32,
    pub error: Option<String>,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sis_sync_runs)]
pub struct NewSyncRun<'a> {
    pub id: &'a SyncRunId,
    pub term: &'a str,
    pub subjects: &'a str,
    pub status: &'a str,
    pub started_at: NaiveDateTime,
}

/// The counters and outcome written when a run ends.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = sis_sync_runs)]
pub struct SyncRunChanges<'a> {
    pub status: Option<&'a str>,
    pub sections_added: Option<i32>,
    pub sections_changed: Option<i32>,
    pub sections_unchanged: Option<i32>,
    pub sections_deactivated: Option<i32>,
    pub pages_fetched: Option<i32>,
    pub retries: Option<i32>,
    pub error: Option<Option<&'a str>>,
    pub finished_at: Option<Option<NaiveDateTime>>,
}

/// Starts the record of a run.
pub fn insert_run(conn: &mut DbConn, new: &NewSyncRun<'_>) -> QueryResult<SyncRun> {
    diesel::insert_into(sis_sync_runs::table)
        .values(new)
        .execute(conn)?;
    sis_sync_runs::table
        .find(new.id)
        .select(SyncRun::as_select())
        .first(conn)
}

/// The newest runs first.
pub fn recent_runs(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<SyncRun>> {
    sis_sync_runs::table
        .order(sis_sync_runs::started_at.desc())
        .limit(limit)
        .select(SyncRun::as_select())
        .load(conn)
}

/// The newest run of each term (for metrics and the admin overview).
pub fn latest_per_term(conn: &mut DbConn) -> QueryResult<Vec<SyncRun>> {
    let mut seen = std::collections::HashSet::new();
    Ok(recent_runs(conn, 500)?
        .into_iter()
        .filter(|run| seen.insert(run.term.clone()))
        .collect())
}
