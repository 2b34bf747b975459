//! A demo campus in an empty database: a catalog synced through the real SIS
//! code from pages on disk, students with names, classes, friends and chat
//! threads, and one moderator. The same generator makes a campus at UVA's
//! scale for benchmarks (`common-grounds demo --students 25000 ...`).

pub mod bench;
pub mod campus;
pub mod catalog;
mod words;

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::classes::ClassId;
use crate::db::schema::{classes, users};
use crate::db::{self, DbConn};
use crate::sis::client::{ClientSettings, SisClient};
use crate::sis::sync::{self, SyncError, SyncRequest};

pub use campus::{Counts, DEMO_MODERATOR, DEMO_STUDENT};

/// The shape of the campus to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampusSpec {
    pub students: u32,
    /// Sections in the catalog, the bundled sample sections included.
    pub sections: u32,
    /// Classes each student takes.
    pub per_student: u32,
    /// Friends each student has, about.
    pub friends: u32,
    pub messages: u64,
    pub seed: u64,
}

impl CampusSpec {
    /// What `serve --demo` loads: a few hundred students, enough to look lived in.
    pub fn demo() -> CampusSpec {
        CampusSpec {
            students: 300,
            sections: 150,
            per_student: 5,
            friends: 12,
            messages: 6_000,
            seed: 2026,
        }
    }

    /// Refuses shapes that cannot be made, each with what to change.
    pub fn check(&self) -> Result<(), DemoError> {
        let bad = |m: String| Err(DemoError::Spec(m));
        if !(2..=1_000_000).contains(&self.students) {
            return bad(format!(
                "--students must be 2 to 1000000, not {}",
                self.students
            ));
        }
        if !(catalog::SAMPLE_SECTIONS..=100_000).contains(&self.sections) {
            return bad(format!(
                "--sections must be {} (the bundled sample pages) to 100000, not {}",
                catalog::SAMPLE_SECTIONS,
                self.sections
            ));
        }
        if !(1..=12).contains(&self.per_student) {
            return bad(format!(
                "--per-student must be 1 to 12, not {}",
                self.per_student
            ));
        }
        if self.friends > 500 {
            return bad(format!(
                "--friends must be at most 500, not {}",
                self.friends
            ));
        }
        if self.messages > 50_000_000 {
            return bad(format!(
                "--messages must be at most 50000000, not {}",
                self.messages
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Spec(String),
    #[error(
        "the database already has {users} accounts; the demo loads only into an empty one \
         (point DATABASE_URL at a new database, or remove the SQLite file)"
    )]
    NotEmpty { users: i64 },
    #[error("writing the demo's SIS pages to {dir}: {source}")]
    Pages { dir: String, source: std::io::Error },
    #[error("syncing the demo catalog: {0}")]
    Sync(String),
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
}

impl From<SyncError> for DemoError {
    fn from(e: SyncError) -> DemoError {
        DemoError::Sync(e.to_string())
    }
}

/// Reports how far loading has got (a progress bar on a terminal).
pub trait Progress {
    fn stage(&self, _name: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}

/// Progress nobody watches.
pub struct Quiet;

impl Progress for Quiet {}

/// What was loaded.
#[derive(Debug, Clone)]
pub struct Report {
    pub sections: usize,
    pub counts: Counts,
    pub seconds: f64,
}

/// Loads a campus into an empty, migrated database. `scratch` is a folder for
/// the catalog's SIS pages (removed afterwards). Blocking.
pub fn load(
    conn: &mut DbConn,
    secret: &[u8],
    spec: &CampusSpec,
    scratch: &Path,
    now: NaiveDateTime,
    progress: &dyn Progress,
) -> Result<Report, DemoError> {
    spec.check()?;
    let started = Instant::now();
    let existing: i64 = users::table.count().get_result(conn)?;
    if existing > 0 {
        return Err(DemoError::NotEmpty { users: existing });
    }
    let mut rng = StdRng::seed_from_u64(spec.seed);

    progress.stage("catalog", u64::from(spec.sections));
    // A folder of its own (loads may run side by side, as tests do), named by
    // an absolute path: a `file://` URL needs one, and DATA_DIR is `data` by default.
    let pages = std::path::absolute(scratch)
        .unwrap_or_else(|_| scratch.to_path_buf())
        .join(format!("demo-sis-{}", uuid::Uuid::new_v4().simple()));
    let written = catalog::write_pages(&pages, spec.sections - catalog::SAMPLE_SECTIONS, &mut rng);
    let synced = written
        .map_err(|source| DemoError::Pages {
            dir: pages.display().to_string(),
            source,
        })
        .and_then(|()| sync_catalog(conn, &pages, now));
    let _ = std::fs::remove_dir_all(&pages);
    synced?;
    progress.advance(u64::from(spec.sections));

    let sections: Vec<campus::Section> = classes::table
        .filter(classes::term.eq(catalog::TERM))
        .filter(classes::active.eq(true))
        .order((
            classes::subject,
            classes::catalog_number,
            classes::class_section,
        ))
        .select((
            classes::id,
            classes::subject,
            classes::catalog_number,
            classes::component,
        ))
        .load::<(ClassId, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, subject, number, component)| campus::Section {
            id,
            course: format!("{subject} {number}"),
            lecture: matches!(component.as_deref(), Some("LEC" | "SEM")),
        })
        .collect();
    let counts = db::write_tx(conn, |c| {
        campus::populate(c, secret, spec, &sections, now, &mut rng, progress)
    })?;
    // Both databases plan by their statistics. PostgreSQL's autovacuum would
    // gather them only minutes later; SQLite never does by itself (the hourly
    // cleanup keeps them, `db::refresh_statistics`). Without them the first
    // pages scan whole tables: on SQLite, a friend's week started from the
    // term's 8,000 sections instead of two students' enrollments (15 ms a
    // request, 1 ms after ANALYZE). On PostgreSQL, VACUUM also marks the
    // freshly written pages all-visible, as autovacuum keeps a live campus:
    // until then an index-only scan (the unread counts') still reads the heap.
    let statistics = match conn {
        DbConn::Sqlite(_) => "ANALYZE",
        DbConn::Postgresql(_) => "VACUUM ANALYZE",
    };
    diesel::sql_query(statistics).execute(conn)?;
    Ok(Report {
        sections: sections.len(),
        counts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Syncs the term from the pages in `dir`, through the SIS client and job
/// cron uses, on a small runtime of its own.
fn sync_catalog(conn: &mut DbConn, dir: &Path, now: NaiveDateTime) -> Result<(), DemoError> {
    let url = url::Url::from_directory_path(dir)
        .map_err(|()| DemoError::Sync(format!("{} is not an absolute folder", dir.display())))?;
    let client = SisClient::new(ClientSettings::for_files(url))
        .map_err(|e| DemoError::Sync(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| DemoError::Sync(e.to_string()))?;
    let request = SyncRequest::parse(catalog::TERM, &[], false)
        .map_err(|e| DemoError::Sync(e.to_string()))?;
    let report = sync::run(conn, &client, runtime.handle(), &request, now, &sync::Quiet)?;
    if !report.succeeded() {
        return Err(DemoError::Sync(report.summary()));
    }
    Ok(())
}
