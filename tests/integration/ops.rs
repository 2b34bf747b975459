//! Issue 8: backups that restore, a student's export and erasure, and cleanup,
//! on SQLite and PostgreSQL. Backups go through the real CLI binary.

use crate::common;
use crate::common::seed;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::Duration;
use common::*;
use common_grounds::db::schema::{class_messages, classes, users};
use common_grounds::db::{self, DbConn};
use common_grounds::friends::FriendshipStatus;
use common_grounds::ops;
use diesel::prelude::*;

fn cli(args: &[&str], database_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_common-grounds"))
        .args(args)
        .env_remove("APP_ENV")
        .env(
            "SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789",
        )
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn counts(conn: &mut DbConn) -> Vec<(String, i64)> {
    db::schema::TABLES
        .iter()
        .map(|t| (t.to_string(), db::count_rows(conn, t).unwrap()))
        .collect()
}

/// A small campus: three students, two classes, a friendship, a thread with a flag.
fn populate(conn: &mut DbConn) {
    let a = seed::user(conn, "aa1a");
    let b = seed::user(conn, "bb2b");
    let c = seed::user(conn, "cc3c");
    let cs = seed::class(conn, "CS 2100", "1262");
    let math = seed::class(conn, "MATH 3351", "1262");
    for u in [&a, &b, &c] {
        seed::enroll(conn, u, &cs);
    }
    seed::enroll(conn, &a, &math);
    seed::friendship(conn, &a, &b, FriendshipStatus::Accepted);
    let root = seed::message(conn, &a, &cs, "Anon_aaaa", "When is the midterm?", None);
    let reply = seed::message(conn, &b, &cs, "Anon_bbbb", "Thursday", Some(&root));
    seed::flag(conn, &c, &reply, "spoiler");
}

fn snapshot_in(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.to_string_lossy().ends_with(".manifest.json"))
        .expect("a snapshot file")
}

backend_test!(
    async fn a_backup_verifies_detects_damage_and_restores(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        populate(&mut conn);
        let before = counts(&mut conn);
        // A restore reads the erasures of the live database (DATABASE_URL)
        // only while nothing else has it open.
        drop(conn);
        let data = tempdir();
        let backups = data.join("backups");

        let created = cli(&["backup", "create"], &db.url_string(), &data);
        assert!(created.status.success(), "{}", text(&created));
        assert!(
            text(&created).contains("backup: wrote"),
            "{}",
            text(&created)
        );
        let file = snapshot_in(&backups);
        // Every student's data: the folder, the snapshot and its manifest are
        // their owner's alone.
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&backups), 0o700, "the backup folder");
            assert_eq!(mode(&file), 0o600, "the snapshot");
            let manifest = std::fs::read_dir(&backups)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".json"))
                .expect("a manifest");
            assert_eq!(mode(&manifest), 0o600, "the manifest");
        }
        let listed = cli(&["backup", "list"], &db.url_string(), &data);
        assert!(text(&listed).contains(file.file_name().unwrap().to_str().unwrap()));

        let verified = cli(
            &["backup", "verify", file.to_str().unwrap()],
            &db.url_string(),
            &data,
        );
        assert!(verified.status.success(), "{}", text(&verified));
        assert!(text(&verified).contains("OK"), "{}", text(&verified));
        // A snapshot that is not there is said to be missing, not its manifest.
        let absent = backups.join("absent.sqlite");
        let missing = cli(
            &["backup", "verify", absent.to_str().unwrap()],
            &db.url_string(),
            &data,
        );
        assert!(!missing.status.success());
        assert!(
            text(&missing).contains("there is no snapshot at"),
            "{}",
            text(&missing)
        );

        // Restore into an empty database: the same rows.
        let target = TestDb::new(backend);
        let restored = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &target.url_string(),
            ],
            &db.url_string(),
            &data,
        );
        assert!(restored.status.success(), "{}", text(&restored));
        assert_eq!(counts(&mut target.connect()), before);
        // A second restore into the now non-empty target is refused without --force.
        let again = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &target.url_string(),
            ],
            &db.url_string(),
            &data,
        );
        assert!(!again.status.success());
        assert!(text(&again).contains("is not empty"), "{}", text(&again));
        let forced = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &target.url_string(),
                "--force",
            ],
            &db.url_string(),
            &data,
        );
        assert!(forced.status.success(), "{}", text(&forced));
        assert_eq!(counts(&mut target.connect()), before);

        // One byte changed: verify fails and says why; restore refuses it.
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&file, &bytes).unwrap();
        let damaged = cli(
            &["backup", "verify", file.to_str().unwrap()],
            &db.url_string(),
            &data,
        );
        assert!(!damaged.status.success());
        assert!(
            text(&damaged).contains("FAILED") && text(&damaged).contains("checksum"),
            "{}",
            text(&damaged)
        );
        let empty = TestDb::new(backend);
        let refused = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &empty.url_string(),
            ],
            &db.url_string(),
            &data,
        );
        assert!(!refused.status.success());
        assert!(text(&refused).contains("damaged"), "{}", text(&refused));

        // --keep-days removes old snapshots.
        let mut manifest = ops::backup::read_manifest(&file).unwrap();
        manifest.created_at -= Duration::days(40);
        std::fs::write(
            ops::backup::manifest_path(&file),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let pruned = cli(
            &["backup", "create", "--keep-days", "30"],
            &db.url_string(),
            &data,
        );
        assert!(pruned.status.success(), "{}", text(&pruned));
        assert!(!file.exists(), "the 40-day-old snapshot is removed");
        assert_eq!(ops::backup::list(&backups).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&data);
    }
);

