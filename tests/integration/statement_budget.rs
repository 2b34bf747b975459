//! Issue 22: each signed-in page runs a handful of statements, the session
//! lookup included, whatever the amount of data behind it. Every student page
//! is loaded on a small campus and on one many times its size; each must run
//! the same number of statements on both, and no more than its budget. A
//! page over budget fails with the SQL it ran, so the statement to fold in is
//! named.

use crate::common;
use crate::common::builders::MessageBuilder;
use crate::friends_week::{befriend, section, take};

use chrono::Duration;
use common::{plans, spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::chat::{self, ClassMessage};
use common_grounds::clock;
use common_grounds::friends::FriendshipStatus;

/// What a signed-in page may run: the session lookup (with the nav's marks)
/// and three reads of its own.
const BUDGET: u64 = 4;

/// The paths measured, by name.
struct Campus {
    app: TestApp,
    me: Student,
    pages: Vec<(&'static str, String)>,
}

/// `me` with `n` classes (each with `n` friends in it, and a chat of `n`
/// threads of `n` replies, some voted on), a section next term, `n` pending
/// requests, and `n` unread notifications about the first thread. The first
/// class has a pinned thread, and someone else holds the name `me` would
/// take there first (so the compose box's name is looked up).
async fn campus(backend: Backend, n: usize) -> Campus {
    campus_with(backend, n, &[]).await
}

/// `campus`, on an app with these settings too.
async fn campus_with(backend: Backend, n: usize, extra: &[(&str, &str)]) -> Campus {
    // Spring 2026 is the current term, so the calendar covers the next one too.
    let mut settings = vec![("CURRENT_TERM", "1262")];
    settings.extend_from_slice(extra);
    let app = spawn_quiet_app(backend, &settings).await;
    let me = app.student("me1x");
    let friends: Vec<Student> = (0..n).map(|i| app.student(&format!("fr{i}x"))).collect();
    for f in &friends {
        befriend(&app, &me.user.id, &f.user.id, FriendshipStatus::Accepted);
    }
    for i in 0..n {
        let asker = app.student(&format!("ask{i}x"));
        befriend(&app, &asker.user.id, &me.user.id, FriendshipStatus::Pending);
    }
    let mut first_class = None;
    let mut first_thread: Option<ClassMessage> = None;
    for i in 0..n {
        let class = section(
            &app,
            &format!("CS {}", 1000 + i),
            &[("MoWeFr", "10:00", "10:50"), ("Th", "13:00", "14:15")],
        );
        let mut members: Vec<&Student> = friends.iter().collect();
        members.push(&me);
        take(&app, &class, &members);
        for t in 0..n {
            let author = &friends[t % friends.len()].user;
            let root = MessageBuilder::new(&class.id, &author.id, "Anon_0000aaaa", "A question")
                .created_at(clock::now() - Duration::minutes(100 - t as i64))
                .insert(&mut app.conn());
            let mut last = root.clone();
            for r in 0..n {
                let who = if r % 2 == 0 { &me.user } else { author };
                last = MessageBuilder::new(&class.id, &who.id, "Anon_0000bbbb", "A reply")
                    .reply_to(&last)
                    .insert(&mut app.conn());
                if r % 2 == 1 {
                    chat::votes::upvote(&mut app.conn(), &me.user, &last.id, clock::now()).unwrap();
                }
            }
            first_thread.get_or_insert(root);
        }
        first_class.get_or_insert(class);
    }
    let class = first_class.expect("a class");
    let thread = first_thread.expect("a thread");
    {
        use common_grounds::chat::pseudonym;
        use common_grounds::db::schema::{chat_pseudonyms, class_messages};
        use common_grounds::notifications::{self, Kind, Notice};
        use diesel::prelude::*;
        let mut conn = app.conn();
        diesel::update(class_messages::table.find(&thread.id))
            .set(class_messages::pinned_at.eq(Some(clock::now())))
            .execute(&mut conn)
            .unwrap();
        let taken = pseudonym::candidate(app.secret_key.as_bytes(), &me.user.id, &class.id);
        diesel::insert_into(chat_pseudonyms::table)
            .values((
                chat_pseudonyms::class_id.eq(&class.id),
                chat_pseudonyms::name.eq(&taken),
                chat_pseudonyms::user_id.eq(Some(&friends[0].user.id)),
                chat_pseudonyms::created_at.eq(clock::now()),
            ))
            .execute(&mut conn)
            .unwrap();
        for _ in 0..n {
            let notice = Notice::new(&me.user.id, Kind::Reply, clock::now())
                .about_message(&class.id, &thread.id, &thread.id);
            common_grounds::db::write_tx(&mut conn, |tx| notifications::notify(tx, &notice))
                .unwrap();
        }
    }
    let next_term = common::builders::ClassBuilder::new("CS 4100", "1268").insert(&mut app.conn());
    take(&app, &next_term, &[&me]);
    let pages = vec![
        ("home", "/".to_string()),
        ("schedule", "/schedule".to_string()),
        ("friends", "/friends".to_string()),
        ("friend", "/friends/fr0x".to_string()),
        ("free time", "/friends/free?friend=fr0x".to_string()),
        ("class search", "/classes/search?q=CS".to_string()),
        ("class chat", format!("/classes/{}", class.id)),
        (
            "thread",
            format!("/classes/{}/threads/{}", class.id, thread.id),
        ),
        (
            "chat search",
            format!("/classes/{}/search?q=question", class.id),
        ),
        ("leave", format!("/classes/{}/leave", class.id)),
        ("notifications", "/notifications".to_string()),
        ("account", "/account".to_string()),
        ("sessions", "/account/sessions".to_string()),
        ("calendar", "/account/calendar".to_string()),
        ("email settings", "/account/notifications".to_string()),
    ];
    Campus { app, me, pages }
}

/// The statements one GET ran, as SQL.
async fn statements_of(app: &TestApp, who: &Student, path: &str) -> Vec<String> {
    app.queries.record();
    let (status, _) = who.get(app, path).await;
    let ran = app.queries.take_recorded();
    assert_eq!(status, 200, "GET {path}");
    ran
}

backend_test!(
    async fn pages_stay_within_budget(backend: Backend) {
        let mut runs = Vec::new();
        for n in [1, 12] {
            let Campus { app, me, pages } = campus(backend, n).await;
            // The first search of a term reads its subjects, and the first
            // page the terms' dates (then kept in memory for every page after).
            me.get(&app, "/classes/search").await;
            let mut counts = Vec::new();
            let mut over = Vec::new();
            for (name, path) in &pages {
                let ran = statements_of(&app, &me, path).await;
                if ran.len() as u64 > BUDGET {
                    over.push(format!(
                        "{name} ({path}) ran {} statements, over {BUDGET}:\n  {}",
                        ran.len(),
                        ran.join("\n  ")
                    ));
                }
                // Meetings are read once a page (the statements that return
                // meeting rows name their position): a second read would be
                // rows the page already has, as the friend page's shared
                // classes of the term were beside the two weeks.
                let meetings_reads = ran
                    .iter()
                    .filter(|sql| {
                        sql.replace(['`', '"'], "")
                            .contains("class_meetings.position")
                    })
                    .count();
                if meetings_reads > 1 {
                    over.push(format!(
                        "{name} ({path}) read meetings in {meetings_reads} statements:\n  {}",
                        ran.join("\n  ")
                    ));
                }
                counts.push((*name, ran.len()));
            }
            assert!(over.is_empty(), "{backend:?} n={n}:\n{}", over.join("\n"));
            eprintln!("{backend:?} n={n}: {counts:?}");
            runs.push(counts);
        }
        assert_eq!(
            runs[0], runs[1],
            "statement counts must not grow with classes, friends, threads or replies"
        );
    }
);

// Every signed-in page reads in one database job, the session lookup
// included: one trip to the blocking pool a request, not one for the session
// and another for the page (a tenth to a quarter of the server's CPU a
// request on PostgreSQL, bench/README.md).
backend_test!(
    async fn pages_look_the_session_up_in_their_own_job(backend: Backend) {
        let Campus { app, me, mut pages } = campus(backend, 2).await;
        // And what those pages link to, beyond the statement budget's list.
        let class = pages
            .iter()
            .find(|(n, _)| *n == "class chat")
            .unwrap()
            .1
            .clone();
        pages.extend([
            ("moderation log", format!("{class}/moderation")),
            ("calendar file", "/account/calendar.ics".to_string()),
            ("export", "/account/export".to_string()),
        ]);
        let mut twice = Vec::new();
        for (name, path) in &pages {
            let before = app.queries.jobs();
            let (status, _) = me.get(&app, path).await;
            assert_eq!(status, 200, "GET {path}");
            let jobs = app.queries.jobs() - before;
            if jobs != 1 {
                twice.push(format!("{name} ({path}) ran {jobs} database jobs"));
            }
        }
        assert!(twice.is_empty(), "{backend:?}: {}", twice.join("; "));
        // Signed out, the same pages ask to sign in (home welcomes) with no job
        // at all; a cookie that names no session is looked up, in one job, and
        // asked to sign in the same way.
        let stranger = common::client();
        for (name, path) in &pages {
            let expected = if *name == "home" { 200 } else { 303 };
            for cookie in [None, Some("cg_session=not-a-session")] {
                let before = app.queries.jobs();
                let mut request = stranger.get(app.url(path));
                if let Some(cookie) = cookie {
                    request = request.header("cookie", cookie);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                assert_eq!(status, expected, "{cookie:?}: GET {path}");
                if *name == "home" {
                    assert!(!body.contains("Sign out"), "{cookie:?}: home as signed in");
                }
                let jobs = app.queries.jobs() - before;
                assert_eq!(jobs, u64::from(cookie.is_some()), "{cookie:?}: GET {path}");
            }
        }
        // Links a student could mistype still ask a signed-out visitor to sign
        // in first (the checks moved inside the job run after the lookup), and
        // are refused once signed in.
        let broken = [
            ("/classes/not-a-class/leave", 404),
            ("/classes/not-a-class/moderation", 404),
            ("/classes/search?q=CS&page=0", 400),
            ("/notifications?before=garbage", 400),
            ("/friends/free?friend=not%20an%20id!", 400),
        ];
        for (path, signed_in) in broken {
            let response = stranger.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 303, "signed out: GET {path}");
            let (status, _) = me.get(&app, path).await;
            assert_eq!(status, signed_in, "signed in: GET {path}");
        }
    }
);

/// On PostgreSQL every statement of the bench's pages (and of the friends
/// list, notifications and account pages) settles on one plan.
/// After a prepared statement's first five runs PostgreSQL compares its
/// generic plan with the custom ones it made; a statement whose generic plan
/// looks dearer (an `= ANY($1)` array of unknown length, priced at ten
/// elements) is planned afresh on every run after, which cost the friend page
/// 0.6 ms of planning a request at scale. pgbench on the captured statements
/// never shows it (they carry literals), and a campus of a few rows a table
/// neither (every plan is a scan): this is a demo campus of some thousands of
/// rows a table, analyzed, many students visiting each page, the app on one
/// pooled connection whose `pg_prepared_statements` then holds every page's
/// statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_one_plan_on_postgres() {
    use common::{spawn_app_opts, TestDb, TestMail};
    use common_grounds::demo::{self, CampusSpec};
    use diesel::prelude::*;
    if common::postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    let mut conn = db.migrated();
    let sessions = std::thread::spawn(move || {
        let now = clock::now();
        let spec = CampusSpec {
            students: 3_000,
            sections: 1_000,
            per_student: 5,
            friends: 10,
            messages: 20_000,
            seed: 7,
        };
        demo::load(
            &mut conn,
            b"secret",
            &spec,
            &std::env::temp_dir(),
            now,
            &demo::Quiet,
        )
        .expect("the demo campus loads");
        diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
        demo::bench::start_sessions(&mut conn, 20, now, |_| String::new()).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(sessions.len(), 20);
    let app = spawn_app_opts(db, TestMail::Memory, &[("DATABASE_POOL_SIZE", "1")], false).await;
    for _ in 0..2 {
        for s in &sessions {
            // Not free time or class search: they bind lists whose length is
            // the request's (friends chosen, results found), planned for each
            // run.
            for path in [
                "/".to_string(),
                "/schedule".to_string(),
                format!("/friends/{}", s.friend),
                format!("/classes/{}", s.class_id),
                "/friends".to_string(),
                "/notifications".to_string(),
                "/account".to_string(),
                "/account/calendar".to_string(),
            ] {
                let response = app
                    .client
                    .get(format!("{}{path}", app.address))
                    .header("cookie", format!("cg_session={}", s.token))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "GET {path}");
            }
        }
    }
    #[derive(QueryableByName, Debug)]
    struct Planned {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        custom_plans: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic_plans: i64,
    }
    let mut conn = app.pool.get().unwrap();
    let plans: Vec<Planned> = common_grounds::on_each_backend!(&mut *conn, |c| {
        diesel::sql_query(
            "SELECT statement, custom_plans, generic_plans FROM pg_prepared_statements",
        )
        .load(c)
    })
    .unwrap();
    let replanned: Vec<String> = plans
        .iter()
        .filter(|p| p.custom_plans > 5)
        .map(|p| format!("{} custom plans: {}", p.custom_plans, p.statement))
        .collect();
    assert!(
        plans.iter().filter(|p| p.generic_plans > 0).count() >= 8,
        "the pages' statements ran on this connection: {plans:?}"
    );
    assert!(
        replanned.is_empty(),
        "planned afresh on every run:\n{}",
        replanned.join("\n")
    );
}

backend_test!(
    async fn a_sliding_session_is_written_later(backend: Backend) {
        use common_grounds::db::schema::sessions;
        use diesel::prelude::*;
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1x");
        // Last written an hour ago: due to slide.
        let hour_ago = clock::now() - Duration::hours(1);
        diesel::update(sessions::table.filter(sessions::user_id.eq(&me.user.id)))
            .set(sessions::last_used_at.eq(hour_ago))
            .execute(&mut app.conn())
            .unwrap();
        let ran = statements_of(&app, &me, "/").await;
        assert!(
            ran.iter().all(|sql| !sql.contains("UPDATE")),
            "the page wrote: {ran:?}"
        );
        let stored = || -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
            sessions::table
                .filter(sessions::user_id.eq(&me.user.id))
                .select((sessions::last_used_at, sessions::expires_at))
                .first(&mut app.conn())
                .unwrap()
        };
        assert_eq!(stored().0, hour_ago, "nothing written yet");
        assert_eq!(app.touches.pending(), 1);
        // A second request before the write notes the same session once.
        me.get(&app, "/schedule").await;
        assert_eq!(app.touches.flush(&mut app.conn()).unwrap(), 1);
        let (used, expires) = stored();
        assert!(used > hour_ago + Duration::minutes(59), "{used}");
        assert!(
            expires > clock::now() + Duration::days(29),
            "slid to 30 days from its use: {expires}"
        );
        assert_eq!(app.touches.flush(&mut app.conn()).unwrap(), 0);
        // The next request finds it written and notes nothing.
        me.get(&app, "/").await;
        assert_eq!(app.touches.pending(), 0);
    }
);

backend_test!(
    async fn session_writes_come_in_batches(backend: Backend) {
        use common_grounds::accounts::sessions::{Touches, TOUCHES_PER_WRITE};
        use common_grounds::accounts::{Session, SessionId};
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1x");
        let touches = Touches::default();
        let hour_ago = clock::now() - Duration::hours(1);
        for _ in 0..TOUCHES_PER_WRITE + 1 {
            let mut session = Session {
                id: SessionId::new(),
                user_id: me.user.id.clone(),
                token_hash: String::new(),
                user_agent: None,
                expires_at: clock::now(),
                created_at: hour_ago,
                last_used_at: hour_ago,
            };
            touches.note(&mut session, clock::now());
        }
        assert_eq!(touches.pending(), TOUCHES_PER_WRITE + 1);
        let mut conn = app.conn();
        assert_eq!(touches.flush(&mut conn).unwrap(), TOUCHES_PER_WRITE);
        assert_eq!(touches.pending(), 1);
        assert_eq!(touches.flush(&mut conn).unwrap(), 1);
        assert_eq!(touches.pending(), 0);
    }
);

/// With the scale campus's statistics, no student page reads a whole large
/// table, and the chat page walks its class's threads in the list's own
/// index. The one page allowed a scan is class search, which matches titles
/// anywhere in the term's 8,000 sections. (SQLite only: PostgreSQL plans from
/// the statistics its autovacuum keeps, which a small test database cannot
/// stand in for; `bench/run postgres` checks its plans at scale.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_plan_as_at_scale_on_sqlite() {
    let Campus { app, me, pages } = campus(Backend::Sqlite, 2).await;
    let mut conn = app.db.connect();
    plans::use_scale_statistics(&mut conn);
    let large = [
        "chat_pseudonyms",
        "chat_search_docs",
        "class_meetings",
        "class_messages",
        "classes",
        "friendships",
        "message_flags",
        "sessions",
        "user_classes",
        "users",
    ];
    let mut scans = Vec::new();
    let mut list_plan = Vec::new();
    for (name, path) in &pages {
        for sql in statements_of(&app, &me, path).await {
            let class_search = |table: &str, _: &str| {
                *name == "class search" && matches!(table, "classes" | "class_meetings")
            };
            for step in plans::whole_table_reads(&mut conn, &sql, &large, class_search) {
                scans.push(format!("{name}: {step}\n  in {sql}"));
            }
            if *name == "class chat" && sql.contains("`parent_message_id` IS NULL") {
                list_plan.extend(plans::plan_of(&mut conn, &sql));
            }
        }
    }
    assert!(scans.is_empty(), "whole-table reads:\n{}", scans.join("\n"));
    assert!(
        list_plan
            .iter()
            .any(|step| step.contains("USING INDEX idx_class_messages_by_activity")),
        "the thread list does not read its own index: {list_plan:?}"
    );
}

