//! Issue 19, items 1 and 5, on SQLite and PostgreSQL: who a reply notifies
//! (the author of the message replied to, the thread's followers, never the
//! replier, never someone who unfollowed or muted the class), the follow and
//! mute forms over HTTP, a thread page that marks its notifications read, and
//! a reply's notices written in as many statements for 30 followers as for 3.
//!
//! Computing IDs here hold letters past f, so none can turn up by chance
//! inside a hex id.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common;

use common::*;
use common_grounds::accounts::UserId;
use common_grounds::chat::{self, ClassMessage, Draft, MessageBody, MessageId, Rules};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{notifications, users};
use common_grounds::db::{self, DbConn};
use common_grounds::notifications::{self as notices, view, Kind};
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;

// ---------------------------------------------------------------- helpers

/// The app's rules (its pseudonym key), without the pause between one
/// student's posts: these tests post as fast as they can.
pub(crate) fn rules(app: &TestApp) -> Rules {
    let mut rules = Rules::new(app.secret_key.as_bytes(), 3);
    rules.post_interval = chrono::Duration::zero();
    rules
}

/// Posts through the domain, as the compose form would, and returns the row.
pub(crate) fn post(
    conn: &mut DbConn,
    rules: &Rules,
    who: &Student,
    class: &Class,
    parent: Option<&ClassMessage>,
    text: &str,
) -> ClassMessage {
    let body = MessageBody::parse(text).unwrap();
    chat::post(
        conn,
        &who.user,
        Draft {
            class_id: &class.id,
            parent_id: parent.map(|p| &p.id),
            body: &body,
        },
        rules,
        clock::now(),
    )
    .unwrap()
}

/// A student's notification rows, oldest first: their kind, message and whether read.
fn rows_of(app: &TestApp, user: &UserId) -> Vec<(String, Option<MessageId>, bool)> {
    notifications::table
        .filter(notifications::user_id.eq(user))
        .order((notifications::created_at, notifications::id))
        .select((
            notifications::kind,
            notifications::message_id,
            notifications::read_at.is_not_null(),
        ))
        .load(&mut app.conn())
        .unwrap()
}

fn thread_path(class: &Class, thread: &ClassMessage) -> String {
    format!("/classes/{}/threads/{}", class.id, thread.id)
}