backend_test!(
    async fn a_backup_that_did_not_finish_is_listed_then_removed(backend: Backend) {
        // Arrange: a snapshot, and what backups killed part-way left a day
        // and more ago (a whole copy of the database among them), and one
        // still being made now.
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        populate(&mut conn);
        drop(conn);
        let data = tempdir();
        let backups = data.join("backups");
        let created = cli(&["backup", "create"], &db.url_string(), &data);
        assert!(created.status.success(), "{}", text(&created));
        let old = [
            "common-grounds-20261201T030405.000000Z.sqlite.partial",
            "common-grounds-20261201T030405.000000Z.sqlite.partial-journal",
            "common-grounds-20261203T030405.000000Z.pgdump.manifest.json",
        ];
        // A snapshot without a manifest (a copy made by hand, an older
        // version's killed run): listed, never removed.
        let copy = "common-grounds-pre-upgrade.sqlite";
        let two_days_ago = std::time::SystemTime::now() - Duration::days(2).to_std().unwrap();
        for name in old.iter().chain([&copy]) {
            let file = std::fs::File::create(backups.join(name)).unwrap();
            std::io::Write::write_all(&mut &file, b"every student's data").unwrap();
            file.set_modified(two_days_ago).unwrap();
        }
        let fresh = "common-grounds-20261208T000000.000000Z.pgdump.partial";
        std::fs::write(backups.join(fresh), "being made").unwrap();

        // Act: list, then the next night's backup.
        let listed = text(&cli(&["backup", "list"], &db.url_string(), &data));
        let next = cli(&["backup", "create"], &db.url_string(), &data);

        // Assert: listed as left by a backup that did not finish; the old
        // ones removed by the next backup, the one in progress left alone.
        for name in old.iter().chain([&fresh]) {
            assert!(
                listed.contains(&format!("{name} was left by a backup that did not finish")),
                "{name}: {listed}"
            );
        }
        assert!(next.status.success(), "{}", text(&next));
        for name in old {
            assert!(!backups.join(name).exists(), "{name} was kept");
            assert!(text(&next).contains(name), "{}", text(&next));
        }
        assert!(backups.join(fresh).exists());
        assert!(
            backups.join(copy).exists(),
            "a copy made by hand was removed"
        );
        assert!(
            listed.contains(&format!("{copy} has no readable manifest")),
            "{listed}"
        );
        assert_eq!(ops::backup::list(&backups).unwrap().len(), 2);
        // A snapshot is made under its .partial name: none is left once done.
        assert_eq!(ops::backup::leftovers(&backups).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&data);
    }
);

