//! Applying what was fetched: a subject's sections handed to the catalog
//! (`classes::catalog`, which owns the writes and their transactions), and the
//! run's conclusion, marking unseen sections inactive and choosing a status.
//! Nothing here builds SQL.

use std::collections::HashSet;

use chrono::SubsecRound;

use super::{mapping, Run, SubjectOutcome, SyncError, SyncReport};
use crate::classes::catalog::{self, Deactivation};
use crate::classes::term_dates::{self, DateTally};
use crate::db::DbConn;
use crate::sis::wire::SisSection;
use crate::sis::{self, Subject, SyncStatus};

/// Maps and writes one fetched subject (or only compares, in a dry run). On
/// success the subject's class numbers join `seen` and its sections' dates
/// join `dates`.
pub(super) fn subject(
    conn: &mut DbConn,
    run: &Run<'_>,
    subject: &Subject,
    fetched: Result<Vec<SisSection>, String>,
    seen: &mut HashSet<String>,
    dates: &mut DateTally,
) -> SubjectOutcome {
    let term = &run.request.term;
    let mut tally = DateTally::default();
    if let Ok(sections) = &fetched {
        for s in sections {
            tally.add(s.start_dt, s.end_dt);
        }
    }
    let records = fetched.and_then(|sections| mapping::records_of(term, subject, sections));
    let outcome = match records {
        Err(error) => SubjectOutcome::Failed(error),
        Ok(records) => {
            let written = if run.request.dry_run {
                catalog::compare_subject(conn, term.as_str(), &records)
            } else {
                catalog::sync_subject(conn, term.as_str(), &records, run.at())
            };
            match written {
                Ok(counts) => {
                    seen.extend(records.keys().cloned());
                    dates.merge(tally);
                    SubjectOutcome::Synced(counts)
                }
                Err(error) => SubjectOutcome::Failed(format!("database: {error}")),
            }
        }
    };
    if let SubjectOutcome::Failed(error) = &outcome {
        tracing::warn!(%subject, %term, %error, "subject not synced; its rows are as they were");
    }
    outcome
}

/// Marks inactive what a complete, failure-free run did not see, keeps the
/// term's dates (the regular session's, when the synced sections carried any;
/// only from such a run too, since a run of a few subjects may be mostly a
/// half-term session and would cut every calendar short), and sets the report's status and error from the subjects' outcomes.
pub(super) fn conclude(
    conn: &mut DbConn,
    run: &Run<'_>,
    seen: &HashSet<String>,
    dates: &DateTally,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let term = &run.request.term;
    let failures: Vec<String> = report
        .subjects
        .iter()
        .filter_map(|(s, o)| match o {
            SubjectOutcome::Failed(e) => Some(format!("{s}: {e}")),
            SubjectOutcome::Synced(_) => None,
        })
        .collect();
    let synced = report.subjects.len() - failures.len();
    let mut problems = failures.clone();
    if failures.is_empty() && report.full {
        if let (false, Some(span)) = (run.request.dry_run, dates.regular_session()) {
            term_dates::record(conn, term.as_str(), span, run.at())?;
        }
        let previous = sis::previous_full_run(conn, term, run.now)?.map(|at| at.trunc_subsecs(6));
        let gone = if run.request.dry_run {
            catalog::count_missing(conn, term.as_str(), seen, previous)?
        } else {
            catalog::deactivate_missing(conn, term.as_str(), seen, previous, run.at())?
        };
        match gone {
            Deactivation::Done {
                deactivated,
                missing,
            } => {
                report.counts.deactivated = deactivated;
                report.counts.missing = missing;
            }
            Deactivation::Refused(n) => problems.push(format!(
                "SIS listed no sections at all for term {term}; left {n} sections active"
            )),
        }
    } else if !failures.is_empty() && report.full {
        problems.push("nothing marked inactive (the term did not sync completely)".into());
    }
    report.status = if problems.is_empty() {
        SyncStatus::Succeeded
    } else if synced > 0 {
        SyncStatus::Partial
    } else {
        SyncStatus::Failed
    };
    report.error = (!problems.is_empty()).then(|| problems.join("; "));
    Ok(())
}
