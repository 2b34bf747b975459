//! Issue 17, items 1, 2 and 9, over HTTP on SQLite and PostgreSQL: the class
//! page lists threads by their latest activity (a reply bumps its thread) and
//! stays small, what is new to a student is marked on the list, on home and in
//! the nav, and reading a thread (or "Mark all read") clears it, for that
//! student only.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;
use crate::common::builders::MessageBuilder;

use chrono::Duration;
use common::*;
use common_grounds::accounts::User;
use common_grounds::chat::{self, ClassMessage, Draft, MessageBody, Rules};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db;
use common_grounds::notifications::{self, Kind, Notice};

/// The rules the test app runs with (its secret), with no pause between posts,
/// so one student can post several replies in a row.
fn quick_rules(app: &TestApp) -> Rules {
    let mut rules = Rules::new(app.secret_key.as_bytes(), 3);
    rules.post_interval = Duration::zero();
    rules
}

/// `author` replies `text` to `thread` through chat's own posting path.
fn reply(app: &TestApp, author: &User, class: &Class, thread: &ClassMessage, text: &str) {
    let body = MessageBody::parse(text).unwrap();
    chat::post(
        &mut app.conn(),
        author,
        Draft {
            class_id: &class.id,
            parent_id: Some(&thread.id),
            body: &body,
        },
        &quick_rules(app),
        clock::now(),
    )
    .unwrap();
}

/// A thread of `replies` replies by `people`, opened `minutes_ago` minutes ago,
/// a reply a second after it: the history students find when they join.
fn old_thread(
    app: &TestApp,
    class: &Class,
    people: &[&User],
    n: usize,
    replies: usize,
    minutes_ago: i64,
) -> ClassMessage {
    let mut conn = app.conn();
    let at = clock::now() - Duration::minutes(minutes_ago);
    let opening = format!(
        "Thread {n}: has anyone worked out problem {n} of this week's set? I keep getting a different bound than the one in the notes, and the office hours queue was long."
    );
    let root = MessageBuilder::new(&class.id, &people[0].id, &format!("Anon_{n:08x}"), &opening)
        .created_at(at)
        .insert(&mut conn);
    for r in 0..replies {
        let author = people[(r + 1) % people.len()];
        MessageBuilder::new(
            &class.id,
            &author.id,
            &format!("Anon_{:08x}", 0x1000 + r),
            &format!("Reply {r} in thread {n}: try the substitution from lecture."),
        )
        .reply_to(&root)
        .created_at(at + Duration::seconds(r as i64 + 1))
        .insert(&mut conn);
    }
    root
}

/// The `li.thread-row` ids of a list page, top first.
fn thread_order(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse("ol.thread-list > li.thread-row").unwrap();
    doc.select(&rows)
        .filter_map(|r| r.value().attr("id"))
        .map(|id| id.trim_start_matches("t-").to_string())
        .collect()
}

/// The "N new" mark of one thread's row, if it has one.
fn new_mark(html: &str, thread: &ClassMessage) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("li#t-{} .new-count", thread.id)).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

/// The "N new" mark on home's card of one class, if it has one.
fn home_mark(html: &str, class: &Class) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!(
        ".card-actions a[href='/classes/{}'] .new-count",
        class.id
    ))
    .unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

fn nav_dot(html: &str) -> bool {
    html.contains("nav-dot")
}

