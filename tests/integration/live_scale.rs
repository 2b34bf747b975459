//! Live events across app processes (PostgreSQL only): the real binary started
//! twice on one database, a post through one reaching a stream on the other,
//! the other's listening connection killed and coming back by itself, and a
//! sign-out or a class left through one ending streams on the other at once.

use std::time::Duration;

use common_grounds::classes::ClassId;
use diesel::prelude::*;

use super::live_stream::{let_post_again, session_client};
use crate::common::served::Served;
use crate::common::sse::EventStream;
use crate::common::*;

/// A student of the test's class: a session token and a client for one process.
struct Seat {
    token: String,
}

/// CS 3120 with a signed-in student of each computing ID.
fn class_with_students<const N: usize>(
    db: &TestDb,
    computing_ids: [&str; N],
) -> (ClassId, [Seat; N]) {
    let mut conn = db.connect();
    let now = common_grounds::clock::now();
    let class = seed::class(&mut conn, "CS 3120", "1262");
    let seats = computing_ids.map(|computing_id| {
        let user = builders::UserBuilder::new(computing_id).insert(&mut conn);
        seed::enroll(&mut conn, &user, &class);
        let session =
            common_grounds::accounts::sessions::create(&mut conn, &user.id, Some("test"), now)
                .unwrap();
        Seat {
            token: session.token,
        }
    });
    (class.id, seats)
}

/// The real binary serving the database twice, both ready.
async fn two_processes(db: &TestDb) -> (Served, Served) {
    let mut one = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    let mut two = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    one.ready().await;
    two.ready().await;
    (one, two)
}

