//! The demo campus: `common-grounds demo` fills an empty database (catalog
//! through the real SIS code, students, friends, chat, a moderator) that the
//! demo student can sign in to; it refuses a database that has accounts, the
//! same seed makes the same campus, and a bigger campus has a realistic shape.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Command, Output, Stdio};

use common::*;
use common_grounds::db::schema::{class_messages, classes, friendships, user_classes, users};
use common_grounds::demo::{self, CampusSpec};
use diesel::prelude::*;

const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

fn run_cli(args: &[&str], db: &TestDb) -> Output {
    run_cli_with(args, db, &[])
}

/// `run_cli` with more settings (`APP_ENV=production`, say).
fn run_cli_with(args: &[&str], db: &TestDb, settings: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir().join(format!("cg-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_common-grounds"))
        .args(args)
        .current_dir(&dir)
        .env_remove("APP_ENV")
        .env("SECRET_KEY", SECRET)
        .env("DATA_DIR", &dir)
        .env("DATABASE_URL", db.url_string())
        .env("RUST_LOG", "warn")
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn small(seed: u64) -> CampusSpec {
    CampusSpec {
        students: 400,
        sections: 120,
        per_student: 4,
        friends: 10,
        messages: 3_000,
        seed,
    }
}

fn load(db: &TestDb, spec: &CampusSpec) -> demo::Report {
    // `demo::load` blocks (it runs the SIS sync on a runtime of its own).
    let mut conn = db.migrated();
    let spec = spec.clone();
    std::thread::spawn(move || {
        let now = common_grounds::clock::now();
        demo::load(
            &mut conn,
            SECRET.as_bytes(),
            &spec,
            &std::env::temp_dir(),
            now,
            &demo::Quiet,
        )
        .expect("the demo loads")
    })
    .join()
    .unwrap()
}

backend_test!(
    async fn the_demo_command_fills_an_empty_database_the_demo_student_can_use(backend: Backend) {
        let db = TestDb::new(backend);

        let first = run_cli(&["demo"], &db);
        let again = run_cli(&["demo"], &db);

        let out = text(&first.stdout);
        assert!(first.status.success(), "{}{}", out, text(&first.stderr));
        assert!(out.contains("hoo1a@virginia.edu"), "{out}");
        assert!(out.contains("/dev/mailbox"), "{out}");
        assert!(out.contains("mod1a@virginia.edu"), "{out}");
        assert!(!again.status.success(), "a second load must be refused");
        assert!(
            text(&again.stderr).contains("already has 301 accounts"),
            "{}",
            text(&again.stderr)
        );
        let mut conn = db.connect();
        let spec = CampusSpec::demo();
        let accounts: i64 = users::table.count().get_result(&mut conn).unwrap();
        let sections: i64 = classes::table.count().get_result(&mut conn).unwrap();
        let messages: i64 = class_messages::table.count().get_result(&mut conn).unwrap();
        assert_eq!(accounts, i64::from(spec.students) + 1);
        assert_eq!(sections, i64::from(spec.sections));
        assert_eq!(messages, spec.messages as i64);
        let reported: i64 = class_messages::table
            .filter(class_messages::flagged_count.gt(0))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert!(
            reported >= 3,
            "the moderator has reports to look at: {reported}"
        );
        let runs: i64 = common_grounds::db::count_rows(&mut conn, "sis_sync_runs").unwrap();
        assert_eq!(runs, 1, "the catalog came through one SIS sync");

        // The demo student signs in through the real email flow and sees a lived-in campus.
        let app = spawn_app_with(db, TestMail::Memory, &[]).await;
        app.sign_in("hoo1a@virginia.edu").await;
        let (status, home) = app.get_html("/").await;
        assert_eq!(status, 200);
        assert!(home.contains("CS 3120"), "home lists CS 3120");
        assert!(home.contains("CS 2100"), "home lists CS 2100");
        let (_, friends) = app.get_html("/friends").await;
        let friend_links = friends.matches("href=\"/friends/").count();
        assert!(
            friend_links >= 5,
            "the demo student has friends: {friend_links}\n{friends}"
        );
        assert!(friends.contains("Requests for you"), "and requests waiting");
        let in_classes = home.matches("class=\"chip\"").count();
        assert!(
            in_classes >= 3,
            "friends show under the classes: {in_classes}"
        );
        let (_, schedule) = app.get_html("/schedule").await;
        assert!(
            schedule.contains("CS 3120") && schedule.contains("11:00"),
            "timetable"
        );
        let cs3120: String = classes::table
            .filter(classes::subject.eq("CS"))
            .filter(classes::catalog_number.eq("3120"))
            .select(classes::id)
            .first(&mut app.conn())
            .unwrap();
        // The thread list and every thread page it links to.
        let chat = chat_as_seen(&app, &app.client, &format!("/classes/{cs3120}")).await;
        assert!(
            chat.matches("class=\"thread-row").count() >= 10
                && chat.matches("class=\"pseudonym").count() >= 10,
            "the class has chat threads, signed with pseudonyms"
        );
        assert!(!chat.contains("@virginia.edu"), "and no author shows");

        // The moderator can sign in and reach the admin pages.
        let moderator = spawn_app_with(app.stop().await, TestMail::Memory, &[]).await;
        moderator.sign_in("mod1a@virginia.edu").await;
        let (status, _) = moderator.get_html("/admin/flags").await;
        assert_eq!(status, 200);
    }
);

/// Everything about the campus but the catalog's row ids, which SIS sync makes.
fn fingerprint(
    db: &TestDb,
) -> (
    Vec<String>,
    BTreeMap<String, Vec<String>>,
    Vec<String>,
    usize,
) {
    let mut conn = db.connect();
    let mut ids: Vec<String> = users::table
        .select(users::computing_id)
        .load(&mut conn)
        .unwrap();
    ids.sort();
    let course: HashMap<String, String> = classes::table
        .select((
            classes::id,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
        ))
        .load::<(String, String, String, Option<String>)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(id, s, n, sec)| (id, format!("{s} {n}-{}", sec.unwrap_or_default())))
        .collect();
    let mut taking: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cid, class) in user_classes::table
        .inner_join(users::table)
        .select((users::computing_id, user_classes::class_id))
        .load::<(String, String)>(&mut conn)
        .unwrap()
    {
        taking.entry(cid).or_default().push(course[&class].clone());
    }
    taking.values_mut().for_each(|v| v.sort());
    let mut said: Vec<String> = class_messages::table
        .select((
            class_messages::class_id,
            class_messages::content,
            class_messages::created_at,
        ))
        .load::<(String, String, chrono::NaiveDateTime)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(c, text, _)| format!("{}: {text}", course[&c]))
        .collect();
    said.sort();
    let pairs: i64 = friendships::table.count().get_result(&mut conn).unwrap();
    (ids, taking, said, pairs as usize)
}