backend_test!(
    async fn fifty_threads_list_in_under_60_kb_and_a_reply_bumps_its_thread(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let others: Vec<Student> = ["cc3z", "dd4w", "ee5v"]
            .iter()
            .map(|c| app.student(c))
            .collect();
        let mut members: Vec<&Student> = vec![&a, &b];
        members.extend(others.iter());
        let class = new_class(&app, "CS 2100", &members);
        let people: Vec<&User> = others.iter().map(|s| &s.user).collect();
        // 50 threads of 10 replies each: 550 messages, the oldest thread first.
        let roots: Vec<ClassMessage> = (0..50)
            .map(|n| old_thread(&app, &class, &people, n, 10, 600 - n as i64 * 10))
            .collect();
        let oldest = &roots[0];
        let list = format!("/classes/{}", class.id);

        let (status, html) = b.get(&app, &list).await;
        assert_eq!(status, 200);
        eprintln!(
            "class list with 50 threads and 500 replies: {} bytes",
            html.len()
        );
        assert!(html.len() < 60_000, "the list page is {} bytes", html.len());
        let order = thread_order(&html);
        assert_eq!(order.len(), 50, "one page holds 50 threads");
        assert_eq!(
            order[0],
            roots[49].id.to_string(),
            "the newest activity first"
        );
        assert_eq!(order[49], oldest.id.to_string(), "the oldest thread last");
        assert!(html.contains("10 replies"), "each row counts its replies");
        assert!(
            !html.contains("Reply 3 in thread"),
            "replies are on the thread's page, not the list"
        );
        assert_eq!(
            html.matches("name=\"parent_id\"").count(),
            0,
            "no reply forms on the list"
        );

        // A replies to the oldest thread: it moves to the top.
        let response = a
            .post(
                &app,
                &list,
                &format!("/classes/{}/messages", class.id),
                &[
                    ("content", "Bumping this: the bound is n log n."),
                    ("parent_id", oldest.id.as_str()),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!("/classes/{}/threads/{}#m-", class.id, oldest.id)),
            "a reply lands on its thread: {location}"
        );

        let (_, for_b) = b.get(&app, &list).await;
        assert_eq!(
            thread_order(&for_b)[0],
            oldest.id.to_string(),
            "bumped to the top"
        );
        assert_eq!(
            new_mark(&for_b, oldest).as_deref(),
            Some("1 new"),
            "new for B"
        );
        let (_, for_a) = a.get(&app, &list).await;
        assert_eq!(thread_order(&for_a)[0], oldest.id.to_string());
        assert_eq!(new_mark(&for_a, oldest), None, "not new for its author");

        // The second page continues where the first stopped, by activity.
        let doc = scraper::Html::parse_document(&for_b);
        let next = scraper::Selector::parse("nav.pager a[rel=next]").unwrap();
        assert!(
            doc.select(&next).next().is_none(),
            "50 threads fit one page"
        );
        app.stop().await;
    }
);

backend_test!(
    async fn a_thread_new_to_the_reader_jumps_to_its_first_reply(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let (a, b, d) = (
            app.student("aa1x"),
            app.student("bb2y"),
            app.student("dd4w"),
        );
        let class = new_class(&app, "CS 2150", &[&a, &b, &d]);
        let (_, _) = b.get(&app, &format!("/classes/{}", class.id)).await;
        // D's thread, new to B, with 2 replies: the jump counts the replies,
        // and leads to the first of them (the question heads the page).
        let body = MessageBody::parse("Is the lab open on Sunday?").unwrap();
        let draft = Draft {
            class_id: &class.id,
            parent_id: None,
            body: &body,
        };
        let fresh = chat::post(
            &mut app.conn(),
            &d.user,
            draft,
            &quick_rules(&app),
            clock::now(),
        )
        .unwrap();
        reply(&app, &a.user, &class, &fresh, "Yes, from noon");
        reply(&app, &d.user, &class, &fresh, "Thanks");
        use common_grounds::db::schema::class_messages as m;
        use diesel::prelude::*;
        let first_reply: String = m::table
            .filter(m::parent_message_id.eq(fresh.id.as_str()))
            .order(m::created_at)
            .select(m::id)
            .first(&mut app.conn())
            .unwrap();
        let (_, page) = b
            .get(&app, &format!("/classes/{}/threads/{}", class.id, fresh.id))
            .await;
        let jump = format!(
            r##"<a href="#m-{first_reply}" class="jump-new">Jump to the first new reply (2 new)</a>"##
        );
        assert!(page.contains(&jump), "{page}");
    }
);

