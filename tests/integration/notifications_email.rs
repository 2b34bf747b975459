//! Notification email (issue 19): immediate emails and daily digests through a
//! real SMTP listener, a digest claimed but not sent when the app is killed,
//! the one-click unsubscribe (RFC 8058) without a cookie, and the settings page.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::America::New_York;
use common_grounds::accounts::User;
use common_grounds::campus_time::CampusTime;
use common_grounds::chat::ClassMessage;
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::config::SecretKey;
use common_grounds::db::schema::{email_outbox, notification_digests, notifications};
use common_grounds::db::{self, DbConn};
use common_grounds::mail::{outbox, Mailer};
use common_grounds::notifications::email::{self, NotificationMail};
use common_grounds::notifications::settings::{self, DigestHour};
use common_grounds::notifications::{self as notes, Delivery, Kind, Notice, NotificationId, Topic};
use diesel::prelude::*;

use crate::common::browser;
use crate::common::builders::{MessageBuilder, UserBuilder};
use crate::common::served::Served;
use crate::common::smtp::{Received, SmtpServer};
use crate::common::*;

const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

fn mail() -> NotificationMail {
    NotificationMail {
        base_url: "http://cg.test".parse().unwrap(),
        secret: SecretKey::from_text(SECRET).unwrap(),
        campus: CampusTime::default(),
    }
}

/// A campus (New York) wall-clock time in October 2031, as stored (naive UTC):
/// after any real clock, so no worker running on real time touches these rows.
fn campus(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    New_York
        .with_ymd_and_hms(2031, 10, day, hour, minute, 0)
        .unwrap()
        .naive_utc()
}

/// A thread by `author` in `class`, and `n` replies to it by `replier` as
/// "Quiet Otter", each notifying `author` (a `Reply`) at `at` plus a minute each.
fn replies(
    conn: &mut DbConn,
    class: &Class,
    author: &User,
    replier: &User,
    n: usize,
    at: NaiveDateTime,
) -> Vec<(ClassMessage, NotificationId)> {
    // Both take the class: a class's notices are mailed to its members only.
    for who in [author, replier] {
        common_grounds::classes::enroll(conn, &who.id, &class.id, at).unwrap();
    }
    let thread = MessageBuilder::new(
        &class.id,
        &author.id,
        "Violet Heron",
        "Is the midterm open book?",
    )
    .created_at(at)
    .insert(conn);
    (0..n)
        .map(|i| {
            let when = at + chrono::Duration::minutes(i as i64 + 1);
            let reply = MessageBuilder::new(
                &class.id,
                &replier.id,
                "Quiet Otter",
                &format!("Reply number {} says yes", i + 1),
            )
            .reply_to(&thread)
            .created_at(when)
            .insert(conn);
            let notice = Notice::new(&author.id, Kind::Reply, when)
                .about_message(&class.id, &thread.id, &reply.id);
            assert!(db::write_tx(conn, |tx| notes::notify(tx, &notice)).unwrap());
            let id: NotificationId = notifications::table
                .filter(notifications::message_id.eq(&reply.id))
                .filter(notifications::user_id.eq(&author.id))
                .select(notifications::id)
                .first(conn)
                .unwrap();
            (reply, id)
        })
        .collect()
}

fn mark_read(conn: &mut DbConn, ids: &[NotificationId], at: NaiveDateTime) {
    diesel::update(notifications::table.filter(notifications::id.eq_any(ids)))
        .set(notifications::read_at.eq(Some(at)))
        .execute(conn)
        .unwrap();
}

fn set_hour(conn: &mut DbConn, user: &User, hour: u32) {
    db::write_tx(conn, |tx| {
        settings::set_digest_hour(tx, &user.id, DigestHour::new(hour).unwrap(), clock::now())
    })
    .unwrap();
}

fn outbox_to(conn: &mut DbConn, address: &str) -> i64 {
    email_outbox::table
        .filter(email_outbox::to_address.eq(address))
        .count()
        .get_result(conn)
        .unwrap()
}

fn digest_rows(conn: &mut DbConn, user: &User) -> i64 {
    notification_digests::table
        .filter(notification_digests::user_id.eq(&user.id))
        .count()
        .get_result(conn)
        .unwrap()
}

/// Hands every queued message due at `now` to the mailer, as the outbox worker does.
async fn deliver(conn: &mut DbConn, mailer: &Mailer, now: NaiveDateTime) -> usize {
    let mut claimed = Vec::new();
    while let Some(message) = outbox::claim_next(conn, now).unwrap() {
        claimed.push(message);
    }
    for message in &claimed {
        mailer.send(&message.email()).await.unwrap();
        outbox::mark_sent(conn, message, now).unwrap();
    }
    claimed.len()
}

fn smtp_mailer(port: u16) -> Mailer {
    Mailer::smtp(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        "Common Grounds <no-reply@cg.test>",
    )
    .unwrap()
}

/// The raw message's header block, folded lines joined.
fn headers(received: &Received) -> String {
    let data = received.data.replace("\r\n", "\n");
    let head = data.split("\n\n").next().unwrap_or_default();
    head.replace("\n ", " ").replace("\n\t", " ")
}

fn subject(received: &Received) -> String {
    headers(received)
        .lines()
        .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        .unwrap_or_default()
}

/// Asserts the one-click unsubscribe headers for `user` and `topics`, and
/// returns the URL.
fn assert_unsubscribe_headers(received: &Received, user: &User, topics: &str) -> String {
    let head = headers(received);
    let prefix = format!(
        "List-Unsubscribe: <http://cg.test/notifications/unsubscribe/{}/{topics}/",
        user.id
    );
    let line = head
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}… in\n{head}"));
    assert!(
        head.lines()
            .any(|l| l == "List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{head}"
    );
    line["List-Unsubscribe: <".len()..line.len() - 1].to_string()
}

fn assert_no_author(text: &str, author: &User) {
    for secret in [
        author.id.as_str(),
        author.email.as_str(),
        author.computing_id.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "the email names the author ({secret})"
        );
    }
}

