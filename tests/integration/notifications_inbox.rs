//! Issue 19's inbox over HTTP on SQLite and PostgreSQL: the nav's count, the
//! inbox page (unread marked in words, each item linking to what it is about,
//! nobody's identity beyond a pseudonym), opening one (owner only, marks it
//! read), "mark all read", keyset paging, escaping, statement counts that do
//! not grow with the inbox, the 90-day cleanup, and the export and erasure.
//!
//! Notifications are written with `notifications::notify` in a write
//! transaction, as the hooks in chat, friends and moderation write them, so
//! these tests stand on their own.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;
use crate::common::builders::MessageBuilder;

use chrono::{Duration, NaiveDateTime};
use common::*;
use common_grounds::accounts::User;
use common_grounds::chat::ClassMessage;
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{
    class_mutes, notification_digests, notification_schedules, notification_settings,
    notifications, thread_follows, users,
};
use common_grounds::db::{self, DbConn};
use common_grounds::notifications::{inbox, Kind, Notice, NotificationId};
use common_grounds::ops::{cleanup, student_data};
use diesel::prelude::*;
use scraper::{Html, Selector};

// ---------------------------------------------------------------- helpers

const THEIR_PSEUDONYM: &str = "Anon_0000bbbb";

/// A thread opened by `author` an hour ago.
fn thread(app: &TestApp, class: &Class, author: &User, text: &str) -> ClassMessage {
    MessageBuilder::new(&class.id, &author.id, "Anon_0000aaaa", text)
        .created_at(clock::now() - Duration::hours(1))
        .insert(&mut app.conn())
}

/// A reply by `author` to `parent`, now.
fn reply(app: &TestApp, author: &User, parent: &ClassMessage, text: &str) -> ClassMessage {
    MessageBuilder::new(&parent.class_id, &author.id, THEIR_PSEUDONYM, text)
        .reply_to(parent)
        .insert(&mut app.conn())
}

/// Writes one notification as a hook would, and returns its id.
fn notify(conn: &mut DbConn, notice: &Notice) -> NotificationId {
    db::write_tx(conn, |tx| common_grounds::notifications::notify(tx, notice)).unwrap();
    notifications::table
        .filter(notifications::user_id.eq(notice.user_id))
        .filter(notifications::kind.eq(notice.kind.as_str()))
        .filter(notifications::created_at.eq(notice.at))
        .order(notifications::id.desc())
        .select(notifications::id)
        .first(conn)
        .unwrap()
}

/// `to` is told that `reply` answered them in `root`'s thread, at `at`.
fn reply_notice(
    app: &TestApp,
    to: &User,
    root: &ClassMessage,
    reply: &ClassMessage,
    at: NaiveDateTime,
) -> NotificationId {
    notify(
        &mut app.conn(),
        &Notice::new(&to.id, Kind::Reply, at).about_message(&root.class_id, &root.id, &reply.id),
    )
}

fn select(html: &str, selector: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn hrefs(html: &str, selector: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr("href").map(str::to_string))
        .collect()
}