backend_test!(
    async fn the_same_seed_makes_the_same_campus(backend: Backend) {
        let (a, b, c) = (
            TestDb::new(backend),
            TestDb::new(backend),
            TestDb::new(backend),
        );

        load(&a, &small(7));
        load(&b, &small(7));
        load(&c, &small(8));

        let (fa, fb, fc) = (fingerprint(&a), fingerprint(&b), fingerprint(&c));
        assert_eq!(fa, fb, "same seed, same campus");
        assert_ne!(fa.0, fc.0, "another seed, other students");
        assert_ne!(fa.1, fc.1, "another seed, other classes");
    }
);

backend_test!(
    async fn a_generated_campus_has_the_stated_sizes_and_a_realistic_shape(backend: Backend) {
        let db = TestDb::new(backend);
        let spec = CampusSpec {
            students: 3_000,
            sections: 600,
            per_student: 5,
            friends: 20,
            messages: 40_000,
            seed: 11,
        };

        let report = load(&db, &spec);

        let c = &report.counts;
        assert_eq!(report.sections, 600);
        assert_eq!(c.students, 3_000);
        assert_eq!(c.enrollments, 15_000);
        assert_eq!(c.messages, 40_000);
        let expected_pairs = 3_000 * 20 / 2;
        assert!(
            c.friendships * 100 >= expected_pairs * 90
                && c.friendships * 100 <= expected_pairs * 130,
            "about 20 friends each: {} pairs",
            c.friendships
        );
        let mut conn = db.connect();
        // The database holds what the report says.
        let rows: i64 = class_messages::table.count().get_result(&mut conn).unwrap();
        assert_eq!(rows, 40_000);
        let enrolled: i64 = user_classes::table.count().get_result(&mut conn).unwrap();
        assert_eq!(enrolled, 15_000);

        // Class sizes are skewed: a few big lectures, many small sections.
        let mut sizes: Vec<usize> = {
            let mut by_class: HashMap<String, usize> = HashMap::new();
            for class in user_classes::table
                .select(user_classes::class_id)
                .load::<String>(&mut conn)
                .unwrap()
            {
                *by_class.entry(class).or_default() += 1;
            }
            by_class.into_values().collect()
        };
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        let largest = *sizes.last().unwrap();
        assert!(
            largest >= 8 * median.max(1),
            "largest {largest}, median {median}"
        );

        // Friends are clustered: most accepted pairs share a class.
        let mut classes_of: HashMap<String, HashSet<String>> = HashMap::new();
        for (user, class) in user_classes::table
            .select((user_classes::user_id, user_classes::class_id))
            .load::<(String, String)>(&mut conn)
            .unwrap()
        {
            classes_of.entry(user).or_default().insert(class);
        }
        let pairs: Vec<(String, String)> = friendships::table
            .filter(friendships::status.eq("ACCEPTED"))
            .select((friendships::user_id_1, friendships::user_id_2))
            .load(&mut conn)
            .unwrap();
        let empty = HashSet::new();
        let sharing = pairs
            .iter()
            .filter(|(a, b)| {
                let (ca, cb) = (
                    classes_of.get(a).unwrap_or(&empty),
                    classes_of.get(b).unwrap_or(&empty),
                );
                !ca.is_disjoint(cb)
            })
            .count();
        assert!(
            sharing * 100 >= pairs.len() * 60,
            "{sharing} of {} friend pairs share a class",
            pairs.len()
        );

        // Threads: roots and replies, every reply inside its class's thread.
        let roots: i64 = class_messages::table
            .filter(class_messages::parent_message_id.is_null())
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert!(roots > 5_000 && roots < 20_000, "{roots} threads");
        let strays: i64 = class_messages::table
            .filter(class_messages::parent_message_id.is_not_null())
            .filter(class_messages::thread_root_id.is_null())
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(strays, 0);
    }
);