backend_test!(
    async fn five_replies_make_one_digest_at_the_chosen_hour_and_none_after(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let c = UserBuilder::new("ccc3c").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let hour = 9;
        set_hour(&mut conn, &a, hour);
        set_hour(&mut conn, &c, hour);
        let for_a = replies(&mut conn, &class, &a, &b, 5, campus(7, 7, 0));
        let for_c = replies(&mut conn, &class, &c, &b, 3, campus(7, 7, 30));
        // C reads all three in the app before the digest hour.
        let c_ids: Vec<NotificationId> = for_c.iter().map(|(_, id)| id.clone()).collect();
        mark_read(&mut conn, &c_ids, campus(7, 8, 0));
        let mail = mail();

        // The hour before: nothing.
        let early = email::run_once(&mut conn, &mail, campus(7, hour - 1, 59)).unwrap();
        assert_eq!(early.digests, 0);
        assert_eq!(outbox_to(&mut conn, &a.email), 0);
        assert_eq!(digest_rows(&mut conn, &a), 0);

        // At the hour: one email for A, listing all five, through SMTP.
        let at_hour = campus(7, hour, 0);
        let queued = email::run_once(&mut conn, &mail, at_hour).unwrap();
        assert_eq!(queued.digests, 1, "{queued:?}");
        let smtp = SmtpServer::start().await;
        assert_eq!(
            deliver(&mut conn, &smtp_mailer(smtp.port), at_hour).await,
            1
        );
        let received = smtp.wait_for(1, 10).await;
        assert_eq!(received.len(), 1);
        let digest = &received[0];
        assert_eq!(digest.to, vec![format!("<{}>", a.email)]);
        assert_eq!(subject(digest), "Your Common Grounds digest: 5 new");
        let url = assert_unsubscribe_headers(digest, &a, "replies");
        let text = digest.plain_text();
        for (i, (_, id)) in for_a.iter().enumerate() {
            assert!(
                text.contains(&format!("http://cg.test/notifications/{id}")),
                "link to notification {i} missing:\n{text}"
            );
            assert!(
                text.contains(&format!("Reply number {} says yes", i + 1)),
                "{text}"
            );
        }
        assert!(
            text.contains("Quiet Otter replied to your message in CS 2100"),
            "{text}"
        );
        assert!(
            text.contains("http://cg.test/account/notifications"),
            "{text}"
        );
        assert!(
            text.contains(&url),
            "the visible unsubscribe link {url}: {text}\n{}",
            digest.data
        );
        assert_no_author(&digest.data, &b);
        assert_eq!(digest_rows(&mut conn, &a), 1);

        // Later that day and the next day at the hour, with nothing new: none.
        for now in [
            campus(7, hour + 3, 0),
            campus(8, hour, 0),
            campus(9, hour + 1, 0),
        ] {
            let again = email::run_once(&mut conn, &mail, now).unwrap();
            assert_eq!(again.digests, 0, "at {now}");
        }
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
        assert_eq!(digest_rows(&mut conn, &a), 1);

        // C read everything in the app: no digest, no claim.
        assert_eq!(outbox_to(&mut conn, &c.email), 0);
        assert_eq!(digest_rows(&mut conn, &c), 0);
    }
);

backend_test!(
    async fn an_emailed_link_shows_the_host_it_really_goes_to(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        let sent = replies(&mut conn, &class, &a, &b, 1, campus(7, 7, 0));
        // A classmate's reply links to a host that looks like ours: the "і"
        // is Cyrillic. Mail apps make a bare address a link, so the email
        // shows the host the link really goes to, as the thread page does.
        diesel::update(common_grounds::db::schema::class_messages::table.find(&sent[0].0.id))
            .set(
                common_grounds::db::schema::class_messages::content
                    .eq("Sign in again at https://v\u{456}rginia.edu/login today"),
            )
            .execute(&mut conn)
            .unwrap();

        let queued = email::run_once(&mut conn, &mail(), campus(7, 9, 0)).unwrap();

        assert_eq!(queued.digests, 1, "{queued:?}");
        let (text, html): (String, String) = email_outbox::table
            .filter(email_outbox::to_address.eq(&a.email))
            .select((email_outbox::body_text, email_outbox::body_html))
            .first(&mut conn)
            .unwrap();
        for body in [&text, &html] {
            assert!(body.contains("https://xn--vrginia-"), "{body}");
            assert!(!body.contains('\u{456}'), "{body}");
        }
    }
);

backend_test!(
    async fn a_suspension_email_says_until_when_and_why(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let at = campus(7, 12, 0);
        db::write_tx(&mut conn, |tx| {
            notes::account::suspended(
                tx,
                &a.id,
                campus(14, 12, 0),
                "Spamming the class chat",
                at,
                CampusTime::default(),
            )
        })
        .unwrap();

        let queued =
            email::run_once(&mut conn, &mail(), at + chrono::Duration::seconds(5)).unwrap();

        // The email says what the inbox says under the headline.
        assert_eq!(queued.immediate, 1, "{queued:?}");
        let (text, html): (String, String) = email_outbox::table
            .filter(email_outbox::to_address.eq(&a.email))
            .select((email_outbox::body_text, email_outbox::body_html))
            .first(&mut conn)
            .unwrap();
        for body in [&text, &html] {
            assert!(
                body.contains("Until Oct 14, 2031, 12:00 PM EDT")
                    && body.contains("Reason: Spamming the class chat"),
                "{body}"
            );
        }
    }
);

backend_test!(
    async fn a_hide_email_gives_the_moderators_reason_once(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let sent = replies(&mut conn, &class, &a, &b, 1, campus(7, 12, 0));
        let reply = &sent[0].0;
        let at = campus(7, 12, 5);
        // A moderator hid B's reply, with words for its author.
        let notice = Notice::new(&b.id, Kind::MessageHidden, at)
            .about_message(&class.id, reply.thread_root_id.as_ref().unwrap(), &reply.id)
            .with_detail(Some("Please keep prices out of the chat"));
        assert!(db::write_tx(&mut conn, |tx| notes::notify(tx, &notice)).unwrap());

        let queued =
            email::run_once(&mut conn, &mail(), at + chrono::Duration::seconds(5)).unwrap();

        // The email says it as the inbox does: "Reason: " and the words, once.
        assert_eq!(queued.immediate, 1, "{queued:?}");
        let (text, html): (String, String) = email_outbox::table
            .filter(email_outbox::to_address.eq(&b.email))
            .select((email_outbox::body_text, email_outbox::body_html))
            .first(&mut conn)
            .unwrap();
        for body in [&text, &html] {
            assert_eq!(
                body.matches("Reason: Please keep prices out of the chat")
                    .count(),
                1,
                "{body}"
            );
        }
    }
);

