//! The sync job: pull a term's sections from SIS into `classes` and
//! `class_meetings`. Each subject is fetched whole, then written in one
//! transaction, so a failure or a crash never leaves a subject half-written;
//! sections are marked inactive only after every subject of the term synced.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::mpsc;
use std::time::Instant;

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use diesel::upsert::excluded;
use futures_util::StreamExt;

use super::client::{FetchCounts, SisClient, SisSection};
use super::lock::{self, Claim};
use super::{InputError, NewSyncRun, Subject, SyncRunChanges, SyncRunId, SyncStatus, Term};
use crate::classes::{Class, ClassId, ClassMeeting, MeetingId};
use crate::db::schema::{class_meetings, classes};
use crate::db::{self, DbConn};

/// Stay well below the bind-parameter limits (SQLite 32766, PostgreSQL 65535).
const MAX_BINDS: usize = 30_000;
/// A subject with more pages than this is a server ignoring `page`, not a catalog.
const MAX_PAGES: u32 = 500;

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

/// Sections added, changed, left as they were, and marked inactive.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SectionCounts {
    pub added: u32,
    pub changed: u32,
    pub unchanged: u32,
    pub deactivated: u32,
}

impl std::ops::AddAssign for SectionCounts {
    fn add_assign(&mut self, other: SectionCounts) {
        self.added += other.added;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.deactivated += other.deactivated;
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
    let started = Instant::now();
    if request.dry_run {
        return sync_term(conn, client, runtime, request, None, now, started, progress);
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
    let result = run_claimed(
        conn, client, runtime, request, &run_id, now, started, progress,
    );
    if let Err(error) = &result {
        // Best effort: the run row says why, if the database still answers.
        let text = error.to_string();
        let _ = super::finish_run(
            conn,
            &run_id,
            &SyncRunChanges {
                status: Some(SyncStatus::Failed.as_str()),
                error: Some(Some(&text)),
                finished_at: Some(Some(at(now, started))),
                ..Default::default()
            },
        );
    }
    if let Err(error) = lock::release(conn, &request.term, &run_id) {
        tracing::warn!(%error, term = %request.term, "cannot release the sync lock; its lease will run out");
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn run_claimed(
    conn: &mut DbConn,
    client: &SisClient,
    runtime: &tokio::runtime::Handle,
    request: &SyncRequest,
    run_id: &SyncRunId,
    now: NaiveDateTime,
    started: Instant,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let subjects_text = if request.subjects.is_empty() {
        "all".to_string()
    } else {
        request
            .subjects
            .iter()
            .map(Subject::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    db::write_tx(conn, |c| {
        super::insert_run(
            c,
            &NewSyncRun {
                id: run_id,
                term: request.term.as_str(),
                subjects: &subjects_text,
                status: SyncStatus::Running.as_str(),
                started_at: now,
            },
        )?;
        let abandoned = super::fail_abandoned_runs(c, &request.term, run_id, now)?;
        if abandoned > 0 {
            tracing::warn!(abandoned, term = %request.term, "closed sync runs that never finished");
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    let report = sync_term(
        conn,
        client,
        runtime,
        request,
        Some(run_id),
        now,
        started,
        progress,
    )?;
    let c = report.counts;
    super::finish_run(
        conn,
        run_id,
        &SyncRunChanges {
            status: Some(report.status.as_str()),
            sections_added: Some(c.added as i32),
            sections_changed: Some(c.changed as i32),
            sections_unchanged: Some(c.unchanged as i32),
            sections_deactivated: Some(c.deactivated as i32),
            pages_fetched: Some(report.fetched.pages as i32),
            retries: Some(report.fetched.retries as i32),
            error: Some(report.error.as_deref()),
            finished_at: Some(Some(at(now, started))),
        },
    )?;
    Ok(report)
}

/// The clock as the run sees it: the `now` it was given, moved on by the time
/// it has taken (at the precision both databases keep).
fn at(now: NaiveDateTime, started: Instant) -> NaiveDateTime {
    let elapsed = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    (now + elapsed).trunc_subsecs(6)
}

enum Event {
    Page {
        subject: Subject,
        page: u32,
        page_count: Option<u32>,
    },
    Fetched {
        subject: Subject,
        result: Result<Vec<SisSection>, String>,
    },
}

#[allow(clippy::too_many_arguments)]
fn sync_term(
    conn: &mut DbConn,
    client: &SisClient,
    runtime: &tokio::runtime::Handle,
    request: &SyncRequest,
    run_id: Option<&SyncRunId>,
    now: NaiveDateTime,
    started: Instant,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let term = &request.term;
    let mut report = SyncReport {
        run_id: run_id.cloned(),
        term: term.clone(),
        dry_run: request.dry_run,
        status: SyncStatus::Failed,
        subjects: Vec::new(),
        full: false,
        counts: SectionCounts::default(),
        fetched: FetchCounts::default(),
        error: None,
        elapsed: std::time::Duration::ZERO,
    };
    let subjects = match choose_subjects(client, runtime, request) {
        Ok((subjects, full)) => {
            report.full = full;
            subjects
        }
        Err(error) => {
            report.error = Some(error);
            report.fetched = client.counts();
            report.elapsed = started.elapsed();
            return Ok(report);
        }
    };
    progress.subjects_known(subjects.len());

    // Fetching runs ahead on the runtime; this thread writes each subject as
    // it arrives, so SIS's pace and the database's overlap.
    let (events, inbox) = mpsc::channel();
    let fetcher = runtime.spawn(fetch_subjects(
        client.clone(),
        term.clone(),
        subjects.clone(),
        events,
    ));
    let mut seen: HashSet<String> = HashSet::new();
    let mut last_renewal = Instant::now();
    loop {
        let event = match inbox.recv_timeout(lock::RENEW_EVERY) {
            Ok(event) => Some(event),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if let Some(run_id) = run_id {
            if last_renewal.elapsed() >= lock::RENEW_EVERY {
                if !lock::renew(conn, term, run_id, at(now, started))? {
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
            }) => progress.page_fetched(&subject, page, page_count),
            Some(Event::Fetched { subject, result }) => {
                let outcome = match result {
                    Err(error) => SubjectOutcome::Failed(error),
                    Ok(sections) => match records_of(term, &subject, sections) {
                        Err(error) => SubjectOutcome::Failed(error),
                        Ok(records) => {
                            let written = if request.dry_run {
                                plan_and_apply(conn, term, &records, now, false)
                            } else {
                                let moment = at(now, started);
                                db::write_tx(conn, |c| {
                                    plan_and_apply(c, term, &records, moment, true)
                                })
                            };
                            match written {
                                Ok(counts) => {
                                    seen.extend(records.keys().cloned());
                                    report.counts += counts;
                                    SubjectOutcome::Synced(counts)
                                }
                                Err(error) => SubjectOutcome::Failed(format!("database: {error}")),
                            }
                        }
                    },
                };
                if let SubjectOutcome::Failed(error) = &outcome {
                    tracing::warn!(%subject, %term, %error, "subject not synced; its rows are as they were");
                }
                progress.subject_finished(&subject, &outcome);
                report.subjects.push((subject, outcome));
            }
        }
    }
    // A fetch task that died (it should not) leaves its subjects unreported.
    for subject in &subjects {
        if !report.subjects.iter().any(|(s, _)| s == subject) {
            let outcome = SubjectOutcome::Failed("the fetch stopped unexpectedly".into());
            progress.subject_finished(subject, &outcome);
            report.subjects.push((subject.clone(), outcome));
        }
    }

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
        let moment = at(now, started);
        let gone = if request.dry_run {
            deactivate_missing(conn, term, &seen, moment, false)?
        } else {
            db::write_tx(conn, |c| deactivate_missing(c, term, &seen, moment, true))?
        };
        match gone {
            Deactivation::Done(n) => report.counts.deactivated = n,
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
    report.fetched = client.counts();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The subjects to sync, and whether they are all the term has. Given
/// subjects must be ones SIS offers, so a typo is not a silent empty sync.
fn choose_subjects(
    client: &SisClient,
    runtime: &tokio::runtime::Handle,
    request: &SyncRequest,
) -> Result<(Vec<Subject>, bool), String> {
    let term = &request.term;
    let options = runtime
        .block_on(client.subjects(term))
        .map_err(|e| format!("cannot list the subjects of term {term}: {e}"))?;
    let mut offered: Vec<Subject> = Vec::new();
    for option in &options {
        let subject = Subject::parse(&option.subject).map_err(|_| {
            format!(
                "SIS offers a subject code that cannot be read: '{}'; not syncing rather than skipping it",
                option.subject
            )
        })?;
        if !offered.contains(&subject) {
            offered.push(subject);
        }
    }
    if offered.is_empty() {
        return Err(format!(
            "SIS lists no subjects for term {term}; nothing synced"
        ));
    }
    if request.subjects.is_empty() {
        return Ok((offered, true));
    }
    let offered_set: BTreeSet<&Subject> = offered.iter().collect();
    for subject in &request.subjects {
        if !offered_set.contains(subject) {
            let some: Vec<&str> = offered.iter().take(12).map(Subject::as_str).collect();
            return Err(format!(
                "unknown subject {subject}: SIS offers {} subjects in term {term} ({}{})",
                offered.len(),
                some.join(", "),
                if offered.len() > some.len() {
                    ", ..."
                } else {
                    ""
                }
            ));
        }
    }
    let full = offered.iter().all(|s| request.subjects.contains(s));
    Ok((request.subjects.clone(), full))
}

async fn fetch_subjects(
    client: SisClient,
    term: Term,
    subjects: Vec<Subject>,
    events: mpsc::Sender<Event>,
) {
    let concurrency = client.settings().concurrency.max(1);
    futures_util::stream::iter(subjects)
        .for_each_concurrent(concurrency, |subject| {
            let client = &client;
            let term = &term;
            let events = events.clone();
            async move {
                let result = fetch_subject(client, term, &subject, &events).await;
                let _ = events.send(Event::Fetched { subject, result });
            }
        })
        .await;
}

/// Every page of a subject, 1..=pageCount, stopping early at an empty page
/// (the older shape has no count and ends with `[]`).
async fn fetch_subject(
    client: &SisClient,
    term: &Term,
    subject: &Subject,
    events: &mpsc::Sender<Event>,
) -> Result<Vec<SisSection>, String> {
    let mut sections = Vec::new();
    let mut page_count = None;
    for page in 1..=MAX_PAGES {
        let got = client
            .page(term, subject, page)
            .await
            .map_err(|e| format!("page {page}: {e}"))?;
        page_count = page_count.or(got.page_count);
        let _ = events.send(Event::Page {
            subject: subject.clone(),
            page,
            page_count,
        });
        if got.sections.is_empty() {
            return Ok(sections);
        }
        sections.extend(got.sections);
        if page_count.is_some_and(|count| page >= count) {
            return Ok(sections);
        }
    }
    Err(format!(
        "more than {MAX_PAGES} pages; SIS seems to ignore the page number"
    ))
}

/// A section as the catalog stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionRecord {
    pub class_number: String,
    pub subject: String,
    pub catalog_number: String,
    pub title: Option<String>,
    pub component: Option<String>,
    pub class_section: Option<String>,
    pub instructor: Option<String>,
    pub class_capacity: Option<i32>,
    pub enrollment_available: Option<i32>,
    pub meetings: Vec<MeetingRecord>,
}

/// A meeting as the catalog stores it; `None` wherever SIS has no real value yet.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRecord {
    pub days: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub location: Option<String>,
    pub instructor: Option<String>,
}

impl SectionRecord {
    /// Maps one SIS section; refuses one that belongs to another term.
    pub fn from_sis(
        term: &Term,
        subject: &Subject,
        s: SisSection,
    ) -> Result<SectionRecord, String> {
        if let Some(strm) = &s.strm {
            if strm != term.as_str() {
                return Err(format!(
                    "section {} is of term {strm}, not {term}",
                    s.class_nbr
                ));
            }
        }
        let title = match (s.descr, s.topic) {
            (Some(descr), Some(topic)) if topic != descr => Some(format!("{descr}: {topic}")),
            (Some(descr), _) => Some(descr),
            (None, topic) => topic,
        };
        let meetings: Vec<MeetingRecord> = s
            .meetings
            .iter()
            .map(|m| MeetingRecord {
                days: m.days.clone(),
                start_time: m.start_time.map(|t| t.to_string()),
                end_time: m.end_time.map(|t| t.to_string()),
                location: m.facility_descr.clone(),
                instructor: names(m.instructor.iter().map(String::as_str)),
            })
            .collect();
        // The section's own list, else whoever teaches its meetings.
        let instructor =
            names(s.instructors.iter().filter_map(|i| i.name.as_deref())).or_else(|| {
                names(
                    s.meetings
                        .iter()
                        .flat_map(|m| m.instructor.iter().map(String::as_str)),
                )
            });
        Ok(SectionRecord {
            class_number: s.class_nbr.to_string(),
            subject: s.subject.unwrap_or_else(|| subject.as_str().to_string()),
            catalog_number: s.catalog_nbr,
            title,
            component: s.component,
            class_section: s.class_section,
            instructor,
            class_capacity: s.class_capacity,
            enrollment_available: s.enrollment_available,
            meetings,
        })
    }

    fn first_meeting(&self) -> Option<&MeetingRecord> {
        self.meetings.first()
    }

    /// Whether the stored row and meetings already say what SIS says.
    fn matches(&self, class: &Class, meetings: &[ClassMeeting]) -> bool {
        let first = self.first_meeting();
        class.active
            && class.subject == self.subject
            && class.catalog_number == self.catalog_number
            && class.title == self.title
            && class.component == self.component
            && class.class_section == self.class_section
            && class.instructor == self.instructor
            && class.class_capacity == self.class_capacity
            && class.enrollment_available == self.enrollment_available
            && class.days.as_ref() == first.and_then(|m| m.days.as_ref())
            && class.start_time.as_ref() == first.and_then(|m| m.start_time.as_ref())
            && class.end_time.as_ref() == first.and_then(|m| m.end_time.as_ref())
            && class.location.as_ref() == first.and_then(|m| m.location.as_ref())
            && meetings.len() == self.meetings.len()
            && meetings
                .iter()
                .zip(&self.meetings)
                .enumerate()
                .all(|(i, (old, new))| {
                    old.position == i as i32
                        && old.days == new.days
                        && old.start_time == new.start_time
                        && old.end_time == new.end_time
                        && old.location == new.location
                        && old.instructor == new.instructor
                })
    }
}

/// Distinct names in order, joined for display; None when there are none.
fn names<'a>(all: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for name in all {
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// A subject's sections keyed by class number. A section listed twice (SIS
/// pages can shift while being read) is kept once, as last seen.
fn records_of(
    term: &Term,
    subject: &Subject,
    sections: Vec<SisSection>,
) -> Result<BTreeMap<String, SectionRecord>, String> {
    let mut records = BTreeMap::new();
    for section in sections {
        let record = SectionRecord::from_sis(term, subject, section)?;
        records.insert(record.class_number.clone(), record);
    }
    Ok(records)
}

/// Compares a subject's sections with the stored rows and, when `write`,
/// upserts what is new or changed (replacing those sections' meetings as a
/// whole) and stamps `last_synced_at` on the rest. Unchanged rows keep their
/// `updated_at`. Call it inside the subject's transaction.
fn plan_and_apply(
    conn: &mut DbConn,
    term: &Term,
    records: &BTreeMap<String, SectionRecord>,
    at: NaiveDateTime,
    write: bool,
) -> QueryResult<SectionCounts> {
    let keys: Vec<&str> = records.keys().map(String::as_str).collect();
    let mut existing: HashMap<String, Class> = HashMap::new();
    for chunk in keys.chunks(MAX_BINDS - 1) {
        for class in classes::table
            .filter(classes::term.eq(term.as_str()))
            .filter(classes::sis_class_number.eq_any(chunk))
            .select(Class::as_select())
            .load(conn)?
        {
            if let Some(number) = class.sis_class_number.clone() {
                existing.insert(number, class);
            }
        }
    }
    let ids: Vec<ClassId> = existing.values().map(|c| c.id.clone()).collect();
    let mut stored_meetings: HashMap<ClassId, Vec<ClassMeeting>> = HashMap::new();
    for chunk in ids.chunks(MAX_BINDS) {
        for meeting in crate::classes::meetings_of(conn, chunk)? {
            stored_meetings
                .entry(meeting.class_id.clone())
                .or_default()
                .push(meeting);
        }
    }

    let mut counts = SectionCounts::default();
    let mut to_write: Vec<(ClassId, &SectionRecord)> = Vec::new();
    let mut replaced: Vec<ClassId> = Vec::new();
    let mut untouched: Vec<&str> = Vec::new();
    for (number, record) in records {
        match existing.get(number) {
            None => {
                counts.added += 1;
                to_write.push((ClassId::new(), record));
            }
            Some(class) => {
                let meetings = stored_meetings
                    .get(&class.id)
                    .map_or(&[][..], Vec::as_slice);
                if record.matches(class, meetings) {
                    counts.unchanged += 1;
                    untouched.push(number);
                } else {
                    counts.changed += 1;
                    replaced.push(class.id.clone());
                    to_write.push((class.id.clone(), record));
                }
            }
        }
    }
    if !write {
        return Ok(counts);
    }

    let rows: Vec<SyncedClass<'_>> = to_write
        .iter()
        .map(|(id, r)| {
            let first = r.first_meeting();
            SyncedClass {
                id,
                subject: &r.subject,
                catalog_number: &r.catalog_number,
                term: term.as_str(),
                title: r.title.as_deref(),
                description: None,
                sis_class_number: Some(&r.class_number),
                instructor: r.instructor.as_deref(),
                component: r.component.as_deref(),
                class_section: r.class_section.as_deref(),
                class_capacity: r.class_capacity,
                enrollment_available: r.enrollment_available,
                days: first.and_then(|m| m.days.as_deref()),
                start_time: first.and_then(|m| m.start_time.as_deref()),
                end_time: first.and_then(|m| m.end_time.as_deref()),
                location: first.and_then(|m| m.location.as_deref()),
                active: true,
                last_synced_at: Some(at),
                created_at: at,
                updated_at: at,
            }
        })
        .collect();
    for chunk in rows.chunks(MAX_BINDS / 20) {
        upsert_classes(conn, chunk)?;
    }
    for chunk in untouched.chunks(MAX_BINDS - 2) {
        diesel::update(
            classes::table
                .filter(classes::term.eq(term.as_str()))
                .filter(classes::sis_class_number.eq_any(chunk)),
        )
        .set(classes::last_synced_at.eq(at))
        .execute(conn)?;
    }

    // The row's id is whatever the database holds for the key (an upsert keeps
    // the old id), so read it back rather than trust the one generated above.
    let written_keys: Vec<&str> = to_write
        .iter()
        .map(|(_, r)| r.class_number.as_str())
        .collect();
    let mut id_of: HashMap<String, ClassId> = HashMap::new();
    for chunk in written_keys.chunks(MAX_BINDS - 1) {
        let pairs: Vec<(ClassId, Option<String>)> = classes::table
            .filter(classes::term.eq(term.as_str()))
            .filter(classes::sis_class_number.eq_any(chunk))
            .select((classes::id, classes::sis_class_number))
            .load(conn)?;
        id_of.extend(pairs.into_iter().filter_map(|(id, n)| n.map(|n| (n, id))));
    }
    for chunk in replaced.chunks(MAX_BINDS) {
        diesel::delete(class_meetings::table.filter(class_meetings::class_id.eq_any(chunk)))
            .execute(conn)?;
    }
    let meeting_ids: Vec<MeetingId> = to_write
        .iter()
        .flat_map(|(_, r)| r.meetings.iter().map(|_| MeetingId::new()))
        .collect();
    let mut meeting_rows: Vec<SyncedMeeting<'_>> = Vec::with_capacity(meeting_ids.len());
    let mut next_id = meeting_ids.iter();
    for (_, record) in &to_write {
        let Some(class_id) = id_of.get(&record.class_number) else {
            return Err(diesel::result::Error::NotFound);
        };
        for (position, m) in record.meetings.iter().enumerate() {
            meeting_rows.push(SyncedMeeting {
                id: next_id.next().expect("one id per meeting"),
                class_id,
                position: position as i32,
                days: m.days.as_deref(),
                start_time: m.start_time.as_deref(),
                end_time: m.end_time.as_deref(),
                location: m.location.as_deref(),
                instructor: m.instructor.as_deref(),
            });
        }
    }
    for chunk in meeting_rows.chunks(MAX_BINDS / 8) {
        crate::on_each_backend!(conn, |c| diesel::insert_into(class_meetings::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(counts)
}

/// A `classes` row as the sync writes it. Unlike `NewClass`, a `None` is
/// written as NULL rather than left to the column's default, which lets
/// SQLite put many rows in one statement.
#[derive(Debug, Insertable)]
#[diesel(table_name = classes, treat_none_as_default_value = false)]
struct SyncedClass<'a> {
    id: &'a ClassId,
    subject: &'a str,
    catalog_number: &'a str,
    term: &'a str,
    title: Option<&'a str>,
    description: Option<&'a str>,
    sis_class_number: Option<&'a str>,
    instructor: Option<&'a str>,
    component: Option<&'a str>,
    class_section: Option<&'a str>,
    class_capacity: Option<i32>,
    enrollment_available: Option<i32>,
    days: Option<&'a str>,
    start_time: Option<&'a str>,
    end_time: Option<&'a str>,
    location: Option<&'a str>,
    active: bool,
    last_synced_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A `class_meetings` row as the sync writes it (NULLs written, as above).
#[derive(Debug, Insertable)]
#[diesel(table_name = class_meetings, treat_none_as_default_value = false)]
struct SyncedMeeting<'a> {
    id: &'a MeetingId,
    class_id: &'a ClassId,
    position: i32,
    days: Option<&'a str>,
    start_time: Option<&'a str>,
    end_time: Option<&'a str>,
    location: Option<&'a str>,
    instructor: Option<&'a str>,
}

/// One multi-row upsert on the SIS key. Written per backend: `ON CONFLICT`
/// does not compile through `MultiBackend`.
fn upsert_classes(conn: &mut DbConn, rows: &[SyncedClass<'_>]) -> QueryResult<usize> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(classes::table)
        .values(rows)
        .on_conflict((classes::term, classes::sis_class_number))
        .do_update()
        .set((
            classes::subject.eq(excluded(classes::subject)),
            classes::catalog_number.eq(excluded(classes::catalog_number)),
            classes::title.eq(excluded(classes::title)),
            classes::instructor.eq(excluded(classes::instructor)),
            classes::component.eq(excluded(classes::component)),
            classes::class_section.eq(excluded(classes::class_section)),
            classes::class_capacity.eq(excluded(classes::class_capacity)),
            classes::enrollment_available.eq(excluded(classes::enrollment_available)),
            classes::days.eq(excluded(classes::days)),
            classes::start_time.eq(excluded(classes::start_time)),
            classes::end_time.eq(excluded(classes::end_time)),
            classes::location.eq(excluded(classes::location)),
            classes::active.eq(excluded(classes::active)),
            classes::last_synced_at.eq(excluded(classes::last_synced_at)),
            classes::updated_at.eq(excluded(classes::updated_at)),
        ))
        .execute(c))
}

enum Deactivation {
    Done(u32),
    /// SIS returned nothing at all: more likely its fault than a cancelled term.
    Refused(u32),
}

/// Marks inactive (never deletes: enrollments and chats hang on them) the
/// term's SIS sections that a complete sync did not see.
fn deactivate_missing(
    conn: &mut DbConn,
    term: &Term,
    seen: &HashSet<String>,
    at: NaiveDateTime,
    write: bool,
) -> QueryResult<Deactivation> {
    let active: Vec<(ClassId, Option<String>)> = classes::table
        .filter(classes::term.eq(term.as_str()))
        .filter(classes::active.eq(true))
        .filter(classes::sis_class_number.is_not_null())
        .select((classes::id, classes::sis_class_number))
        .load(conn)?;
    let gone: Vec<ClassId> = active
        .into_iter()
        .filter(|(_, number)| number.as_ref().is_some_and(|n| !seen.contains(n)))
        .map(|(id, _)| id)
        .collect();
    let count = gone.len() as u32;
    if seen.is_empty() && count > 0 {
        return Ok(Deactivation::Refused(count));
    }
    if write {
        for chunk in gone.chunks(MAX_BINDS - 2) {
            diesel::update(classes::table.filter(classes::id.eq_any(chunk)))
                .set((classes::active.eq(false), classes::updated_at.eq(at)))
                .execute(conn)?;
        }
    }
    Ok(Deactivation::Done(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sis::client::parse_page;

    fn term() -> Term {
        Term::parse("1262").unwrap()
    }

    fn record(json: serde_json::Value) -> Result<SectionRecord, String> {
        let section = parse_page(serde_json::json!([json]))
            .unwrap()
            .sections
            .remove(0);
        SectionRecord::from_sis(&term(), &Subject::parse("CS").unwrap(), section)
    }

    #[test]
    fn a_topic_refines_the_title_and_instructors_are_joined() {
        let r = record(serde_json::json!({
            "class_nbr": 16655, "catalog_nbr": "4501", "strm": "1262",
            "descr": "Special Topics in Computer Science", "topic": "Systems for Machine Learning",
            "instructors": [{"name": "Grace Hopper"}, {"name": "Alan Turing"}, {"name": "Grace Hopper"}],
            "meetings": [{"days": "MoWe", "start_time": "15.30.00.000000-05:00",
                          "end_time": "16.45.00.000000-05:00", "facility_descr": "***"}]
        }))
        .unwrap();
        assert_eq!(
            r.title.as_deref(),
            Some("Special Topics in Computer Science: Systems for Machine Learning")
        );
        assert_eq!(r.instructor.as_deref(), Some("Grace Hopper, Alan Turing"));
        assert_eq!(r.subject, "CS");
        assert_eq!(
            r.meetings,
            vec![MeetingRecord {
                days: Some("MoWe".into()),
                start_time: Some("15:30".into()),
                end_time: Some("16:45".into()),
                location: None,
                instructor: None,
            }]
        );
    }

    #[test]
    fn a_section_of_another_term_is_refused() {
        let err = record(serde_json::json!({"class_nbr": 1, "catalog_nbr": "1", "strm": "1268"}))
            .unwrap_err();
        assert_eq!(err, "section 1 is of term 1268, not 1262");
    }

    #[test]
    fn request_words_are_checked_before_anything_runs() {
        let ok =
            SyncRequest::parse("1262", &["cs".into(), "CS".into(), "math".into()], false).unwrap();
        assert_eq!(ok.subjects.len(), 2);
        assert!(SyncRequest::parse("2026", &[], false).is_err());
        assert!(SyncRequest::parse("1262", &["C S".into()], false).is_err());
    }
}