/// The moderators' pages, with the scale campus's statistics: none reads a
/// large table whole (each admin page took 0.3 to 1.9 s at scale before its
/// queue started from the few reported, hidden or held messages), and none
/// runs a statement about no rows (`WHERE 1=0`, an empty id list). Reading a
/// partial index whole is reading the few rows it holds (held, hidden, staff,
/// suspended). Left as they are, each a few ms at scale: the overview's
/// campus-wide counts of students read `users` (25,546 rows), as a search of
/// people by name does, and the audit log walks its date index newest first
/// to its page's LIMIT.
#[actix_web::test]
async fn admin_pages_plan_as_at_scale_on_sqlite() {
    use common_grounds::accounts::Role;
    let app = spawn_quiet_app(Backend::Sqlite, &[("CURRENT_TERM", "1262")]).await;
    let admin = common::staff(&app, "adm9nxq", Role::Admin);
    let values = crate::admin_pages::busy_day(&app, &admin);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut conn = app.db.connect();
    plans::use_scale_statistics(&mut conn);
    // Not `message_flags`: the campus's 1,578 reports all wait, so a scan and
    // the waiting reports' partial index read the same rows.
    let large = [
        "audit_log",
        "chat_pseudonyms",
        "class_messages",
        "classes",
        "friendships",
        "sessions",
        "user_classes",
        "users",
    ];
    let partial = plans::partial_indexes(&mut conn);
    assert!(partial.iter().any(|n| n == "idx_class_messages_held"));
    let mut scans = Vec::new();
    let mut planned = 0;
    for page in common::browser::ADMIN_PAGES {
        let path = common::browser::fill_page(page, &values);
        let counts_or_search = path == "/admin" || path.starts_with("/admin/users?q=");
        let allowed = |table: &str, step: &str| -> bool {
            let index = step.split(" INDEX ").nth(1).unwrap_or("");
            partial.iter().any(|p| p == index)
                || (table == "users" && counts_or_search)
                || (table == "audit_log" && index == "idx_audit_log_created")
        };
        for sql in statements_of(&app, &admin, &path).await {
            planned += 1;
            if sql.contains("1=0") {
                scans.push(format!("{path}: a statement about no rows\n  {sql}"));
            }
            for step in plans::whole_table_reads(&mut conn, &sql, &large, allowed) {
                scans.push(format!("{path}: {step}\n  in {sql}"));
            }
        }
    }
    assert!(
        planned > 2 * common::browser::ADMIN_PAGES.len(),
        "{planned} statements planned"
    );
    assert!(scans.is_empty(), "whole-table reads:\n{}", scans.join("\n"));
}