backend_test!(
    async fn a_reply_after_the_hour_waits_for_tomorrows_digest(backend: Backend) {
        // Arrange: a 9 AM digest, nothing waiting at 9, a reply that evening.
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        let mail = mail();
        assert_eq!(
            email::run_once(&mut conn, &mail, campus(7, 9, 0))
                .unwrap()
                .digests,
            0
        );
        replies(&mut conn, &class, &a, &b, 1, campus(7, 22, 40));

        // Passes open no write transaction for it (every 15 seconds, per
        // student waiting, until midnight, they would queue behind posts).
        let begun = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = begun.clone();
        conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
            if matches!(
                event,
                diesel::connection::InstrumentationEvent::BeginTransaction { .. }
            ) {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });

        // Act + Assert: no one-line "digest" that evening, nor before 9 the next day.
        for now in [campus(7, 22, 41), campus(7, 23, 59), campus(8, 8, 59)] {
            let pass = email::run_once(&mut conn, &mail, now).unwrap();
            assert_eq!(pass.digests, 0, "at {now}");
        }
        assert_eq!(outbox_to(&mut conn, &a.email), 0);
        assert_eq!(
            begun.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "write transactions on passes with nothing to send"
        );

        // At 9 the next day, the digest lists it.
        let pass = email::run_once(&mut conn, &mail, campus(8, 9, 0)).unwrap();
        assert_eq!(pass.digests, 1);
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
    }
);

backend_test!(
    async fn a_partly_read_digest_lists_the_unread_then_waits_a_day(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let for_a = replies(&mut conn, &class, &a, &b, 3, campus(7, 10, 0));
        mark_read(&mut conn, &[for_a[0].1.clone()], campus(7, 11, 0));
        let mail = mail();
        // The default hour is 5 PM.
        assert_eq!(
            email::run_once(&mut conn, &mail, campus(7, 16, 59))
                .unwrap()
                .digests,
            0
        );
        assert_eq!(
            email::run_once(&mut conn, &mail, campus(7, 17, 0))
                .unwrap()
                .digests,
            1
        );
        let subjects: Vec<String> = email_outbox::table
            .select(email_outbox::subject)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            subjects,
            vec!["Your Common Grounds digest: 2 new".to_string()]
        );
        // A reply after the digest waits for the next day's.
        let late = replies(&mut conn, &class, &a, &b, 1, campus(7, 18, 0));
        assert_eq!(
            email::run_once(&mut conn, &mail, campus(7, 23, 0))
                .unwrap()
                .digests,
            0
        );
        assert_eq!(
            email::run_once(&mut conn, &mail, campus(8, 17, 30))
                .unwrap()
                .digests,
            1
        );
        let body: String = email_outbox::table
            .filter(email_outbox::subject.eq("Your Common Grounds digest: 1 new"))
            .select(email_outbox::body_text)
            .first(&mut conn)
            .unwrap();
        assert!(
            body.contains(&format!("/notifications/{}", late[0].1)),
            "{body}"
        );
        assert_eq!(digest_rows(&mut conn, &a), 2);
    }
);

