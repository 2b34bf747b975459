//! `sis-sync`: one sync of a term from SIS into the catalog, for cron: a
//! one-line summary on stdout, progress on stderr, and an exit code that says
//! whether every subject synced.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget};

use super::{one_line, open_existing, progress, EXIT_SYNC_ALREADY_RUNNING, EXIT_USAGE};
use crate::clock;
use crate::config::Config;
use crate::sis::client::{ClientSettings, SisClient};
use crate::sis::sync::{self, SubjectOutcome, SyncError, SyncRequest};
use crate::sis::Subject;

/// Runs one sync and prints a one-line summary on stdout; the exit code says
/// whether everything synced.
pub(super) fn sis_sync(
    config: &Config,
    term: &str,
    subjects: &[String],
    dry_run: bool,
) -> ExitCode {
    let request = match SyncRequest::parse(term, subjects, dry_run) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("common-grounds: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let progress = SyncProgress::new(&request);
    let outcome = (|| -> anyhow::Result<Result<sync::SyncReport, SyncError>> {
        let mut conn = open_existing(config)?;
        let client = SisClient::new(ClientSettings::from_config(config))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(sync::run(
            &mut conn,
            &client,
            runtime.handle(),
            &request,
            clock::now(),
            &progress,
        ))
    })();
    progress.finish();
    match outcome {
        Ok(Ok(report)) => {
            println!("{}", report.summary());
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e @ SyncError::AlreadyRunning { .. })) => {
            eprintln!("common-grounds: {e}");
            ExitCode::from(EXIT_SYNC_ALREADY_RUNNING)
        }
        Ok(Err(e)) => {
            eprintln!("common-grounds: sis-sync {}: {e}", request.term);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "common-grounds: sis-sync {}: {}",
                request.term,
                one_line(&e)
            );
            ExitCode::FAILURE
        }
    }
}

/// A progress bar on a terminal; plain lines (one per subject) otherwise, so
/// cron mail and logs stay readable.
enum SyncProgress {
    Bar(ProgressBar),
    Lines(String),
}

impl SyncProgress {
    fn new(request: &SyncRequest) -> SyncProgress {
        let label = format!("sis-sync {}", request.term);
        // Hidden until the subject count is known, so it never shows 0/0 as done.
        match progress::terminal_bar("{prefix} [{bar:30}] {pos}/{len} subjects  {msg}", None) {
            Some(bar) => {
                bar.set_prefix(label);
                SyncProgress::Bar(bar)
            }
            None => SyncProgress::Lines(label),
        }
    }

    fn finish(&self) {
        if let SyncProgress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl sync::Progress for SyncProgress {
    fn subjects_known(&self, count: usize) {
        match self {
            SyncProgress::Bar(bar) => {
                bar.set_length(count as u64);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            SyncProgress::Lines(label) => {
                let plural = if count == 1 { "" } else { "s" };
                eprintln!("{label}: {count} subject{plural} to sync");
            }
        }
    }

    fn page_fetched(&self, subject: &Subject, page: u32, page_count: Option<u32>) {
        if let SyncProgress::Bar(bar) = self {
            match page_count {
                Some(count) => bar.set_message(format!("{subject} page {page}/{count}")),
                None => bar.set_message(format!("{subject} page {page}")),
            }
        }
    }

    fn subject_finished(&self, subject: &Subject, outcome: &SubjectOutcome) {
        let line = match outcome {
            SubjectOutcome::Synced(c) => format!(
                "{subject}: {} added, {} changed, {} unchanged",
                c.added, c.changed, c.unchanged
            ),
            SubjectOutcome::Failed(e) => format!("{subject}: FAILED, nothing written: {e}"),
        };
        match self {
            SyncProgress::Bar(bar) => {
                if matches!(outcome, SubjectOutcome::Failed(_)) {
                    bar.println(line);
                }
                bar.inc(1);
            }
            SyncProgress::Lines(label) => eprintln!("{label}: {line}"),
        }
    }
}