backend_test!(
    async fn unread_replies_show_on_home_the_list_and_the_nav_until_read(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        // D is in the class from the start too, to see that B's reading
        // is B's alone.
        let d = app.student("dd4w");
        let class = new_class(&app, "CS 2150", &[&a, &b, &d]);
        let quiet = new_class(&app, "CS 2120", &[&a, &b]);
        let thread = old_thread(&app, &class, &[&a.user], 0, 0, 5);
        let list = format!("/classes/{}", class.id);

        // B reads the class: the thread older than B's joining is not new.
        let (_, html) = b.get(&app, &list).await;
        assert_eq!(new_mark(&html, &thread), None);
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class), None);
        assert!(!nav_dot(&home), "nothing new: no dot");

        // A posts 3 replies to the thread.
        for n in 0..3 {
            reply(&app, &a.user, &class, &thread, &format!("Answer part {n}"));
        }

        let (_, home) = b.get(&app, "/").await;
        assert_eq!(
            home_mark(&home, &class).as_deref(),
            Some("3 new"),
            "B's home"
        );
        assert_eq!(home_mark(&home, &quiet), None, "only the class with news");
        assert!(nav_dot(&home), "the nav's dot");
        let (_, html) = b.get(&app, &list).await;
        assert_eq!(
            new_mark(&html, &thread).as_deref(),
            Some("3 new"),
            "B's list"
        );
        assert!(html.contains("Mark all read"));
        let (_, home_a) = a.get(&app, "/").await;
        assert_eq!(
            home_mark(&home_a, &class),
            None,
            "A's own replies are not new to A"
        );

        // B opens the thread: its 3 new replies are marked new there, then gone.
        let (status, page) = b
            .get(
                &app,
                &format!("/classes/{}/threads/{}", class.id, thread.id),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            page.matches("msg-new").count(),
            3,
            "the thread page marks what was new"
        );
        assert!(
            page.contains("Jump to the first new reply (3 new)"),
            "{page}"
        );
        for n in 0..3 {
            assert!(page.contains(&format!("Answer part {n}")));
        }
        let (_, html) = b.get(&app, &list).await;
        assert_eq!(new_mark(&html, &thread), None, "read");
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class), None, "read");
        assert!(!nav_dot(&home));
        // B's thread mark covers B alone: D still has the 3 replies new, on
        // home and in the nav (the session lookup's own statement); A, who
        // wrote them, has no dot.
        let (_, home_d) = d.get(&app, "/").await;
        assert_eq!(
            home_mark(&home_d, &class).as_deref(),
            Some("3 new"),
            "D's home"
        );
        assert!(nav_dot(&home_d), "D's nav dot");
        let (_, home_a) = a.get(&app, "/").await;
        assert!(!nav_dot(&home_a), "A's own replies are not new to A");

        // Two more replies; "Mark all read" clears them without opening the thread.
        for n in 3..5 {
            reply(&app, &a.user, &class, &thread, &format!("Answer part {n}"));
        }
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("2 new"));
        let (_, marked) = b
            .post_and_follow(&app, &list, &format!("/classes/{}/read", class.id), &[])
            .await;
        assert!(
            marked.contains("Every thread in this class is marked read."),
            "said, not only done: {marked}"
        );
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class), None, "all read");

        // What B read is B's alone: a third classmate still sees all 6 as new.
        let c = app.student("cc3z");
        common::seed::enroll(&mut app.conn(), &c.user, &class);
        // C joined after the replies: move C's joining back so they count.
        {
            use common_grounds::db::schema::user_classes;
            use diesel::prelude::*;
            diesel::update(user_classes::table.find((&c.user.id, &class.id)))
                .set(user_classes::enrolled_at.eq(clock::now() - Duration::hours(1)))
                .execute(&mut app.conn())
                .unwrap();
        }
        let (_, home_c) = c.get(&app, "/").await;
        assert_eq!(home_mark(&home_c, &class).as_deref(), Some("6 new"));

        // Another student's thread page is 404 for a stranger to the class.
        let stranger = app.student("gg7s");
        let (status, refused) = stranger
            .get(
                &app,
                &format!("/classes/{}/threads/{}", class.id, thread.id),
            )
            .await;
        assert_eq!(
            status, 403,
            "a student who does not take the class reads nothing"
        );
        assert!(refused.contains("Join this class first"), "{refused}");
        for text in ["has anyone worked out", "Answer part"] {
            assert!(!refused.contains(text), "{refused}");
        }
        let (status, _) = b
            .get(
                &app,
                &format!("/classes/{}/threads/{}", quiet.id, thread.id),
            )
            .await;
        assert_eq!(status, 404, "a thread of another class is not found here");

        // "Mark all read" marks what the page showed: a reply posted after
        // B's list was made, which B never saw, stays new.
        reply(&app, &a.user, &class, &thread, "Answer part 5");
        let (_, page) = b.get(&app, &list).await;
        let seen = scraper::Html::parse_document(&page)
            .select(&scraper::Selector::parse(".mark-read input[name=seen]").unwrap())
            .next()
            .and_then(|i| i.value().attr("value").map(str::to_string))
            .expect("the form says when the page was made");
        std::thread::sleep(std::time::Duration::from_millis(5));
        reply(
            &app,
            &a.user,
            &class,
            &thread,
            "Answer part 6, after B's page",
        );
        let read = format!("/classes/{}/read", class.id);
        b.post(&app, &list, &read, &[("seen", seen.as_str())]).await;
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("1 new"));
        app.stop().await;
    }
);

