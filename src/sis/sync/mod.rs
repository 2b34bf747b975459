//! The sync job: pull a term's sections from SIS into the catalog. Each
//! subject is fetched whole (`fetch`), mapped to catalog records (`mapping`),
//! then written in one transaction by `classes::catalog` (`apply`), so a
//! failure or a crash never leaves a subject half-written; sections are marked
//! inactive only after every subject of the term synced. `runs` keeps the
//! run's row in `sis_sync_runs`. This module writes no catalog SQL itself.

mod apply;
mod fetch;
mod mapping;
mod runs;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Instant;

use chrono::{NaiveDateTime, SubsecRound};

use self::fetch::Event;
use super::client::{FetchCounts, SisClient};
use super::lock::{self, Claim};
use super::{InputError, Subject, SyncRunId, SyncStatus, Term};
use crate::classes::term_dates::DateTally;
use crate::db::DbConn;

pub use crate::classes::catalog::{MeetingRecord, SectionCounts, SectionRecord};
pub use mapping::section_record;

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub term: Term,
    /// Empty means every subject SIS offers in the term.
    pub subjects: Vec<Subject>,
    /// Fetch and compare, write nothing (no run row, no lock).
    pub dry_run: bool,
}

impl SyncRequest {
    /// Parses the command line's words, each error in one line.
    pub fn parse(
        term: &str,
        subjects: &[String],
        dry_run: bool,
    ) -> Result<SyncRequest, InputError> {
        let mut parsed: Vec<Subject> = Vec::new();
        for raw in subjects {
            let subject = Subject::parse(raw)?;
            if !parsed.contains(&subject) {
                parsed.push(subject);
            }
        }
        Ok(SyncRequest {
            term: Term::parse(term)?,
            subjects: parsed,
            dry_run,
        })
    }
}

/// How one subject went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectOutcome {
    Synced(SectionCounts),
    /// Nothing of the subject was written; the text says why.
    Failed(String),
}

/// Told as the run goes, for a progress bar or log lines.
pub trait Progress {
    fn subjects_known(&self, _count: usize) {}
    fn page_fetched(&self, _subject: &Subject, _page: u32, _page_count: Option<u32>) {}
    fn subject_finished(&self, _subject: &Subject, _outcome: &SubjectOutcome) {}
}

/// Progress nobody watches.
pub struct Quiet;

impl Progress for Quiet {}

/// The outcome of a run, as written to `sis_sync_runs` and summed up for cron.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// None for a dry run, which records nothing.
    pub run_id: Option<SyncRunId>,
    pub term: Term,
    pub dry_run: bool,
    pub status: SyncStatus,
    /// In the order they finished.
    pub subjects: Vec<(Subject, SubjectOutcome)>,
    /// Whether the run covered every subject of the term (so it may deactivate).
    pub full: bool,
    pub counts: SectionCounts,
    pub fetched: FetchCounts,
    pub error: Option<String>,
    pub elapsed: std::time::Duration,
}

impl SyncReport {
    /// Whether every subject synced (and deactivation, if due, ran).
    pub fn succeeded(&self) -> bool {
        self.status == SyncStatus::Succeeded
    }