// The busiest pages read on the HTTP worker itself when a connection is free:
// no hand-off to a blocking thread and back (bench/README.md, session 42).
// A page that writes, such as a thread (its read mark), takes a blocking
// thread: while it waits for a lock, the worker it came in on goes on
// serving everyone else, and the busiest pages, which only read, answer too.
backend_test!(
    async fn busiest_pages_read_on_the_worker_and_a_writing_page_waits_off_it(backend: Backend) {
        use diesel::connection::SimpleConnection;
        use std::time::{Duration, Instant};
        let Campus { app, me, pages } = campus_with(
            backend,
            2,
            // No read here is held up: a slow machine must not make it look so.
            &[
                ("DATABASE_POOL_SIZE", "2"),
                ("DATABASE_SLOW_READ_MS", "5000"),
            ],
        )
        .await;
        let path = |name: &str| pages.iter().find(|(n, _)| *n == name).unwrap().1.clone();

        // On PostgreSQL only: SQLite's reads are CPU work in this process,
        // and stay on the blocking pool (`server::reads_on_workers`).
        let expected = u64::from(backend == Backend::Postgres);
        for name in ["home", "schedule", "friend", "class chat"] {
            let path = path(name);
            // A connection is free once the request before has its answer;
            // tried a few times, as one may still be on its way back.
            let mut on_worker = 0;
            for _ in 0..5 {
                let before = app.queries.jobs_on_worker();
                let (status, _) = me.get(&app, &path).await;
                assert_eq!(status, 200, "{backend:?}: GET {path}");
                on_worker = app.queries.jobs_on_worker() - before;
                if on_worker == expected {
                    break;
                }
            }
            assert_eq!(
                on_worker, expected,
                "{backend:?}: GET {path} read on the wrong thread"
            );
        }
        for name in ["thread", "friends", "notifications", "account"] {
            let path = path(name);
            let before = app.queries.jobs_on_worker();
            let (status, _) = me.get(&app, &path).await;
            assert_eq!(status, 200, "{backend:?}: GET {path}");
            assert_eq!(
                app.queries.jobs_on_worker() - before,
                0,
                "{backend:?}: GET {path} ran on the HTTP worker"
            );
        }

        // New replies, so the thread page writes its read mark again; another
        // writer holds what that write needs.
        let thread = path("thread");
        let thread_id = thread.rsplit('/').next().unwrap().to_string();
        let class_id = thread.split('/').nth(2).unwrap().to_string();
        {
            use common_grounds::chat::MessageId;
            let root = MessageId(thread_id);
            let class = common_grounds::classes::ClassId(class_id);
            MessageBuilder::new(&class, &me.user.id, "Anon_0000cccc", "Something new")
                .reply_in_thread(&root, &root)
                .created_at(clock::now() + chrono::Duration::seconds(1))
                .insert(&mut app.conn());
        }
        let mut holder = app.db.connect();
        holder
            .batch_execute(match backend {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                Backend::Postgres => "BEGIN; LOCK TABLE chat_thread_reads IN EXCLUSIVE MODE",
            })
            .unwrap();
        let waiting = {
            let (client, url) = (me.client.clone(), app.url(&thread));
            tokio::spawn(async move {
                let started = Instant::now();
                let status = client.get(url).send().await.unwrap().status().as_u16();
                (status, started.elapsed())
            })
        };
        wait_for_a_lock_wait(&app, backend).await;
        // A new connection for each, which the server hands to its workers in
        // turn: one lands on the worker the thread page came in on.
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let workers = common_grounds::web::server::http_workers(2, backend == Backend::Postgres);
        for _ in 0..workers {
            let started = Instant::now();
            let answer = tokio::time::timeout(
                Duration::from_secs(1),
                fresh.get(app.url("/healthz")).send(),
            )
            .await;
            assert!(
                matches!(&answer, Ok(Ok(r)) if r.status() == 200),
                "{backend:?}: /healthz while a page waits for a lock: {answer:?} after {:?}",
                started.elapsed()
            );
        }
        let started = Instant::now();
        let (status, _) = me.get(&app, "/").await;
        assert_eq!(
            status, 200,
            "{backend:?}: home while a writer holds its lock"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{backend:?}: home waited {:?} for a writer's lock",
            started.elapsed()
        );
        holder.batch_execute("ROLLBACK").unwrap();
        let (status, took) = waiting.await.unwrap();
        assert_eq!(
            status, 200,
            "{backend:?}: the thread page once the lock is free"
        );
        // On PostgreSQL `pg_locks` showed the page waiting; on SQLite it took
        // at least the half second the lock was held before the probes.
        assert!(
            backend == Backend::Postgres || took >= Duration::from_millis(500),
            "{backend:?}: the thread page did not wait for the lock ({took:?}), so this test shows nothing"
        );
    }
);

