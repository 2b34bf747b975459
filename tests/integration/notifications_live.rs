//! The nav's live unread count (`GET /notifications/events`), read as any HTTP
//! client reads it: the count at once, a new notification raising it within
//! seconds, nothing for anyone else's, no stream for a stranger, its own
//! per-session limit beside the class streams', its end when the app stops,
//! and on PostgreSQL a notification reaching streams on two app processes,
//! also after one of them lost its listening connection.

use std::time::Duration;

use common_grounds::accounts::UserId;
use common_grounds::chat::MessageId;
use common_grounds::classes::ClassId;
use common_grounds::db::schema::users;
use common_grounds::db::{self, DbConn};
use common_grounds::notifications::{self, Kind, Notice};
use diesel::prelude::*;

use super::live_stream::{message_with, post, session_client};
use crate::common::served::Served;
use crate::common::sse::EventStream;
use crate::common::*;

const EVENTS: &str = "/notifications/events";

/// How long a test waits for a count to arrive: generous, because on a busy
/// machine the SQLite poller and the app share two cores with other tests.
/// A count that arrives arrives in well under a second when the machine is idle.
const WAIT: Duration = Duration::from_secs(20);

/// How long a stream is watched to show that nothing arrives.
const QUIET: Duration = Duration::from_millis(1500);

/// Writes a reply notification for `to` about `reply`, as the chat hook does:
/// in a write transaction, through `notifications::notify`.
fn notify_reply(
    conn: &mut DbConn,
    to: &UserId,
    class: &ClassId,
    thread: &MessageId,
    reply: &MessageId,
) {
    let now = common_grounds::clock::now();
    let notice = Notice::new(to, Kind::ThreadReply, now).about_message(class, thread, reply);
    let written = db::write_tx(conn, |tx| notifications::notify(tx, &notice)).unwrap();
    assert!(written, "the notification was written");
}

/// Writes a friend request notification for `to` from `from`.
fn notify_friend_request(conn: &mut DbConn, to: &UserId, from: &UserId) {
    let now = common_grounds::clock::now();
    let notice = Notice::new(to, Kind::FriendRequest, now).from_user(from);
    let written = db::write_tx(conn, |tx| notifications::notify(tx, &notice)).unwrap();
    assert!(written, "the notification was written");
}

/// Reads frames until an `unread` frame carrying `count` arrives (true) or
/// `wait` runs out (false). Frames are read one by one: the server may send
/// intermediate counts, and a client may get frames in any batching.
async fn count_arrives(stream: &mut EventStream, count: i64, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(frame) = stream.next_frame_by(deadline).await {
        assert_eq!(frame.event, "unread", "{frame:?}");
        assert_eq!(frame.id, None, "a count has nothing to replay");
        if frame.data.trim() == count.to_string() {
            return true;
        }
    }
    false
}