backend_test!(
    async fn a_backup_into_a_file_not_a_folder_says_so(backend: Backend) {
        let db = TestDb::new(backend);
        drop(db.migrated());
        let data = tempdir();
        let file = data.join("exported.json");
        std::fs::write(&file, "{}").unwrap();

        let out = cli(
            &["backup", "create", "--dir", file.to_str().unwrap()],
            &db.url_string(),
            &data,
        );

        assert!(!out.status.success());
        assert!(
            text(&out).contains("is a file, not a folder"),
            "{}",
            text(&out)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
        let _ = std::fs::remove_dir_all(&data);
    }
);

/// PostgreSQL only: a target database not made yet is the operator's to make
/// (owner, encoding, where it lives): said so, with nothing restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_postgres_database_not_made_yet_says_to_make_it() {
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    let mut conn = db.migrated();
    populate(&mut conn);
    drop(conn);
    let data = tempdir();
    let created = cli(&["backup", "create"], &db.url_string(), &data);
    assert!(created.status.success(), "{}", text(&created));
    let file = snapshot_in(&data.join("backups"));
    let mut target = url::Url::parse(&db.url_string()).unwrap();
    target.set_path("/cg_not_made_yet");

    let out = cli(
        &[
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--to",
            target.as_str(),
        ],
        &db.url_string(),
        &data,
    );

    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("does not exist: create it first") && said.contains("nothing was restored"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_over_the_postgres_database_a_running_server_uses_is_refused() {
    if postgres_admin_url().is_none() {
        return;
    }
    // Arrange: a server running on a PostgreSQL database, and a snapshot of it.
    let app = spawn_app(Backend::Postgres).await;
    populate(&mut app.conn());
    let data = tempdir();
    let url = app.db.url_string();
    let created = cli(&["backup", "create"], &url, &data);
    assert!(created.status.success(), "{}", text(&created));
    let file = snapshot_in(&data.join("backups"));
    let (status, _) = get_with(&app, &client(), "/readyz").await;
    assert_eq!(status, 200, "the server holds its pool's connections");
    let before = counts(&mut app.conn());

    // Act: restore over the live database, forced (its erasures said lost,
    // or the restore would refuse to replace the database it reads them from).
    let args = [
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--to",
        &url,
        "--force",
        "--erasures-lost",
    ];
    let forced = cli(&args, &url, &data);

    // Assert: refused with the reason; nothing was dropped under the server.
    assert!(!forced.status.success(), "{}", text(&forced));
    assert!(
        text(&forced).contains("other session(s) are connected"),
        "{}",
        text(&forced)
    );
    assert_eq!(counts(&mut app.conn()), before);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_over_the_sqlite_file_a_running_server_uses_is_refused() {
    // Arrange: a server running on an SQLite file, and a snapshot of it.
    let app = spawn_app(Backend::Sqlite).await;
    populate(&mut app.conn());
    let data = tempdir();
    let url = app.db.url_string();
    let created = cli(&["backup", "create"], &url, &data);
    assert!(created.status.success(), "{}", text(&created));
    let file = snapshot_in(&data.join("backups"));
    let before = counts(&mut app.conn());

    // Act: restore over the live file, forced (its erasures said lost, or
    // the restore would refuse to replace the file it reads them from).
    let args = [
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--to",
        &url,
        "--force",
        "--erasures-lost",
    ];
    let forced = cli(&args, &url, &data);

    // Assert: refused with the reason; the server still reads its own file.
    assert!(!forced.status.success(), "{}", text(&forced));
    assert!(text(&forced).contains("is in use"), "{}", text(&forced));
    assert_eq!(counts(&mut app.conn()), before);
    let (status, _) = get_with(&app, &client(), "/readyz").await;
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn keep_days_must_keep_at_least_a_day() {
    let db = TestDb::new(Backend::Sqlite);
    let data = tempdir();
    let zero = cli(
        &["backup", "create", "--keep-days", "0"],
        &db.url_string(),
        &data,
    );
    assert!(!zero.status.success());
    assert!(text(&zero).contains("--keep-days"), "{}", text(&zero));
    let huge = cli(
        &["backup", "create", "--keep-days", "9223372036854775807"],
        &db.url_string(),
        &data,
    );
    assert_eq!(huge.status.code(), Some(2), "{}", text(&huge));
    assert!(!data.join("backups").exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&data);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cg-ops-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

backend_test!(
    async fn a_backup_taken_while_students_post_is_consistent(backend: Backend) {
        let db = TestDb::new(backend);
        populate(&mut db.migrated());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut conn = db::Manager::new(url).establish().unwrap();
                let mut written = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    db::write_tx(&mut conn, |c| -> QueryResult<()> {
                        let author = seed::user(c, &format!("w{}", uuid::Uuid::new_v4().simple()));
                        let class = seed::class(c, "CS 4000", "1262");
                        seed::enroll(c, &author, &class);
                        seed::message(c, &author, &class, "Anon_w", "a message", None);
                        Ok(())
                    })
                    .unwrap();
                    written += 1;
                }
                written
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        let data = tempdir();
        let created = cli(&["backup", "create"], &db.url_string(), &data);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.join().unwrap();
        assert!(created.status.success(), "{}", text(&created));
        assert!(written > 0, "the writer kept writing during the backup");
        let file = snapshot_in(&data.join("backups"));

        let target = TestDb::new(backend);
        let restored = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &target.url_string(),
            ],
            &db.url_string(),
            &data,
        );
        assert!(restored.status.success(), "{}", text(&restored));
        let mut restored_conn = target.connect();
        let orphans: i64 = class_messages::table
            .left_join(classes::table)
            .left_join(users::table)
            .filter(classes::id.is_null().or(users::id.is_null()))
            .count()
            .get_result(&mut restored_conn)
            .unwrap();
        assert_eq!(orphans, 0, "every message's class and author exist");
        let manifest = ops::backup::read_manifest(&file).unwrap();
        for (table, n) in counts(&mut restored_conn) {
            assert_eq!(manifest.tables[&table], n, "{table}");
        }
        let _ = std::fs::remove_dir_all(&data);
    }
);

/// PostgreSQL: a forced restore that fails half way (here over a database
/// with a table of its own that refers to `users`, so `users`' key cannot be
/// dropped) leaves the database as it was, not with half its keys dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_restore_that_fails_changes_nothing() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    populate(&mut db.migrated());
    let data = tempdir();
    let created = cli(&["backup", "create"], &db.url_string(), &data);
    assert!(created.status.success(), "{}", text(&created));
    let file = snapshot_in(&data.join("backups"));

    let target = TestDb::new(Backend::Postgres);
    let mut target_conn = target.migrated();
    populate(&mut target_conn);
    target_conn
        .batch_execute(
            "CREATE TABLE their_notes (user_id TEXT REFERENCES users (id)); \
             INSERT INTO their_notes SELECT id FROM users LIMIT 1",
        )
        .unwrap();
    let constraints = |conn: &mut DbConn| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
              WHERE n.nspname = 'public')",
        ))
        .get_result(conn)
        .unwrap()
    };
    let (rows, keys) = (counts(&mut target_conn), constraints(&mut target_conn));
    drop(target_conn);

    let forced = cli(
        &[
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--to",
            &target.url_string(),
            "--force",
        ],
        &db.url_string(),
        &data,
    );
    assert!(!forced.status.success(), "{}", text(&forced));
    assert!(
        text(&forced).contains("pg_restore failed"),
        "{}",
        text(&forced)
    );
    let mut after = target.connect();
    assert_eq!(counts(&mut after), rows, "every row is still there");
    assert_eq!(
        constraints(&mut after),
        keys,
        "and every key and constraint"
    );
}