backend_test!(
    async fn replies_seen_live_are_marked_read_by_the_thread_page(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let other = new_class(&app, "CS 2120", &[&b]);
        let thread = old_thread(&app, &class, &[&a.user], 0, 0, 5);
        let page = format!("/classes/{}/threads/{}", class.id, thread.id);
        b.get(&app, &page).await;
        reply(&app, &a.user, &class, &thread, "Seen live");
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("1 new"));
        // B follows the thread: the reply is in B's inbox too, beside a
        // notice about another thread.
        let now = clock::now();
        let unread_notices = || -> i64 {
            use common_grounds::db::schema::notifications;
            use diesel::prelude::*;
            notifications::table
                .filter(notifications::user_id.eq(&b.user.id))
                .filter(notifications::read_at.is_null())
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };
        let elsewhere = old_thread(&app, &other, &[&b.user], 1, 0, 1);
        for (class, about) in [(&class, &thread), (&other, &elsewhere)] {
            let notice = Notice::new(&b.user.id, Kind::ThreadReply, now)
                .about_message(&class.id, &about.id, &about.id);
            db::write_tx(&mut app.conn(), |tx| notifications::notify(tx, &notice)).unwrap();
        }
        assert_eq!(unread_notices(), 2);
        // What the script sends once it showed the reply.
        let response = b.post(&app, &page, &format!("{page}/read"), &[]).await;
        assert_eq!(response.status().as_u16(), 204);
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class), None, "read");
        assert_eq!(unread_notices(), 1, "the notice the page showed is read");
        // The mark is B's data: in B's export, and in no one else's.
        let (_, export) = b.get(&app, "/account/export").await;
        let json: serde_json::Value = serde_json::from_str(&export).unwrap();
        let marks = json["chat_read_marks"].as_array().unwrap();
        assert!(
            marks
                .iter()
                .any(|m| m["thread_id"] == thread.id.as_str() && m["class_id"] == class.id.as_str()),
            "{marks:?}"
        );
        let (_, export_a) = a.get(&app, "/account/export").await;
        assert!(!export_a.contains(b.user.id.as_str()));
        // Not a thread of that class, or no token: nothing is marked.
        let response = b
            .post(
                &app,
                &page,
                &format!("/classes/{}/threads/{}/read", other.id, thread.id),
                &[],
            )
            .await;
        assert_eq!(response.status().as_u16(), 404);
        let response = b
            .client
            .post(app.url(&format!("{page}/read")))
            .form(&[("csrf_token", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403);
        app.stop().await;
    }
);

backend_test!(
    async fn what_was_posted_weeks_ago_is_history_not_news(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        // B joined a month ago and never opened the chat.
        {
            use common_grounds::db::schema::user_classes;
            use diesel::prelude::*;
            diesel::update(user_classes::table.find((&b.user.id, &class.id)))
                .set(user_classes::enrolled_at.eq(clock::now() - Duration::days(30)))
                .execute(&mut app.conn())
                .unwrap();
        }
        let old = old_thread(&app, &class, &[&a.user], 0, 2, 15 * 24 * 60);
        let recent = old_thread(&app, &class, &[&a.user], 1, 1, 13 * 24 * 60);
        let (_, html) = b.get(&app, &format!("/classes/{}", class.id)).await;
        assert_eq!(new_mark(&html, &old), None, "15 days old: not new");
        assert_eq!(
            new_mark(&html, &recent).as_deref(),
            Some("2 new"),
            "13 days old: new"
        );
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("2 new"));
        app.stop().await;
    }
);

backend_test!(
    async fn a_backlog_counts_as_99_plus_on_home(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        // 120 replies posted after B joined.
        old_thread(&app, &class, &[&a.user], 0, 119, 0);
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("99+ new"));
        app.stop().await;
    }
);

backend_test!(
    async fn home_counts_exactly_up_to_99_then_shows_99_plus(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        // 99 messages new to B (a thread and 98 replies), then a 100th.
        old_thread(&app, &class, &[&a.user], 0, 98, 0);
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("99 new"));
        old_thread(&app, &class, &[&a.user], 1, 0, 0);
        let (_, home) = b.get(&app, "/").await;
        assert_eq!(home_mark(&home, &class).as_deref(), Some("99+ new"));
        app.stop().await;
    }
);