    /// One line for the operator's terminal or cron mail.
    pub fn summary(&self) -> String {
        if self.subjects.is_empty() {
            // Stopped before any subject (no subject list, unknown subject).
            return format!(
                "sis-sync {} ({}): {}: {}",
                self.term,
                self.term.describe(),
                self.status,
                self.error.as_deref().unwrap_or("no subjects")
            );
        }
        let synced = self
            .subjects
            .iter()
            .filter(|(_, o)| matches!(o, SubjectOutcome::Synced(_)))
            .count();
        let c = self.counts;
        let (verb, added, changed, deactivated) = if self.dry_run {
            (
                "dry run, nothing written",
                "would add",
                "would change",
                "would deactivate",
            )
        } else {
            (self.status.as_str(), "added", "changed", "deactivated")
        };
        let mut line = format!(
            "sis-sync {} ({}): {verb} in {:.1} s: {synced} of {} subjects, {} {added}, {} {changed}, {} unchanged, {} {deactivated}; {} pages, {} retries",
            self.term,
            self.term.describe(),
            self.elapsed.as_secs_f64(),
            self.subjects.len(),
            c.added,
            c.changed,
            c.unchanged,
            c.deactivated,
            self.fetched.pages,
            self.fetched.retries,
        );
        if c.missing > 0 {
            line.push_str(&format!(
                "; {} missing for the first time, kept active until the next full sync misses {} too",
                c.missing,
                if c.missing == 1 { "it" } else { "them" }
            ));
        }
        if let Some(error) = &self.error {
            line.push_str("; ");
            line.push_str(error);
        }
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Why a run did not start or could not be recorded. Anything that goes wrong
/// with SIS is not an error here: it is in the report and the run row.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("a sync of term {term} is already running (run {run_id} on {holder}, since {since} UTC); not starting another")]
    AlreadyRunning {
        term: Term,
        run_id: String,
        holder: String,
        since: NaiveDateTime,
    },
    #[error("the sync of term {term} lost its lock (its lease ran out); stopped")]
    LostLock { term: Term },
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Syncs a term. Blocking: call it from a plain thread (or `spawn_blocking`);
/// it fetches on `runtime` and writes on `conn` as subjects arrive.
pub fn run(
    conn: &mut DbConn,
    client: &SisClient,
    runtime: &tokio::runtime::Handle,
    request: &SyncRequest,
    now: NaiveDateTime,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let run = Run {
        client,
        runtime,
        request,
        now,
        started: Instant::now(),
        progress,
    };
    if request.dry_run {
        return run.sync_term(conn, None);
    }
    let run_id = SyncRunId::new();
    if let Claim::Held(holder) =
        lock::claim(conn, &request.term, &run_id, &lock::this_process(), now)?
    {
        return Err(SyncError::AlreadyRunning {
            term: request.term.clone(),
            run_id: holder.run_id,
            holder: holder.holder,
            since: holder.claimed_at,
        });
    }
    let result = run.claimed(conn, &run_id);
    if let Err(error) = &result {
        // The run row says why, if the database still answers.
        runs::fail(conn, &run_id, error, run.at());
    }
    if let Err(error) = lock::release(conn, &request.term, &run_id) {
        tracing::warn!(%error, term = %request.term, "cannot release the sync lock; its lease will run out");
    }
    result
}

/// One run's settings and surroundings, passed to each step as one value.
struct Run<'a> {
    client: &'a SisClient,
    runtime: &'a tokio::runtime::Handle,
    request: &'a SyncRequest,
    /// The clock when the run was asked for.
    now: NaiveDateTime,
    started: Instant,
    progress: &'a dyn Progress,
}

impl Run<'_> {
    /// The clock as the run sees it: the `now` it was given, moved on by the
    /// time it has taken (at the precision both databases keep).
    fn at(&self) -> NaiveDateTime {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        (self.now + elapsed).trunc_subsecs(6)
    }

    /// A run that holds its term's lock: recorded from start to finish.
    fn claimed(&self, conn: &mut DbConn, run_id: &SyncRunId) -> Result<SyncReport, SyncError> {
        runs::start(conn, self, run_id)?;
        let report = self.sync_term(conn, Some(run_id))?;
        runs::finish(conn, run_id, &report, self.at())?;
        Ok(report)
    }

