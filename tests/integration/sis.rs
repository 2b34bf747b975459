//! The SIS sync against a real HTTP server on loopback serving the sample
//! pages, on SQLite and PostgreSQL: what lands in the catalog, what a re-sync
//! changes, how failures, overlaps and a killed process leave the data.

use crate::common;

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::builders::{MessageBuilder, UserBuilder};
use common::sis_server::{self, Fault, SisServer};
use common::*;
use common_grounds::accounts::{Role, UserId};
use common_grounds::chat;
use common_grounds::classes::{self, Class, ClassMeeting};
use common_grounds::clock;
use common_grounds::db::schema::{class_meetings, classes as classes_table, sis_sync_runs};
use common_grounds::db::{self, DbConn};
use common_grounds::sis::client::{ClientSettings, SisClient, MAX_PAGE_BYTES};
use common_grounds::sis::lock::{self, Claim};
use common_grounds::sis::sync::{
    self, Quiet, SectionCounts, SubjectOutcome, SyncError, SyncReport, SyncRequest,
};
use common_grounds::sis::{self as sis_runs, SyncRun, SyncRunId, SyncStatus, Term};
use diesel::prelude::*;
use serde_json::Value;

const CS_PAGE1: &str = include_str!("../fixtures/sis/cs-1262-page1.json");
const CS_PAGE2: &str = include_str!("../fixtures/sis/cs-1262-page2.json");
const CS_PAGE3: &str = include_str!("../fixtures/sis/cs-1262-page3.json");
const OPTIONS: &str = include_str!("../fixtures/sis/options-1262.json");

fn sample_cs_pages() -> Vec<String> {
    vec![CS_PAGE1.into(), CS_PAGE2.into(), CS_PAGE3.into()]
}