backend_test!(
    async fn list_counts_match_the_rules(backend: Backend) {
        use common_grounds::db::schema::{chat_class_reads, class_messages, user_classes};
        use diesel::prelude::*;
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("mexk1");
        let a = app.student("axk1");
        let b = app.student("bxk1");
        let class = new_class(&app, "CS 2100", &[&me, &a, &b]);
        let now = clock::now();
        let at = |minutes: i64| now - Duration::minutes(minutes);
        // Joined two hours ago, so the class mark starts there.
        diesel::update(user_classes::table.filter(user_classes::class_id.eq(&class.id)))
            .set(user_classes::enrolled_at.eq(at(120)))
            .execute(&mut app.conn())
            .unwrap();
        let root = MessageBuilder::new(&class.id, &a.user.id, "Anon_0000aaaa", "Root")
            .created_at(at(60))
            .insert(&mut app.conn());
        let add = |who: &Student, minutes: i64| {
            MessageBuilder::new(&class.id, &who.user.id, "Anon_0000bbbb", "Reply")
                .reply_to(&root)
                .created_at(at(minutes))
                .insert(&mut app.conn())
        };
        let _read = add(&a, 50);
        let new_one = add(&b, 40);
        let _mine = add(&me, 35);
        let hidden = add(&a, 30);
        let deleted = add(&b, 25);
        let held = add(&a, 20);
        let _newest = add(&b, 10);
        let set = |id: &chat::MessageId, column: &str| {
            let target = class_messages::table.find(id);
            let mut conn = app.conn();
            match column {
                "hidden" => diesel::update(target)
                    .set(class_messages::hidden.eq(true))
                    .execute(&mut conn),
                "deleted" => diesel::update(target)
                    .set(class_messages::deleted.eq(true))
                    .execute(&mut conn),
                _ => diesel::update(target)
                    .set(class_messages::held.eq(true))
                    .execute(&mut conn),
            }
            .unwrap();
        };
        set(&hidden.id, "hidden");
        set(&deleted.id, "deleted");
        set(&held.id, "held");
        // The viewer read the thread up to 45 minutes ago; its answer is the hidden reply.
        chat::reads::mark_thread(&mut app.conn(), &me.user.id, &class.id, &root.id, at(45))
            .unwrap();
        diesel::update(class_messages::table.find(&root.id))
            .set(class_messages::answer_id.eq(Some(&hidden.id)))
            .execute(&mut app.conn())
            .unwrap();
        let rules = Rules::new(app.secret_key.as_bytes(), 3);
        let listed = |app: &TestApp| {
            let page = chat::class_page(
                &mut app.conn(),
                &me.user.id,
                &class.id,
                None,
                &rules,
                clock::now(),
            )
            .unwrap();
            let thread = page.chat.unwrap().threads.remove(0);
            (thread.replies, thread.unread, thread.answered)
        };
        // Counted replies: those the class can read, all but the deleted,
        // the hidden and the held one (a held one shown as hidden must
        // count as a hidden one does). New: the two classmates' replies
        // after the thread mark, not mine, not hidden, deleted or held.
        assert_eq!(listed(&app), (4, 2, false));
        // A slower page that showed less marks an earlier time: the mark stays.
        chat::reads::mark_thread(&mut app.conn(), &me.user.id, &class.id, &root.id, at(55))
            .unwrap();
        assert_eq!(listed(&app), (4, 2, false), "the read mark moved back");
        // The same rules in memory (what live events use) agree.
        let stats =
            chat::threads::reply_stats(&mut app.conn(), std::slice::from_ref(&root.id)).unwrap();
        let root_row = chat::find(&mut app.conn(), &root.id).unwrap().unwrap();
        let summary = chat::threads::summary_of(
            &root_row,
            stats.get(&root.id).map(Vec::as_slice).unwrap_or(&[]),
            &me.user.id,
            &rules,
            clock::now(),
        );
        assert_eq!((summary.replies, summary.answered), (4, false));
        // An answer that shows counts.
        diesel::update(class_messages::table.find(&root.id))
            .set(class_messages::answer_id.eq(Some(&new_one.id)))
            .execute(&mut app.conn())
            .unwrap();
        assert_eq!(listed(&app), (4, 2, true));
        // A class mark past the first new reply leaves only the newest.
        diesel::insert_into(chat_class_reads::table)
            .values((
                chat_class_reads::user_id.eq(&me.user.id),
                chat_class_reads::class_id.eq(&class.id),
                chat_class_reads::read_through.eq(at(15)),
            ))
            .execute(&mut app.conn())
            .unwrap();
        assert_eq!(listed(&app), (4, 1, true));
        // And the thread's own page (last: opening it reads the thread).
        let page = chat::threads::thread_page(
            &mut app.conn(),
            &me.user.id,
            false,
            &class.id,
            &root.id,
            &rules,
            clock::now(),
        )
        .unwrap();
        assert_eq!(page.replies, 4);
    }
);

