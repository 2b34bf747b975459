//! The command line as an operator meets it: `migrate` says what it did, and a
//! bad `DATABASE_URL` stops the program with one line naming the problem.

use crate::common;

use std::process::{Command, Output};

use common::*;

fn run(args: &[&str], database_url: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("cg-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_common-grounds"))
        .args(args)
        .current_dir(&dir)
        .env_remove("SECRET_KEY")
        .env_remove("APP_ENV")
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

backend_test!(
    async fn migrate_creates_the_schema_once_and_then_says_nothing_is_pending(backend: Backend) {
        let db = TestDb::new(backend);

        let first = run(&["migrate"], &db.url_string());
        let second = run(&["migrate"], &db.url_string());

        assert!(first.status.success(), "{}", text(&first.stderr));
        let dir = format!(
            "{}/migrations/{}",
            env!("CARGO_MANIFEST_DIR"),
            if backend == Backend::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );
        let migrations = std::fs::read_dir(dir).unwrap().count();
        assert!(
            text(&first.stdout).contains(&format!("applied {migrations} migration(s)")),
            "{}",
            text(&first.stdout)
        );
        assert!(second.status.success(), "{}", text(&second.stderr));
        assert!(
            text(&second.stdout).contains("nothing to apply"),
            "{}",
            text(&second.stdout)
        );
        let mut conn = db.connect();
        for table in common_grounds::db::schema::TABLES {
            assert_eq!(
                common_grounds::db::count_rows(&mut conn, table).unwrap(),
                0,
                "{table} exists"
            );
        }
    }
);