/// The sample's sections, in page order.
fn sample_cs_sections() -> Vec<Value> {
    [CS_PAGE1, CS_PAGE2]
        .iter()
        .flat_map(|page| {
            serde_json::from_str::<Value>(page).unwrap()["classes"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect()
}

fn math_sections(seats: i32) -> Vec<Value> {
    vec![
        sis_server::generated_section("1262", "MATH", 20001, seats),
        sis_server::generated_section("1262", "MATH", 20003, seats),
        sis_server::generated_section("1262", "MATH", 20005, seats),
    ]
}

/// The server as the samples describe term 1262: CS on three pages (the last
/// empty), MATH on two pages of the current shape.
async fn sample_server() -> SisServer {
    let server = SisServer::start().await;
    server.set_options_body("1262", OPTIONS);
    server.set_pages("1262", "CS", sample_cs_pages());
    server.set_pages(
        "1262",
        "MATH",
        sis_server::object_pages(&math_sections(5), 2),
    );
    server
}

fn settings(server: &SisServer) -> ClientSettings {
    ClientSettings {
        base_url: server.base_url.parse().unwrap(),
        institution: "UVA01".into(),
        concurrency: 2,
        pause: Duration::ZERO,
        max_retries: 3,
        backoff: Duration::from_millis(2),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        user_agent: "common-grounds-test/1 (sis sync tests)".into(),
    }
}

fn request(subjects: &[&str]) -> SyncRequest {
    let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
    SyncRequest::parse("1262", &subjects, false).unwrap()
}

/// Runs the domain's sync the way the CLI does: blocking, on its own thread.
async fn sync_with(
    db: &TestDb,
    settings: ClientSettings,
    request: SyncRequest,
) -> Result<SyncReport, SyncError> {
    let url = db.url.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut conn = db::Manager::new(url).establish().unwrap();
        let client = SisClient::new(settings).unwrap();
        sync::run(&mut conn, &client, &runtime, &request, clock::now(), &Quiet)
    })
    .await
    .unwrap()
}

async fn sync_all(db: &TestDb, server: &SisServer) -> SyncReport {
    sync_with(db, settings(server), request(&[])).await.unwrap()
}

fn catalog(conn: &mut DbConn) -> BTreeMap<String, Class> {
    classes_table::table
        .select(Class::as_select())
        .load(conn)
        .unwrap()
        .into_iter()
        .map(|c| (c.sis_class_number.clone().unwrap(), c))
        .collect()
}

fn meetings(conn: &mut DbConn, class: &Class) -> Vec<ClassMeeting> {
    classes::meetings_of(conn, std::slice::from_ref(&class.id)).unwrap()
}

fn all_meetings(conn: &mut DbConn) -> Vec<ClassMeeting> {
    class_meetings::table
        .order((class_meetings::class_id, class_meetings::position))
        .select(ClassMeeting::as_select())
        .load(conn)
        .unwrap()
}

fn runs(conn: &mut DbConn) -> Vec<SyncRun> {
    sis_sync_runs::table
        .order(sis_sync_runs::started_at)
        .select(SyncRun::as_select())
        .load(conn)
        .unwrap()
}

fn counts(added: u32, changed: u32, unchanged: u32, deactivated: u32) -> SectionCounts {
    SectionCounts {
        added,
        changed,
        unchanged,
        deactivated,
        missing: 0,
    }
}

/// The sample pages with edits: `edit(class_nbr, section)`; returning false drops it.
fn edited_cs_pages(mut edit: impl FnMut(u64, &mut Value) -> bool) -> Vec<String> {
    [CS_PAGE1, CS_PAGE2]
        .iter()
        .map(|page| {
            let mut page: Value = serde_json::from_str(page).unwrap();
            let sections = page["classes"].as_array_mut().unwrap();
            sections.retain_mut(|s| {
                let number = s["class_nbr"].as_u64().unwrap();
                edit(number, s)
            });
            page.to_string()
        })
        .chain(std::iter::once(CS_PAGE3.to_string()))
        .collect()
}

backend_test!(
    async fn sample_sections_land_with_meetings_instructors_and_placeholders(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;

        let report = sync_all(&db, &server).await;

        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(report.counts, counts(8, 0, 0, 0));
        assert_eq!(report.fetched.pages, 4, "CS 1..=pageCount (2), MATH 2");
        assert_eq!(server.pages_requested("CS"), vec![1, 2]);
        let catalog = catalog(&mut conn);
        assert_eq!(catalog.len(), 8);

        let dsa = &catalog["16601"];
        assert_eq!(
            (
                dsa.subject.as_str(),
                dsa.catalog_number.as_str(),
                dsa.term.as_str()
            ),
            ("CS", "2100", "1262")
        );
        assert_eq!(
            dsa.title.as_deref(),
            Some("Data Structures and Algorithms 1")
        );
        assert_eq!(dsa.component.as_deref(), Some("LEC"));
        assert_eq!(dsa.class_section.as_deref(), Some("001"));
        assert_eq!(dsa.instructor.as_deref(), Some("Ada Lovelace"));
        assert_eq!(
            (dsa.class_capacity, dsa.enrollment_available),
            (Some(300), Some(13))
        );
        assert_eq!(dsa.days.as_deref(), Some("MoWeFr"));
        assert_eq!(
            (dsa.start_time.as_deref(), dsa.end_time.as_deref()),
            (Some("10:00"), Some("10:50"))
        );
        assert_eq!(dsa.location.as_deref(), Some("Rice Hall 130"));
        assert!(dsa.active);
        assert!(dsa.last_synced_at.is_some());

        let lab = &catalog["16602"];
        assert_eq!(lab.component.as_deref(), Some("LAB"));
        assert_eq!(lab.class_section.as_deref(), Some("101"));
        assert_eq!(lab.enrollment_available, Some(0));
        assert_eq!(lab.location.as_deref(), Some("Olsson Hall 001"));

        // Two instructors, two meetings; the row summarises the first.
        let discrete = &catalog["16610"];
        assert_eq!(
            discrete.instructor.as_deref(),
            Some("Grace Hopper, Alan Turing")
        );
        assert_eq!(discrete.days.as_deref(), Some("TuTh"));
        let m = meetings(&mut conn, discrete);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (
                m[0].position,
                m[0].days.as_deref(),
                m[0].start_time.as_deref(),
                m[0].end_time.as_deref()
            ),
            (0, Some("TuTh"), Some("11:00"), Some("12:15"))
        );
        assert_eq!(m[0].location.as_deref(), Some("Chemistry Bldg 402"));
        assert_eq!(
            m[0].instructor.as_deref(),
            Some("Grace Hopper, Alan Turing")
        );
        assert_eq!(
            (
                m[1].position,
                m[1].days.as_deref(),
                m[1].start_time.as_deref(),
                m[1].location.as_deref()
            ),
            (1, Some("Fr"), Some("13:00"), Some("Thornton Hall E316"))
        );
        assert_eq!(m[1].instructor.as_deref(), Some("Alan Turing"));

        // A topic refines the title; unpublished rooms are no room.
        let topics = &catalog["16655"];
        assert_eq!(
            topics.title.as_deref(),
            Some("Special Topics in Computer Science: Systems for Machine Learning")
        );
        assert_eq!(topics.location, None);
        assert_eq!(meetings(&mut conn, topics)[0].location, None);
        assert_eq!(topics.start_time.as_deref(), Some("15:30"));

        // TBA everything: no days, no times, no room, no instructor.
        let study = &catalog["16699"];
        assert_eq!(study.component.as_deref(), Some("IND"));
        assert_eq!(
            (
                &study.days,
                &study.start_time,
                &study.end_time,
                &study.location,
                &study.instructor
            ),
            (&None, &None, &None, &None, &None)
        );
        let m = meetings(&mut conn, study);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (
                &m[0].days,
                &m[0].start_time,
                &m[0].end_time,
                &m[0].location,
                &m[0].instructor
            ),
            (&None, &None, &None, &None, &None)
        );

        // The run is recorded and the lock let go.
        let recorded = runs(&mut conn);
        assert_eq!(recorded.len(), 1);
        let run = &recorded[0];
        assert_eq!(Some(&run.id), report.run_id.as_ref());
        assert_eq!(run.status, SyncStatus::Succeeded);
        assert_eq!((run.term.as_str(), run.subjects.as_str()), ("1262", "all"));
        assert_eq!(
            (
                run.sections_added,
                run.sections_changed,
                run.pages_fetched,
                run.retries
            ),
            (8, 0, 4, 0)
        );
        assert!(run.finished_at.is_some() && run.error.is_none());
        let term = Term::parse("1262").unwrap();
        assert_eq!(lock::holder_of(&mut conn, &term).unwrap(), None);
        // Politely identified, for the right institution.
        let seen = server.requests();
        assert!(seen
            .iter()
            .all(|s| s.institution.as_deref() == Some("UVA01")));
        assert!(seen
            .iter()
            .all(|s| s.user_agent.as_deref() == Some("common-grounds-test/1 (sis sync tests)")));
    }
);