backend_test!(
    async fn a_snapshot_that_fails_after_its_file_was_made_leaves_nothing(backend: Backend) {
        // Arrange: a database, and in the backup folder a file already at
        // the name this snapshot's manifest will take (a stray, say).
        let db = TestDb::with_schema(backend);
        populate(&mut db.connect());
        let dir = tempdir();
        std::fs::create_dir_all(&dir).unwrap();
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
            .unwrap()
            .and_hms_micro_opt(3, 4, 5, 123_456)
            .unwrap();
        let extension = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "pgdump",
        };
        let snapshot = dir.join(format!(
            "common-grounds-20261206T030405.123456Z.{extension}"
        ));
        let stray = ops::backup::manifest_path(&snapshot);
        std::fs::write(&stray, "not ours").unwrap();

        // Act
        let made = ops::backup::create(&db.url, &dir, now);

        // Assert: refused; the snapshot (every student's data) is gone, and
        // the file that was there before is left alone.
        assert!(made.is_err());
        assert!(
            !snapshot.exists(),
            "a snapshot with no manifest was left behind"
        );
        assert_eq!(std::fs::read_to_string(&stray).unwrap(), "not ours");
        let _ = std::fs::remove_dir_all(&dir);
    }
);

backend_test!(
    async fn a_restored_database_ends_every_session_and_sends_no_old_mail(backend: Backend) {
        use common_grounds::db::schema::{email_outbox, sessions};
        // Arrange: a student signed in, and an email still queued, at the snapshot.
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let student = seed::user(&mut conn, "aa1a");
        common_grounds::accounts::sessions::create(
            &mut conn,
            &student.id,
            None,
            common_grounds::clock::now(),
        )
        .unwrap();
        seed::mail(
            &mut conn,
            &student.email,
            "Your Common Grounds digest: 1 new",
            "hi",
        );
        // A friend's request, its email not yet sent.
        let friend = seed::user(&mut conn, "bb2b");
        let notice = common_grounds::notifications::Notice::new(
            &student.id,
            common_grounds::notifications::Kind::FriendRequest,
            common_grounds::clock::now(),
        )
        .from_user(&friend.id);
        db::write_tx(&mut conn, |tx| {
            common_grounds::notifications::notify(tx, &notice)
        })
        .unwrap();
        let data = tempdir();
        let created = cli(&["backup", "create"], &db.url_string(), &data);
        assert!(created.status.success(), "{}", text(&created));
        let file = snapshot_in(&data.join("backups"));
        drop(conn);

        // Act
        let target = TestDb::new(backend);
        let restored = cli(
            &[
                "backup",
                "restore",
                file.to_str().unwrap(),
                "--to",
                &target.url_string(),
            ],
            &db.url_string(),
            &data,
        );

        // Assert: the session (maybe signed out since) is gone; the email
        // (maybe sent since) is set aside, saying why; the output says both.
        assert!(restored.status.success(), "{}", text(&restored));
        assert!(
            text(&restored).contains(
                "ended 1 sessions (everyone signs in again) and voided 0 unused sign-in links; \
                 set aside 1 queued emails and 1 notices' emails"
            ),
            "{}",
            text(&restored)
        );
        let mut restored_conn = target.connect();
        let left: i64 = sessions::table
            .count()
            .get_result(&mut restored_conn)
            .unwrap();
        assert_eq!(left, 0);
        let (status, why): (String, Option<String>) = email_outbox::table
            .select((email_outbox::status, email_outbox::last_error))
            .first(&mut restored_conn)
            .unwrap();
        assert_eq!(status, "failed");
        assert!(why.unwrap_or_default().contains("restored from a snapshot"));
        // The notice stays in the inbox, its email counted as sent.
        {
            use common_grounds::db::schema::notifications;
            let emailed: Vec<Option<chrono::NaiveDateTime>> = notifications::table
                .select(notifications::emailed_at)
                .load(&mut restored_conn)
                .unwrap();
            assert_eq!(emailed.len(), 1);
            assert!(emailed[0].is_some());
        }
        // The original is untouched.
        let kept: i64 = sessions::table
            .count()
            .get_result(&mut db.connect())
            .unwrap();
        assert_eq!(kept, 1);
    }
);