/// `GET /` once: how many of its database jobs ran on the HTTP worker.
async fn home_on_worker(app: &TestApp, me: &Student) -> u64 {
    let before = app.queries.jobs_on_worker();
    let (status, _) = me.get(app, "/").await;
    assert_eq!(status, 200, "GET /");
    app.queries.jobs_on_worker() - before
}

/// [`home_on_worker`], tried up to five times until it reads on the worker:
/// a connection is free once the request before has its answer, but one may
/// still be on its way back to the pool.
async fn home_once_a_connection_is_free(app: &TestApp, me: &Student) -> u64 {
    let mut read_here = 0;
    for _ in 0..5 {
        read_here = home_on_worker(app, me).await;
        if read_here == 1 {
            break;
        }
    }
    read_here
}

/// `GET /` as `me` through `client`, sent at once; its status when it answers.
fn get_home(app: &TestApp, me: &Student, client: reqwest::Client) -> tokio::task::JoinHandle<u16> {
    let request = client
        .get(app.url("/"))
        .header("cookie", format!("cg_session={}", me.token));
    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
}

/// Returns once a statement waits for a lock (PostgreSQL: `pg_locks`), or
/// after 500 ms on SQLite, whose waits nothing lists.
async fn wait_for_a_lock_wait(app: &TestApp, backend: Backend) {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    if backend == Backend::Sqlite {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        return;
    }
    for _ in 0..100 {
        let waiting: Waiting =
            diesel::sql_query("SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE NOT l.granted AND d.datname = current_database()")
                .get_result(&mut app.conn())
                .unwrap();
        if waiting.n > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no statement came to wait for the lock");
}

// A read held up on a worker (here behind the lock a migration takes) sends
// the next reads to blocking threads while it is still held up, so whatever
// holds it holds up no more workers, and for a while after; every page still
// answers once the lock is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_held_up_on_a_worker_sends_the_next_ones_off_the_workers() {
    use diesel::connection::SimpleConnection;
    use std::time::Duration;
    if common::postgres_admin_url().is_none() {
        return;
    }
    let pool = 4;
    let Campus { app, me, .. } =
        campus_with(Backend::Postgres, 1, &[("DATABASE_POOL_SIZE", "4")]).await;
    assert_eq!(
        home_once_a_connection_is_free(&app, &me).await,
        1,
        "home reads on the worker to begin with"
    );

    let mut holder = app.db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let before = app.queries.jobs_on_worker();
    let held_up = get_home(&app, &me, me.client.clone());
    wait_for_a_lock_wait(&app, Backend::Postgres).await;
    // Past DATABASE_SLOW_READ_MS (250 ms): held up, not reading.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A new connection for each, which the server hands to its workers in
    // turn: all but one reach a worker that is free.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let more: Vec<_> = (0..common_grounds::web::server::http_workers(pool, true))
        .map(|_| get_home(&app, &me, fresh.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        held_up.await.unwrap(),
        200,
        "the held-up page, once the lock is free"
    );
    for page in more {
        assert_eq!(page.await.unwrap(), 200, "home, once the lock is free");
    }
    assert_eq!(
        app.queries.jobs_on_worker() - before,
        1,
        "while one read was held up on a worker, the next ones read on workers too"
    );
    for _ in 0..3 {
        assert_eq!(
            home_on_worker(&app, &me).await,
            0,
            "home read on a worker within {:?} of a read held up there",
            common_grounds::web::state::OFF_WORKERS_FOR
        );
    }
}

// DATABASE_SLOW_READ_MS is what decides "held up": set to 3 s, a read that
// waits about 0.8 s behind a lock is not held up, so reads are not sent off
// the workers, neither while it waits nor after. Were the setting ignored
// (250 ms), they would be, and this would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_read_setting_decides_when_a_read_is_held_up() {
    use diesel::connection::SimpleConnection;
    use std::time::Duration;
    if common::postgres_admin_url().is_none() {
        return;
    }
    let Campus { app, me, .. } = campus_with(
        Backend::Postgres,
        1,
        &[
            ("DATABASE_POOL_SIZE", "4"),
            ("DATABASE_SLOW_READ_MS", "3000"),
        ],
    )
    .await;
    assert_eq!(
        home_once_a_connection_is_free(&app, &me).await,
        1,
        "home reads on the worker to begin with"
    );

    let mut holder = app.db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let sent_off = || async {
        let (_, metrics) = app.get_html("/metrics").await;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("cg_db_reads_off_workers_total "))
            .unwrap_or_else(|| panic!("no cg_db_reads_off_workers_total: {metrics}"))
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let sent_off_before = sent_off().await;
    let waiting = get_home(&app, &me, me.client.clone());
    wait_for_a_lock_wait(&app, Backend::Postgres).await;
    // Past the default 250 ms, well short of the 3 s set here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A new connection, which may reach a free worker or the one that waits:
    // either way it is not sent off the workers.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let next = get_home(&app, &me, fresh);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        waiting.await.unwrap(),
        200,
        "the waiting page, once the lock is free"
    );
    assert_eq!(
        next.await.unwrap(),
        200,
        "the next page, once the lock is free"
    );
    assert_eq!(
        sent_off().await,
        sent_off_before,
        "a read waiting under DATABASE_SLOW_READ_MS=3000 was taken as held up"
    );
    assert_eq!(
        home_once_a_connection_is_free(&app, &me).await,
        1,
        "home was sent off the workers after a read that was not held up"
    );
}
