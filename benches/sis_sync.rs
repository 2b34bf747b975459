//! Benchmark (not a test): syncs a generated term of 10,000 sections in 100
//! pages (10 subjects of 10 pages of 100 sections) from a loopback server with
//! no pause, on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL (in
//! a fresh database it drops afterwards). Prints sections per second for a
//! first sync (all added) and a re-sync (all unchanged).
//!
//! `cargo bench --bench sis_sync` (optionally with
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres`).

#[path = "../tests/integration/common/sis_server.rs"]
mod sis_server;

use std::time::{Duration, Instant};

use common_grounds::config::DatabaseUrl;
use common_grounds::db;
use common_grounds::sis::client::{ClientSettings, SisClient};
use common_grounds::sis::sync::{self, Quiet, SyncReport, SyncRequest};
use diesel::prelude::*;
use sis_server::SisServer;

const TERM: &str = "1262";
const SUBJECTS: [&str; 10] = [
    "ANTH", "BIOL", "CHEM", "CS", "ECON", "HIST", "MATH", "PHYS", "PSYC", "STAT",
];
const PAGES_PER_SUBJECT: u32 = 10;
const SECTIONS_PER_PAGE: u32 = 100;
/// The target for a full term on either backend.
const TARGET: Duration = Duration::from_secs(5);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(SisServer::start());
    server.set_subjects(TERM, &SUBJECTS);
    let mut number = 10_000;
    for subject in SUBJECTS {
        let sections: Vec<_> = (0..PAGES_PER_SUBJECT * SECTIONS_PER_PAGE)
            .map(|_| {
                number += 1;
                sis_server::generated_section(TERM, subject, number, (number % 40) as i32)
            })
            .collect();
        server.set_pages(
            TERM,
            subject,
            sis_server::object_pages(&sections, SECTIONS_PER_PAGE as usize),
        );
    }
    let total = SUBJECTS.len() as u32 * PAGES_PER_SUBJECT * SECTIONS_PER_PAGE;
    println!(
        "sis_sync benchmark: {total} sections in {} pages from {} (no pause, concurrency 2)",
        SUBJECTS.len() as u32 * PAGES_PER_SUBJECT,
        server.base_url
    );

    let mut missed = false;
    let dir = std::env::temp_dir().join(format!("cg-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = DatabaseUrl::Sqlite(dir.join("bench.db"));
    missed |= bench("sqlite", &sqlite, &server, &runtime, total);
    let _ = std::fs::remove_dir_all(&dir);

    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(admin) => {
            let name = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
            db::init_libpq_tls();
            let mut admin_conn = PgConnection::establish(&admin).expect("TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin_conn)
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            let postgres = DatabaseUrl::Postgres(url.to_string());
            missed |= bench("postgres", &postgres, &server, &runtime, total);
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin_conn)
                .unwrap();
        }
        None => println!(
            "postgres: skipped (set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
        ),
    }
    if missed {
        println!("a full term took longer than the {TARGET:?} target");
    }
}

/// Two syncs into a fresh database; true when the first missed the target.
fn bench(
    name: &str,
    url: &DatabaseUrl,
    server: &SisServer,
    runtime: &tokio::runtime::Runtime,
    total: u32,
) -> bool {
    let mut conn = db::Manager::new(url.clone()).establish().unwrap();
    db::run_migrations(&mut conn).unwrap();
    let first = sync_once(&mut conn, server, runtime);
    let again = sync_once(&mut conn, server, runtime);
    assert_eq!(first.counts.added, total, "{}", first.summary());
    assert_eq!(again.counts.unchanged, total, "{}", again.summary());
    for (label, report) in [("first sync", &first), ("re-sync", &again)] {
        let seconds = report.elapsed.as_secs_f64();
        println!(
            "{name:>8} {label:<10}: {total} sections in {seconds:.2} s = {:.0} sections/s ({} pages, {})",
            total as f64 / seconds,
            report.fetched.pages,
            report.status
        );
    }
    first.elapsed > TARGET
}

fn sync_once(
    conn: &mut db::DbConn,
    server: &SisServer,
    runtime: &tokio::runtime::Runtime,
) -> SyncReport {
    let client = SisClient::new(ClientSettings {
        base_url: server.base_url.parse().unwrap(),
        institution: "UVA01".into(),
        concurrency: 2,
        pause: Duration::ZERO,
        max_retries: 3,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(30),
        user_agent: "common-grounds-bench".into(),
    })
    .unwrap();
    let request = SyncRequest::parse(TERM, &[], false).unwrap();
    let started = Instant::now();
    let report = sync::run(
        conn,
        &client,
        runtime.handle(),
        &request,
        common_grounds::clock::now(),
        &Quiet,
    )
    .unwrap();
    assert!(report.succeeded(), "{}", report.summary());
    assert!(started.elapsed() >= report.elapsed);
    report
}
