//! A SIS sync started by staff from the admin pages: the request is written to
//! the audit log in its own write transaction (every request, also one refused
//! because another run holds the term), then the same job as the command line
//! runs on its own thread, connection and runtime. The lock row in the database
//! keeps it one run per term at a time across processes.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::UserId;
use crate::config::Config;
use crate::db::{self, DbConn};
use crate::sis::client::{ClientSettings, SisClient};
use crate::sis::sync::{self, SyncError, SyncReport, SyncRequest};

/// How a sync started here ended: its report or the rule that refused it, or
/// (as text) why its thread could not run it at all.
pub type Outcome = Result<Result<SyncReport, SyncError>, String>;

/// Records that `actor` asked for a sync of `request`'s term, then starts it in
/// the background; the receiver gets its outcome when it ends. When it ends,
/// however it ended, this process's held term list and subjects (`terms`)
/// are forgotten, so pages read what it wrote at once, however long after
/// the admin page answered it finished.
pub fn start(
    conn: &mut DbConn,
    config: &Config,
    actor: &UserId,
    request: SyncRequest,
    now: NaiveDateTime,
    terms: std::sync::Arc<crate::classes::term::TermList>,
) -> QueryResult<tokio::sync::oneshot::Receiver<Outcome>> {
    let term = request.term.as_str().to_string();
    db::write_tx(conn, |tx| {
        super::record(
            tx,
            &NewAuditEntry {
                id: &AuditId::new(),
                actor_id: Some(actor),
                action: AuditAction::SyncStarted.as_str(),
                target_type: "term",
                target_id: &term,
                reason: None,
                details: None,
                created_at: now,
                class_id: None,
                category: None,
            },
        )
    })?;
    let config = config.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // Forgotten however the thread ends, a panic included, and before
        // the page that waits is told it finished.
        let forget = Forget(terms);
        let outcome = run(&config, &request, now);
        match &outcome {
            Ok(Ok(report)) => {
                tracing::info!(summary = %report.summary(), "sync started from the admin page finished")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "sync started from the admin page did not run")
            }
            Err(e) => tracing::error!(error = %e, "sync started from the admin page failed"),
        }
        drop(forget);
        // Nobody waits any more once the page has answered; that is fine.
        let _ = sender.send(outcome.map_err(|e| e.to_string()));
    });
    Ok(receiver)
}

/// Forgets the held term list and subjects when dropped: at the end of a
/// sync's thread.
struct Forget(std::sync::Arc<crate::classes::term::TermList>);

impl Drop for Forget {
    fn drop(&mut self) {
        self.0.forget();
    }
}

/// The job itself, on the calling thread: its own connection and runtime.
fn run(
    config: &Config,
    request: &SyncRequest,
    now: NaiveDateTime,
) -> anyhow::Result<Result<SyncReport, SyncError>> {
    let mut conn = db::Manager::new(config.database.url.clone()).establish()?;
    let client = SisClient::new(ClientSettings::from_config(config))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(sync::run(
        &mut conn,
        &client,
        runtime.handle(),
        request,
        now,
        &sync::Quiet,
    ))
}