    /// Renews the term's lease for the run that holds it (a dry run holds
    /// none): `LostLock` when another run took the term over meanwhile.
    fn still_holds(&self, conn: &mut DbConn, run_id: Option<&SyncRunId>) -> Result<(), SyncError> {
        match run_id {
            Some(run_id) if !lock::renew(conn, &self.request.term, run_id, self.at())? => {
                Err(SyncError::LostLock {
                    term: self.request.term.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    fn empty_report(&self, run_id: Option<&SyncRunId>) -> SyncReport {
        SyncReport {
            run_id: run_id.cloned(),
            term: self.request.term.clone(),
            dry_run: self.request.dry_run,
            status: SyncStatus::Failed,
            subjects: Vec::new(),
            full: false,
            counts: SectionCounts::default(),
            fetched: FetchCounts::default(),
            error: None,
            elapsed: std::time::Duration::ZERO,
        }
    }

    /// Lists the subjects, fetches them on the runtime and writes each as it
    /// arrives, then concludes (deactivation and status).
    fn sync_term(
        &self,
        conn: &mut DbConn,
        run_id: Option<&SyncRunId>,
    ) -> Result<SyncReport, SyncError> {
        let mut report = self.empty_report(run_id);
        let subjects = match fetch::choose_subjects(self.client, self.runtime, self.request) {
            Ok((subjects, full)) => {
                report.full = full;
                subjects
            }
            Err(error) => {
                report.error = Some(error);
                report.fetched = self.client.counts();
                report.elapsed = self.started.elapsed();
                return Ok(report);
            }
        };
        self.progress.subjects_known(subjects.len());
        // Listing the subjects renews nothing and, against a slow SIS (five
        // tries of up to 70 s), can outlast the lease: another run may hold
        // the term by now, and this one must not write a subject beside it.
        self.still_holds(conn, run_id)?;
        let (seen, dates) = self.write_as_fetched(conn, run_id, &subjects, &mut report)?;
        // A fetch task that died (it should not) leaves its subjects unreported.
        for subject in &subjects {
            if !report.subjects.iter().any(|(s, _)| s == subject) {
                let outcome = SubjectOutcome::Failed("the fetch stopped unexpectedly".into());
                self.progress.subject_finished(subject, &outcome);
                report.subjects.push((subject.clone(), outcome));
            }
        }
        // Still this run's term? A run that stalled past its lease (another
        // took the term over and wrote newer rows) must not mark sections
        // inactive from what it saw. Renewed, the lease outlasts what follows.
        self.still_holds(conn, run_id)?;
        apply::conclude(conn, self, &seen, &dates, &mut report)?;
        report.fetched = self.client.counts();
        report.elapsed = self.started.elapsed();
        Ok(report)
    }

    /// Fetching runs ahead on the runtime; this thread writes each subject as
    /// it arrives, so SIS's pace and the database's overlap. Renews the lock
    /// as it waits. Returns the class numbers of every section written, and
    /// the tally of their first and last days.
    fn write_as_fetched(
        &self,
        conn: &mut DbConn,
        run_id: Option<&SyncRunId>,
        subjects: &[Subject],
        report: &mut SyncReport,
    ) -> Result<(HashSet<String>, DateTally), SyncError> {
        let term = &self.request.term;
        let (events, inbox) = mpsc::channel();
        let fetcher = self.runtime.spawn(fetch::fetch_subjects(
            self.client.clone(),
            term.clone(),
            subjects.to_vec(),
            events,
        ));
        let mut seen: HashSet<String> = HashSet::new();
        let mut dates = DateTally::default();
        let mut last_renewal = Instant::now();
        loop {
            let event = match inbox.recv_timeout(lock::RENEW_EVERY) {
                Ok(event) => Some(event),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            if let Some(run_id) = run_id {
                if last_renewal.elapsed() >= lock::RENEW_EVERY {
                    if !lock::renew(conn, term, run_id, self.at())? {
                        fetcher.abort();
                        return Err(SyncError::LostLock { term: term.clone() });
                    }
                    last_renewal = Instant::now();
                }
            }
            match event {
                None => {}
                Some(Event::Page {
                    subject,
                    page,
                    page_count,
                }) => self.progress.page_fetched(&subject, page, page_count),
                Some(Event::Fetched { subject, result }) => {
                    let outcome =
                        apply::subject(conn, self, &subject, result, &mut seen, &mut dates);
                    if let SubjectOutcome::Synced(counts) = &outcome {
                        report.counts += *counts;
                    }
                    self.progress.subject_finished(&subject, &outcome);
                    report.subjects.push((subject, outcome));
                }
            }
        }
        Ok((seen, dates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_words_are_checked_before_anything_runs() {
        let ok =
            SyncRequest::parse("1262", &["cs".into(), "CS".into(), "math".into()], false).unwrap();
        assert_eq!(ok.subjects.len(), 2);
        assert!(SyncRequest::parse("2026", &[], false).is_err());
        assert!(SyncRequest::parse("1262", &["C S".into()], false).is_err());
    }
}
