//! The university's class data (SIS): terms and subjects as SIS names them, and
//! the record of each sync run. `client` fetches pages, `wire` reads their JSON,
//! `sync` maps them to catalog changes that `classes::catalog` writes, and
//! `lock` keeps two runs of a term apart. No actix or HTML here.

pub mod client;
pub mod lock;
pub mod sync;
pub mod wire;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sis_sync_runs;
use crate::db::DbConn;

/// Input that names no term or subject SIS could have; said in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("'{0}' is not a SIS term: write 1, the year's last two digits and the season (1 January, 2 spring, 6 summer, 8 fall), e.g. 1262 for spring 2026")]
    BadTerm(String),
    #[error("'{0}' is not a SIS subject code: use its letters, e.g. CS or MATH")]
    BadSubject(String),
}

/// A SIS term (`strm`): "1", a two-digit year and a season digit, e.g. `1262`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term(String);

impl Term {
    /// The same rule as the catalog's `classes::Term`, with an error for the command line.
    pub fn parse(raw: &str) -> Result<Term, InputError> {
        crate::classes::Term::parse(raw)
            .map(|t| Term(t.code().to_string()))
            .ok_or_else(|| InputError::BadTerm(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "Spring 2026", for people reading a summary.
    pub fn describe(&self) -> String {
        crate::classes::Term::parse(&self.0)
            .map(|t| t.name())
            .unwrap_or_else(|| self.0.clone())
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SIS subject code, upper-case: `CS`, `MATH`, `ARTH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(String);

impl Subject {
    /// Accepts any case (`cs` is `CS`): a letter, then at most 9 more letters,
    /// digits, `&`, `-` or `_` (PeopleSoft's subject codes are short and plain).
    pub fn parse(raw: &str) -> Result<Subject, InputError> {
        let text = raw.trim().to_ascii_uppercase();
        let shaped = (1..=10).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_uppercase())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '&' | '-' | '_'));
        if shaped {
            Ok(Subject(text))
        } else {
            Err(InputError::BadSubject(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// What a run of every subject of its term records as its subjects.
pub const ALL_SUBJECTS: &str = "all";

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
    /// Missed by this full sync for the first time, and left active.
    pub sections_missing: i32,
    pub pages_fetched: i32,
    pub retries: i32,
    pub error: Option<String>,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl SyncRun {
    /// Marked running, but its lease on the term is not among the `live`
    /// ones (`lock::live_runs`): killed (out of memory, cron's timeout) or
    /// crashed. The term's next run closes its row.
    pub fn stopped_unfinished(&self, live: &[String]) -> bool {
        self.status == SyncStatus::Running && !live.iter().any(|id| id == self.id.as_str())
    }
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
    /// `ALL_SUBJECTS` once a run that named its subjects turned out to name
    /// every one SIS offers: it was a full sync (`previous_full_run`).
    pub subjects: Option<&'a str>,
    pub sections_added: Option<i32>,
    pub sections_changed: Option<i32>,
    pub sections_unchanged: Option<i32>,
    pub sections_deactivated: Option<i32>,
    pub sections_missing: Option<i32>,
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

/// Writes how a run ended.
pub fn finish_run(
    conn: &mut DbConn,
    id: &SyncRunId,
    changes: &SyncRunChanges<'_>,
) -> QueryResult<usize> {
    diesel::update(sis_sync_runs::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Closes the runs of a term still marked running but not `current`: called by
/// the run that holds the term's lock, which proves those processes are gone.
pub fn fail_abandoned_runs(
    conn: &mut DbConn,
    term: &Term,
    current: &SyncRunId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sis_sync_runs::table
            .filter(sis_sync_runs::term.eq(term.as_str()))
            .filter(sis_sync_runs::status.eq(SyncStatus::Running.as_str()))
            .filter(sis_sync_runs::id.ne(current)),
    )
    .set((
        sis_sync_runs::status.eq(SyncStatus::Failed.as_str()),
        sis_sync_runs::error.eq(
            "the run stopped before it finished (process killed or crashed); nothing of an unfinished subject was written",
        ),
        sis_sync_runs::finished_at.eq(now),
    ))
    .execute(conn)
}

/// When the newest complete full sync of `term` before `before` started:
/// every section SIS listed then was synced at or after it. A run that named
/// every subject SIS offered is recorded as one of all (`sync::runs::finish`).
pub fn previous_full_run(
    conn: &mut DbConn,
    term: &Term,
    before: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    sis_sync_runs::table
        .filter(sis_sync_runs::term.eq(term.as_str()))
        .filter(sis_sync_runs::subjects.eq(ALL_SUBJECTS))
        .filter(sis_sync_runs::status.eq(SyncStatus::Succeeded.as_str()))
        .filter(sis_sync_runs::started_at.lt(before))
        .select(diesel::dsl::max(sis_sync_runs::started_at))
        .first(conn)
}

/// Finds a run.
pub fn find_run(conn: &mut DbConn, id: &SyncRunId) -> QueryResult<Option<SyncRun>> {
    sis_sync_runs::table
        .find(id)
        .select(SyncRun::as_select())
        .first(conn)
        .optional()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_is_one_a_year_and_a_season() {
        assert_eq!(Term::parse(" 1262 ").unwrap().as_str(), "1262");
        assert_eq!(Term::parse("1268").unwrap().describe(), "Fall 2026");
        for bad in ["2026", "126", "12622", "1263", "spring", "", "1x62"] {
            let err = Term::parse(bad).unwrap_err().to_string();
            assert!(err.contains("is not a SIS term"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_subject_is_upper_case_letters() {
        assert_eq!(Subject::parse("cs").unwrap().as_str(), "CS");
        assert_eq!(Subject::parse("MATH").unwrap().as_str(), "MATH");
        assert_eq!(Subject::parse("a&s").unwrap().as_str(), "A&S");
        for bad in ["", "C S", "2CS", "COMPUTERSCIENCE", "CS;--", "../CS"] {
            assert!(Subject::parse(bad).is_err(), "{bad}");
        }
    }
}