#[test]
fn an_unknown_scheme_stops_with_one_line_naming_it() {
    let output = run(&["migrate"], "mysql://root@127.0.0.1/cg");
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("mysql://"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_postgres_stops_with_the_real_connection_error() {
    let output = run(&["serve"], "postgres://postgres@127.0.0.1:1/cg");
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("invalid url"), "{stderr}");
}

#[test]
fn a_postgres_server_without_the_database_says_so() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("/cg_no_such_database");
    let output = run(&["migrate"], url.as_str());
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cg_no_such_database") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

backend_test!(
    async fn an_operator_exports_and_erases_a_student_who_cannot_sign_in(backend: Backend) {
        // Arrange: a student who takes a class.
        let db = TestDb::with_schema(backend);
        {
            let mut conn = db.connect();
            let class = seed::class(&mut conn, "CS 3120", "1262");
            let student = builders::UserBuilder::new("grd7a").insert(&mut conn);
            seed::enroll(&mut conn, &student, &class);
        }
        // Every command run on the student, as the audit log keeps it.
        let audited = |action: &str| -> Vec<(Option<String>, String, Option<String>)> {
            use common_grounds::db::schema::audit_log;
            use diesel::prelude::*;
            audit_log::table
                .filter(audit_log::action.eq(action))
                .select((audit_log::actor_id, audit_log::target_id, audit_log::reason))
                .load(&mut db.connect())
                .unwrap()
        };
        let student_id =
            common_grounds::moderation::users::find_by_login(&mut db.connect(), "grd7a")
                .unwrap()
                .unwrap()
                .id
                .to_string();
        let dir = std::env::temp_dir().join(format!("cg-export-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("grd7a.json");
        let file_arg = file.to_str().unwrap();

        // Act: export to a file, then again to the same file.
        let exported = run(
            &[
                "student",
                "export",
                "grd7a",
                "--out",
                file_arg,
                "--reason",
                "records request 114\n",
            ],
            &db.url_string(),
        );
        // Again, by the address as the student may have typed it at sign-in.
        let again = run(
            &[
                "student",
                "export",
                "grd7a@email.virginia.edu",
                "--out",
                file_arg,
            ],
            &db.url_string(),
        );

        // Assert: the account page's document, for the owner's eyes only; an
        // existing file is never overwritten.
        assert!(exported.status.success(), "{}", text(&exported.stderr));
        let written = std::fs::read_to_string(&file).unwrap();
        let json: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(json["format"], "common-grounds-export/1");
        assert!(
            written.contains("grd7a") && written.contains("CS 3120"),
            "{written}"
        );
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!again.status.success());
        assert!(
            text(&again.stderr).contains("already exists"),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
        // The export is in the audit log, by the command line, once: the
        // refused one wrote nothing and is not.
        assert_eq!(
            audited("export_data"),
            vec![(
                None,
                student_id.clone(),
                Some("records request 114".to_string())
            )]
        );

        // Act: erase with a mistyped confirmation, then with the right one.
        let mistyped = run(
            &[
                "student",
                "erase",
                "grd7a@virginia.edu",
                "--confirm",
                "grd7b",
            ],
            &db.url_string(),
        );
        let kept = common_grounds::moderation::users::find_by_login(&mut db.connect(), "grd7a")
            .unwrap()
            .is_some();
        // By the account's id, as after a restore (README, Backups).
        let erased = run(
            &["student", "erase", &student_id, "--confirm", "grd7a"],
            &db.url_string(),
        );
        let to_stdout = run(&["student", "export", "grd7a"], &db.url_string());

        // Assert: a typo erases no one; the real erasure leaves no account.
        assert!(!mistyped.status.success());
        assert!(
            text(&mistyped.stderr).contains("nothing was erased"),
            "{}",
            text(&mistyped.stderr)
        );
        assert!(kept, "the mistyped erasure removed the account");
        assert!(erased.status.success(), "{}", text(&erased.stderr));
        assert!(
            text(&erased.stdout).contains("erased grd7a"),
            "{}",
            text(&erased.stdout)
        );
        assert!(
            common_grounds::moderation::users::find_by_login(&mut db.connect(), "grd7a")
                .unwrap()
                .is_none()
        );
        assert!(!to_stdout.status.success());
        // One erasure in the audit log (the mistyped one erased nothing).
        assert_eq!(
            audited("erase_account"),
            vec![(None, student_id.clone(), None)]
        );
        assert!(
            text(&to_stdout.stderr).contains("no account for 'grd7a'"),
            "{}",
            text(&to_stdout.stderr)
        );
        // A staff account is not a student's to erase from here.
        builders::UserBuilder::new("mod9a")
            .role("moderator")
            .insert(&mut db.connect());
        let staff = run(
            &["student", "erase", "mod9a", "--confirm", "mod9a"],
            &db.url_string(),
        );
        assert!(!staff.status.success());
        assert!(
            text(&staff.stderr).contains("grant-role mod9a student"),
            "{}",
            text(&staff.stderr)
        );
        assert!(
            common_grounds::moderation::users::find_by_login(&mut db.connect(), "mod9a")
                .unwrap()
                .is_some()
        );
        assert_eq!(
            audited("erase_account").len(),
            1,
            "the refusal is not audited"
        );
        // Nor is a former moderator's, made a student since: who hid,
        // removed or revealed what stays attributed.
        let former = builders::UserBuilder::new("fmr9a").insert(&mut db.connect());
        common_grounds::db::write_tx(&mut db.connect(), |tx| {
            common_grounds::moderation::record(
                tx,
                &common_grounds::moderation::NewAuditEntry {
                    id: &common_grounds::moderation::AuditId::new(),
                    actor_id: Some(&former.id),
                    action: "hide",
                    target_type: "message",
                    target_id: "a message",
                    reason: Some("spam"),
                    details: None,
                    created_at: common_grounds::clock::now(),
                    class_id: None,
                    category: Some("spam"),
                },
            )
        })
        .unwrap();
        let acted = run(
            &["student", "erase", "fmr9a", "--confirm", "fmr9a"],
            &db.url_string(),
        );
        assert!(!acted.status.success());
        assert!(
            text(&acted.stderr).contains("took staff actions"),
            "{}",
            text(&acted.stderr)
        );
        assert!(
            common_grounds::moderation::users::find_by_login(&mut db.connect(), "fmr9a")
                .unwrap()
                .is_some()
        );
        // A computing ID that never signed in (the row others' requests or
        // blocks keep, as after an erasure) has no data to export or erase.
        builders::UserBuilder::new("nvr9a")
            .email_verified(false)
            .insert(&mut db.connect());
        for args in [
            &["student", "export", "nvr9a"][..],
            &["student", "erase", "nvr9a", "--confirm", "nvr9a"][..],
        ] {
            let out = run(args, &db.url_string());
            assert!(!out.status.success(), "{args:?}");
            assert!(
                text(&out.stderr).contains("nvr9a never signed in"),
                "{}",
                text(&out.stderr)
            );
        }
        assert_eq!(audited("erase_account").len(), 1);
        // An export of no one leaves no file behind, and no entry.
        let nobody = dir.join("nobody.json");
        let refused = run(
            &[
                "student",
                "export",
                "nob0dy",
                "--out",
                nobody.to_str().unwrap(),
            ],
            &db.url_string(),
        );
        assert!(!refused.status.success());
        assert!(!nobody.exists(), "the empty file was removed");
        assert_eq!(audited("export_data").len(), 1);
        // A mistyped database is not made and answered from.
        let missing = dir.join("no-such.db");
        let mistyped = run(
            &["student", "export", "grd7a"],
            &format!("sqlite://{}", missing.display()),
        );
        assert!(!mistyped.status.success());
        assert!(
            text(&mistyped.stderr).contains("there is no database at"),
            "{}",
            text(&mistyped.stderr)
        );
        assert!(!missing.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
);

/// The commands that answer from the data already there refuse a mistyped
/// SQLite path instead of making an empty database there (which `grant-role`
/// would answer "no account" from, and the server would later start on), and
/// `backup create` writes no snapshot of a database without our schema.
#[test]
fn commands_on_the_data_refuse_a_mistyped_sqlite_path() {
    let dir = std::env::temp_dir().join(format!("cg-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("no-such.db");
    let url = format!("sqlite://{}", missing.display());
    let backups = dir.join("backups");
    let backups_arg = backups.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["grant-role", "mst3k", "admin"],
        &["cleanup"],
        &["backup", "create", "--dir", backups_arg],
        &["student", "erase", "mst3k", "--confirm", "mst3k"],
        // Cron without the server's environment would sync into a new file.
        &["sis-sync", "--term", "1262"],
    ];
    for args in commands {
        let out = run(args, &url);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("there is no database at"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!missing.exists(), "{args:?} made the file");
    }
    assert!(!backups.exists(), "no backup folder was made");

    // An empty file (or any database without our tables) is nothing to back up.
    std::fs::write(&missing, b"").unwrap();
    let out = run(&["backup", "create", "--dir", backups_arg], &url);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("holds no Common Grounds schema"),
        "{}",
        text(&out.stderr)
    );
    assert!(!backups.exists(), "no backup folder was made");
    let size = std::fs::metadata(&missing).unwrap().len();
    assert_eq!(
        size, 0,
        "the file was not written to (no WAL switch, no header)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// A new binary staged beside running servers: the night's cron must not
// migrate their database unattended (mid-backup, say). Commands on the data
// refuse a schema older than the program, and change nothing.
backend_test!(
    async fn commands_on_the_data_refuse_a_schema_older_than_the_program(backend: Backend) {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let applied = |db: &TestDb| -> i64 {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
                .get_result::<Count>(&mut db.connect())
                .unwrap()
                .n
        };
        // Arrange: our database with its newest migration not yet applied.
        let db = TestDb::new(backend);
        {
            // Reverted by its own down.sql, so `migrate` below applies it
            // again for real.
            use common_grounds::db::{DbConn, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
            use diesel_migrations::MigrationHarness;
            match &mut db.migrated() {
                DbConn::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
                DbConn::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
            }
            .unwrap();
        }
        let before = applied(&db);
        let commands: [&[&str]; 4] = [
            &["cleanup"],
            &["sis-sync", "--term", "1262"],
            &["grant-role", "mst3k", "admin"],
            &["student", "export", "mst3k"],
        ];

        for args in commands {
            // Act
            let out = run(args, &db.url_string());

            // Assert: refused in one line that says what to run.
            assert!(!out.status.success(), "{args:?}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("schema is older than this program")
                    && stderr.contains("common-grounds migrate"),
                "{args:?}: {stderr}"
            );
            assert_eq!(applied(&db), before, "{args:?} migrated");
        }
        // `migrate` applies it.
        let out = run(&["migrate"], &db.url_string());
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(applied(&db), before + 1);
    }
);

// A database that is there but not ours (another program's, or the
// server's default `postgres` named by mistake) is refused by every command
// that answers from the data already there, and gets none of our tables:
// migrating into it first would have answered "no account" from a schema it
// had just made.
backend_test!(
    async fn commands_on_the_data_refuse_a_database_without_our_schema(backend: Backend) {
        // Arrange: another program's database, with a table of its own and,
        // as it uses Diesel too, a migration history of its own.
        let db = TestDb::new(backend);
        {
            use diesel::connection::SimpleConnection;
            let mut conn = db.connect();
            conn.batch_execute(
                "CREATE TABLE notes (body TEXT);
                 CREATE TABLE __diesel_schema_migrations (
                     version VARCHAR(50) PRIMARY KEY NOT NULL,
                     run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
                 INSERT INTO __diesel_schema_migrations (version) VALUES ('20200101000000');",
            )
            .unwrap();
        }
        let commands: [&[&str]; 4] = [
            &["grant-role", "mst3k", "admin"],
            &["cleanup"],
            &["student", "export", "mst3k"],
            &["student", "erase", "mst3k", "--confirm", "mst3k"],
        ];

        for args in commands {
            // Act
            let out = run(args, &db.url_string());

            // Assert
            assert!(!out.status.success(), "{args:?}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("holds no Common Grounds schema")
                    && stderr.contains("common-grounds migrate"),
                "{args:?}: {stderr}"
            );
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        }
        let mut conn = db.connect();
        assert!(
            common_grounds::db::count_rows(&mut conn, "users").is_err(),
            "no table of ours was made"
        );
    }
);