backend_test!(
    async fn a_second_identical_sync_reports_all_unchanged_and_changes_no_row(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let before = catalog(&mut conn);
        let meetings_before = all_meetings(&mut conn);

        let second = sync_all(&db, &server).await;

        assert_eq!(second.status, SyncStatus::Succeeded, "{}", second.summary());
        assert_eq!(second.counts, counts(0, 0, 8, 0));
        let after = catalog(&mut conn);
        for (number, old) in &before {
            let new = &after[number];
            assert_eq!(new.updated_at, old.updated_at, "{number} was rewritten");
            assert!(new.last_synced_at > old.last_synced_at, "{number} was seen");
            let same = Class {
                last_synced_at: old.last_synced_at,
                ..new.clone()
            };
            assert_eq!(&same, old);
        }
        assert_eq!(
            all_meetings(&mut conn),
            meetings_before,
            "meeting rows are untouched"
        );
        let recorded = runs(&mut conn);
        assert_eq!(recorded[1].sections_unchanged, 8);
        assert_eq!(recorded[1].sections_added + recorded[1].sections_changed, 0);
    }
);

backend_test!(
    async fn both_page_shapes_sync_the_same_data(backend: Backend) {
        let object_db = TestDb::new(backend);
        let array_db = TestDb::new(backend);
        let mut object_conn = object_db.migrated();
        let mut array_conn = array_db.migrated();
        let object_server = sample_server().await;
        let array_server = SisServer::start().await;
        array_server.set_options_body("1262", OPTIONS);
        array_server.set_pages(
            "1262",
            "CS",
            sis_server::array_pages(&sample_cs_sections(), 3),
        );
        array_server.set_pages(
            "1262",
            "MATH",
            sis_server::array_pages(&math_sections(5), 2),
        );

        let from_objects = sync_all(&object_db, &object_server).await;
        let from_arrays = sync_all(&array_db, &array_server).await;

        assert_eq!(
            from_arrays.status,
            SyncStatus::Succeeded,
            "{}",
            from_arrays.summary()
        );
        assert_eq!(from_objects.counts, from_arrays.counts);
        // Without a page count the walk stops at the empty page.
        assert_eq!(array_server.pages_requested("CS"), vec![1, 2, 3]);
        let comparable = |conn: &mut DbConn| {
            catalog(conn)
                .into_values()
                .map(|c| {
                    let ms: Vec<_> = meetings(conn, &c)
                        .into_iter()
                        .map(|m| {
                            (
                                m.position,
                                m.days,
                                m.start_time,
                                m.end_time,
                                m.location,
                                m.instructor,
                            )
                        })
                        .collect();
                    (
                        (
                            c.sis_class_number,
                            c.subject,
                            c.catalog_number,
                            c.term,
                            c.title,
                        ),
                        (c.component, c.class_section, c.instructor, c.class_capacity),
                        (
                            c.enrollment_available,
                            c.days,
                            c.start_time,
                            c.end_time,
                            c.location,
                            c.active,
                        ),
                        ms,
                    )
                })
                .collect::<Vec<_>>()
        };
        let from_objects_rows = comparable(&mut object_conn);
        assert_eq!(from_objects_rows.len(), 8);
        assert_eq!(from_objects_rows, comparable(&mut array_conn));
    }
);

