//! The run's bookkeeping in `sis_sync_runs`: the row that says a run started
//! (closing runs a dead process left open), and how it ended. It writes no
//! catalog rows and fetches nothing.

use chrono::NaiveDateTime;

use super::{Run, SyncError, SyncReport};
use crate::db::{self, DbConn};
use crate::sis::{self, NewSyncRun, Subject, SyncRunChanges, SyncRunId, SyncStatus};

/// Records that the run started, and closes the term's runs a killed process
/// left marked running (this run holds the term's lock, so they are dead).
pub(super) fn start(conn: &mut DbConn, run: &Run<'_>, run_id: &SyncRunId) -> Result<(), SyncError> {
    let request = run.request;
    let subjects_text = if request.subjects.is_empty() {
        sis::ALL_SUBJECTS.to_string()
    } else {
        request
            .subjects
            .iter()
            .map(Subject::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    db::write_tx(conn, |c| {
        sis::insert_run(
            c,
            &NewSyncRun {
                id: run_id,
                term: request.term.as_str(),
                subjects: &subjects_text,
                status: SyncStatus::Running.as_str(),
                started_at: run.now,
            },
        )?;
        let abandoned = sis::fail_abandoned_runs(c, &request.term, run_id, run.now)?;
        if abandoned > 0 {
            tracing::warn!(abandoned, term = %request.term, "closed sync runs that never finished");
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Writes the report's status and counters on the run's row.
pub(super) fn finish(
    conn: &mut DbConn,
    run_id: &SyncRunId,
    report: &SyncReport,
    finished_at: NaiveDateTime,
) -> Result<(), SyncError> {
    let c = report.counts;
    sis::finish_run(
        conn,
        run_id,
        &SyncRunChanges {
            status: Some(report.status.as_str()),
            subjects: report.full.then_some(sis::ALL_SUBJECTS),
            sections_added: Some(c.added as i32),
            sections_changed: Some(c.changed as i32),
            sections_unchanged: Some(c.unchanged as i32),
            sections_deactivated: Some(c.deactivated as i32),
            sections_missing: Some(c.missing as i32),
            pages_fetched: Some(report.fetched.pages as i32),
            retries: Some(report.fetched.retries as i32),
            error: Some(report.error.as_deref()),
            finished_at: Some(Some(finished_at)),
        },
    )?;
    Ok(())
}

/// Marks the run failed with the error that stopped it. Best effort: the
/// database may be what failed, and the caller returns the error anyway.
pub(super) fn fail(
    conn: &mut DbConn,
    run_id: &SyncRunId,
    error: &SyncError,
    finished_at: NaiveDateTime,
) {
    let text = error.to_string();
    let written = sis::finish_run(
        conn,
        run_id,
        &SyncRunChanges {
            status: Some(SyncStatus::Failed.as_str()),
            error: Some(Some(&text)),
            finished_at: Some(Some(finished_at)),
            ..Default::default()
        },
    );
    if let Err(db_error) = written {
        tracing::warn!(error = %db_error, run = %run_id, "cannot mark the failed sync run; it reads as running until the next run of its term");
    }
}