fn named(app: &TestApp, who: &Student, name: &str) {
    diesel::update(users::table.find(&who.user.id))
        .set((
            users::display_name.eq(Some(name)),
            users::name_key.eq(common_grounds::accounts::display_name::name_key(name)),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

/// Everything that could name `who`: their computing ID, address and display name.
fn identities(who: &Student, name: &str) -> Vec<String> {
    vec![
        who.user.computing_id.clone(),
        who.user.email.clone(),
        name.to_string(),
    ]
}

// ---------------------------------------------------------------- 1. replies

backend_test!(
    async fn a_reply_notifies_the_starter_and_followers_not_who_unfollowed(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arqs");
        let b = app.student("bqxz");
        let c = app.student("cwry");
        let d = app.student("dvkz");
        named(&app, &b, "Barnaby Quixote");
        named(&app, &d, "Delphine Vukovic");
        let class = new_class(&app, "CS 2100", &[&a, &b, &c, &d]);
        let rules = rules(&app);

        // A posts a thread, B replies.
        let thread = post(
            &mut app.conn(),
            &rules,
            &a,
            &class,
            None,
            "Is the midterm open book?",
        );
        let b_reply = post(
            &mut app.conn(),
            &rules,
            &b,
            &class,
            Some(&thread),
            "Only one page of notes.",
        );
        assert_eq!(
            rows_of(&app, &a.user.id),
            vec![("reply".to_string(), Some(b_reply.id.clone()), false)],
            "A has exactly one unread Reply, about B's reply"
        );
        assert!(
            rows_of(&app, &b.user.id).is_empty(),
            "the replier hears nothing of their own reply"
        );
        let listed = view::list(&mut app.conn(), &a.user.id, clock::now(), None, 20).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].kind, Kind::Reply);
        assert!(listed[0].is_unread());
        assert_eq!(
            listed[0].target(),
            format!("{}#m-{}", thread_path(&class, &thread), b_reply.id),
            "the notification links to B's reply on the thread page"
        );
        assert!(
            listed[0].headline().contains(&b_reply.anonymous_identifier),
            "the headline names B by pseudonym: {}",
            listed[0].headline()
        );

        // C replies (and so follows); A's page says A follows; A unfollows over HTTP.
        let c_reply = post(
            &mut app.conn(),
            &rules,
            &c,
            &class,
            Some(&thread),
            "And a calculator.",
        );
        let (status, page) = a.get(&app, &thread_path(&class, &thread)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Following"), "A follows the thread A started");
        assert!(page.contains(&format!("{}/unfollow", thread_path(&class, &thread))));
        let r = a
            .post(
                &app,
                &thread_path(&class, &thread),
                &format!("{}/unfollow", thread_path(&class, &thread)),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            r.headers()["location"],
            thread_path(&class, &thread).as_str()
        );
        let (_, page) = a.get(&app, &thread_path(&class, &thread)).await;
        assert!(
            page.contains(&format!("{}/follow\"", thread_path(&class, &thread))),
            "the page offers Follow again"
        );
        assert!(!page.contains(&format!("{}/unfollow", thread_path(&class, &thread))));

        // D replies to A's own first message: C hears of it, A does not.
        let d_reply = post(
            &mut app.conn(),
            &rules,
            &d,
            &class,
            Some(&thread),
            "Check the syllabus, page 2.",
        );
        let a_rows = rows_of(&app, &a.user.id);
        assert_eq!(
            a_rows
                .iter()
                .map(|r| r.1.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![b_reply.id.clone(), c_reply.id.clone()],
            "A is told of B's and C's replies, not of D's after unfollowing"
        );
        assert_eq!(
            rows_of(&app, &c.user.id),
            vec![("thread_reply".to_string(), Some(d_reply.id.clone()), false)],
            "C, who follows after replying, hears of D's reply"
        );
        assert_eq!(
            rows_of(&app, &b.user.id)
                .iter()
                .map(|r| (r.0.as_str(), r.1.clone().unwrap()))
                .collect::<Vec<_>>(),
            vec![
                ("thread_reply", c_reply.id.clone()),
                ("thread_reply", d_reply.id.clone())
            ],
        );
        assert!(rows_of(&app, &d.user.id).is_empty());

        // Nothing the students see names B or D beyond their pseudonyms.
        let mut seen = String::new();
        for who in [&a, &b, &c, &d] {
            for n in view::list(&mut app.conn(), &who.user.id, clock::now(), None, 50).unwrap() {
                seen.push_str(&n.headline());
                seen.push('\n');
            }
        }
        // A's and C's inboxes, as served (before the thread pages mark them
        // read; B's and D's own pages show their own names in the nav).
        for who in [&a, &c] {
            let (status, inbox) = who.get(&app, "/notifications").await;
            assert_eq!(status, 200);
            seen.push_str(&inbox);
        }
        let (_, c_inbox) = c.get(&app, "/notifications").await;
        assert!(
            c_inbox.contains(&d_reply.anonymous_identifier),
            "C's inbox names D's reply by its pseudonym"
        );
        let (_, c_page) = c.get(&app, &thread_path(&class, &thread)).await;
        seen.push_str(&c_page);
        let (_, a_page) = a.get(&app, &thread_path(&class, &thread)).await;
        seen.push_str(&a_page);
        for leak in identities(&b, "Barnaby Quixote")
            .into_iter()
            .chain(identities(&d, "Delphine Vukovic"))
        {
            assert!(
                !seen.contains(&leak),
                "{leak:?} shows in a headline, an inbox or a thread page"
            );
        }
        assert!(seen.contains(&b_reply.anonymous_identifier));
        assert!(seen.contains(&d_reply.anonymous_identifier));

        // Opening the thread page (done above) marked A's and C's notifications read.
        assert!(
            rows_of(&app, &a.user.id).iter().all(|r| r.2),
            "A's are read"
        );
        assert!(
            rows_of(&app, &c.user.id).iter().all(|r| r.2),
            "C's are read"
        );
        assert!(
            rows_of(&app, &b.user.id).iter().all(|r| !r.2),
            "B has not opened it"
        );

        // Replying again follows again, like GitHub: A hears of the next reply.
        post(
            &mut app.conn(),
            &rules,
            &a,
            &class,
            Some(&d_reply),
            "Thanks, found it.",
        );
        let e_reply = post(
            &mut app.conn(),
            &rules,
            &b,
            &class,
            Some(&thread),
            "Good luck all.",
        );
        assert_eq!(
            rows_of(&app, &a.user.id).last().unwrap().1,
            Some(e_reply.id.clone())
        );
    }
);

backend_test!(
    async fn only_classmates_may_follow_and_a_student_who_left_is_not_notified(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arqt");
        let b = app.student("bqxy");
        let outsider = app.student("owzq");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let rules = rules(&app);
        let thread = post(
            &mut app.conn(),
            &rules,
            &a,
            &class,
            None,
            "Where is office hour?",
        );
        let path = thread_path(&class, &thread);

        // The outsider's forms: not found, and nothing written.
        let csrf = csrf_in(&outsider.get(&app, "/").await.1).expect("a token on the home page");
        for action in [
            format!("{path}/follow"),
            format!("/classes/{}/mute", class.id),
        ] {
            let r = post_with(&app, &outsider.client, &action, &[("csrf_token", &csrf)]).await;
            assert_eq!(r.status().as_u16(), 404, "{action}");
        }
        // Without the form's token: refused, nothing followed.
        let r = post_with(
            &app,
            &b.client,
            &format!("{path}/follow"),
            &[("csrf_token", "nope")],
        )
        .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        assert!(!notices::chat::is_following(&mut app.conn(), &b.user.id, &thread.id).unwrap());
        // A reply's id is not a thread.
        let reply = post(
            &mut app.conn(),
            &rules,
            &b,
            &class,
            Some(&thread),
            "Rice 340.",
        );
        let r = b
            .post(
                &app,
                &path,
                &format!("/classes/{}/threads/{}/follow", class.id, reply.id),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 404);

        // A leaves the class: B's reply, unread, no longer counts in A's
        // inbox (its thread is no longer A's to open), and B's next reply
        // does not reach A.
        assert_eq!(
            rows_of(&app, &a.user.id),
            [("reply".to_string(), Some(reply.id.clone()), false)]
        );
        let left = a
            .post(&app, "/", &format!("/classes/{}/leave", class.id), &[])
            .await;
        assert_eq!(left.status().as_u16(), 303);
        assert!(
            !common_grounds::classes::is_enrolled(&mut app.conn(), &a.user.id, &class.id).unwrap()
        );
        assert_eq!(
            rows_of(&app, &a.user.id),
            [("reply".to_string(), Some(reply.id.clone()), true)]
        );
        let before = rows_of(&app, &a.user.id).len();
        let c = app.student("cwrz");
        common::seed::enroll(&mut app.conn(), &c.user, &class);
        post(
            &mut app.conn(),
            &rules,
            &c,
            &class,
            Some(&thread),
            "Also Thursdays.",
        );
        assert_eq!(
            rows_of(&app, &a.user.id).len(),
            before,
            "a student who left hears nothing"
        );
        assert_eq!(
            rows_of(&app, &b.user.id).len(),
            1,
            "B, who replied, hears of C's reply"
        );
    }
);

backend_test!(
    async fn notices_about_a_reply_taken_away_stop_counting(backend: Backend) {
        use common_grounds::accounts::Role;
        use common_grounds::moderation::{self, messages::Reason, ReasonCategory};
        // Arrange: four replies to A's thread, each a notice for A.
        let app = spawn_app(backend).await;
        let a = app.student("arqg");
        let b = app.student("bqxg");
        let mut moderator = staff(&app, "mdqg", Role::Moderator);
        moderator.user.role = Role::Moderator;
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        let rules = rules(&app);
        let thread = post(&mut app.conn(), &rules, &a, &class, None, "Review room?");
        let replies: Vec<ClassMessage> = ["Room 101.", "Room 102.", "Room 103.", "Room 104."]
            .iter()
            .map(|text| post(&mut app.conn(), &rules, &b, &class, Some(&thread), text))
            .collect();
        let unread = |id: &MessageId| -> bool {
            notifications::table
                .filter(notifications::user_id.eq(&a.user.id))
                .filter(notifications::message_id.eq(id))
                .filter(notifications::read_at.is_null())
                .count()
                .get_result::<i64>(&mut app.conn())
                .unwrap()
                == 1
        };
        assert!(replies.iter().all(|r| unread(&r.id)));
        let spam = Reason::new(ReasonCategory::Spam, None).unwrap();

        // Act: B deletes the first; a moderator removes the second and hides
        // the third.
        chat::delete(
            &mut app.conn(),
            &b.user.id,
            &replies[0].id,
            clock::now(),
            |_, _| Ok(0),
        )
        .unwrap();
        moderation::messages::delete(
            &mut app.conn(),
            &moderator.user.id,
            &replies[1].id,
            &spam,
            clock::now(),
        )
        .unwrap();
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &replies[2].id,
            &spam,
            clock::now(),
        )
        .unwrap();

        // Assert: what is gone for good no longer counts (read, so never
        // mailed); the hidden one waits, quiet, for a restore; the last counts.
        assert!(!unread(&replies[0].id), "deleted by its author");
        assert!(!unread(&replies[1].id), "removed by a moderator");
        assert!(unread(&replies[2].id), "hidden, maybe restored");
        assert!(unread(&replies[3].id), "still there");
        // Whether A's notices about the hidden reply are quiet (not mailed).
        let quiet = || -> Vec<bool> {
            view::list(&mut app.conn(), &a.user.id, clock::now(), None, 10)
                .unwrap()
                .into_iter()
                .filter(|n| n.message_id.as_ref() == Some(&replies[2].id))
                .map(|n| n.quiet)
                .collect()
        };
        assert_eq!(quiet(), [true], "not mailed while hidden");
        let nav = || async {
            let (_, home) = a.get(&app, "/").await;
            let doc = scraper::Html::parse_document(&home);
            let sel = scraper::Selector::parse(".nav a[href='/notifications'] [data-unread-count]")
                .unwrap();
            let count: String = doc.select(&sel).next().unwrap().text().collect();
            // "2 unread" (the word is for screen readers).
            count
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(nav().await, "2");

        // Restored, the hidden reply's notice counts and speaks again.
        moderation::messages::restore(
            &mut app.conn(),
            &moderator.user.id,
            &replies[2].id,
            None,
            clock::now(),
        )
        .unwrap();
        assert!(unread(&replies[2].id));
        assert_eq!(quiet(), [false]);
    }
);

// ---------------------------------------------------------------- 5. muting

backend_test!(
    async fn a_muted_class_notifies_nothing_and_unmuting_brings_only_new_ones(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("armz");
        let b = app.student("bqmz");
        let c = app.student("cqmz");
        let class = new_class(&app, "CS 3240", &[&a, &b, &c]);
        let rules = rules(&app);
        let thread = post(
            &mut app.conn(),
            &rules,
            &a,
            &class,
            None,
            "Anyone have the slides?",
        );
        let class_path = format!("/classes/{}", class.id);

        let (_, page) = a.get(&app, &class_path).await;
        assert!(page.contains("Mute notifications from this class"));
        let r = a
            .post(&app, &class_path, &format!("{class_path}/mute"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], class_path.as_str());
        let (_, page) = a.get(&app, &class_path).await;
        assert!(
            page.contains(&format!("{class_path}/unmute")),
            "the page offers Unmute"
        );
        assert!(!page.contains("Mute notifications from this class"));
        assert_eq!(
            notices::chat::muted_classes(&mut app.conn(), &a.user.id).unwrap(),
            vec![(class.id.clone(), "CS 3240".to_string())]
        );

        post(
            &mut app.conn(),
            &rules,
            &b,
            &class,
            Some(&thread),
            "Posted on Canvas.",
        );
        assert!(
            rows_of(&app, &a.user.id).is_empty(),
            "a muted class notifies nothing"
        );

        let r = a
            .post(&app, &class_path, &format!("{class_path}/unmute"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert!(
            rows_of(&app, &a.user.id).is_empty(),
            "the earlier reply does not come back"
        );
        assert!(notices::chat::muted_classes(&mut app.conn(), &a.user.id)
            .unwrap()
            .is_empty());

        let new_reply = post(
            &mut app.conn(),
            &rules,
            &c,
            &class,
            Some(&thread),
            "Under Files, week 3.",
        );
        assert_eq!(
            rows_of(&app, &a.user.id),
            vec![("reply".to_string(), Some(new_reply.id.clone()), false)],
            "a new reply notifies again"
        );

        // Muted again: the settings page lists the class with its own Unmute,
        // and a moderator's decision about A's own post still reaches A.
        let r = a
            .post(&app, &class_path, &format!("{class_path}/mute"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let (_, settings) = a.get(&app, "/account/notifications").await;
        assert!(settings.contains("CS 3240"), "{settings}");
        assert!(settings.contains(&format!("{class_path}/unmute?back=settings")));
        let moderator = staff(&app, "mqmz", common_grounds::accounts::Role::Moderator);
        common_grounds::moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &thread.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Other,
                Some("Off topic"),
            )
            .unwrap(),
            clock::now(),
        )
        .unwrap();
        let rows = rows_of(&app, &a.user.id);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[1].0, "message_hidden", "a decision is not muted");
        let r = a
            .post(
                &app,
                "/account/notifications",
                &format!("{class_path}/unmute?back=settings"),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], "/account/notifications");
        assert!(notices::chat::muted_classes(&mut app.conn(), &a.user.id)
            .unwrap()
            .is_empty());
    }
);

// ---------------------------------------------------------------- statements

/// Posts `reply_text` as `replier` to `thread` on a connection that counts
/// its statements: (all statements, `pg_notify` announcements among them).
fn count_reply(
    db: &TestDb,
    rules: &Rules,
    replier: &Student,
    class: &Class,
    thread: &ClassMessage,
    reply_text: &str,
) -> (usize, usize) {
    let mut conn = db.connect();
    let all = Arc::new(AtomicUsize::new(0));
    let announce = Arc::new(AtomicUsize::new(0));
    let (all_c, announce_c) = (all.clone(), announce.clone());
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            all_c.fetch_add(1, Ordering::SeqCst);
            if query.to_string().contains("pg_notify") {
                announce_c.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    post(&mut conn, rules, replier, class, Some(thread), reply_text);
    (all.load(Ordering::SeqCst), announce.load(Ordering::SeqCst))
}

backend_test!(
    async fn a_reply_runs_as_many_statements_for_30_followers_as_for_3(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let rules = rules(&app);
        let starter = app.student("srtz");
        let followers: Vec<Student> = (0..30).map(|i| app.student(&format!("fwl{i}z"))).collect();
        let (r1, r2) = (app.student("rpyz"), app.student("rqyz"));
        let mut members: Vec<&Student> = followers.iter().collect();
        members.extend([&starter, &r1, &r2]);
        let class = new_class(&app, "CS 4414", &members);
        let small = post(
            &mut app.conn(),
            &rules,
            &starter,
            &class,
            None,
            "Thread with three.",
        );
        let big = post(
            &mut app.conn(),
            &rules,
            &starter,
            &class,
            None,
            "Thread with thirty.",
        );
        let now = clock::now();
        db::write_tx(&mut app.conn(), |tx| {
            for (i, f) in followers.iter().enumerate() {
                if i < 2 {
                    notices::chat::follow(tx, &f.user.id, &class.id, &small.id, now)?;
                }
                if i < 29 {
                    notices::chat::follow(tx, &f.user.id, &class.id, &big.id, now)?;
                }
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();

        let (small_all, small_pg) = count_reply(&app.db, &rules, &r1, &class, &small, "A reply.");
        let (big_all, big_pg) = count_reply(&app.db, &rules, &r2, &class, &big, "Another reply.");
        let written = |thread: &ClassMessage| -> i64 {
            notifications::table
                .filter(notifications::thread_id.eq(&thread.id))
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };
        assert_eq!(written(&small), 3, "the starter and two followers");
        assert_eq!(written(&big), 30, "the starter and 29 followers");
        eprintln!(
            "{backend:?}: a reply ran {small_all} statements for 3 recipients ({small_pg} pg_notify), \
             {big_all} for 30 ({big_pg} pg_notify)"
        );
        // Nothing may grow with the followers: not the recipients' read, not the
        // rows' insert (one multi-row INSERT on SQLite too), not the PostgreSQL
        // announcements (one pg_notify statement for all of them).
        assert_eq!(small_all, big_all, "statements for 3 and for 30 recipients");
    }
);