/// The nav's count as shown in the top bar: its text, or None when hidden.
fn nav_count(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(".nav a[href='/notifications'] [data-unread-count]").unwrap();
    let span = doc.select(&sel).next().expect("the nav's Inbox count");
    if span.value().attr("hidden").is_some() {
        return None;
    }
    let own: String = span
        .children()
        .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
        .collect();
    Some(own.trim().to_string())
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

fn unread_rows(app: &TestApp, user: &User) -> i64 {
    notifications::table
        .filter(notifications::user_id.eq(&user.id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

// ---------------------------------------------------------------- 1. a reply

backend_test!(
    async fn a_reply_shows_in_the_nav_and_inbox_and_opens_at_the_reply(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthx");
        let b = app.student("bhrtx");
        let class = new_class(&app, "CS 2100", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "How do I start problem set 3?");
        let answer = reply(&app, &b.user, &root, "Read section 4.2 first.");
        let id = reply_notice(&app, &a.user, &root, &answer, clock::now());

        // A's home page: the nav counts one unread notification.
        let (status, home) = a.get(&app, "/").await;
        assert_eq!(status, 200);
        assert_eq!(nav_count(&home).as_deref(), Some("1"), "{home}");

        // The inbox lists it, marked new in words, linking to its opener.
        let (status, page) = a.get(&app, "/notifications").await;
        assert_eq!(status, 200);
        let open = format!("/notifications/{id}");
        assert_eq!(hrefs(&page, ".inbox-item a.inbox-link"), vec![open.clone()]);
        assert_eq!(select(&page, ".inbox-unread .badge.new"), vec!["New"]);
        let headline = select(&page, ".inbox-headline").join("");
        assert!(headline.contains(THEIR_PSEUDONYM), "{headline}");
        assert!(headline.contains("CS 2100"), "{headline}");
        assert_eq!(
            select(&page, ".inbox-excerpt"),
            vec!["Read section 4.2 first."]
        );
        assert_eq!(select(&page, ".inbox-class"), vec!["CS 2100"]);
        assert_eq!(count_in(&page, ".inbox-when time[datetime]"), 1);
        // Nothing names B beyond the pseudonym.
        for secret in [
            b.user.id.as_str(),
            b.user.email.as_str(),
            b.user.computing_id.as_str(),
        ] {
            assert!(!page.contains(secret), "the inbox shows {secret}");
        }

        // B cannot open A's notification, and it stays unread for A.
        let (status, refused) = b.get(&app, &open).await;
        assert_eq!(status, 404);
        assert!(refused.contains("<html"), "the normal error page");
        assert_eq!(unread_rows(&app, &a.user), 1);
        // An unknown id and a malformed one are the same 404.
        let unknown = format!("/notifications/{}", NotificationId::new());
        assert_eq!(a.get(&app, &unknown).await.0, 404);
        assert_eq!(a.get(&app, "/notifications/not-an-id").await.0, 404);
        assert_eq!(unread_rows(&app, &a.user), 1);

        // Following the link marks it read and lands on B's reply in the thread.
        let response = a.client.get(app.url(&open)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303);
        let target = location(&response);
        assert_eq!(
            target,
            format!("/classes/{}/threads/{}#m-{}", class.id, root.id, answer.id)
        );
        let (status, thread_page) = a.get(&app, target.split('#').next().unwrap()).await;
        assert_eq!(status, 200);
        assert!(thread_page.contains(&format!("id=\"m-{}\"", answer.id)));
        assert_eq!(unread_rows(&app, &a.user), 0);

        // The nav shows none now, and the item is no longer new.
        let (_, home) = a.get(&app, "/").await;
        assert_eq!(nav_count(&home), None);
        let (_, page) = a.get(&app, "/notifications").await;
        assert_eq!(count_in(&page, ".inbox-item"), 1);
        assert_eq!(count_in(&page, ".badge.new"), 0);
        assert_eq!(count_in(&page, ".inbox-unread"), 0);
        // Opening it again still goes there and changes nothing.
        let again = a.client.get(app.url(&open)).send().await.unwrap();
        assert_eq!(location(&again), target);
        app.stop().await;
    }
);

backend_test!(
    async fn opening_one_reads_the_rest_of_its_thread(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthq");
        let b = app.student("bhrtq");
        let class = new_class(&app, "CHEM 1420", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Which lab is it?");
        let first = reply(&app, &b.user, &root, "Lab 3.");
        let second = reply(&app, &b.user, &root, "Room 210.");
        let elsewhere = thread(&app, &class, &a.user, "Office hours?");
        let other = reply(&app, &b.user, &elsewhere, "Tuesdays.");
        let now = clock::now();
        reply_notice(&app, &a.user, &root, &first, now - Duration::seconds(3));
        let newest = reply_notice(&app, &a.user, &root, &second, now - Duration::seconds(2));
        reply_notice(
            &app,
            &a.user,
            &elsewhere,
            &other,
            now - Duration::seconds(1),
        );
        // A moderator's decision about a reply in the thread: the thread's
        // page shows "[deleted]", not the reason, so it stays unread.
        notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::MessageRemoved, now - Duration::seconds(1))
                .about_message(&root.class_id, &root.id, &first.id)
                .with_detail(Some("Personal information")),
        );
        assert_eq!(unread_rows(&app, &a.user), 4);

        let open = format!("/notifications/{newest}");
        let response = a.client.get(app.url(&open)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303);
        let target = location(&response);
        // The page it lands on counts only the other thread's notice and the
        // moderator's decision.
        let (_, landed) = a.get(&app, target.split('#').next().unwrap()).await;
        assert_eq!(nav_count(&landed).as_deref(), Some("2"));
        assert_eq!(unread_rows(&app, &a.user), 2);
        // Opening the thread itself does not read the decision either.
        let (_, again) = a.get(&app, target.split('#').next().unwrap()).await;
        assert_eq!(nav_count(&again).as_deref(), Some("2"));
        let (_, inbox) = a.get(&app, "/notifications").await;
        assert!(inbox.contains("Personal information"), "{inbox}");
        app.stop().await;
    }
);

fn count_in(html: &str, selector: &str) -> usize {
    select(html, selector).len()
}

// ---------------------------------------------------------------- 2. mark all read

backend_test!(
    async fn mark_all_read_needs_the_forms_token_and_clears_the_count(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthy");
        let b = app.student("bhrty");
        let class = new_class(&app, "CS 3100", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Anyone in the Tuesday section?");
        for i in 0..3 {
            let r = reply(&app, &b.user, &root, &format!("Me {i}"));
            reply_notice(
                &app,
                &a.user,
                &root,
                &r,
                clock::now() - Duration::minutes(i),
            );
        }
        // B's own notification is not A's to clear.
        let mine = thread(&app, &class, &b.user, "Notes for week 2");
        let r = reply(&app, &a.user, &mine, "Thanks");
        reply_notice(&app, &b.user, &mine, &r, clock::now());

        let (_, page) = a.get(&app, "/notifications").await;
        assert_eq!(nav_count(&page).as_deref(), Some("3"));
        assert_eq!(count_in(&page, ".badge.new"), 3);

        // Without the token: refused, nothing changed.
        let refused = post_with(&app, &a.client, "/notifications/read", &[]).await;
        assert!(refused.status().is_client_error(), "{}", refused.status());
        let forged = post_with(
            &app,
            &a.client,
            "/notifications/read",
            &[("csrf_token", "x")],
        )
        .await;
        assert_eq!(forged.status().as_u16(), 403);
        assert_eq!(unread_rows(&app, &a.user), 3);

        // With it: back to the inbox with a message; nothing new is left.
        let response = a
            .post(&app, "/notifications", "/notifications/read", &[])
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(location(&response), "/notifications");
        let (_, page) = a.get(&app, "/notifications").await;
        assert!(page.contains("Marked 3 notifications as read."), "{page}");
        assert_eq!(nav_count(&page), None);
        assert_eq!(count_in(&page, ".inbox-item"), 3);
        assert_eq!(count_in(&page, ".badge.new"), 0);
        assert_eq!(count_in(&page, "form[action='/notifications/read']"), 0);
        assert_eq!(unread_rows(&app, &a.user), 0);
        assert_eq!(unread_rows(&app, &b.user), 1, "B's stays unread");

        // B's inbox, made before a second notice came: "Mark all read"
        // there marks what it showed, not the notice B never saw.
        let (_, page) = b.get(&app, "/notifications").await;
        let seen = scraper::Html::parse_document(&page)
            .select(
                &scraper::Selector::parse("form[action='/notifications/read'] input[name=seen]")
                    .unwrap(),
            )
            .next()
            .and_then(|i| i.value().attr("value").map(str::to_string))
            .expect("the form says when the page was made");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let r = reply(&app, &a.user, &mine, "One more thing");
        reply_notice(&app, &b.user, &mine, &r, clock::now());
        b.post(
            &app,
            "/notifications",
            "/notifications/read",
            &[("seen", seen.as_str())],
        )
        .await;
        assert_eq!(unread_rows(&app, &b.user), 1, "the one that came since");
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 3. paging

backend_test!(
    async fn older_pages_show_each_of_65_notifications_once_newest_first(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthz");
        let b = app.student("bhrtz");
        let class = new_class(&app, "CS 4100", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Study group?");
        let start = clock::now() - Duration::hours(3);
        for i in 0..65 {
            let r = reply(&app, &b.user, &root, &format!("Reply {i}"));
            // Pairs share a time: the id breaks the tie.
            reply_notice(&app, &a.user, &root, &r, start + Duration::seconds(i / 2));
        }
        // A notification that shows only later (a suspension's end) is not listed yet.
        notify(
            &mut app.conn(),
            &Notice::new(
                &a.user.id,
                Kind::SuspensionEnded,
                clock::now() + Duration::days(2),
            ),
        );
        let expected: Vec<String> = notifications::table
            .filter(notifications::user_id.eq(&a.user.id))
            .filter(notifications::created_at.le(clock::now()))
            .order((notifications::created_at.desc(), notifications::id.desc()))
            .select(notifications::id)
            .load::<String>(&mut app.conn())
            .unwrap()
            .into_iter()
            .map(|id| format!("/notifications/{id}"))
            .collect();
        assert_eq!(expected.len(), 65);

        let mut seen: Vec<String> = Vec::new();
        let mut sizes = Vec::new();
        let mut path = "/notifications".to_string();
        loop {
            let (status, page) = a.get(&app, &path).await;
            assert_eq!(status, 200, "{path}");
            let links = hrefs(&page, ".inbox-item a.inbox-link");
            sizes.push(links.len());
            seen.extend(links);
            match hrefs(&page, ".pager a[rel=next]").first() {
                Some(next) => path = next.clone(),
                None => break,
            }
            assert!(sizes.len() < 10, "paging does not end");
        }
        assert_eq!(sizes, vec![30, 30, 5]);
        assert_eq!(seen, expected, "each once, newest first");

        // A broken cursor is a clear 400, not a 500 or an empty page.
        // The last names a time PostgreSQL cannot bind (about 7500 BC).
        for broken in [
            "nonsense",
            "123_abc",
            "_",
            "99999999999999999999999_x",
            "-300000000000000000_00000000-0000-4000-8000-000000000000",
        ] {
            let (status, page) = a
                .get(&app, &format!("/notifications?before={broken}"))
                .await;
            assert_eq!(status, 400, "{broken}");
            assert!(page.contains("This page link is broken"), "{page}");
        }
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 4. escaping

backend_test!(
    async fn a_friends_display_name_is_shown_as_text_not_markup(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthw");
        let b = app.student("bhrtw");
        diesel::update(users::table.find(&b.user.id))
            .set(users::display_name.eq("<script>alert(1)</script>"))
            .execute(&mut app.conn())
            .unwrap();
        // B's request, as the app stores it with its notice.
        common_grounds::friends::insert(
            &mut app.conn(),
            &common_grounds::friends::NewFriendship {
                id: &common_grounds::friends::FriendshipId::new(),
                user_id_1: &b.user.id,
                user_id_2: &a.user.id,
                status: "PENDING",
                created_at: clock::now(),
                updated_at: clock::now(),
            },
        )
        .unwrap();
        notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::FriendRequest, clock::now()).from_user(&b.user.id),
        );
        let (status, page) = a.get(&app, "/notifications").await;
        assert_eq!(status, 200);
        assert!(!page.contains("<script>alert(1)"), "{page}");
        let headline = select(&page, ".inbox-headline").join("");
        assert!(
            headline.contains("<script>alert(1)</script> (bhrtw)"),
            "the name reads as typed: {headline}"
        );
        // A friend request goes to the friends page.
        let link = hrefs(&page, ".inbox-item a.inbox-link").remove(0);
        let response = a.client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(location(&response), "/friends");
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 5. the empty state

backend_test!(
    async fn an_empty_inbox_says_what_will_show_and_links_to_the_settings(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arthv");
        let (status, page) = a.get(&app, "/notifications").await;
        assert_eq!(status, 200);
        assert_eq!(count_in(&page, ".inbox-item"), 0);
        assert!(page.contains("replies to you"), "{page}");
        assert!(!hrefs(&page, ".inbox-empty a[href='/account/notifications']").is_empty());
        assert_eq!(count_in(&page, "form[action='/notifications/read']"), 0);
        assert_eq!(nav_count(&page), None);
        // Signed out: sign in first.
        let response = app.get("/notifications").await;
        assert_eq!(response.status().as_u16(), 303);
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 6. statements

/// Statements one GET runs (after a first GET).
async fn queries_for(app: &TestApp, who: &Student, path: &str) -> u64 {
    who.get(app, path).await;
    let before = app.query_count();
    let (status, _) = who.get(app, path).await;
    assert_eq!(status, 200, "{path}");
    app.query_count() - before
}

backend_test!(
    async fn the_nav_is_one_statement_and_pages_do_not_grow_with_the_inbox(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("arthu");
        let b = app.student("bhrtu");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Lab 5 question");
        let paths = [
            "/".to_string(),
            "/notifications".to_string(),
            format!("/classes/{}", class.id),
        ];

        // The nav's two marks are one statement.
        {
            let mut conn = app.conn();
            let before = app.query_count();
            let marks = inbox::nav_marks(&mut conn, &a.user.id, clock::now(), 100).unwrap();
            assert_eq!(app.query_count() - before, 1, "one statement");
            assert_eq!(marks.unread_notifications, 0);
        }

        let mut counts = Vec::new();
        let mut total = 0;
        for n in [0, 150] {
            while total < n {
                let r = reply(&app, &b.user, &root, &format!("Reply {total}"));
                reply_notice(
                    &app,
                    &a.user,
                    &root,
                    &r,
                    clock::now() - Duration::seconds(total),
                );
                total += 1;
            }
            let mut per_page = Vec::new();
            for path in &paths {
                per_page.push(queries_for(&app, &a, path).await);
            }
            eprintln!("{backend:?} with {n} notifications: {paths:?} ran {per_page:?} statements");
            counts.push(per_page);
        }
        assert_eq!(
            counts[0], counts[1],
            "constant in the number of notifications"
        );
        let (_, home) = a.get(&app, "/").await;
        assert_eq!(nav_count(&home).as_deref(), Some("99+"), "capped");
        {
            let mut conn = app.conn();
            let marks = inbox::nav_marks(&mut conn, &a.user.id, clock::now(), 100).unwrap();
            assert_eq!(marks.unread_notifications, 100);
            assert!(marks.anything_new, "B's replies are new to A");
        }
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 7. cleanup

fn digest(conn: &mut DbConn, user: &User, date: &str, at: NaiveDateTime) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(notification_digests::table)
        .values((
            notification_digests::id.eq(&id),
            notification_digests::user_id.eq(&user.id),
            notification_digests::campus_date.eq(date),
            notification_digests::items.eq(2),
            notification_digests::created_at.eq(at),
        ))
        .execute(conn)
        .unwrap();
    id
}

backend_test!(
    async fn cleanup_removes_notifications_and_digest_claims_older_than_90_days(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("artht");
        let b = app.student("bhrtt");
        let class = new_class(&app, "CS 1110", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Old question");
        let now = clock::now();
        let r = reply(&app, &b.user, &root, "Old answer");
        let old = reply_notice(&app, &a.user, &root, &r, now - Duration::days(91));
        let kept = reply_notice(&app, &a.user, &root, &r, now - Duration::days(89));
        let later = notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::SuspensionEnded, now + Duration::days(3)),
        );
        let old_digest = digest(
            &mut app.conn(),
            &a.user,
            "2026-01-01",
            now - Duration::days(91),
        );
        let kept_digest = digest(
            &mut app.conn(),
            &a.user,
            "2026-03-01",
            now - Duration::days(89),
        );
        // A listed notification points at its digest: the old claim can still go.
        diesel::update(notifications::table.find(&kept))
            .set(notifications::digest_id.eq(&old_digest))
            .execute(&mut app.conn())
            .unwrap();

        let report = cleanup::run(&mut app.conn(), now).unwrap();
        assert_eq!(report.notifications, 1);
        assert_eq!(report.notification_digests, 1);
        assert!(
            report
                .to_string()
                .ends_with("1 old notifications, 1 old digest claims, 0 week-old chat events"),
            "{report}"
        );
        let mut left: Vec<String> = notifications::table
            .select(notifications::id)
            .load(&mut app.conn())
            .unwrap();
        left.sort();
        let mut want = vec![kept.to_string(), later.to_string()];
        want.sort();
        assert_eq!(left, want);
        assert!(!left.contains(&old.to_string()));
        let digests: Vec<String> = notification_digests::table
            .select(notification_digests::id)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(digests, vec![kept_digest]);
        let again = cleanup::run(&mut app.conn(), now).unwrap();
        assert_eq!((again.notifications, again.notification_digests), (0, 0));
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 8. export and erasure

fn rows_about(conn: &mut DbConn, user: &User) -> [i64; 6] {
    let id = &user.id;
    [
        notifications::table
            .filter(
                notifications::user_id
                    .eq(id)
                    .or(notifications::other_user_id.eq(id)),
            )
            .count()
            .get_result(conn)
            .unwrap(),
        thread_follows::table
            .filter(thread_follows::user_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap(),
        class_mutes::table
            .filter(class_mutes::user_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap(),
        notification_settings::table
            .filter(notification_settings::user_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap(),
        notification_schedules::table
            .filter(notification_schedules::user_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap(),
        notification_digests::table
            .filter(notification_digests::user_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap(),
    ]
}

backend_test!(
    async fn the_export_holds_notification_data_and_erasure_removes_it(backend: Backend) {
        // No background jobs: the email worker would claim today's digest for
        // A's waiting replies between the rows below and the counts.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("arths");
        let b = app.student("bhrts");
        let c = app.student("chrts");
        let class = new_class(&app, "CS 3330", &[&a, &b, &c]);
        let root = thread(&app, &class, &a.user, "Caches are confusing");
        let answer = reply(&app, &b.user, &root, "Draw the table");
        let now = clock::now();
        reply_notice(&app, &a.user, &root, &answer, now - Duration::minutes(5));
        notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::FriendRequest, now - Duration::minutes(4))
                .from_user(&c.user.id),
        );
        notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::MessageHidden, now - Duration::minutes(3))
                .about_message(&class.id, &root.id, &root.id)
                .with_detail(Some("Off topic")),
        );
        // C hears that A accepted: a row that names A in C's inbox.
        notify(
            &mut app.conn(),
            &Notice::new(&c.user.id, Kind::FriendAccepted, now).from_user(&a.user.id),
        );
        {
            let mut conn = app.conn();
            diesel::insert_into(thread_follows::table)
                .values((
                    thread_follows::user_id.eq(&a.user.id),
                    thread_follows::thread_id.eq(&root.id),
                    thread_follows::class_id.eq(&class.id),
                    thread_follows::following.eq(true),
                    thread_follows::updated_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
            diesel::insert_into(class_mutes::table)
                .values((
                    class_mutes::user_id.eq(&a.user.id),
                    class_mutes::class_id.eq(&class.id),
                    class_mutes::created_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
            diesel::insert_into(notification_settings::table)
                .values((
                    notification_settings::user_id.eq(&a.user.id),
                    notification_settings::topic.eq("replies"),
                    notification_settings::delivery.eq("off"),
                    notification_settings::updated_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
            diesel::insert_into(notification_schedules::table)
                .values((
                    notification_schedules::user_id.eq(&a.user.id),
                    notification_schedules::digest_hour.eq(7),
                    notification_schedules::updated_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
            digest(&mut conn, &a.user, "2026-03-02", now - Duration::days(1));
        }

        // The export, as A downloads it.
        let response = a
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body = response.text().await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let data = &json["notifications"];
        let list = data["notifications"].as_array().unwrap();
        let kinds: Vec<&str> = list.iter().map(|n| n["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["reply", "friend_request", "message_hidden"]);
        assert_eq!(list[0]["class"], "CS 3330");
        assert_eq!(list[0]["pseudonym"], THEIR_PSEUDONYM);
        assert_eq!(list[0]["read"], false);
        assert!(list[0]["computing_id"].is_null(), "a reply names no one");
        assert_eq!(list[1]["computing_id"], "chrts");
        assert_eq!(list[2]["detail"], "Off topic");
        assert_eq!(
            data["followed_threads"][0]["thread_id"],
            root.id.to_string()
        );
        assert_eq!(data["followed_threads"][0]["following"], true);
        assert_eq!(data["muted_classes"][0]["class"], "CS 3330");
        assert_eq!(data["email_settings"][0]["topic"], "replies");
        assert_eq!(data["email_settings"][0]["delivery"], "off");
        assert_eq!(data["digest_hour"], 7);
        assert_eq!(data["digests"][0]["campus_date"], "2026-03-02");
        // No one else's id, and B (the replier) not at all.
        for secret in [
            b.user.id.as_str(),
            b.user.email.as_str(),
            b.user.computing_id.as_str(),
            c.user.id.as_str(),
            c.user.email.as_str(),
        ] {
            assert!(!body.contains(secret), "the export shows {secret}");
        }

        // Erasing A removes A's rows and C's notification that names A.
        assert_eq!(rows_about(&mut app.conn(), &a.user), [4, 1, 1, 1, 1, 1]);
        let c_before = rows_about(&mut app.conn(), &c.user);
        student_data::delete_account(&mut app.conn(), &a.user, clock::now(), |_, _| Ok(()))
            .unwrap();
        assert_eq!(rows_about(&mut app.conn(), &a.user), [0; 6]);
        let c_after = rows_about(&mut app.conn(), &c.user);
        assert_eq!(
            c_after[0],
            c_before[0] - 2,
            "C's notification naming A went"
        );
        app.stop().await;
    }
);

// ---------------------------------------------------------------- 9. in a browser

const MEASURE: &str = r#"
const small = [...document.querySelectorAll('main a.inbox-link, main .pager a, main button')]
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width < 44 || r.height < 44)
  .map(([el, r]) => el.className + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, small };
"#;

backend_test!(
    async fn the_inbox_fits_a_phone_and_a_laptop_and_passes_axe(backend: Backend) {
        let Some((driver, chromium)) = browser::start().await else {
            return;
        };
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("arthr");
        let b = app.student("bhrtr");
        let class = new_class(&app, "CHEM 1410", &[&a, &b]);
        let root = thread(&app, &class, &a.user, "Is the lab report due Friday?");
        let long = "Yes, Friday at noon. ".repeat(12);
        let answer = reply(&app, &b.user, &root, &long);
        let now = clock::now();
        for i in 0..32 {
            reply_notice(&app, &a.user, &root, &answer, now - Duration::hours(i + 1));
        }
        notify(
            &mut app.conn(),
            &Notice::new(&a.user.id, Kind::MessageHidden, now)
                .about_message(&class.id, &root.id, &root.id)
                .with_detail(Some("Please keep answers to graded work general.")),
        );

        for width in [375u32, 1280] {
            let client = browser::open(&driver, &chromium, width, 900).await;
            browser::sign_in(&client, &app.address, &a.token).await;
            let mut path = "/notifications".to_string();
            for page in 0..2 {
                client.goto(&app.url(&path)).await.unwrap();
                let measured = client.execute(MEASURE, vec![]).await.unwrap();
                let (scroll, inner) = (
                    measured["scroll"].as_f64().unwrap(),
                    measured["inner"].as_f64().unwrap(),
                );
                assert!(scroll <= inner, "{path} at {width}px scrolls sideways");
                assert_eq!(
                    measured["small"].as_array().unwrap().len(),
                    0,
                    "{path} at {width}px: targets under 44 px: {}",
                    measured["small"]
                );
                if let Some(found) = browser::axe_findings(&client).await {
                    assert!(found.is_empty(), "{path} at {width}px: axe-core: {found:?}");
                }
                let shot = browser::screenshot(&client, &format!("inbox-{width}-{page}")).await;
                eprintln!("screenshot: {}", shot.display());
                // The second page: through the first page's "Older" link.
                let older = client
                    .execute(
                        "return document.querySelector('.pager a[rel=next]')?.getAttribute('href');",
                        vec![],
                    )
                    .await
                    .unwrap();
                if let Some(next) = older.as_str() {
                    path = next.to_string();
                }
            }
            client.close().await.unwrap();
        }
        app.stop().await;
    }
);

backend_test!(
    async fn a_former_friends_name_leaves_the_notices(backend: Backend) {
        use common_grounds::db::schema::users;
        // Arrange: A asks B, B accepts; A is told, by B's name.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let name = |who: &Student, to: &str| {
            diesel::update(users::table.find(&who.user.id))
                .set(users::display_name.eq(Some(to)))
                .execute(&mut app.conn())
                .unwrap();
        };
        name(&b, "Bea Bold");
        a.post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        b.post(&app, "/friends", "/friends/aa1x/accept", &[]).await;
        let (_, inbox) = a.get(&app, "/notifications").await;
        assert!(inbox.contains("Bea Bold (bb2y)"), "{inbox}");

        // Act: B removes A as a friend, then takes another name.
        let removed = b.post(&app, "/friends", "/friends/aa1x/remove", &[]).await;
        assert_eq!(removed.status().as_u16(), 303);
        name(&b, "Zed Newname");

        // Assert: A's notice keeps the computing ID only.
        let (_, inbox) = a.get(&app, "/notifications").await;
        assert!(inbox.contains("bb2y"), "{inbox}");
        assert!(
            !inbox.contains("Zed Newname") && !inbox.contains("Bea Bold"),
            "{inbox}"
        );

        // A asks again: their own request shows no name, whether B only
        // removed them or blocked them (which must read the same).
        let asked = a
            .post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        assert_eq!(asked.status().as_u16(), 303);
        let (_, after_asking) = a.get(&app, "/notifications").await;
        assert!(!after_asking.contains("Zed Newname"), "{after_asking}");
        let blocked = b.post(&app, "/friends", "/friends/aa1x/block", &[]).await;
        assert_eq!(blocked.status().as_u16(), 303);
        let between = common_grounds::friends::between(&mut app.conn(), &a.user.id, &b.user.id)
            .unwrap()
            .map(|f| f.status);
        assert_eq!(
            between,
            Some(common_grounds::friends::FriendshipStatus::Blocked)
        );
        let asked = a
            .post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        assert_eq!(asked.status().as_u16(), 303);
        let (_, under_block) = a.get(&app, "/notifications").await;
        assert!(!under_block.contains("Zed Newname"), "{under_block}");
    }
);

// ------------------------------------------------ an answered friend request

backend_test!(
    async fn an_answered_request_stops_counting_and_a_decline_says_how(backend: Backend) {
        // Arrange: two students each ask a third.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("mxq1");
        let asker = app.student("axq2");
        let other = app.student("oxq3");
        for who in [&asker, &other] {
            who.post(&app, "/friends", "/friends", &[("who", "mxq1")])
                .await;
        }
        assert_eq!(unread_rows(&app, &me.user), 2);

        // Act: one accepted, one declined.
        me.post(&app, "/friends", "/friends/axq2/accept", &[]).await;
        let (_, declined) = me
            .post_and_follow(&app, "/friends", "/friends/oxq3/decline", &[])
            .await;

        // Assert: neither notice counts in the inbox any more (nor waits for
        // a digest), and the decline says how to change one's mind, which works.
        assert_eq!(unread_rows(&app, &me.user), 0);
        assert!(
            declined
                .contains("Changed your mind? Add oxq3 as a friend: they get a request from you."),
            "{declined}"
        );
        me.post(&app, "/friends", "/friends", &[("who", "oxq3")])
            .await;
        assert_eq!(unread_rows(&app, &other.user), 1, "asked again");
        // Asking back, instead of accepting, answers the request as well.
        let third = app.student("txq4");
        third
            .post(&app, "/friends", "/friends", &[("who", "mxq1")])
            .await;
        assert_eq!(unread_rows(&app, &me.user), 1);
        let (_, asked_back) = me
            .post_and_follow(&app, "/friends", "/friends", &[("who", "txq4")])
            .await;
        assert!(asked_back.contains("you are friends now"), "{asked_back}");
        assert_eq!(unread_rows(&app, &me.user), 0);
    }
);