backend_test!(
    async fn a_new_notification_raises_its_students_count_and_no_one_elses(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let c = app.student("ccc3c");
        diesel::update(users::table.find(&a.user.id))
            .set(users::display_name.eq("Ada Quietly"))
            .execute(&mut app.conn())
            .unwrap();
        let class = new_class(&app, "CS 3120", &[&a, &b, &c]).id;
        post(&app, &a, &class, "Who has the notes", None).await;
        let thread = message_with(&app, "Who has the notes");
        post(&app, &a, &class, "Found them, page two", Some(&thread)).await;
        let reply = message_with(&app, "Found them, page two");

        let mut for_b = EventStream::open(&b.client, &app.url(EVENTS), None).await;
        assert_eq!(for_b.status(), 200);
        assert!(for_b
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")));
        assert_eq!(for_b.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(for_b.header("x-accel-buffering").as_deref(), Some("no"));
        assert_ne!(for_b.header("content-encoding").as_deref(), Some("gzip"));
        let mut for_c = EventStream::open(&c.client, &app.url(EVENTS), None).await;
        assert_eq!(for_c.status(), 200);
        // The count at once, before anything happens.
        assert!(
            count_arrives(&mut for_b, 0, WAIT).await,
            "B's count 0 at once"
        );
        assert!(
            count_arrives(&mut for_c, 0, WAIT).await,
            "C's count 0 at once"
        );

        // A notification for C reaches C's stream, and nothing reaches B's.
        notify_reply(&mut app.conn(), &c.user.id, &class, &thread, &reply);
        assert!(
            count_arrives(&mut for_c, 1, WAIT).await,
            "C's count did not rise to 1 within {WAIT:?}: {}",
            for_c.raw_text()
        );
        assert_eq!(
            for_b.next_frame(QUIET).await,
            None,
            "C's notification sent B something"
        );

        // B's own notifications raise B's count, each time.
        let started = std::time::Instant::now();
        notify_reply(&mut app.conn(), &b.user.id, &class, &thread, &reply);
        assert!(
            count_arrives(&mut for_b, 1, WAIT).await,
            "B's count did not rise to 1 within {WAIT:?}: {}",
            for_b.raw_text()
        );
        eprintln!(
            "notifications_live ({backend:?}): B's count rose in {} ms",
            started.elapsed().as_millis()
        );
        notify_reply(&mut app.conn(), &b.user.id, &class, &thread, &reply);
        assert!(
            count_arrives(&mut for_b, 2, WAIT).await,
            "B's count did not rise to 2: {}",
            for_b.raw_text()
        );

        // A number, and nothing about who wrote what.
        for raw in [for_b.raw_text(), for_c.raw_text()] {
            for secret in [
                a.user.id.as_str(),
                a.user.email.as_str(),
                a.user.computing_id.as_str(),
                "Ada Quietly",
                thread.as_str(),
                reply.as_str(),
            ] {
                assert!(!raw.contains(secret), "the stream holds {secret:?}: {raw}");
            }
        }
    }
);

// Reading lowers the count on every open tab, not only the page that read:
// from the inbox's "Mark all read" on both backends, and on PostgreSQL also
// when notices are read outside the app's requests (by any process: the
// table's trigger announces it).
backend_test!(
    async fn reading_lowers_the_count_on_every_open_tab(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        post(&app, &a, &class, "Who has the notes", None).await;
        let thread = message_with(&app, "Who has the notes");
        post(&app, &a, &class, "Found them, page two", Some(&thread)).await;
        let reply = message_with(&app, "Found them, page two");
        let mut tabs = Vec::new();
        for _ in 0..2 {
            let mut tab = EventStream::open(&b.client, &app.url(EVENTS), None).await;
            assert_eq!(tab.status(), 200);
            assert!(count_arrives(&mut tab, 0, WAIT).await, "0 at once");
            tabs.push(tab);
        }
        notify_reply(&mut app.conn(), &b.user.id, &class, &thread, &reply);
        for tab in &mut tabs {
            assert!(count_arrives(tab, 1, WAIT).await, "{}", tab.raw_text());
        }

        // Act: "Mark all read" in a third tab.
        let read = b
            .post(&app, "/notifications", "/notifications/read", &[])
            .await;
        assert_eq!(read.status().as_u16(), 303);

        // Assert: both open tabs drop to 0.
        for tab in &mut tabs {
            assert!(
                count_arrives(tab, 0, WAIT).await,
                "the count stayed up: {}",
                tab.raw_text()
            );
        }

        // On PostgreSQL a read made outside this process's requests too.
        if backend == Backend::Postgres {
            notify_reply(&mut app.conn(), &b.user.id, &class, &thread, &reply);
            for tab in &mut tabs {
                assert!(count_arrives(tab, 1, WAIT).await, "{}", tab.raw_text());
            }
            let now = common_grounds::clock::now();
            notifications::inbox::mark_all_read(&mut app.conn(), &b.user.id, None, now).unwrap();
            for tab in &mut tabs {
                assert!(
                    count_arrives(tab, 0, WAIT).await,
                    "a read outside the app's requests left the count up: {}",
                    tab.raw_text()
                );
            }
        }
    }
);

// Answering a friend request reads its notice: the count drops on the
// answerer's open tabs too (on SQLite the request tells the bus itself).
backend_test!(
    async fn answering_a_friend_request_lowers_the_count(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let mut tab = EventStream::open(&b.client, &app.url(EVENTS), None).await;
        assert_eq!(tab.status(), 200);
        assert!(count_arrives(&mut tab, 0, WAIT).await, "0 at once");
        let asked = a
            .post(&app, "/friends", "/friends", &[("who", "bbb2b")])
            .await;
        assert_eq!(asked.status().as_u16(), 303);
        assert!(count_arrives(&mut tab, 1, WAIT).await, "{}", tab.raw_text());

        let accepted = b.post(&app, "/friends", "/friends/aaa1a/accept", &[]).await;
        assert_eq!(accepted.status().as_u16(), 303);

        assert!(
            count_arrives(&mut tab, 0, WAIT).await,
            "the count stayed up: {}",
            tab.raw_text()
        );
    }
);

backend_test!(
    async fn a_stranger_is_sent_to_sign_in_not_given_a_stream(backend: Backend) {
        let app = spawn_app(backend).await;
        let stranger = EventStream::open(&client(), &app.url(EVENTS), None).await;
        assert_eq!(stranger.status(), 303);
        assert!(
            stranger
                .header("location")
                .is_some_and(|l| l.starts_with("/login")),
            "{:?}",
            stranger.header("location")
        );
        assert!(!stranger
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")));
    }
);

backend_test!(
    async fn a_session_keeps_its_class_streams_beside_its_nav_count_streams(backend: Backend) {
        let app = spawn_app(backend).await;
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&b]).id;
        let class_events = app.url(&format!("/classes/{class}/events"));
        let mut open = Vec::new();
        // Two tabs on class pages: a class stream and a count stream each,
        // then two more of each; none crowds the other out.
        for _ in 0..4 {
            for url in [&class_events, &app.url(EVENTS)] {
                let stream = EventStream::open(&b.client, url, None).await;
                assert_eq!(stream.status(), 200, "{url}");
                open.push(stream);
            }
        }
        let fifth = EventStream::open(&b.client, &app.url(EVENTS), None).await;
        assert_eq!(fifth.status(), 429, "a fifth count stream of one session");
        let (_, metrics) = app.get_html("/metrics").await;
        assert!(
            metrics.lines().any(|l| l == "cg_live_streams_open 8"),
            "{metrics}"
        );
    }
);

backend_test!(
    async fn a_count_stream_ends_when_the_app_stops(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let token = {
            let mut conn = db.connect();
            let now = common_grounds::clock::now();
            let user = builders::UserBuilder::new("bbb2b").insert(&mut conn);
            common_grounds::accounts::sessions::create(&mut conn, &user.id, Some("test"), now)
                .unwrap()
                .token
        };
        let mut served = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
        served.ready().await;
        let client = session_client(&served.url("/"), &token);
        let mut stream = EventStream::open(&client, &served.url(EVENTS), None).await;
        assert_eq!(stream.status(), 200);
        assert!(count_arrives(&mut stream, 0, WAIT).await);

        let started = std::time::Instant::now();
        let stopping = tokio::task::spawn_blocking(move || served.stop());
        assert!(
            stream.ended_within(Duration::from_secs(5)).await,
            "the count stream was still open 5 s after SIGTERM"
        );
        let (_, stderr) = stopping.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "stopping took {:?}: {stderr}",
            started.elapsed()
        );
    }
);