/// Waits (up to `secs`) for `check` to hold.
async fn eventually(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..(secs * 20) {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

backend_test!(
    async fn a_class_left_or_muted_is_not_in_the_digest(backend: Backend) {
        // Arrange: A has replies waiting in CS 2100, MATH 3100 and PHYS 1425.
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let kept = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let left = crate::common::seed::class(&mut conn, "MATH 3100", "1262");
        let muted = crate::common::seed::class(&mut conn, "PHYS 1425", "1262");
        set_hour(&mut conn, &a, 9);
        replies(&mut conn, &kept, &a, &b, 1, campus(7, 7, 0));
        let gone = replies(&mut conn, &left, &a, &b, 1, campus(7, 7, 10));
        replies(&mut conn, &muted, &a, &b, 1, campus(7, 7, 20));

        // Act: A leaves MATH 3100 and mutes PHYS 1425 before the hour.
        {
            use common_grounds::db::schema::user_classes::dsl as uc;
            diesel::delete(
                uc::user_classes
                    .filter(uc::user_id.eq(&a.id))
                    .filter(uc::class_id.eq(&left.id)),
            )
            .execute(&mut conn)
            .unwrap();
        }
        diesel::insert_into(common_grounds::db::schema::class_mutes::table)
            .values((
                common_grounds::db::schema::class_mutes::user_id.eq(&a.id),
                common_grounds::db::schema::class_mutes::class_id.eq(&muted.id),
                common_grounds::db::schema::class_mutes::created_at.eq(campus(7, 8, 0)),
            ))
            .execute(&mut conn)
            .unwrap();
        let queued = email::run_once(&mut conn, &mail(), campus(7, 9, 0)).unwrap();

        // Assert: the digest lists CS 2100 only, and quotes nothing else.
        assert_eq!(queued.digests, 1, "{queued:?}");
        let smtp = SmtpServer::start().await;
        assert_eq!(
            deliver(&mut conn, &smtp_mailer(smtp.port), campus(7, 9, 0)).await,
            1
        );
        let received = smtp.wait_for(1, 10).await;
        let text = received[0].plain_text();
        assert_eq!(subject(&received[0]), "Your Common Grounds digest: 1 new");
        assert!(text.contains("in CS 2100"), "{text}");
        for other in ["MATH 3100", "PHYS 1425"] {
            assert!(!text.contains(other), "{other} in the digest:\n{text}");
        }
        // The inbox still lists the left class's notice, without its words.
        let listed =
            common_grounds::notifications::view::list(&mut conn, &a.id, campus(7, 10, 0), None, 10)
                .unwrap();
        let notice = listed.iter().find(|n| n.id == gone[0].1).unwrap();
        assert_eq!(notice.excerpt, None, "{notice:?}");
        assert!(notice.quiet);
    }
);

backend_test!(
    async fn a_digest_claimed_before_a_crash_is_sent_once_after_the_restart(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        // Due now: digest hour 0 (midnight), rows from just before it.
        set_hour(&mut conn, &a, 0);
        let campus = CampusTime::parse("America/New_York").unwrap();
        let midnight = campus.start_of_day(campus.date_of(clock::now()));
        let for_a = replies(
            &mut conn,
            &class,
            &a,
            &b,
            5,
            midnight - chrono::Duration::minutes(30),
        );

        // The real binary, its SMTP server a port where nothing listens: the
        // digest is claimed and queued, and its sending fails.
        let dead_port = free_port();
        let first = Served::start(
            Some(db.url_string()),
            "127.0.0.1",
            &[
                (
                    "SMTP_URL",
                    &format!("smtp://127.0.0.1:{dead_port}?tls=none"),
                ),
                ("NOTIFICATION_EMAIL_INTERVAL_SECS", "1"),
                ("BASE_URL", "http://cg.test"),
            ],
        );
        let claimed = eventually(60, || digest_rows(&mut conn, &a) == 1).await;
        assert!(claimed, "no digest claimed: {}", first.stderr());
        // Killed at once: no goodbye, no chance to send.
        std::process::Command::new("kill")
            .args(["-KILL", &first.pid().to_string()])
            .status()
            .unwrap();
        let _ = first.stop();
        let unsent: i64 = email_outbox::table
            .filter(email_outbox::status.eq("queued"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(unsent, 1, "the digest waits in the outbox");

        // A mail server, and the app again on the same database.
        let smtp = SmtpServer::start().await;
        let mut second = Served::start(
            Some(db.url_string()),
            "127.0.0.1",
            &[
                (
                    "SMTP_URL",
                    &format!("smtp://127.0.0.1:{}?tls=none", smtp.port),
                ),
                ("NOTIFICATION_EMAIL_INTERVAL_SECS", "1"),
                ("BASE_URL", "http://cg.test"),
            ],
        );
        second.ready().await;
        // The failed try was scheduled 5 s on; a kill during a send leaves a
        // 2-minute lease to run out first.
        let received = smtp.wait_for(1, 150).await;
        // A few more worker passes: nothing else may arrive.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (_, log) = second.stop();
        let received_now = smtp.received();
        assert_eq!(received_now.len(), 1, "exactly one digest: {log}");
        let digest = &received[0];
        assert_eq!(subject(digest), "Your Common Grounds digest: 5 new");
        // Built by the process that was killed, sent by the one after it.
        assert_unsubscribe_headers(digest, &a, "replies");
        let text = digest.plain_text();
        for (_, id) in &for_a {
            assert!(text.contains(&format!("/notifications/{id}")), "{text}");
        }
        assert_no_author(&digest.data, &b);
        assert_eq!(digest_rows(&mut conn, &a), 1);
    }
);

backend_test!(
    async fn a_friend_request_is_emailed_right_away_with_its_unsubscribe_link(backend: Backend) {
        let smtp = SmtpServer::start().await;
        let app = spawn_app_with(
            TestDb::with_schema(backend),
            TestMail::Smtp(smtp.port),
            &[("NOTIFICATION_EMAIL_INTERVAL_SECS", "1")],
        )
        .await;
        let mut conn = app.db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let f = UserBuilder::new("fff6f").insert(&mut conn);
        let notice = Notice::new(&a.id, Kind::FriendRequest, clock::now()).from_user(&f.id);
        db::write_tx(&mut conn, |tx| notes::notify(tx, &notice)).unwrap();

        let received = smtp.wait_for(1, 20).await;
        assert_eq!(received.len(), 1);
        let message = &received[0];
        assert_eq!(message.to, vec![format!("<{}>", a.email)]);
        assert_eq!(subject(message), "fff6f sent you a friend request");
        let url = assert_unsubscribe_headers(message, &a, "friends");
        let text = message.plain_text();
        assert!(text.contains(&url), "{text}");
        assert!(text.contains("http://cg.test/notifications/"), "{text}");
        // Once: the next passes find it stamped.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(smtp.received().len(), 1);
        drop(conn);
        app.stop().await;
    }
);

backend_test!(
    async fn a_notification_read_before_the_worker_runs_is_not_emailed(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let f = UserBuilder::new("fff6f").insert(&mut conn);
        let at = campus(7, 12, 0);
        let notice = Notice::new(&a.id, Kind::FriendRequest, at).from_user(&f.id);
        db::write_tx(&mut conn, |tx| notes::notify(tx, &notice)).unwrap();
        let id: NotificationId = notifications::table
            .select(notifications::id)
            .first(&mut conn)
            .unwrap();
        mark_read(&mut conn, std::slice::from_ref(&id), at);
        let queued =
            email::run_once(&mut conn, &mail(), at + chrono::Duration::seconds(5)).unwrap();
        assert_eq!(queued.immediate, 0);
        assert_eq!(outbox_to(&mut conn, &a.email), 0);
        let stamped: Option<NaiveDateTime> = notifications::table
            .find(&id)
            .select(notifications::emailed_at)
            .first(&mut conn)
            .unwrap();
        assert!(stamped.is_some(), "no longer waiting");
        // One that is not read yet is emailed.
        let second = Notice::new(&a.id, Kind::FriendAccepted, at).from_user(&f.id);
        db::write_tx(&mut conn, |tx| notes::notify(tx, &second)).unwrap();
        let queued =
            email::run_once(&mut conn, &mail(), at + chrono::Duration::seconds(5)).unwrap();
        assert_eq!(queued.immediate, 1);
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
    }
);

backend_test!(
    async fn two_workers_claiming_at_once_send_one_email(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let f = UserBuilder::new("fff6f").insert(&mut conn);
        let at = campus(7, 12, 0);
        for _ in 0..5 {
            let notice = Notice::new(&a.id, Kind::FriendRequest, at).from_user(&f.id);
            db::write_tx(&mut conn, |tx| notes::notify(tx, &notice)).unwrap();
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let mut own = db.connect();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    email::send_immediate(&mut own, &mail(), at + chrono::Duration::seconds(1))
                        .unwrap()
                })
            })
            .collect();
        let sent: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(sent, 5, "each notification claimed by exactly one worker");
        assert_eq!(outbox_to(&mut conn, &a.email), 5);
        let waiting: i64 = notifications::table
            .filter(notifications::emailed_at.is_null())
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(waiting, 0);
    }
);

backend_test!(
    async fn two_digest_passes_at_once_queue_one_digest(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        replies(&mut conn, &class, &a, &b, 5, campus(7, 7, 0));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let passes: Vec<_> = (0..2)
            .map(|_| {
                let mut own = db.connect();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    email::send_digests(&mut own, &mail(), campus(7, 9, 0)).unwrap()
                })
            })
            .collect();
        let queued: usize = passes.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(queued, 1, "the window is claimed by exactly one pass");
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
        let claims: i64 = notification_digests::table
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(claims, 1);
    }
);