backend_test!(
    async fn bad_shapes_are_refused_with_what_to_change(backend: Backend) {
        let db = TestDb::new(backend);

        let out = run_cli(&["demo", "--students", "1"], &db);
        let sections = run_cli(&["demo", "--sections", "2"], &db);

        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("--students must be"),
            "{}",
            text(&out.stderr)
        );
        assert!(text(&sections.stderr).contains("--sections must be"));
        let mut conn = db.migrated();
        let accounts: i64 = users::table.count().get_result(&mut conn).unwrap();
        assert_eq!(accounts, 0, "nothing loaded");
    }
);

/// The server `serve --demo` started, stopped when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_demo(db: &TestDb, dir: &std::path::Path, port: u16) -> (Served, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_common-grounds"))
        .args(["serve", "--demo"])
        .current_dir(dir)
        .env_remove("APP_ENV")
        .env_remove("SMTP_URL")
        // DATA_DIR as the README leaves it: the relative default `data`.
        .env_remove("DATA_DIR")
        .env("SECRET_KEY", SECRET)
        .env("DATABASE_URL", db.url_string())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("is serving") {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Served(child), printed)
}

backend_test!(
    async fn serve_demo_as_the_readme_says_then_sign_in_through_the_dev_mailbox(backend: Backend) {
        let db = TestDb::new(backend);
        let dir =
            std::env::temp_dir().join(format!("cg-serve-demo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");

        let (server, printed) = tokio::task::block_in_place(|| serve_demo(&db, &dir, port));

        assert!(printed.contains("demo: loaded"), "{printed}");
        assert!(printed.contains("hoo1a@virginia.edu"), "{printed}");
        assert!(
            printed.contains(&format!("{base}/dev/mailbox")),
            "{printed}"
        );
        let browser = client();
        let login = browser.get(format!("{base}/login")).send().await.unwrap();
        let csrf = csrf_in(&login.text().await.unwrap()).unwrap();
        let asked = browser
            .post(format!("{base}/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "hoo1a@virginia.edu"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status().as_u16(), 303);
        // The mail worker writes the email to the dev mailbox shortly.
        let mut link = None;
        for _ in 0..100 {
            let mailbox = browser
                .get(format!("{base}/dev/mailbox"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if let Some(token) = token_in(&mailbox) {
                link = Some(token);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let token = link.expect("the sign-in email shows in the dev mailbox");
        let confirm = browser
            .get(format!("{base}/login/confirm?token={token}"))
            .send()
            .await
            .unwrap();
        let csrf = csrf_in(&confirm.text().await.unwrap()).unwrap();
        let signed_in = browser
            .post(format!("{base}/login/confirm"))
            .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status().as_u16(), 303);
        let page = |path: &str| {
            let url = format!("{base}{path}");
            let browser = browser.clone();
            async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
        };
        let home = page("/").await;
        assert!(home.contains("CS 3120"), "classes on home");
        assert!(
            home.matches("class=\"chip\"").count() >= 3,
            "friends in them"
        );
        let schedule = page("/schedule").await;
        assert!(schedule.contains("11:00"), "a timetable");
        let chat_link = home
            .split("href=\"/classes/")
            .filter_map(|rest| rest.get(..36))
            .find(|id| uuid::Uuid::parse_str(id).is_ok())
            .expect("a class chat link on home")
            .to_string();
        let chat = page(&format!("/classes/{chat_link}")).await;
        assert!(
            chat.matches("class=\"pseudonym").count() >= 5,
            "chat threads"
        );

        // A second start serves the same database without loading again.
        drop(server);
        let (_again, printed) = tokio::task::block_in_place(|| serve_demo(&db, &dir, port));
        assert!(printed.contains("already has 301 accounts"), "{printed}");
        let _ = std::fs::remove_dir_all(&dir);
    }
);

backend_test!(
    async fn bench_sessions_hand_out_working_sessions_and_sign_in_visitors(backend: Backend) {
        let db = TestDb::new(backend);
        // Not a demo campus (a real one, say): no live sessions, no file.
        let early = std::env::temp_dir().join(format!("cg-bench-{}.tsv", uuid::Uuid::new_v4()));
        let refused = run_cli(
            &[
                "bench-sessions",
                "--count",
                "5",
                "--out",
                early.to_str().unwrap(),
            ],
            &db,
        );
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains("demo campus only"),
            "{}",
            text(&refused.stderr)
        );
        assert!(!early.exists());
        let loaded = run_cli(
            &[
                "demo",
                "--students",
                "200",
                "--sections",
                "60",
                "--messages",
                "2000",
            ],
            &db,
        );
        assert!(loaded.status.success(), "{}", text(&loaded.stderr));
        let dir = std::env::temp_dir().join(format!("cg-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("sessions.tsv");

        let made = run_cli(
            &[
                "bench-sessions",
                "--count",
                "5",
                "--out",
                out.to_str().unwrap(),
            ],
            &db,
        );

        assert!(made.status.success(), "{}", text(&made.stderr));
        #[cfg(unix)]
        for file in [out.clone(), out.with_extension("login")] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{} holds live tokens", file.display());
        }
        let sessions = std::fs::read_to_string(&out).unwrap();
        let logins = std::fs::read_to_string(out.with_extension("login")).unwrap();
        // A second run never writes over the files (a mistyped --out could
        // name the database itself).
        let again = run_cli(
            &[
                "bench-sessions",
                "--count",
                "5",
                "--out",
                out.to_str().unwrap(),
            ],
            &db,
        );
        assert!(!again.status.success());
        assert!(
            text(&again.stderr).contains("already exists"),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), sessions);
        let _ = std::fs::remove_dir_all(&dir);
        let app = spawn_app_with(db, TestMail::Memory, &[]).await;
        let rows: Vec<Vec<&str>> = sessions
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').collect())
            .collect();
        assert_eq!(rows.len(), 5);
        for row in &rows {
            let client = app.client_with_session(row[0]);
            let friend = client
                .get(app.url(&format!("/friends/{}", row[2])))
                .send()
                .await
                .unwrap();
            assert_eq!(
                friend.status().as_u16(),
                200,
                "the friend page of {}",
                row[2]
            );
            let chat = client
                .get(app.url(&format!("/classes/{}", row[3])))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                chat.contains("class=\"thread-row"),
                "the busiest class has threads"
            );
            let posted = client
                .post(app.url(&format!("/classes/{}/messages", row[3])))
                .form(&[
                    ("csrf_token", row[1]),
                    ("content", "load test"),
                    // Past "maybe already answered", as bench/wrk/pages.lua posts.
                    ("confirmed", "1"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(
                posted.status().as_u16(),
                303,
                "the CSRF token is the session's"
            );
        }
        let visitor: Vec<&str> = logins.lines().nth(1).unwrap().split('\t').collect();
        let asked = app
            .client
            .post(app.url("/login"))
            .header("Cookie", format!("cg_csrf={}", visitor[0]))
            .form(&[("csrf_token", visitor[1]), ("email", "zz9z@virginia.edu")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            asked.status().as_u16(),
            303,
            "the visitor's CSRF token is accepted"
        );
    }
);

backend_test!(
    async fn the_demo_is_refused_in_production(backend: Backend) {
        // Arrange: an empty production database.
        let db = TestDb::new(backend);
        db.migrated();
        for args in [&["demo"][..], &["serve", "--demo"][..]] {
            // Act
            let out = run_cli_with(
                args,
                &db,
                &[
                    ("APP_ENV", "production"),
                    ("BASE_URL", "https://cg.example.edu"),
                    ("SMTP_URL", "smtp://127.0.0.1:1"),
                    ("BIND_ADDR", "127.0.0.1:0"),
                ],
            );

            // Assert: refused in words, and no one was made.
            assert!(!out.status.success(), "{args:?}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("does not run with APP_ENV=production"),
                "{args:?}: {stderr}"
            );
            let users = common_grounds::db::count_rows(&mut db.connect(), "users").unwrap();
            assert_eq!(users, 0, "{args:?}");
        }
    }
);