backend_test!(
    async fn each_thread_page_is_titled_by_its_first_words(backend: Backend) {
        use common_grounds::db::schema::class_messages;
        use diesel::prelude::*;
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("ttl1a");
        let class = new_class(&app, "CS 2150", &[&me]);
        let title = |html: &str| {
            let doc = scraper::Html::parse_document(html);
            let sel = scraper::Selector::parse("title").unwrap();
            doc.select(&sel).next().unwrap().text().collect::<String>()
        };
        let page = |root: &ClassMessage| format!("/classes/{}/threads/{}", class.id, root.id);
        let first = old_thread(&app, &class, &[&me.user], 1, 0, 10);
        let second = MessageBuilder::new(
            &class.id,
            &me.user.id,
            "Anon_00000002",
            "Lab <b>2</b>\n  due when?",
        )
        .insert(&mut app.conn());
        let (_, one) = me.get(&app, &page(&first)).await;
        let (_, two) = me.get(&app, &page(&second)).await;
        assert_eq!(
            title(&one),
            "Thread 1: has anyone worked out… · Thread · CS 2150 · Common Grounds"
        );
        assert_eq!(
            title(&two),
            "Lab <b>2</b> due when? · Thread · CS 2150 · Common Grounds"
        );
        assert!(
            two.contains("<title>Lab &#60;b&#62;2&#60;/b&#62; due when?"),
            "escaped"
        );
        // A hidden first message lends the page no words.
        diesel::update(class_messages::table.find(&second.id))
            .set(class_messages::hidden.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let (_, hidden) = me.get(&app, &page(&second)).await;
        assert_eq!(title(&hidden), "Thread · CS 2150 · Common Grounds");
    }
);

backend_test!(
    async fn a_thread_takes_five_hundred_replies_then_asks_for_a_new_one(backend: Backend) {
        use common_grounds::chat::post::MAX_REPLIES;
        use common_grounds::db::schema::class_messages;
        use diesel::prelude::*;
        // Arrange: a thread with the most replies one thread takes.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("fu1a");
        let b = app.student("fu2b");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let root = common::builders::MessageBuilder::new(
            &class.id,
            &a.user.id,
            "Anon_0000aaaa",
            "Study group for the final?",
        )
        .insert(&mut app.conn());
        for n in 0..MAX_REPLIES {
            common::builders::MessageBuilder::new(
                &class.id,
                &a.user.id,
                "Anon_0000aaaa",
                &format!("reply {n}"),
            )
            .reply_to(&root)
            .insert(&mut app.conn());
        }
        let thread = format!("/classes/{}/threads/{}", class.id, root.id);

        // Act: one more reply.
        let refused = b
            .post(
                &app,
                &thread,
                &format!("/classes/{}/messages", class.id),
                &[("content", "count me in"), ("parent_id", root.id.as_str())],
            )
            .await;

        // Assert: refused in words, the draft kept; nothing stored.
        assert_eq!(refused.status().as_u16(), 400);
        let page = refused.text().await.unwrap();
        assert!(page.contains("This thread has 500 replies"), "{page}");
        assert!(page.contains("count me in"), "the draft is kept: {page}");
        let stored: i64 = class_messages::table
            .filter(class_messages::thread_root_id.eq(root.id.as_str()))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(stored, MAX_REPLIES);

        // A held reply is not counted: told "full" at 499 shown replies, a
        // classmate would learn that one is held.
        diesel::update(class_messages::table.filter(class_messages::content.eq("reply 0")))
            .set(class_messages::held.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let taken = b
            .post(
                &app,
                &thread,
                &format!("/classes/{}/messages", class.id),
                &[("content", "count me in"), ("parent_id", root.id.as_str())],
            )
            .await;
        assert_eq!(taken.status().as_u16(), 303);

        // Nor is a deleted one no page shows (kept for moderators, as a
        // reported message is): told "full", a classmate would learn it
        // was kept, so reported.
        let kept: String = class_messages::table
            .filter(class_messages::content.eq("reply 1"))
            .select(class_messages::id)
            .first(&mut app.conn())
            .unwrap();
        diesel::update(class_messages::table.find(&kept))
            .set((
                class_messages::deleted.eq(true),
                class_messages::content.eq(""),
            ))
            .execute(&mut app.conn())
            .unwrap();
        let (_, shown) = b.get(&app, &thread).await;
        assert!(!shown.contains(&kept), "no page shows it: {shown}");
        crate::live_stream::let_post_again(&mut app.conn());
        let taken = b
            .post(
                &app,
                &thread,
                &format!("/classes/{}/messages", class.id),
                &[
                    ("content", "one more seat?"),
                    ("parent_id", root.id.as_str()),
                ],
            )
            .await;
        assert_eq!(taken.status().as_u16(), 303);
    }
);

backend_test!(
    async fn the_starters_replies_say_op_while_the_question_shows(backend: Backend) {
        // Arrange: A asks; A and B reply, each under their own pseudonym.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("op1a");
        let b = app.student("op2b");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let body = MessageBody::parse("Is lab 3 due Friday?").unwrap();
        let root = chat::post(
            &mut app.conn(),
            &a.user,
            Draft {
                class_id: &class.id,
                parent_id: None,
                body: &body,
            },
            &quick_rules(&app),
            clock::now(),
        )
        .unwrap();
        reply(&app, &b.user, &class, &root, "I think it moved to Monday");
        reply(&app, &a.user, &class, &root, "Thanks, found it on the site");
        let page = format!("/classes/{}/threads/{}", class.id, root.id);

        // Assert: B sees A's reply marked OP, B's own not; A sees "you" instead.
        let ops = |html: &str| html.matches("badge op").count();
        let (_, seen_by_b) = b.get(&app, &page).await;
        assert_eq!(ops(&seen_by_b), 1, "{seen_by_b}");
        let at = seen_by_b.find("badge op").unwrap();
        let next_text = seen_by_b[at..].find("Thanks, found it").unwrap();
        let other = seen_by_b[at..].find("moved to Monday");
        assert!(
            other.is_none_or(|o| o > next_text),
            "the OP mark is on A's reply"
        );
        for secret in [a.user.id.as_str(), a.user.email.as_str(), "op1a"] {
            assert!(!seen_by_b.contains(secret), "B's page holds {secret:?}");
        }
        let (_, seen_by_a) = a.get(&app, &page).await;
        assert_eq!(ops(&seen_by_a), 0, "{seen_by_a}");
        // Each message's actions are named for a screen reader's list of
        // controls: "Reply to <pseudonym>", not fifty alike "Reply"s.
        let root_name = &root.anonymous_identifier;
        assert!(
            seen_by_b.contains(&format!(r#"aria-label="Reply to {root_name}""#)),
            "{seen_by_b}"
        );
        assert!(
            seen_by_b.contains(&format!(r#"aria-label="Report {root_name}’s message""#)),
            "{seen_by_b}"
        );
        assert!(seen_by_a.contains(r#"aria-label="Edit your message""#));

        // Once A deletes the question (kept as a placeholder for its
        // replies), its pseudonym is hidden, and so is the link to it.
        let deleted = a
            .post(&app, &page, &format!("/messages/{}/delete", root.id), &[])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);
        let (_, after) = b.get(&app, &page).await;
        assert!(after.contains("[deleted]"), "{after}");
        assert_eq!(ops(&after), 0, "{after}");
    }
);

backend_test!(
    async fn a_thread_deleted_from_the_list_comes_back_to_its_row(backend: Backend) {
        use common_grounds::db::schema::class_messages;
        use diesel::prelude::*;
        // Arrange: A's thread, with B's reply (so it stays, as "[deleted]").
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("dl1a");
        let b = app.student("dl2b");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let root = common::builders::MessageBuilder::new(
            &class.id,
            &a.user.id,
            "Anon_0000aaaa",
            "Anyone have last year's final?",
        )
        .insert(&mut app.conn());
        common::builders::MessageBuilder::new(&class.id, &b.user.id, "Anon_0000bbbb", "I do")
            .reply_to(&root)
            .insert(&mut app.conn());
        let list = format!("/classes/{}", class.id);

        // Act: A deletes it from the list.
        let deleted = a
            .post(
                &app,
                &list,
                &format!("/messages/{}/delete", root.id),
                &[("back", list.as_str())],
            )
            .await;

        // Assert: back on the list, at the thread's row, which is there.
        assert_eq!(deleted.status().as_u16(), 303);
        let location = deleted.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("{list}#t-{}", root.id));
        let (_, page) = a.get(&app, &list).await;
        assert!(page.contains(&format!("id=\"t-{}\"", root.id)), "{page}");
        let deleted: bool = class_messages::table
            .find(&root.id)
            .select(class_messages::deleted)
            .first(&mut app.conn())
            .unwrap();
        assert!(deleted);
    }
);

backend_test!(
    async fn deleted_replies_a_page_still_shows_count_toward_the_limit(backend: Backend) {
        use common_grounds::chat::post::MAX_REPLIES;
        use common_grounds::db::schema::class_messages;
        use diesel::prelude::*;
        // Arrange: a chain of replies, each under the one before, all but the
        // last deleted: their "[deleted]" placeholders stay on the page,
        // above the one reply that stands.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("ch1a");
        let b = app.student("ch2b");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let root = common::builders::MessageBuilder::new(
            &class.id,
            &a.user.id,
            "Anon_0000aaaa",
            "A long back and forth",
        )
        .insert(&mut app.conn());
        let mut parent = root.clone();
        for n in 0..MAX_REPLIES {
            parent = common::builders::MessageBuilder::new(
                &class.id,
                &a.user.id,
                "Anon_0000aaaa",
                &format!("link {n}"),
            )
            .reply_to(&parent)
            .insert(&mut app.conn());
        }
        diesel::update(
            class_messages::table
                .filter(class_messages::thread_root_id.eq(root.id.as_str()))
                .filter(class_messages::id.ne(parent.id.as_str())),
        )
        .set((
            class_messages::deleted.eq(true),
            class_messages::content.eq(""),
        ))
        .execute(&mut app.conn())
        .unwrap();
        let thread = format!("/classes/{}/threads/{}", class.id, root.id);

        // Act: one more reply.
        let refused = b
            .post(
                &app,
                &thread,
                &format!("/classes/{}/messages", class.id),
                &[("content", "still here?"), ("parent_id", root.id.as_str())],
            )
            .await;

        // Assert: full, as the page it would join holds 500 rows already.
        assert_eq!(refused.status().as_u16(), 400);
        let page = refused.text().await.unwrap();
        assert!(page.contains("This thread has 500 replies"), "{page}");
    }
);

/// Where a GET of `path` leads: its status and `Location`.
async fn opened(app: &TestApp, who: &Student, path: &str) -> (u16, Option<String>) {
    let r = who.client.get(app.url(path)).send().await.unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status().as_u16(), location)
}

backend_test!(
    async fn action_addresses_opened_lead_to_their_page(backend: Backend) {
        // Arrange: A's thread with B's reply; C takes another class.
        let app = spawn_quiet_app(backend, &[]).await;
        let (a, b, c) = (
            app.student("ga1a"),
            app.student("ga2b"),
            app.student("ga3c"),
        );
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        new_class(&app, "CS 3330", &[&c]);
        let root =
            MessageBuilder::new(&class.id, &a.user.id, "Anon_1", "Lab 3?").insert(&mut app.conn());
        let reply = MessageBuilder::new(&class.id, &b.user.id, "Anon_2", "Fri")
            .reply_to(&root)
            .insert(&mut app.conn());
        let list = format!("/classes/{}", class.id);
        let thread = format!("{list}/threads/{}", root.id);

        // Act and assert: each address, opened (a reload, from the address
        // bar, of the page a refused post, edit or report answered with, or
        // a copied link), leads to the page its form was on, not to "There
        // is nothing here".
        let at_reply = format!("{thread}#m-{}", reply.id);
        assert_eq!(
            opened(&app, &a, &format!("{list}/messages")).await,
            (303, Some(list.clone()))
        );
        for action in ["edit", "delete", "flag", "vote", "answer"] {
            let address = format!("/messages/{}/{action}", reply.id);
            assert_eq!(
                opened(&app, &b, &address).await,
                (303, Some(at_reply.clone()))
            );
            assert_eq!(
                opened(&app, &a, &address).await,
                (303, Some(at_reply.clone()))
            );
            // A student outside the class learns nothing of the message.
            assert_eq!(opened(&app, &c, &address).await.0, 404, "{address}");
        }
        // A classmate's held message no page shows them is not there for
        // them, as for its actions; its author is led to it.
        use common_grounds::db::schema::class_messages;
        use diesel::prelude::*;
        let held = MessageBuilder::new(&class.id, &a.user.id, "Anon_1", "ÁNGELA has them")
            .insert(&mut app.conn());
        diesel::update(class_messages::table.find(&held.id))
            .set(class_messages::held.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let address = format!("/messages/{}/edit", held.id);
        assert_eq!(opened(&app, &b, &address).await.0, 404);
        let at_held = format!("{list}/threads/{0}#m-{0}", held.id);
        assert_eq!(opened(&app, &a, &address).await, (303, Some(at_held)));
        for action in ["read", "similar", "mute", "unmute"] {
            let address = format!("{list}/{action}");
            assert_eq!(opened(&app, &a, &address).await, (303, Some(list.clone())));
        }
        for action in ["read", "pin", "unpin", "follow", "unfollow"] {
            let address = format!("{thread}/{action}");
            assert_eq!(
                opened(&app, &a, &address).await,
                (303, Some(thread.clone()))
            );
        }
        // The two other forms that answer with a page of their own.
        let search = Some("/classes/search".to_string());
        assert_eq!(
            opened(&app, &a, "/classes/add-by-number").await,
            (303, search)
        );
        let code = Some("/login/check-email".to_string());
        assert_eq!(opened(&app, &a, "/login/code").await, (303, code));
        // Where they lead, the page itself decides who may read it.
        assert_eq!(opened(&app, &c, &thread).await.0, 403);
    }
);