/// `backup restore FILE --to TO`, then `extra`, as the operator of
/// `database_url` (the live database) runs it.
fn restore_cli(file: &str, to: &str, extra: &[&str], database_url: &str, data: &Path) -> Output {
    let mut args = vec!["backup", "restore", file, "--to", to];
    args.extend_from_slice(extra);
    cli(&args, database_url, data)
}

/// Whether `conn` holds the account `id`.
fn holds(conn: &mut DbConn, id: &common_grounds::accounts::UserId) -> bool {
    common_grounds::accounts::find(conn, id).unwrap().is_some()
}

/// The snapshots in `dir`, oldest first.
fn snapshots_in(dir: &Path) -> Vec<String> {
    ops::backup::list(dir)
        .unwrap()
        .into_iter()
        .map(|(path, _)| path.to_str().unwrap().to_string())
        .collect()
}

backend_test!(
    async fn a_restore_erases_again_the_students_erased_since_its_snapshot(backend: Backend) {
        use common_grounds::db::schema::audit_log;
        // Arrange: a campus where one student erased their account before
        // the first snapshot; one with a thread, a friend, a class and a
        // classmate's block erased theirs after it; and one who signed up
        // between two snapshots erased theirs after both.
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        populate(&mut conn);
        let early = seed::user(&mut conn, "yk7w");
        let late = seed::user(&mut conn, "zq9x");
        let friend = seed::user(&mut conn, "pm3r");
        let blocker = seed::user(&mut conn, "vx5n");
        let cs = seed::class(&mut conn, "CS 3240", "1262");
        for u in [&early, &late, &friend] {
            seed::enroll(&mut conn, u, &cs);
        }
        seed::friendship(&mut conn, &late, &friend, FriendshipStatus::Accepted);
        seed::friendship(&mut conn, &blocker, &late, FriendshipStatus::Blocked);
        seed::message(
            &mut conn,
            &late,
            &cs,
            "Anon_zzzz",
            "Who has the notes?",
            None,
        );
        let data = tempdir();
        let backups = data.join("backups");
        let url = db.url_string();
        let run = |args: &[&str], database_url: &str| cli(args, database_url, &data);
        let restore =
            |file: &str, to: &str, extra: &[&str]| restore_cli(file, to, extra, &url, &data);
        let erase = |who: &str| {
            let out = run(&["student", "erase", who, "--confirm", who], &url);
            assert!(out.status.success(), "{}", text(&out));
        };
        let snapshot = || {
            let created = run(&["backup", "create"], &url);
            assert!(created.status.success(), "{}", text(&created));
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        snapshot();
        erase("yk7w");
        snapshot();
        let newcomer = seed::user(&mut conn, "nw4j");
        snapshot();
        let [before_all, first, second] = <[String; 3]>::try_from(snapshots_in(&backups)).unwrap();
        erase("zq9x");
        erase("nw4j");
        let live = counts(&mut conn);
        drop(conn);

        // Act: restore the first snapshot into a new database, the live one
        // named by DATABASE_URL.
        let target = TestDb::new(backend);
        let restored = restore(&first, &target.url_string(), &[]);

        // Assert: the student erased since the snapshot is erased again, and
        // the one it never held is logged; the restored database holds what
        // the live one does, row for row (a placeholder keeps the block).
        assert!(restored.status.success(), "{}", text(&restored));
        assert!(
            text(&restored).contains("erased again 1 account(s)")
                && text(&restored).contains("logged 1 other erasure(s)"),
            "{}",
            text(&restored)
        );
        assert!(!text(&restored).contains("zq9x"), "{}", text(&restored));
        let mut restored_conn = target.connect();
        assert!(!holds(&mut restored_conn, &late.id));
        assert!(!holds(&mut restored_conn, &early.id));
        assert_eq!(counts(&mut restored_conn), live);
        // Logged as the live database logged it: at the same time, naming no
        // one but the vanished account id.
        type Entry = (
            Option<String>,
            Option<String>,
            Option<String>,
            chrono::NaiveDateTime,
        );
        let entry = |conn: &mut DbConn| -> Entry {
            audit_log::table
                .filter(audit_log::target_id.eq(late.id.as_str()))
                .select((
                    audit_log::actor_id,
                    audit_log::reason,
                    audit_log::details,
                    audit_log::created_at,
                ))
                .first(conn)
                .unwrap()
        };
        let (actor, reason, details, at) = entry(&mut restored_conn);
        assert_eq!((actor, details), (None, None));
        assert!(reason
            .unwrap_or_default()
            .contains("restored from a snapshot"));
        assert_eq!(at, entry(&mut db.connect()).3);
        drop(restored_conn);

        // The second snapshot, restored with the first restored database as
        // the live one: its log carries on the newcomer's erasure.
        let later = TestDb::new(backend);
        let carried = restore(
            &second,
            &later.url_string(),
            &["--erasures-from", &target.url_string()],
        );
        assert!(carried.status.success(), "{}", text(&carried));
        assert!(
            text(&carried).contains("erased again 2 account(s)"),
            "{}",
            text(&carried)
        );
        let mut later_conn = later.connect();
        assert!(!holds(&mut later_conn, &newcomer.id));
        assert!(!holds(&mut later_conn, &late.id));
        drop(later_conn);

        // Refused before anything is restored: over the live database itself
        // (its list would be lost with a failure half way); while the live
        // database is open elsewhere (a student could erase their account
        // after the list was read); from a database that is not ours.
        // The live database spelled another way, named as the target with
        // the list read from it or from elsewhere.
        let respelled = match backend {
            Backend::Sqlite => {
                let link = data.join("live-by-another-name.db");
                std::os::unix::fs::symlink(url.trim_start_matches("sqlite://"), &link).unwrap();
                format!("sqlite://{}", link.display())
            }
            Backend::Postgres => {
                let parsed = url::Url::parse(&url).unwrap();
                let mut spelled = format!(
                    "postgres://{}?host={}&port={}&user={}",
                    parsed.path(),
                    parsed.host_str().unwrap(),
                    parsed.port().unwrap_or(5432),
                    parsed.username()
                );
                if let Some(password) = parsed.password() {
                    spelled.push_str(&format!("&password={password}"));
                }
                spelled
            }
        };
        assert_ne!(respelled, url);
        for from in [&url, &target.url_string()] {
            let over_itself = restore(&first, &respelled, &["--force", "--erasures-from", from]);
            assert!(!over_itself.status.success());
            assert!(
                text(&over_itself).contains("would replace"),
                "{}",
                text(&over_itself)
            );
        }
        assert_eq!(counts(&mut db.connect()), live);
        let other = TestDb::new(backend);
        let open = db.connect();
        let in_use = restore(&first, &other.url_string(), &[]);
        drop(open);
        assert!(!in_use.status.success());
        assert!(
            ["is in use", "other session(s) are connected"]
                .iter()
                .any(|why| text(&in_use).contains(why))
                && text(&in_use).contains("nothing was restored"),
            "{}",
            text(&in_use)
        );
        // Ours but holding no one, or another campus's (its schema made at
        // another time: SQLite keeps that time to the second).
        if backend == Backend::Sqlite {
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let empty = TestDb::new(backend);
        drop(empty.migrated());
        let stranger = TestDb::new(backend);
        seed::user(&mut stranger.migrated(), "zq9x");
        for (from, why) in [
            (&empty, "holds no accounts"),
            (&stranger, "not the database this snapshot was taken of"),
        ] {
            let to = TestDb::new(backend);
            let refused = restore(
                &first,
                &to.url_string(),
                &["--erasures-from", &from.url_string()],
            );
            assert!(!refused.status.success());
            assert!(text(&refused).contains(why), "{}", text(&refused));
        }
        // A database restored from an earlier snapshot without its erasures
        // lacks one the snapshot logged: refused, naming the account to
        // erase there first.
        let branched = TestDb::new(backend);
        let out = restore(&before_all, &branched.url_string(), &["--erasures-lost"]);
        assert!(out.status.success(), "{}", text(&out));
        let to = TestDb::new(backend);
        let refused = restore(
            &first,
            &to.url_string(),
            &["--erasures-from", &branched.url_string()],
        );
        assert!(!refused.status.success());
        assert!(
            text(&refused).contains("lacks erasures the snapshot holds")
                && text(&refused).contains(early.id.as_str()),
            "{}",
            text(&refused)
        );
        let not_ours = TestDb::new(backend);
        let unreadable = restore(
            &first,
            &other.url_string(),
            &["--erasures-from", &not_ours.url_string()],
        );
        assert!(!unreadable.status.success(), "{}", text(&unreadable));
        assert!(
            text(&unreadable).contains("holds no Common Grounds database")
                && text(&unreadable).contains("--erasures-lost"),
            "{}",
            text(&unreadable)
        );

        // Said lost: restored as the snapshot was (so the target was left
        // empty by each refusal), and the operator is told what is left to do.
        let anyway = restore(&first, &other.url_string(), &["--erasures-lost"]);
        assert!(anyway.status.success(), "{}", text(&anyway));
        assert!(text(&anyway).contains("erase by hand"), "{}", text(&anyway));
        assert!(holds(&mut other.connect(), &late.id));

        // A snapshot of a newer program's schema is refused.
        let mut manifest = ops::backup::read_manifest(Path::new(&first)).unwrap();
        manifest.schema_version = Some("99991231000000".into());
        std::fs::write(
            ops::backup::manifest_path(Path::new(&first)),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let newer = TestDb::new(backend);
        let refused = restore(&first, &newer.url_string(), &[]);
        assert!(!refused.status.success());
        assert!(
            text(&refused).contains("newer version"),
            "{}",
            text(&refused)
        );
        let _ = std::fs::remove_dir_all(&data);
    }
);

/// Reverts `conn`'s newest migrations until none from `version` on is applied.
fn revert_to_before(conn: &mut DbConn, version: &str) {
    use diesel_migrations::MigrationHarness;
    while db::schema_version(conn).unwrap().unwrap().as_str() >= version {
        match conn {
            DbConn::Sqlite(c) => c.revert_last_migration(db::SQLITE_MIGRATIONS).map(drop),
            DbConn::Postgresql(c) => c.revert_last_migration(db::POSTGRES_MIGRATIONS).map(drop),
        }
        .unwrap();
    }
}

backend_test!(
    async fn a_snapshot_older_than_the_program_is_migrated_then_erased_again(backend: Backend) {
        use common_grounds::db::schema::reveal_requests;
        // Arrange: a snapshot taken by an older program, before the table of
        // reveal requests existed; then, on today's schema, a student of it
        // erases their account.
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        populate(&mut conn);
        let student = seed::user(&mut conn, "zq9x");
        revert_to_before(&mut conn, "20261206000001");
        let data = tempdir();
        let backups = data.join("backups");
        let now = common_grounds::clock::now();
        let manifest = ops::backup::create(&db.url, &backups, now).unwrap();
        assert!(!manifest.tables.contains_key("reveal_requests"));
        db::run_migrations(&mut conn).unwrap();
        drop(conn);
        let url = db.url_string();
        let restore =
            |file: &str, to: &str, extra: &[&str]| restore_cli(file, to, extra, &url, &data);
        let erased = cli(
            &["student", "erase", "zq9x", "--confirm", "zq9x"],
            &url,
            &data,
        );
        assert!(erased.status.success(), "{}", text(&erased));
        let file = snapshot_in(&backups);

        // Act
        let target = TestDb::new(backend);
        let restored = restore(file.to_str().unwrap(), &target.url_string(), &[]);

        // Assert: counted against its own manifest, brought to today's
        // schema, the student erased again.
        assert!(restored.status.success(), "{}", text(&restored));
        let said = text(&restored);
        assert!(
            said.contains("applied 20261206000001 to the restored database"),
            "{said}"
        );
        assert!(said.contains("erased again 1 account(s)"), "{said}");
        assert!(
            said.contains("row counts match the manifest as restored, before the accounts above were erased again"),
            "{said}"
        );
        let mut restored_conn = target.connect();
        assert!(!holds(&mut restored_conn, &student.id));
        let requests: i64 = reveal_requests::table
            .count()
            .get_result(&mut restored_conn)
            .unwrap();
        assert_eq!(requests, 0, "today's tables are there");
        drop(restored_conn);

        // Said lost: brought to today's schema all the same, and settled.
        let lost = TestDb::new(backend);
        let restored = restore(
            file.to_str().unwrap(),
            &lost.url_string(),
            &["--erasures-lost"],
        );
        assert!(restored.status.success(), "{}", text(&restored));
        assert!(
            text(&restored).contains("applied 20261206000001 to the restored database"),
            "{}",
            text(&restored)
        );

        // A database up to date that lacks one of its tables is no backup.
        let mut conn = db.connect();
        diesel::sql_query("DROP TABLE calendar_feeds")
            .execute(&mut conn)
            .unwrap();
        drop(conn);
        let created = cli(&["backup", "create"], &url, &data);
        assert!(!created.status.success());
        assert!(
            text(&created).contains("lacks the table(s) calendar_feeds"),
            "{}",
            text(&created)
        );
        let _ = std::fs::remove_dir_all(&data);
    }
);