fn delivery(conn: &mut DbConn, user: &User, topic: Topic) -> Delivery {
    settings::load(conn, &user.id).unwrap().delivery(topic)
}

backend_test!(
    async fn one_click_unsubscribe_stops_that_topic_for_that_student_only(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let mut conn = app.conn();
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let waiting = replies(&mut conn, &class, &a.user, &b.user, 1, clock::now());
        let secret = app.secret_key.as_bytes();
        let path = email::unsubscribe_path(secret, &a.user.id, &[Topic::Replies]);
        let sig = path.rsplit('/').next().unwrap().to_string();
        let nobody = client();
        let before = |conn: &mut DbConn| {
            (
                delivery(conn, &a.user, Topic::Replies),
                delivery(conn, &a.user, Topic::Friends),
                delivery(conn, &b.user, Topic::Replies),
            )
        };
        let defaults = before(&mut conn);
        assert_eq!(
            defaults,
            (Delivery::Digest, Delivery::Immediate, Delivery::Digest)
        );

        // Forged links change nothing.
        let mut flipped = sig.clone().into_bytes();
        flipped[5] = if flipped[5] == b'a' { b'b' } else { b'a' };
        let tampered = format!(
            "/notifications/unsubscribe/{}/replies/{}",
            a.user.id,
            String::from_utf8(flipped).unwrap()
        );
        let others = format!("/notifications/unsubscribe/{}/replies/{sig}", b.user.id);
        let widened = format!(
            "/notifications/unsubscribe/{}/replies+friends/{sig}",
            a.user.id
        );
        let unknown = format!("/notifications/unsubscribe/{}/everything/{sig}", a.user.id);
        let malformed = format!("/notifications/unsubscribe/not-an-id/replies/{sig}");
        for (forged, status) in [
            (&tampered, 404),
            (&others, 404),
            (&widened, 404),
            (&unknown, 404),
            (&malformed, 400),
        ] {
            let response =
                post_with(&app, &nobody, forged, &[("List-Unsubscribe", "One-Click")]).await;
            assert_eq!(response.status().as_u16(), status, "POST {forged}");
        }
        assert_eq!(
            before(&mut conn),
            defaults,
            "a forged link changed something"
        );

        // The GET page explains and offers a button; it changes nothing.
        let (status, page) = get_with(&app, &nobody, &path).await;
        assert_eq!(status, 200);
        assert!(
            page.contains(&format!("<form method=\"post\" action=\"{path}\"")),
            "{page}"
        );
        assert!(page.contains("replies"), "{page}");
        assert!(!page.contains(&a.user.email), "the page shows no address");
        assert_eq!(before(&mut conn), defaults, "GET changed something");

        // RFC 8058's POST, with no cookie.
        let response = nobody
            .post(app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("You will no longer get emails about replies"),
            "{page}"
        );
        assert!(page.contains("/account/notifications"), "{page}");
        assert!(!page.contains(&a.user.email) && !page.contains(&a.user.computing_id));
        assert_eq!(
            before(&mut conn),
            (Delivery::Off, Delivery::Immediate, Delivery::Digest)
        );
        // What was waiting for A's digest stops too.
        let row: String = notifications::table
            .find(&waiting[0].1)
            .select(notifications::delivery)
            .first(&mut conn)
            .unwrap();
        assert_eq!(row, "off");
        // Pressing it again is harmless.
        let again = post_with(&app, &nobody, &path, &[]).await;
        assert_eq!(again.status().as_u16(), 200);
    }
);

backend_test!(
    async fn replies_that_came_while_email_was_off_stay_unmailed(backend: Backend) {
        // Arrange: A turned reply emails off; two replies came since.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let mut conn = app.conn();
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        settings::turn_off(&mut conn, &a.user.id, &[Topic::Replies], clock::now()).unwrap();
        let quiet = replies(&mut conn, &class, &a.user, &b.user, 2, clock::now());
        let ids: Vec<NotificationId> = quiet.iter().map(|(_, id)| id.clone()).collect();
        let deliveries = |conn: &mut DbConn| -> Vec<String> {
            notifications::table
                .filter(notifications::id.eq_any(&ids))
                .select(notifications::delivery)
                .load(conn)
                .unwrap()
        };
        assert_eq!(deliveries(&mut conn), vec!["off".to_string(); 2]);

        // Act: A turns reply emails on again, from the settings page.
        let page = "/account/notifications";
        let saved = a
            .post(
                &app,
                page,
                page,
                &[
                    ("replies", "immediate"),
                    ("answers", "digest"),
                    ("friends", "immediate"),
                    ("moderation", "immediate"),
                    ("digest_hour", "17"),
                ],
            )
            .await;
        assert_eq!(saved.status().as_u16(), 303);

        // Assert: the choice holds for what comes next; what came while it
        // was off stays in the inbox only, and nothing is queued to send.
        let choices = settings::load(&mut conn, &a.user.id).unwrap();
        assert_eq!(choices.delivery(Topic::Replies), Delivery::Immediate);
        assert_eq!(deliveries(&mut conn), vec!["off".to_string(); 2]);
        let later = clock::now() + chrono::Duration::minutes(10);
        let queued = email::run_once(&mut conn, &mail(), later).unwrap();
        assert_eq!(queued.immediate, 0, "{queued:?}");
        assert_eq!(outbox_to(&mut conn, &a.user.email), 0);
    }
);