/// The page at `path` through `served`, as `seat`.
async fn page_through(served: &Served, seat: &Seat, path: &str) -> String {
    session_client(&served.url("/"), &seat.token)
        .get(served.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Submits the form of `page` to `action` through `served`, as `seat`, with
/// the page's form token and `fields`; the answer's status.
async fn submit_through(
    served: &Served,
    seat: &Seat,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> u16 {
    let client = session_client(&served.url("/"), &seat.token);
    let page = page_through(served, seat, page).await;
    let csrf = csrf_in(&page).expect("a form token on the page");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(served.url(action))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts `text` as a new thread through `served`, as the compose form does.
async fn post_through(db: &TestDb, served: &Served, seat: &Seat, class: &ClassId, text: &str) {
    let status = submit_through(
        served,
        seat,
        &format!("/classes/{class}"),
        &format!("/classes/{class}/messages"),
        // Past "maybe already answered" (tests/integration/chat_search.rs covers it).
        &[("content", text), ("confirmed", "1")],
    )
    .await;
    assert_eq!(status, 303, "posting {text:?}");
    let_post_again(&mut db.connect());
}

/// Whether a frame holding `text` arrives within `wait`.
async fn arrives(stream: &mut EventStream, text: &str, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(frame) = stream.next_frame_by(deadline).await {
        if frame.data.contains(text) {
            return true;
        }
    }
    false
}

/// Backend ids of the listening connection of the process `pid`.
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
async fn a_post_through_one_process_reaches_a_stream_on_another_even_after_its_listener_is_killed()
{
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let db = TestDb::with_schema(Backend::Postgres);
    let (class, [a, b]) = class_with_students(&db, ["aaa1a", "bbb2b"]);
    let (one, two) = two_processes(&db).await;

    let b_on_two = session_client(&two.url("/"), &b.token);
    let mut stream = EventStream::open(
        &b_on_two,
        &two.url(&format!("/classes/{class}/events")),
        None,
    )
    .await;
    assert_eq!(stream.status(), 200);
    post_through(&db, &one, &a, &class, "Posted on process one").await;
    assert!(
        arrives(&mut stream, "Posted on process one", Duration::from_secs(5)).await,
        "process two's stream did not get process one's post within 5 s"
    );

    // Kill PostgreSQL's side of process two's listening connection.
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    let killed = listeners(&mut admin, two.pid());
    assert_eq!(killed.len(), 1, "process two listens on one connection");
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<diesel::sql_types::Integer, _>(killed[0])
        .execute(&mut admin)
        .unwrap();
    // Posted while process two may not be listening: it arrives, live or by catching up.
    post_through(&db, &one, &a, &class, "Posted while two was deaf").await;
    assert!(
        arrives(
            &mut stream,
            "Posted while two was deaf",
            Duration::from_secs(10)
        )
        .await,
        "the post made during the reconnect never reached the stream: {}",
        two.stderr()
    );
    // It noticed, and said so in its log.
    let noticed = "the listening connection broke; reconnecting";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !format!("{}{}", two.stdout(), two.stderr()).contains(noticed) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "process two did not log the broken connection: {}{}",
            two.stdout(),
            two.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Process two listens again, on a new connection, by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now_listening = listeners(&mut admin, two.pid());
        if now_listening.len() == 1 && now_listening[0] != killed[0] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "process two did not listen again: {}",
            two.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    post_through(&db, &one, &a, &class, "Posted after it came back").await;
    assert!(
        arrives(
            &mut stream,
            "Posted after it came back",
            Duration::from_secs(5)
        )
        .await
    );
    one.stop();
    two.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_or_leaving_through_one_process_ends_streams_on_another_at_once() {
    if postgres_admin_url().is_none() {
        return;
    }
    // Arrange: B reads the class live, and the nav's count, on a phone served
    // by process two; B's laptop is served by process one.
    let db = TestDb::with_schema(Backend::Postgres);
    let (laptop, phone, class) = {
        let mut conn = db.connect();
        let now = common_grounds::clock::now();
        let class = seed::class(&mut conn, "CS 3120", "1262");
        let b = builders::UserBuilder::new("bbb2b").insert(&mut conn);
        seed::enroll(&mut conn, &b, &class);
        let mut seat = |device: &str| Seat {
            token: common_grounds::accounts::sessions::create(&mut conn, &b.id, Some(device), now)
                .unwrap()
                .token,
        };
        (seat("laptop"), seat("phone"), class.id)
    };
    let mut one = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    let mut two = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
    one.ready().await;
    two.ready().await;
    let events = format!("/classes/{class}/events");
    let phone_on_two = session_client(&two.url("/"), &phone.token);
    let mut class_stream = EventStream::open(&phone_on_two, &two.url(&events), None).await;
    let mut count_stream =
        EventStream::open(&phone_on_two, &two.url("/notifications/events"), None).await;
    assert_eq!(class_stream.status(), 200);
    assert_eq!(count_stream.status(), 200);

    // Act: on the laptop, through process one, B signs out every other device.
    let status = submit_through(
        &one,
        &laptop,
        "/account/sessions",
        "/account/sessions/end-others",
        &[],
    )
    .await;

    // Assert: both of the phone's streams on process two end within seconds,
    // not at their minute's check.
    assert_eq!(status, 303);
    assert!(
        class_stream.ended_within(Duration::from_secs(5)).await,
        "the phone's class stream on process two went on"
    );
    assert!(
        count_stream.ended_within(Duration::from_secs(5)).await,
        "the phone's count stream on process two went on"
    );

    // Arrange: the laptop reads the class on process two.
    let laptop_on_two = session_client(&two.url("/"), &laptop.token);
    let mut class_stream = EventStream::open(&laptop_on_two, &two.url(&events), None).await;
    assert_eq!(class_stream.status(), 200);

    // Act: B leaves the class through process one.
    let leave = format!("/classes/{class}/leave");
    let status = submit_through(&one, &laptop, &format!("/classes/{class}"), &leave, &[]).await;

    // Assert: the stream on process two ends within seconds.
    assert_eq!(status, 303);
    assert!(
        class_stream.ended_within(Duration::from_secs(5)).await,
        "the stream on process two of a class left went on"
    );
    one.stop();
    two.stop();
}

/// The "how anonymous am I?" note on a page: its text, spaces folded.
async fn anonymity_note(served: &Served, seat: &Seat, path: &str) -> String {
    let page = page_through(served, seat, path).await;
    let doc = scraper::Html::parse_document(&page);
    let note = scraper::Selector::parse(".anonymity").unwrap();
    let text = doc
        .select(&note)
        .next()
        .map(|n| n.text().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_through_one_process_moves_the_count_of_recent_posters_on_another_at_once() {
    if postgres_admin_url().is_none() {
        return;
    }
    // Arrange: V reads the class on process two, which holds its count of
    // recent posters (none) while the class is quiet.
    let db = TestDb::with_schema(Backend::Postgres);
    let (class, [author, viewer]) = class_with_students(&db, ["aaa1a", "vvv2v"]);
    let (one, two) = two_processes(&db).await;
    let path = format!("/classes/{class}");
    let before = anonymity_note(&two, &viewer, &path).await;
    assert!(before.contains("No one else has posted"), "{before}");

    // Act: A posts through process one.
    post_through(&db, &one, &author, &class, "Posted on process one").await;

    // Assert: process two's next page counts A, within its held minute.
    let after = anonymity_note(&two, &viewer, &path).await;
    assert!(after.contains("one of 2 recent posters"), "{after}");
    one.stop();
    two.stop();
}