/// The real binary, set up to sync from `server` into `db` (quick retries, no pause).
fn sync_command(db: &TestDb, server: &SisServer, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir().join(format!("cg-sis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_common-grounds"));
    command
        .arg("sis-sync")
        .args(args)
        .current_dir(&dir)
        .env_remove("SECRET_KEY")
        .env_remove("APP_ENV")
        .env("DATA_DIR", dir.join("data"))
        .env("DATABASE_URL", db.url_string())
        .env("SIS_BASE_URL", &server.base_url)
        .env("SIS_PAUSE_MS", "0")
        .env("SIS_MAX_RETRIES", "3")
        .env("SIS_BACKOFF_MS", "2")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

/// Runs it to the end on a blocking thread (the server keeps answering meanwhile).
async fn run_binary(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

backend_test!(
    async fn errors_then_success_syncs_and_html_forever_fails_only_that_subject(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let before = catalog(&mut conn);
        let math_before: Vec<_> = before
            .values()
            .filter(|c| c.subject == "MATH")
            .cloned()
            .collect();
        let meetings_before = all_meetings(&mut conn);
        // CS changes (a section is gone, another has new numbers); MATH would change too.
        server.set_pages(
            "1262",
            "CS",
            edited_cs_pages(|number, s| {
                if number == 16601 {
                    s["enrollment_available"] = 3.into();
                }
                number != 16699
            }),
        );
        server.set_pages(
            "1262",
            "MATH",
            sis_server::object_pages(&math_sections(1), 2),
        );
        server.fail(Some("CS"), None, Some(3), Fault::Status(500));
        server.fail(Some("MATH"), Some(2), None, Fault::Html);
        let math_requests_before = server.pages_requested("MATH").len();

        let output = run_binary(sync_command(&db, &server, &["--term", "1262"], &[])).await;

        let stdout = text(&output.stdout);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert_eq!(
            stdout.trim().lines().count(),
            1,
            "one summary line: {stdout}"
        );
        assert!(
            stdout.contains("partial") && stdout.contains("MATH"),
            "{stdout}"
        );
        assert!(stderr.contains("MATH: FAILED, nothing written"), "{stderr}");
        // CS synced after three 500s.
        let after = catalog(&mut conn);
        assert_eq!(after["16601"].enrollment_available, Some(3));
        assert!(after["16601"].updated_at > before["16601"].updated_at);
        // MATH is exactly as it was, meetings included.
        let math_after: Vec<_> = after
            .values()
            .filter(|c| c.subject == "MATH")
            .cloned()
            .collect();
        assert_eq!(math_after, math_before);
        let math_ids: Vec<_> = math_before.iter().map(|c| c.id.clone()).collect();
        let math_meetings_before: Vec<_> = meetings_before
            .iter()
            .filter(|m| math_ids.contains(&m.class_id))
            .cloned()
            .collect();
        assert_eq!(
            classes::meetings_of(&mut conn, &math_ids).unwrap(),
            math_meetings_before
        );
        // Nothing is marked inactive after an incomplete sync.
        assert!(after["16699"].active);
        assert!(after.values().all(|c| c.active));
        // The run row says why.
        let run = runs(&mut conn).pop().unwrap();
        assert_eq!(run.status, SyncStatus::Partial);
        assert_eq!(run.sections_deactivated, 0);
        let error = run.error.unwrap();
        assert!(
            error.contains(
                "MATH: page 2: SIS answered a page that is not JSON (starts with '<!DOCTYPE html>"
            ) && error.contains("(4 tries)")
                && error.contains("nothing marked inactive"),
            "{error}"
        );
        assert!(!error.contains("CS:"), "{error}");
        assert_eq!(run.retries, 6, "three for CS, three for MATH");
        assert_eq!(
            server.pages_requested("MATH")[math_requests_before..],
            [1, 2, 2, 2, 2]
        );
    }
);

fn new_student(conn: &mut DbConn, computing_id: &str) -> UserId {
    UserBuilder::new(computing_id)
        .role(Role::Student.as_str())
        .insert(conn)
        .id
}

backend_test!(
    async fn a_section_gone_from_a_full_resync_is_inactive_but_keeps_students(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let study = catalog(&mut conn)["16699"].clone();
        let student = new_student(&mut conn, "mst3k");
        classes::enroll(&mut conn, &student, &study.id, clock::now()).unwrap();
        let message_id = MessageBuilder::new(
            &study.id,
            &student,
            "Anon_abc123",
            "Who else is writing a dissertation?",
        )
        .insert(&mut conn)
        .id;
        server.set_pages("1262", "CS", edited_cs_pages(|number, _| number != 16699));

        // A sync of some subjects never deactivates.
        let cs_only = sync_with(&db, settings(&server), request(&["CS"]))
            .await
            .unwrap();
        assert_eq!(cs_only.counts, counts(0, 0, 4, 0));
        assert!(!cs_only.full);
        assert!(catalog(&mut conn)["16699"].active);

        // One full sync's miss is not proof: a section can slip between
        // pages while SIS changes. It stays, said in the report.
        let once = sync_all(&db, &server).await;
        assert_eq!(once.status, SyncStatus::Succeeded, "{}", once.summary());
        assert_eq!(
            once.counts,
            SectionCounts {
                missing: 1,
                ..counts(0, 0, 7, 0)
            }
        );
        assert!(catalog(&mut conn)["16699"].active);
        assert!(
            once.summary().contains("1 missing for the first time"),
            "{}",
            once.summary()
        );
        assert_eq!(runs(&mut conn).pop().unwrap().sections_missing, 1);

        // The next full sync misses it too: now it goes.
        let complete = sync_all(&db, &server).await;

        assert_eq!(
            complete.status,
            SyncStatus::Succeeded,
            "{}",
            complete.summary()
        );
        assert_eq!(complete.counts, counts(0, 0, 7, 1));
        let gone = catalog(&mut conn)["16699"].clone();
        assert!(!gone.active);
        assert!(gone.updated_at > study.updated_at);
        assert_eq!(gone.title, study.title, "kept, not deleted");
        assert!(classes::is_enrolled(&mut conn, &student, &study.id).unwrap());
        assert_eq!(
            chat::find(&mut conn, &message_id).unwrap().unwrap().content,
            "Who else is writing a dissertation?"
        );
        assert_eq!(meetings(&mut conn, &gone).len(), 1);
        assert_eq!(runs(&mut conn).pop().unwrap().sections_deactivated, 1);
        assert_eq!(catalog(&mut conn).values().filter(|c| c.active).count(), 7);

        // Back in SIS, back in the catalog: the same row, active again.
        server.set_pages("1262", "CS", sample_cs_pages());
        let back = sync_all(&db, &server).await;
        assert_eq!(back.counts, counts(0, 1, 7, 0));
        let again = catalog(&mut conn)["16699"].clone();
        assert!(again.active);
        assert_eq!(again.id, study.id);
    }
);

/// Waits for both children, noting when each ended.
fn wait_both(mut a: std::process::Child, mut b: std::process::Child) -> [(Output, Duration); 2] {
    let start = Instant::now();
    let mut ended: [Option<Duration>; 2] = [None, None];
    while ended.iter().any(Option::is_none) {
        for (i, child) in [&mut a, &mut b].into_iter().enumerate() {
            if ended[i].is_none() && child.try_wait().unwrap().is_some() {
                ended[i] = Some(start.elapsed());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "syncs did not end"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    [
        (a.wait_with_output().unwrap(), ended[0].unwrap()),
        (b.wait_with_output().unwrap(), ended[1].unwrap()),
    ]
}

backend_test!(
    async fn two_syncs_started_together_one_runs_and_the_other_says_so(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        // Slow pages keep the winner busy for over a second (two pages per subject,
        // two subjects at once).
        server.fail(None, None, None, Fault::Delay(Duration::from_millis(500)));
        let first = sync_command(&db, &server, &["--term", "1262"], &[]);
        let second = sync_command(&db, &server, &["--term", "1262"], &[]);

        let [(a, a_took), (b, b_took)] = tokio::task::spawn_blocking(move || {
            let (mut first, mut second) = (first, second);
            let a = first.spawn().unwrap();
            let b = second.spawn().unwrap();
            wait_both(a, b)
        })
        .await
        .unwrap();

        let (winner, loser, winner_took, loser_took) = if a.status.code() == Some(0) {
            (a, b, a_took, b_took)
        } else {
            (b, a, b_took, a_took)
        };
        assert_eq!(winner.status.code(), Some(0), "{}", text(&winner.stderr));
        assert_eq!(loser.status.code(), Some(75), "{}", text(&loser.stderr));
        let message = text(&loser.stderr);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(
            message.contains("a sync of term 1262 is already running"),
            "{message}"
        );
        assert!(
            loser_took < winner_took && loser_took < Duration::from_millis(1000),
            "the second exits at once: {loser_took:?} vs {winner_took:?}"
        );
        assert!(winner_took >= Duration::from_millis(900));
        assert_eq!(server.requests().iter().filter(|r| r.options).count(), 1);
        let recorded = runs(&mut conn);
        assert_eq!(recorded.len(), 1, "the refused run is not a run");
        assert_eq!(recorded[0].status, SyncStatus::Succeeded);
    }
);

backend_test!(
    async fn killing_the_sync_mid_subject_leaves_no_partial_subject(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let math_before: Vec<Class> = catalog(&mut conn)
            .into_values()
            .filter(|c| c.subject == "MATH")
            .collect();
        let math_ids: Vec<_> = math_before.iter().map(|c| c.id.clone()).collect();
        let math_meetings_before = classes::meetings_of(&mut conn, &math_ids).unwrap();
        // New data for both; MATH's second page never comes.
        server.set_pages(
            "1262",
            "CS",
            edited_cs_pages(|number, s| {
                if number == 16601 {
                    s["enrollment_available"] = 1.into();
                }
                true
            }),
        );
        server.set_pages(
            "1262",
            "MATH",
            sis_server::object_pages(&math_sections(0), 2),
        );
        server.fail(Some("MATH"), Some(2), None, Fault::Stall);
        let mut command = sync_command(
            &db,
            &server,
            &["--term", "1262"],
            &[("SIS_CONCURRENCY", "1")],
        );
        let mut child = command.spawn().unwrap();

        // Wait until CS is committed and MATH is half fetched, then kill -9.
        let started = Instant::now();
        loop {
            let cs_done = catalog(&mut conn)["16601"].enrollment_available == Some(1);
            let math_stalled = server.pages_requested("MATH").ends_with(&[1, 2]);
            if cs_done && math_stalled && server.pages_requested("MATH").len() >= 4 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sync never reached MATH page 2"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let after = catalog(&mut conn);
        assert_eq!(
            after["16601"].enrollment_available,
            Some(1),
            "CS finished before the kill"
        );
        let math_after: Vec<Class> = after
            .into_values()
            .filter(|c| c.subject == "MATH")
            .collect();
        assert_eq!(math_after, math_before, "no MATH row changed");
        assert_eq!(
            classes::meetings_of(&mut conn, &math_ids).unwrap(),
            math_meetings_before
        );
        let killed = runs(&mut conn).pop().unwrap();
        assert_eq!(
            (killed.status, killed.finished_at),
            (SyncStatus::Running, None)
        );

        // The next run need not wait out the dead run's lease, and closes its record.
        server.clear_faults();
        let next = sync_all(&db, &server).await;
        assert_eq!(next.status, SyncStatus::Succeeded, "{}", next.summary());
        assert_eq!(next.counts, counts(0, 3, 5, 0));
        let closed = sis_runs::find_run(&mut conn, &killed.id).unwrap().unwrap();
        assert_eq!(closed.status, SyncStatus::Failed);
        assert!(closed.error.unwrap().contains("stopped before it finished"));
        assert!(closed.finished_at.is_some());
    }
);

backend_test!(
    async fn a_live_lock_is_respected_and_an_expired_one_is_taken_over(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let term = Term::parse("1262").unwrap();
        let now = clock::now();
        let (first, second) = (SyncRunId::new(), SyncRunId::new());
        let elsewhere = "another-host.example:4242";

        assert_eq!(
            lock::claim(&mut conn, &term, &first, elsewhere, now).unwrap(),
            Claim::Claimed
        );
        let held = lock::claim(&mut conn, &term, &second, "me:1", now).unwrap();
        let Claim::Held(row) = held else {
            panic!("a live claim was taken")
        };
        assert_eq!(
            (row.run_id.as_str(), row.holder.as_str()),
            (first.as_str(), elsewhere)
        );
        // Another term is independent.
        let other = Term::parse("1268").unwrap();
        assert_eq!(
            lock::claim(&mut conn, &other, &second, "me:1", now).unwrap(),
            Claim::Claimed
        );

        let later = now + lock::LEASE + chrono::Duration::seconds(1);
        assert_eq!(
            lock::claim(&mut conn, &term, &second, "me:1", later).unwrap(),
            Claim::Claimed
        );
        assert!(
            !lock::renew(&mut conn, &term, &first, later).unwrap(),
            "the old run lost it"
        );
        assert!(lock::renew(&mut conn, &term, &second, later).unwrap());
        lock::release(&mut conn, &term, &first).unwrap();
        assert!(
            lock::holder_of(&mut conn, &term).unwrap().is_some(),
            "only the holder releases"
        );
        lock::release(&mut conn, &term, &second).unwrap();
        assert_eq!(lock::holder_of(&mut conn, &term).unwrap(), None);
    }
);

backend_test!(
    async fn a_sync_started_while_another_holds_the_term_changes_nothing(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        let term = Term::parse("1262").unwrap();
        let holder = SyncRunId::new();
        lock::claim(
            &mut conn,
            &term,
            &holder,
            "another-host.example:1",
            clock::now(),
        )
        .unwrap();

        let refused = sync_with(&db, settings(&server), request(&[])).await;

        let Err(error @ SyncError::AlreadyRunning { .. }) = refused else {
            panic!("expected AlreadyRunning, got {refused:?}")
        };
        assert!(error.to_string().contains(holder.as_str()), "{error}");
        assert!(server.requests().is_empty(), "SIS was not asked");
        assert!(runs(&mut conn).is_empty());
        assert!(catalog(&mut conn).is_empty());
    }
);

backend_test!(
    async fn a_page_that_times_out_once_is_retried(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        server.fail(
            Some("CS"),
            Some(2),
            Some(1),
            Fault::Delay(Duration::from_secs(3)),
        );
        let mut quick = settings(&server);
        quick.read_timeout = Duration::from_millis(300);

        let report = sync_with(&db, quick, request(&["CS"])).await.unwrap();

        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(report.fetched.retries, 1);
        assert_eq!(server.pages_requested("CS"), vec![1, 2, 2]);
        assert_eq!(catalog(&mut conn).len(), 5);
    }
);

backend_test!(
    async fn a_malformed_page_fails_its_subject_at_once_with_a_clear_error(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        server.set_pages("1262", "MATH", vec![r#"{"error": "Search failed"}"#.into()]);

        let report = sync_all(&db, &server).await;

        assert_eq!(report.status, SyncStatus::Partial);
        let math = report
            .subjects
            .iter()
            .find(|(s, _)| s.as_str() == "MATH")
            .unwrap();
        let SubjectOutcome::Failed(error) = &math.1 else {
            panic!("MATH synced")
        };
        assert_eq!(
            error,
            r#"page 1: an object without "classes" (keys: ["error"])"#
        );
        assert_eq!(server.pages_requested("MATH"), vec![1], "not retried");
        assert_eq!(report.fetched.retries, 0);
        assert_eq!(catalog(&mut conn).len(), 5, "CS synced");
    }
);

backend_test!(
    async fn a_subject_read_short_fails_and_deactivates_nothing(backend: Backend) {
        // Arrange: a full sync, then SIS answers CS's page 2 of 3 with no
        // classes (results shifting while it is read, or a glitch).
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let before = catalog(&mut conn);
        assert!(before.values().all(|c| c.active));
        let sections = sample_cs_sections();
        let (first, rest) = sections.split_at(sections.len() / 2);
        server.set_pages(
            "1262",
            "CS",
            vec![
                serde_json::json!({"classes": first, "pageCount": 3}).to_string(),
                serde_json::json!({"classes": [], "pageCount": 3}).to_string(),
                serde_json::json!({"classes": rest, "pageCount": 3}).to_string(),
            ],
        );

        // Act: a full sync.
        let report = sync_all(&db, &server).await;

        // Assert: CS failed, saying why; nothing went inactive.
        assert_eq!(report.status, SyncStatus::Partial, "{}", report.summary());
        let cs = report
            .subjects
            .iter()
            .find(|(s, _)| s.as_str() == "CS")
            .unwrap();
        let SubjectOutcome::Failed(error) = &cs.1 else {
            panic!("CS synced from two pages of three")
        };
        assert!(error.contains("page 2 of 3"), "{error}");
        assert_eq!(runs(&mut conn).pop().unwrap().sections_deactivated, 0);
        assert!(catalog(&mut conn).values().all(|c| c.active));

        // The same when the empty page also says there are no pages: a
        // smaller count is not the end of a subject page 1 said was longer.
        server.set_pages(
            "1262",
            "CS",
            vec![
                serde_json::json!({"classes": first, "pageCount": 3}).to_string(),
                serde_json::json!({"classes": [], "pageCount": 0}).to_string(),
                serde_json::json!({"classes": rest, "pageCount": 3}).to_string(),
            ],
        );
        let report = sync_all(&db, &server).await;
        assert_eq!(report.status, SyncStatus::Partial, "{}", report.summary());
        assert_eq!(runs(&mut conn).pop().unwrap().sections_deactivated, 0);
        assert!(catalog(&mut conn).values().all(|c| c.active));
    }
);

// A cron that names every subject SIS offers runs full syncs too: the
// second that misses a section marks it inactive, as two runs of all would.
backend_test!(
    async fn naming_every_subject_is_a_full_sync_for_the_two_miss_rule(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        let every = || request(&["CS", "MATH"]);
        let first = sync_with(&db, settings(&server), every()).await.unwrap();
        assert!(first.full, "{}", first.summary());
        server.set_pages("1262", "CS", edited_cs_pages(|number, _| number != 16699));

        let once = sync_with(&db, settings(&server), every()).await.unwrap();
        let twice = sync_with(&db, settings(&server), every()).await.unwrap();

        assert_eq!((once.counts.missing, once.counts.deactivated), (1, 0));
        assert_eq!((twice.counts.missing, twice.counts.deactivated), (0, 1));
        assert!(!catalog(&mut conn)["16699"].active);
    }
);

backend_test!(
    async fn a_page_past_the_size_cap_fails_its_subject(backend: Backend) {
        // Arrange: the term synced; then CS's page 2 comes padded past the
        // cap (valid JSON all the same: a proxy's or a wrong base URL's
        // endless answer would not be).
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let mut pages = sample_cs_pages();
        pages[1].push_str(&" ".repeat(MAX_PAGE_BYTES));
        server.set_pages("1262", "CS", pages);

        let report = sync_all(&db, &server).await;

        // Assert: CS failed, saying why; what was stored stays.
        assert_eq!(report.status, SyncStatus::Partial, "{}", report.summary());
        assert!(
            report.summary().contains("larger than 16 MB"),
            "{}",
            report.summary()
        );
        assert!(catalog(&mut conn).values().all(|c| c.active));
    }
);

backend_test!(
    async fn an_unreachable_sis_is_said_with_its_cause(backend: Backend) {
        // Arrange: a port nothing listens on (bound, then let go).
        let db = TestDb::with_schema(backend);
        let server = sample_server().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nowhere = settings(&server);
        nowhere.base_url = format!("http://127.0.0.1:{port}/sis").parse().unwrap();
        nowhere.max_retries = 0;

        let report = sync_with(&db, nowhere, request(&[])).await.unwrap();

        // Assert: failed, saying the connection was refused, not only that
        // a request could not be sent (the same words for DNS and TLS).
        assert_eq!(report.status, SyncStatus::Failed, "{}", report.summary());
        let said = report.summary().to_lowercase();
        assert!(said.contains("connection refused"), "{said}");
    }
);

backend_test!(
    async fn a_subject_that_grows_while_read_is_read_to_its_new_last_page(backend: Backend) {
        // Arrange: a full sync, then CS grows by a page between SIS's answer
        // to page 1 (which still says 2 pages) and to page 2 (which says 3).
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let sections = sample_cs_sections();
        let (first, rest) = sections.split_at(2);
        let (middle, last) = rest.split_at(2);
        server.set_pages(
            "1262",
            "CS",
            vec![
                serde_json::json!({"classes": first, "pageCount": 2}).to_string(),
                serde_json::json!({"classes": middle, "pageCount": 3}).to_string(),
                serde_json::json!({"classes": last, "pageCount": 3}).to_string(),
            ],
        );

        // Act: a full sync.
        let report = sync_all(&db, &server).await;

        // Assert: page 3 was read, and nothing on it went inactive.
        assert!(
            server.pages_requested("CS").contains(&3),
            "{:?}",
            server.pages_requested("CS")
        );
        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(runs(&mut conn).pop().unwrap().sections_deactivated, 0);
        assert!(catalog(&mut conn).values().all(|c| c.active));
    }
);

backend_test!(
    async fn a_page_giving_one_class_number_to_two_sections_changes_nothing(backend: Backend) {
        // Arrange: the term synced; then SIS lists MATH's 20003 under the
        // class number of 20001 (another catalog number and section), and a
        // CS section on MATH's pages.
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        sync_all(&db, &server).await;
        let math_rows = |conn: &mut DbConn| -> Vec<Class> {
            catalog(conn)
                .into_values()
                .filter(|c| c.subject == "MATH")
                .collect()
        };
        let before = math_rows(&mut conn);
        let mut broken = math_sections(5);
        broken[1]["class_nbr"] = 20001.into();
        server.set_pages("1262", "MATH", sis_server::object_pages(&broken, 2));
        let mut stray = math_sections(5);
        stray[2]["subject"] = "CS".into();

        // Act: a sync of each broken MATH listing.
        let duplicated = sync_all(&db, &server).await;
        server.set_pages("1262", "MATH", sis_server::object_pages(&stray, 2));
        let strayed = sync_all(&db, &server).await;

        // Assert: MATH fails with the reason each time; no section changed.
        let math_error = |report: &SyncReport| match &report
            .subjects
            .iter()
            .find(|(s, _)| s.as_str() == "MATH")
            .unwrap()
            .1
        {
            SubjectOutcome::Failed(error) => error.clone(),
            other => panic!("MATH synced: {other:?}"),
        };
        assert_eq!(
            math_error(&duplicated),
            "class number 20001 is given to two sections, MATH 3001 LEC 001 and MATH 3003 LEC 003"
        );
        assert_eq!(
            math_error(&strayed),
            "section 20005 is of subject CS, not MATH"
        );
        assert_eq!(math_rows(&mut conn), before, "no MATH row written");
    }
);

backend_test!(
    async fn requests_stay_within_the_concurrency_limit_and_pause_between(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = SisServer::start().await;
        let subjects = ["AAS", "BIOL", "CHEM", "DANC", "ECON", "FREN"];
        server.set_subjects("1262", &subjects);
        for (i, subject) in subjects.iter().enumerate() {
            let sections: Vec<Value> = (0..4)
                .map(|j| {
                    sis_server::generated_section("1262", subject, 30000 + (i * 10 + j) as u32, 3)
                })
                .collect();
            server.set_pages("1262", subject, sis_server::object_pages(&sections, 2));
        }
        server.fail(None, None, None, Fault::Delay(Duration::from_millis(40)));
        let mut polite = settings(&server);
        polite.concurrency = 2;
        polite.pause = Duration::from_millis(30);

        let report = sync_with(&db, polite, request(&[])).await.unwrap();

        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(catalog(&mut conn).len(), 24);
        assert_eq!(server.max_in_flight(), 2, "two at once, never more");
        // Each request slot waits out the pause: 12 pages through 2 slots take
        // at least 6 * (40 ms answer + 30 ms pause).
        assert!(
            report.elapsed >= Duration::from_millis(6 * 70),
            "{:?}",
            report.elapsed
        );
    }
);

backend_test!(
    async fn a_dry_run_reports_what_it_would_do_and_writes_nothing(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        let mut dry = request(&[]);
        dry.dry_run = true;

        let report = sync_with(&db, settings(&server), dry).await.unwrap();

        assert_eq!(report.status, SyncStatus::Succeeded);
        assert_eq!(report.counts, counts(8, 0, 0, 0));
        assert!(report.run_id.is_none());
        assert!(
            report.summary().contains("dry run, nothing written"),
            "{}",
            report.summary()
        );
        assert!(catalog(&mut conn).is_empty());
        assert!(runs(&mut conn).is_empty());
    }
);

backend_test!(
    async fn recorded_pages_in_a_folder_sync_like_the_live_search(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sis");
        let server = SisServer::start().await;
        let mut from_files = settings(&server);
        from_files.base_url = url::Url::from_directory_path(&folder).unwrap();

        let report = sync_with(&db, from_files, request(&["cs"])).await.unwrap();

        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(report.counts, counts(5, 0, 0, 0));
        assert_eq!(
            catalog(&mut conn)["16610"].instructor.as_deref(),
            Some("Grace Hopper, Alan Turing")
        );
        assert!(server.requests().is_empty());
    }
);

backend_test!(
    async fn bad_words_on_the_command_line_get_one_clear_line(backend: Backend) {
        let db = TestDb::new(backend);
        db.migrated();
        let server = sample_server().await;

        let bad_term = run_binary(sync_command(&db, &server, &["--term", "2026"], &[])).await;
        let unknown = run_binary(sync_command(
            &db,
            &server,
            &["--term", "1262", "--subject", "XYZ"],
            &[],
        ))
        .await;
        let bad_subject = run_binary(sync_command(
            &db,
            &server,
            &["--term", "1262", "--subject", "C S"],
            &[],
        ))
        .await;

        let stderr = text(&bad_term.stderr);
        assert_eq!(bad_term.status.code(), Some(2));
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("'2026' is not a SIS term"), "{stderr}");
        let stdout = text(&unknown.stdout);
        assert_eq!(unknown.status.code(), Some(1));
        assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
        assert!(
            stdout.contains(
                "failed: unknown subject XYZ: SIS offers 2 subjects in term 1262 (CS, MATH)"
            ),
            "{stdout}"
        );
        assert_eq!(bad_subject.status.code(), Some(2));
        assert!(text(&bad_subject.stderr).contains("'C S' is not a SIS subject code"));
    }
);

backend_test!(
    async fn control_characters_in_sis_text_are_dropped_not_fatal(backend: Backend) {
        // PeopleSoft text can carry stray control characters (a NUL, a
        // vertical tab pasted from a document). PostgreSQL refuses a NUL in
        // any text, so one such title would fail its whole subject every night.
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let server = sample_server().await;
        server.set_pages(
            "1262",
            "CS",
            edited_cs_pages(|number, s| {
                if number == 16601 {
                    s["descr"] = "Data Structures\u{0} and\u{b} Algorithms 1".into();
                    s["instructors"][0]["name"] = "Ada\u{0} Lovelace".into();
                    s["meetings"][0]["facility_descr"] = "Rice Hall\u{7f} 130\u{0}".into();
                }
                true
            }),
        );

        let report = sync_all(&db, &server).await;

        assert_eq!(report.status, SyncStatus::Succeeded, "{}", report.summary());
        assert_eq!(report.counts, counts(8, 0, 0, 0));
        let dsa = &catalog(&mut conn)["16601"];
        assert_eq!(
            dsa.title.as_deref(),
            Some("Data Structures and Algorithms 1")
        );
        assert_eq!(dsa.instructor.as_deref(), Some("Ada Lovelace"));
        assert_eq!(
            meetings(&mut conn, dsa)[0].location.as_deref(),
            Some("Rice Hall 130")
        );
    }
);