backend_test!(
    async fn the_settings_page_saves_choices_and_hour_and_moves_waiting_rows(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let mut conn = app.conn();
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let waiting = replies(&mut conn, &class, &a.user, &b.user, 2, clock::now());

        let (status, account) = a.get(&app, "/account").await;
        assert_eq!(status, 200);
        assert!(account.contains("href=\"/account/notifications\""));

        let page = "/account/notifications";
        let (status, html) = a.get(&app, page).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Replies to you and in threads you follow"),
            "{html}"
        );
        assert!(
            html.contains("name=\"replies\" value=\"digest\" checked"),
            "replies default to the digest: {html}"
        );
        assert!(
            html.contains("name=\"friends\" value=\"immediate\" checked"),
            "{html}"
        );
        assert!(
            html.contains("<option value=\"17\" selected>5 PM</option>"),
            "{html}"
        );

        let (status, saved) = a
            .post_and_follow(
                &app,
                page,
                page,
                &[
                    ("replies", "immediate"),
                    ("answers", "digest"),
                    ("friends", "off"),
                    ("moderation", "immediate"),
                    ("digest_hour", "8"),
                ],
            )
            .await;
        assert_eq!(status, 200);
        assert!(saved.contains("Saved"), "{saved}");
        assert!(
            saved.contains("name=\"replies\" value=\"immediate\" checked"),
            "{saved}"
        );
        assert!(
            saved.contains("<option value=\"8\" selected>8 AM</option>"),
            "{saved}"
        );
        let choices = settings::load(&mut conn, &a.user.id).unwrap();
        assert_eq!(choices.delivery(Topic::Replies), Delivery::Immediate);
        assert_eq!(choices.delivery(Topic::Friends), Delivery::Off);
        assert_eq!(choices.digest_hour.get(), 8);
        // B's choices are B's own.
        assert_eq!(
            delivery(&mut conn, &b.user, Topic::Friends),
            Delivery::Immediate
        );
        // A's waiting replies follow the change.
        let rows: Vec<String> = notifications::table
            .filter(
                notifications::id
                    .eq_any(waiting.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>()),
            )
            .select(notifications::delivery)
            .load(&mut conn)
            .unwrap();
        assert_eq!(rows, vec!["immediate".to_string(); 2]);

        // Bad values are a clear 400 and change nothing.
        for bad in [
            [("replies", "sometimes"), ("digest_hour", "8")],
            [("replies", "off"), ("digest_hour", "25")],
        ] {
            let mut fields = vec![
                ("answers", "digest"),
                ("friends", "immediate"),
                ("moderation", "immediate"),
            ];
            fields.extend_from_slice(&bad);
            let response = a.post(&app, page, page, &fields).await;
            assert_eq!(response.status().as_u16(), 400);
            let body = response.text().await.unwrap();
            assert!(body.contains("Pick") || body.contains("Choose"), "{body}");
        }
        let unchanged = settings::load(&mut conn, &a.user.id).unwrap();
        assert_eq!(unchanged, choices);

        // Without the session's token: refused.
        let forged = a
            .client
            .post(app.url(page))
            .form(&[
                ("csrf_token", "nope"),
                ("replies", "off"),
                ("answers", "off"),
                ("friends", "off"),
                ("moderation", "off"),
                ("digest_hour", "3"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        assert_eq!(settings::load(&mut conn, &a.user.id).unwrap(), choices);
    }
);

async fn page_fits(client: &fantoccini::Client) -> (f64, f64) {
    let measured = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    (measured[0].as_f64().unwrap(), measured[1].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_and_unsubscribe_pages_work_without_script_on_a_phone_and_a_desktop() {
    use fantoccini::Locator;
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let secret = app.secret_key.clone();
    for (width, name) in [(375u32, "phone1"), (1280, "desk1")] {
        let me = app.student(name);
        let path = email::unsubscribe_path(secret.as_bytes(), &me.user.id, &[Topic::Replies]);
        // Layout and axe-core in an ordinary window (axe needs script).
        let looking = browser::open(&driver, &chromium, width, 900).await;
        browser::sign_in(&looking, &app.address, &me.token).await;
        for page in ["/account/notifications", path.as_str()] {
            looking.goto(&app.url(page)).await.unwrap();
            let (scroll, inner) = page_fits(&looking).await;
            assert!(scroll <= inner, "{width}px: {page} scrolls sideways");
            if let Some(found) = browser::axe_findings(&looking).await {
                assert!(found.is_empty(), "{width}px {page}: {found:#?}");
            }
            let label = if page.starts_with("/account") {
                "notification-settings"
            } else {
                "unsubscribe"
            };
            browser::screenshot(&looking, &format!("{label}-{width}")).await;
        }
        looking.close().await.unwrap();
        assert_eq!(
            delivery(&mut app.conn(), &me.user, Topic::Replies),
            Delivery::Digest,
            "looking at the unsubscribe page changes nothing"
        );

        // The forms, with JavaScript off.
        let client = browser::open_without_script(&driver, &chromium, width, 900).await;
        browser::sign_in(&client, &app.address, &me.token).await;
        client
            .goto(&app.url("/account/notifications"))
            .await
            .unwrap();
        client
            .find(Locator::Css("input[name=friends][value=off]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .find(Locator::Css("#digest_hour option[value='7']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .find(Locator::Css(
                "form[action='/account/notifications'] button[type=submit]",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The click returns before the next page has loaded.
        let saved = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//*[@role='status'][contains(., 'Saved')]"))
            .await;
        assert!(
            saved.is_ok(),
            "{width}px: {}",
            client.source().await.unwrap()
        );
        let choices = settings::load(&mut app.conn(), &me.user.id).unwrap();
        assert_eq!(choices.delivery(Topic::Friends), Delivery::Off);
        assert_eq!(choices.digest_hour.get(), 7);
        client.close().await.unwrap();

        // The unsubscribe link, in a browser that never signed in.
        let stranger = browser::open_without_script(&driver, &chromium, width, 900).await;
        stranger.goto(&app.url(&path)).await.unwrap();
        stranger
            .find(Locator::Css("form[method=post] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let done = stranger
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//*[@role='status'][contains(., 'You will no longer get emails about replies')]",
            ))
            .await;
        assert!(
            done.is_ok(),
            "{width}px: {}",
            stranger.source().await.unwrap()
        );
        assert_eq!(
            delivery(&mut app.conn(), &me.user, Topic::Replies),
            Delivery::Off
        );
        stranger.close().await.unwrap();
    }
}

backend_test!(
    async fn a_withdrawn_request_takes_its_waiting_email_with_it(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let f = UserBuilder::new("fff6f").insert(&mut conn);
        let g = UserBuilder::new("ggg7g").insert(&mut conn);
        let at = campus(7, 12, 0);
        for from in [&f, &g] {
            let notice = Notice::new(&a.id, Kind::FriendRequest, at).from_user(&from.id);
            db::write_tx(&mut conn, |tx| notes::notify(tx, &notice)).unwrap();
        }
        let sent =
            email::send_immediate(&mut conn, &mail(), at + chrono::Duration::seconds(1)).unwrap();
        assert_eq!(sent, 2);
        assert_eq!(
            outbox_to(&mut conn, &a.email),
            2,
            "both wait (SMTP is slow)"
        );

        // f withdraws before the worker got to it: its email goes too, g's stays.
        db::write_tx(&mut conn, |tx| {
            common_grounds::notifications::friends::request_withdrawn(tx, &a.id, &f.id)
        })
        .unwrap();
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
        // g's account is erased: nothing naming them is mailed either.
        db::write_tx(&mut conn, |tx| {
            common_grounds::ops::student_data::erase(tx, &g, at)
        })
        .unwrap();
        assert_eq!(outbox_to(&mut conn, &a.email), 0);
    }
);

// Mail not delivered yet (SMTP is down) that quotes a message taken away is
// withdrawn with it: an immediate email when its author deletes it (kept as a
// placeholder under a reply), and a digest when its author is erased.
backend_test!(
    async fn mail_quoting_a_message_gone_is_withdrawn(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let c = UserBuilder::new("ccc3c").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        db::write_tx(&mut conn, |tx| {
            settings::set_delivery(tx, &c.id, Topic::Replies, Delivery::Immediate, clock::now())
        })
        .unwrap();
        replies(&mut conn, &class, &a, &b, 2, campus(7, 7, 0));
        let for_c = replies(&mut conn, &class, &c, &b, 1, campus(7, 7, 30));
        let answered = &for_c[0].0;
        MessageBuilder::new(&class.id, &a.id, "Violet Heron", "Thanks, that helps")
            .reply_to(answered)
            .created_at(campus(7, 7, 40))
            .insert(&mut conn);
        let queued = email::run_once(&mut conn, &mail(), campus(7, 9, 0)).unwrap();
        assert_eq!(queued.digests, 1, "{queued:?}");
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
        assert_eq!(outbox_to(&mut conn, &c.email), 1);

        // b deletes the reply to c: it stays as "[deleted]" under a's reply,
        // and c's email quoting it goes.
        common_grounds::chat::delete(&mut conn, &b.id, &answered.id, campus(7, 9, 5), |_, _| {
            Ok(0)
        })
        .unwrap();
        assert_eq!(outbox_to(&mut conn, &c.email), 0);
        // b is erased: a's digest quoting b's replies goes.
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
        db::write_tx(&mut conn, |tx| {
            common_grounds::ops::student_data::erase(tx, &b, campus(7, 9, 10))
        })
        .unwrap();
        assert_eq!(outbox_to(&mut conn, &a.email), 0);
        let bodies: Vec<String> = email_outbox::table
            .select(email_outbox::body_text)
            .load(&mut conn)
            .unwrap();
        assert!(!bodies.iter().any(|b| b.contains("says yes")), "{bodies:?}");
    }
);

// A digest withdrawn for one message it quoted goes again without it: the
// other notices it listed are not lost with it.
backend_test!(
    async fn a_digest_withdrawn_for_one_message_goes_again_without_it(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        let for_a = replies(&mut conn, &class, &a, &b, 2, campus(7, 7, 0));
        let first = email::run_once(&mut conn, &mail(), campus(7, 9, 0)).unwrap();
        assert_eq!(first.digests, 1, "{first:?}");

        common_grounds::chat::delete(&mut conn, &b.id, &for_a[0].0.id, campus(7, 9, 5), |_, _| {
            Ok(0)
        })
        .unwrap();
        assert_eq!(
            outbox_to(&mut conn, &a.email),
            0,
            "the digest quoting it goes"
        );
        let again = email::run_once(&mut conn, &mail(), campus(7, 9, 10)).unwrap();

        assert_eq!(again.digests, 1, "{again:?}");
        let bodies: Vec<String> = email_outbox::table
            .filter(email_outbox::to_address.eq(&a.email))
            .select(email_outbox::body_text)
            .load(&mut conn)
            .unwrap();
        assert_eq!(bodies.len(), 1);
        assert!(
            bodies[0].contains("Reply number 2 says yes"),
            "{}",
            bodies[0]
        );
        assert!(!bodies[0].contains("Reply number 1"), "{}", bodies[0]);
    }
);

// A digest the outbox worker is handing to the relay right now goes out
// anyway: its claim stays, so the notices it lists are not mailed twice.
backend_test!(
    async fn a_digest_being_sent_keeps_its_claim(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        set_hour(&mut conn, &a, 9);
        let for_a = replies(&mut conn, &class, &a, &b, 2, campus(7, 7, 0));
        let first = email::run_once(&mut conn, &mail(), campus(7, 9, 0)).unwrap();
        assert_eq!(first.digests, 1, "{first:?}");
        let leased = outbox::claim_next(&mut conn, campus(7, 9, 1))
            .unwrap()
            .expect("the digest is claimed for sending");

        common_grounds::chat::delete(&mut conn, &b.id, &for_a[0].0.id, campus(7, 9, 2), |_, _| {
            Ok(0)
        })
        .unwrap();
        outbox::mark_sent(&mut conn, &leased, campus(7, 9, 3)).unwrap();
        let again = email::run_once(&mut conn, &mail(), campus(7, 9, 10)).unwrap();

        assert_eq!(again.digests, 0, "mailed twice: {again:?}");
        assert_eq!(outbox_to(&mut conn, &a.email), 1);
    }
);

/// PostgreSQL: the worker claims a notice and renders its email from the
/// message as it is, while its author deletes the message. The delete's
/// withdrawal, reading before the worker committed, found no email to take
/// back, and the deleted text was mailed.
#[tokio::test]
async fn a_delete_racing_the_worker_still_withdraws_its_email() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::with_schema(Backend::Postgres);
    let mut conn = db.connect();
    let b = UserBuilder::new("bbb2b").insert(&mut conn);
    let c = UserBuilder::new("ccc3c").insert(&mut conn);
    let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
    db::write_tx(&mut conn, |tx| {
        settings::set_delivery(tx, &c.id, Topic::Replies, Delivery::Immediate, clock::now())
    })
    .unwrap();
    let for_c = replies(&mut conn, &class, &c, &b, 1, campus(7, 7, 30));
    let answered = for_c[0].0.clone();
    // A reply under it keeps it, deleted, as a placeholder with its notices.
    MessageBuilder::new(&class.id, &c.id, "Violet Heron", "Thanks")
        .reply_to(&answered)
        .created_at(campus(7, 7, 40))
        .insert(&mut conn);
    let waiting = |conn: &mut DbConn| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_stat_activity \
              WHERE wait_event_type = 'Lock' AND datname = current_database())",
        ))
        .get_result(conn)
        .unwrap()
    };
    let until = |conn: &mut DbConn, n: i64| {
        let started = std::time::Instant::now();
        while waiting(conn) < n && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        waiting(conn)
    };
    // The outbox is held, so the worker stops between its claim and its insert.
    let mut gate = db.connect();
    gate.batch_execute("BEGIN; LOCK TABLE email_outbox IN SHARE ROW EXCLUSIVE MODE")
        .unwrap();
    let mut worker_conn = db.connect();
    let worker = tokio::task::spawn_blocking(move || {
        email::send_immediate(&mut worker_conn, &mail(), campus(7, 9, 0)).unwrap()
    });
    assert_eq!(until(&mut conn, 1), 1, "the worker waits at the outbox");
    let mut author_conn = db.connect();
    let (author, message) = (b.id.clone(), answered.id.clone());
    let delete = tokio::task::spawn_blocking(move || {
        common_grounds::chat::delete(
            &mut author_conn,
            &author,
            &message,
            campus(7, 9, 5),
            |_, _| Ok(0),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
    assert_eq!(
        until(&mut conn, 2),
        2,
        "the delete waits on the claimed notice"
    );
    gate.batch_execute("COMMIT").unwrap();

    assert_eq!(worker.await.unwrap(), 1);
    assert_eq!(delete.await.unwrap(), Ok(()));
    assert_eq!(
        outbox_to(&mut conn, &c.email),
        0,
        "the deleted text was mailed"
    );
}

backend_test!(
    async fn a_digest_lists_the_newest_fifty_and_counts_the_rest(backend: Backend) {
        // Arrange: 55 replies waiting at the 5 PM digest.
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let a = UserBuilder::new("aaa1a").insert(&mut conn);
        let b = UserBuilder::new("bbb2b").insert(&mut conn);
        let class = crate::common::seed::class(&mut conn, "CS 2100", "1262");
        let waiting = replies(&mut conn, &class, &a, &b, 55, campus(7, 9, 0));

        // Act
        let pass = email::run_once(&mut conn, &mail(), campus(7, 17, 0)).unwrap();

        // Assert: one digest, its subject counts all 55, its body lists the
        // newest 50 (replies 6 to 55) and links the inbox for the other 5.
        assert_eq!(pass.digests, 1);
        let (subject, text, html): (String, String, String) = email_outbox::table
            .filter(email_outbox::to_address.eq(&a.email))
            .select((
                email_outbox::subject,
                email_outbox::body_text,
                email_outbox::body_html,
            ))
            .first(&mut conn)
            .unwrap();
        assert_eq!(subject, "Your Common Grounds digest: 55 new");
        for (i, (_, id)) in waiting.iter().enumerate() {
            let link = format!("/notifications/{id}");
            let listed = i >= 5;
            assert_eq!(text.contains(&link), listed, "reply {} in {text}", i + 1);
            assert_eq!(html.contains(&link), listed, "reply {} in {html}", i + 1);
        }
        assert!(
            text.contains("And 5 more in your inbox: http://cg.test/notifications"),
            "{text}"
        );
        assert!(text.contains("50. "), "{text}");
        assert!(!text.contains("51. "), "{text}");
        // Every notice is stamped by this digest: none waits for tomorrow's.
        let unstamped: i64 = notifications::table
            .filter(notifications::user_id.eq(&a.id))
            .filter(notifications::digest_id.is_null())
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(unstamped, 0);
    }
);

backend_test!(
    async fn a_rotated_key_keeps_open_forms_and_sent_links_working(backend: Backend) {
        const OLD: &str = SECRET;
        const NEW: &str = "a-new-secret-key-after-a-rotation-9876543210fedcba";
        // Arrange: a page open with a form, and an email's unsubscribe link,
        // both signed with the old key.
        let app = spawn_quiet_app(backend, &[]).await;
        assert_eq!(app.secret_key, OLD);
        let a = app.student("aaa1a");
        let (_, page) = a.get(&app, "/notifications").await;
        let csrf = csrf_in(&page).unwrap();
        let link = email::unsubscribe_path(OLD.as_bytes(), &a.user.id, &[Topic::Replies]);
        let db = app.stop().await;
        let press = |app: &TestApp| {
            app.client_with_session(&a.token)
                .post(app.url("/notifications/read"))
                .form(&[("csrf_token", csrf.as_str())])
                .send()
        };

        // Act + Assert: the new key signs, the old one is still accepted.
        let rotated = [("SECRET_KEY", NEW), ("SECRET_KEY_PREVIOUS", OLD)];
        let app = spawn_app_opts(db, TestMail::Memory, &rotated, false).await;
        assert_eq!(press(&app).await.unwrap().status().as_u16(), 303);
        let (status, _) = app.get_html(&link).await;
        assert_eq!(status, 200, "the link in sent mail still works");
        let (_, fresh) = a.get(&app, "/notifications").await;
        assert_ne!(
            csrf_in(&fresh).unwrap(),
            csrf,
            "new forms carry the new key's token"
        );
        let db = app.stop().await;

        // Once the old key is dropped, what it signed is refused.
        let app = spawn_app_opts(db, TestMail::Memory, &[("SECRET_KEY", NEW)], false).await;
        assert_eq!(press(&app).await.unwrap().status().as_u16(), 403);
        let (status, _) = app.get_html(&link).await;
        assert_eq!(status, 404);
    }
);