/// A process's listening connection(s), by the name it gives them.
fn listeners(admin: &mut PgConnection, pid: u32) -> Vec<i32> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    diesel::sql_query("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
        .bind::<diesel::sql_types::Text, _>(format!("cg-live-listener-{pid}"))
        .load::<Row>(admin)
        .unwrap()
        .into_iter()
        .map(|r| r.pid)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_notification_reaches_streams_on_every_process_even_after_a_lost_listener() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let db = TestDb::with_schema(Backend::Postgres);
    let (a, b, token) = {
        let mut conn = db.connect();
        let now = common_grounds::clock::now();
        let class = seed::class(&mut conn, "CS 3120", "1262");
        let a = builders::UserBuilder::new("aaa1a").insert(&mut conn);
        let b = builders::UserBuilder::new("bbb2b").insert(&mut conn);
        seed::enroll(&mut conn, &a, &class);
        seed::enroll(&mut conn, &b, &class);
        let session =
            common_grounds::accounts::sessions::create(&mut conn, &b.id, Some("test"), now)
                .unwrap();
        (a.id, b.id, session.token)
    };
    let mut one = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    let mut two = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    one.ready().await;
    two.ready().await;
    let mut on_one = EventStream::open(
        &session_client(&one.url("/"), &token),
        &one.url(EVENTS),
        None,
    )
    .await;
    let mut on_two = EventStream::open(
        &session_client(&two.url("/"), &token),
        &two.url(EVENTS),
        None,
    )
    .await;
    assert_eq!((on_one.status(), on_two.status()), (200, 200));
    assert!(count_arrives(&mut on_one, 0, WAIT).await);
    assert!(count_arrives(&mut on_two, 0, WAIT).await);

    // Written on a connection of neither process: both hear of it at commit.
    notify_friend_request(&mut db.connect(), &b, &a);
    for (name, stream) in [("one", &mut on_one), ("two", &mut on_two)] {
        assert!(
            count_arrives(stream, 1, Duration::from_secs(5)).await,
            "process {name}'s stream did not get the count within 5 s: {}",
            stream.raw_text()
        );
    }

    // Process two loses its listening connection; a notification written
    // meanwhile still reaches its stream, live or by the count read again
    // once it listens anew.
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    let killed = listeners(&mut admin, two.pid());
    assert_eq!(killed.len(), 1, "process two listens on one connection");
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<diesel::sql_types::Integer, _>(killed[0])
        .execute(&mut admin)
        .unwrap();
    notify_friend_request(&mut db.connect(), &b, &a);
    assert!(
        count_arrives(&mut on_two, 2, Duration::from_secs(15)).await,
        "process two's stream never got the count written while it was deaf: {}",
        two.stderr()
    );
    assert!(count_arrives(&mut on_one, 2, Duration::from_secs(5)).await);
    drop((one, two));
}
