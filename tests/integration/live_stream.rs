//! The live event stream of a class chat (`GET /classes/{id}/events`), read as
//! any HTTP client reads it: what a classmate's post sends, what a reconnect
//! replays, who may listen, and what the bytes never hold.

use std::time::Duration;

use common_grounds::accounts::Role;
use common_grounds::chat::MessageId;
use common_grounds::classes::ClassId;
use common_grounds::db::schema::{class_messages, users};
use diesel::prelude::*;

use crate::common::served::Served;
use crate::common::sse::{EventStream, Frame};
use crate::common::*;

/// The longest most tests wait for an event to arrive.
const WAIT: Duration = Duration::from_secs(5);

/// The wait for a run of events written back to back: under the full suite
/// the SQLite poller and the app share two cores with a dozen other tests,
/// and the last events can come seconds after the first. Frames are still
/// read one by one until all arrived; an idle machine takes well under 1 s.
const LONG_WAIT: Duration = Duration::from_secs(30);

/// Runs `script` in the page every 100 ms until it returns something other
/// than null, for up to 10 s: what a live update changed. Panics with
/// `what` when nothing came.
async fn until_shown(
    client: &fantoccini::Client,
    script: &str,
    args: Vec<serde_json::Value>,
    what: &str,
) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let seen = client.execute(script, args.clone()).await.unwrap();
        if !seen.is_null() {
            return seen;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events_path(class: &ClassId) -> String {
    format!("/classes/{class}/events")
}

/// Posts in the class chat through HTTP, as the compose or reply form does.
pub async fn post(
    app: &TestApp,
    who: &Student,
    class: &ClassId,
    text: &str,
    parent: Option<&MessageId>,
) {
    // Past "maybe already answered" (tests/integration/chat_search.rs covers it).
    let mut fields = vec![
        ("content", text.to_string()),
        ("confirmed", "1".to_string()),
    ];
    if let Some(parent) = parent {
        fields.push(("parent_id", parent.to_string()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = who
        .post(
            app,
            &format!("/classes/{class}"),
            &format!("/classes/{class}/messages"),
            &fields,
        )
        .await;
    assert_eq!(response.status().as_u16(), 303, "posting {text:?}");
    let mut conn = app.conn();
    let_post_again(&mut conn);
}

/// Forgets the one-post-per-5-s limit's hits, so a test posts twice in a row
/// without waiting (what is tested is the stream, not the limit).
pub fn let_post_again(conn: &mut common_grounds::db::DbConn) {
    use common_grounds::db::schema::rate_limit_hits;
    diesel::delete(
        rate_limit_hits::table.filter(rate_limit_hits::bucket.like("chat-post-burst:%")),
    )
    .execute(conn)
    .unwrap();
}

/// The id of the class's message with exactly this text.
pub fn message_with(app: &TestApp, text: &str) -> MessageId {
    class_messages::table
        .filter(class_messages::content.eq(text))
        .select(class_messages::id)
        .first(&mut app.conn())
        .unwrap()
}

/// Fails if `text` holds any of these students' id, address or computing ID.
pub fn assert_names_no_one(text: &str, who: &[&Student]) {
    for student in who {
        for secret in [
            student.user.id.as_str(),
            student.user.email.as_str(),
            student.user.computing_id.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
}

/// The html of the frame about `id` among (message, html) pairs.
fn html_in(frames: &[(String, String)], id: &MessageId) -> String {
    frames
        .iter()
        .find(|(m, _)| m == id.as_str())
        .map(|(_, html)| html.clone())
        .unwrap_or_else(|| panic!("no frame for {id}: {frames:?}"))
}

fn data_of(frame: &Frame) -> serde_json::Value {
    serde_json::from_str(&frame.data).unwrap_or_else(|e| panic!("{e}: {}", frame.data))
}

backend_test!(
    async fn a_reply_arrives_live_and_a_reconnect_replays_the_rest(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        post(&app, &a, &class, "Does anyone have the notes", None).await;
        let thread = message_with(&app, "Does anyone have the notes");

        let mut stream = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;
        assert_eq!(stream.status(), 200);
        assert!(stream
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")));
        assert_eq!(stream.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(stream.header("x-accel-buffering").as_deref(), Some("no"));
        // Asked with gzip, still plain frames as they happen.
        assert_ne!(stream.header("content-encoding").as_deref(), Some("gzip"));

        post(&app, &a, &class, "Yes, on the course site", Some(&thread)).await;
        let frame = stream.next_frame(WAIT).await.expect("the reply within 5 s");
        assert_eq!(frame.event, "reply");
        let data = data_of(&frame);
        assert!(
            data["html"]
                .as_str()
                .unwrap()
                .contains("Yes, on the course site"),
            "{data}"
        );
        assert_eq!(data["new"], true, "A's reply is new to B");
        let seen = frame.id.expect("an id to resume from");
        drop(stream);

        post(&app, &a, &class, "Week three is up", Some(&thread)).await;
        post(&app, &a, &class, "Week four too", Some(&thread)).await;
        let mut stream =
            EventStream::open(&b.client, &app.url(&events_path(&class)), Some(seen)).await;
        assert_eq!(stream.status(), 200);
        let frames = stream.frames(2, WAIT).await;
        let texts: Vec<String> = frames
            .iter()
            .map(|f| data_of(f)["html"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(texts[0].contains("Week three is up"), "{texts:?}");
        assert!(texts[1].contains("Week four too"), "{texts:?}");
        assert!(frames[0].id.unwrap() > seen && frames[1].id.unwrap() > frames[0].id.unwrap());
        // Once each: nothing else follows.
        assert_eq!(stream.next_frame(Duration::from_millis(400)).await, None);
    }
);

backend_test!(
    async fn only_classmates_may_listen_and_the_stream_names_no_author(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let outsider = app.student("ccc3c");
        diesel::update(users::table.find(&a.user.id))
            .set(users::display_name.eq("Ada Quietly"))
            .execute(&mut app.conn())
            .unwrap();
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;

        let refused =
            EventStream::open(&outsider.client, &app.url(&events_path(&class)), None).await;
        assert_eq!(refused.status(), 404);
        let unknown =
            EventStream::open(&b.client, &app.url(&events_path(&ClassId::new())), None).await;
        assert_eq!(unknown.status(), 404);
        let signed_out = EventStream::open(&client(), &app.url(&events_path(&class)), None).await;
        assert!(
            matches!(signed_out.status(), 303 | 401 | 404),
            "{}",
            signed_out.status()
        );

        let mut stream = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;
        let mut own = EventStream::open(&a.client, &app.url(&events_path(&class)), None).await;
        post(&app, &a, &class, "A question about sets", None).await;
        let thread = message_with(&app, "A question about sets");
        post(&app, &a, &class, "And one about maps", Some(&thread)).await;
        let frames = stream.frames(2, WAIT).await;
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(own.frames(2, WAIT).await.len(), 2);
        // A's own stream marks A's messages as theirs; B's never does.
        // Frames are JSON: an attribute's quote arrives escaped.
        let (edit, delete) = ("/edit\\\"", "/delete\\\"");
        let mine = own.raw_text();
        assert!(mine.contains("badge you"), "{mine}");
        assert!(
            mine.contains(edit) && mine.contains(delete),
            "A's own forms: {mine}"
        );
        let raw = stream.raw_text();
        assert!(!raw.contains("badge you"), "{raw}");
        assert!(!raw.contains(edit), "no edit form for B: {raw}");
        assert!(!raw.contains(delete), "no delete form for B: {raw}");
        for secret in [
            a.user.id.as_str(),
            a.user.email.as_str(),
            a.user.computing_id.as_str(),
            "Ada Quietly",
        ] {
            assert!(!raw.contains(secret), "the stream holds {secret:?}: {raw}");
        }
    }
);

backend_test!(
    async fn edits_deletes_hides_and_restores_arrive_only_in_their_class(backend: Backend) {
        let app = spawn_app_with(
            TestDb::with_schema(backend),
            TestMail::Memory,
            &[
                ("FLAG_HIDE_THRESHOLD", "1"),
                ("REPORT_MIN_MEMBERSHIP_HOURS", "0"),
            ],
        )
        .await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let c = app.student("ccc3c");
        let moderator = staff(&app, "mod4m", Role::Moderator);
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        let other = new_class(&app, "CS 2100", &[&c]).id;
        let page = format!("/classes/{class}");

        let mut stream = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;
        let mut elsewhere =
            EventStream::open(&c.client, &app.url(&events_path(&other)), None).await;
        assert_eq!((stream.status(), elsewhere.status()), (200, 200));

        post(&app, &a, &class, "Proofs by induction", None).await;
        let thread = message_with(&app, "Proofs by induction");
        post(&app, &a, &class, "Strong or weak?", Some(&thread)).await;
        let reply = message_with(&app, "Strong or weak?");
        let edited = a
            .post(
                &app,
                &page,
                &format!("/messages/{thread}/edit"),
                &[("content", "Proofs by strong induction")],
            )
            .await;
        assert_eq!(edited.status().as_u16(), 303);
        let reported = b
            .post(&app, &page, &format!("/messages/{thread}/flag"), &[])
            .await;
        assert_eq!(reported.status().as_u16(), 303);
        let now = common_grounds::clock::now();
        common_grounds::moderation::messages::restore(
            &mut app.conn(),
            &moderator.user.id,
            &thread,
            None,
            now,
        )
        .unwrap();
        common_grounds::moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &reply,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now,
        )
        .unwrap();
        post(&app, &a, &class, "Never mind", None).await;
        let gone = message_with(&app, "Never mind");
        let deleted = a
            .post(&app, &page, &format!("/messages/{gone}/delete"), &[])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);

        let frames = stream.frames(8, LONG_WAIT).await;
        let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
        assert_eq!(
            kinds,
            ["thread", "reply", "edit", "hide", "restore", "hide", "thread", "delete"],
            "{frames:?}"
        );
        let ids: Vec<i64> = frames.iter().map(|f| f.id.unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
        // An event shows the message as it is when the event is read (the
        // edit may be read after the hide); once restored, it shows the edit.
        assert!(data_of(&frames[4])["html"]
            .as_str()
            .unwrap()
            .contains("Proofs by strong induction"));
        // A hidden message's text is not sent, to anyone.
        assert!(!data_of(&frames[5])["html"]
            .as_str()
            .unwrap_or_default()
            .contains("Strong or weak?"));
        assert_eq!(elsewhere.next_frame(Duration::from_millis(300)).await, None);
    }
);

backend_test!(
    async fn a_session_may_hold_four_streams_and_metrics_count_them(backend: Backend) {
        let app = spawn_app(backend).await;
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&b]).id;
        let url = app.url(&events_path(&class));
        let mut open = Vec::new();
        for _ in 0..4 {
            let stream = EventStream::open(&b.client, &url, None).await;
            assert_eq!(stream.status(), 200);
            open.push(stream);
        }
        let fifth = EventStream::open(&b.client, &url, None).await;
        assert_eq!(fifth.status(), 429);
        let (_, metrics) = app.get_html("/metrics").await;
        assert!(
            metrics.lines().any(|l| l == "cg_live_streams_open 4"),
            "{metrics}"
        );

        // A closed tab frees its place.
        open.pop();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let again = EventStream::open(&b.client, &url, None).await;
            if again.status() == 200 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the closed stream was not let go"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
);

backend_test!(
    async fn streams_end_when_the_app_stops(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let (token, class) = {
            let mut conn = db.connect();
            let now = common_grounds::clock::now();
            let user = builders::UserBuilder::new("bbb2b").insert(&mut conn);
            let class = seed::class(&mut conn, "CS 3120", "1262");
            seed::enroll(&mut conn, &user, &class);
            let session =
                common_grounds::accounts::sessions::create(&mut conn, &user.id, Some("test"), now)
                    .unwrap();
            (session.token, class.id)
        };
        let mut served = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
        served.ready().await;
        let client = session_client(&served.url("/"), &token);
        let mut stream = EventStream::open(&client, &served.url(&events_path(&class)), None).await;
        assert_eq!(stream.status(), 200);

        let started = std::time::Instant::now();
        let stopping = tokio::task::spawn_blocking(move || served.stop());
        assert!(
            stream.ended_within(Duration::from_secs(5)).await,
            "the stream was still open 5 s after SIGTERM"
        );
        let (_, stderr) = stopping.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "stopping took {:?}: {stderr}",
            started.elapsed()
        );
    }
);

/// A client carrying `token` as its session cookie for `base`.
pub fn session_client(base: &str, token: &str) -> reqwest::Client {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let url: url::Url = base.parse().unwrap();
    jar.add_cookie_str(&format!("cg_session={token}; Path=/"), &url);
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

backend_test!(
    async fn head_on_a_stream_answers_and_frees_the_connection(backend: Backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Arrange: a student of the class, on one raw keep-alive connection.
        let app = spawn_app(backend).await;
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&b]).id;
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        let request = |method: &str, path: &str| {
            format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: cg_session={}\r\n\r\n",
                b.token
            )
        };

        // Act: HEAD on the class's stream, then GET on the same connection.
        socket
            .write_all(request("HEAD", &events_path(&class)).as_bytes())
            .await
            .unwrap();
        socket
            .write_all(request("GET", "/healthz").as_bytes())
            .await
            .unwrap();
        let mut read = Vec::new();
        let answered = tokio::time::timeout(WAIT, async {
            let mut buf = [0u8; 4096];
            while String::from_utf8_lossy(&read)
                .matches("HTTP/1.1 200")
                .count()
                < 2
            {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
        })
        .await;

        // Assert: both answered, the stream's headers first, within 5 s.
        let text = String::from_utf8_lossy(&read).to_string();
        assert!(answered.is_ok(), "the GET after HEAD hung: {text}");
        assert!(text.contains("text/event-stream"), "{text}");
        assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    }
);

backend_test!(
    async fn leaving_or_signing_other_devices_out_ends_open_streams_at_once(backend: Backend) {
        // Arrange: B reads the class live on a laptop and on a phone.
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        let phone_session = common_grounds::accounts::sessions::create(
            &mut app.conn(),
            &b.user.id,
            Some("phone"),
            common_grounds::clock::now(),
        )
        .unwrap();
        let phone = app.client_with_session(&phone_session.token);
        let url = app.url(&events_path(&class));
        let mut on_phone = EventStream::open(&phone, &url, None).await;
        assert_eq!(on_phone.status(), 200);

        // Act: on the laptop, B signs out every other device.
        let ended = b
            .post(
                &app,
                "/account/sessions",
                "/account/sessions/end-others",
                &[],
            )
            .await;

        // Assert: the phone's stream ends within seconds, not at its minute's check.
        assert_eq!(ended.status().as_u16(), 303);
        assert!(
            on_phone.ended_within(WAIT).await,
            "the phone's stream went on"
        );

        // Arrange: the laptop's own stream.
        let mut on_laptop = EventStream::open(&b.client, &url, None).await;
        assert_eq!(on_laptop.status(), 200);

        // Act: B leaves the class; A then posts.
        let leave = format!("/classes/{class}/leave");
        let left = b.post(&app, &leave, &leave, &[]).await;
        assert_eq!(left.status().as_u16(), 303);
        let ended = on_laptop.ended_within(WAIT).await;
        post(&app, &a, &class, "Posted after B left", None).await;

        // Assert: the stream ended, and B was sent nothing A posted.
        assert!(ended, "the stream of a class left went on");
        assert!(!on_laptop.raw_text().contains("Posted after B left"));
    }
);

backend_test!(
    async fn a_suspension_ends_the_students_open_streams_at_once(backend: Backend) {
        // Arrange: B reads the class live, and the nav's count.
        let app = spawn_app(backend).await;
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&b]).id;
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let mut on_class = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;
        let mut on_count =
            EventStream::open(&b.client, &app.url("/notifications/events"), None).await;
        assert_eq!(on_class.status(), 200);
        assert_eq!(on_count.status(), 200);

        // Act: a moderator suspends B for a day (which ends B's sessions).
        let suspended = moderator
            .post(
                &app,
                "/admin/users?q=bbb2b",
                "/admin/users/bbb2b/suspend",
                &[
                    ("length", "day"),
                    ("until", ""),
                    ("reason", "Harassing a classmate in the chat"),
                ],
            )
            .await;

        // Assert: both streams end within seconds, not at their minute's check.
        assert_eq!(suspended.status().as_u16(), 303);
        assert!(
            on_class.ended_within(WAIT).await,
            "the class stream went on"
        );
        assert!(
            on_count.ended_within(WAIT).await,
            "the count stream went on"
        );
    }
);

/// In a browser: a classmate is typing a reply when the message they reply
/// to is edited live. The message changes in place, and the reply form stays
/// open with its text (the live update once replaced the whole message and
/// closed the form, losing what was typed).
#[tokio::test]
async fn a_live_edit_keeps_a_reply_being_typed_in_a_browser() {
    use fantoccini::Locator;
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("lva1a");
    let b = app.student("lvb2b");
    let class = new_class(&app, "CS 2150", &[&a, &b]);
    let class_page = format!("/classes/{}", class.id);
    let posted = a
        .post(
            &app,
            &class_page,
            &format!("{class_page}/messages"),
            &[("content", "Is the quiz on Friday?"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(posted.status().as_u16(), 303);
    let root: String = class_messages::table
        .filter(class_messages::content.eq("Is the quiz on Friday?"))
        .select(class_messages::id)
        .first(&mut app.conn())
        .unwrap();

    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("{class_page}/threads/{root}")))
        .await
        .unwrap();
    let reply_summary = format!("#m-{root} details.msg-action summary");
    client
        .find(Locator::Css(&reply_summary))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let typed = "I think it moved to Monday";
    client
        .find(Locator::Css(&format!("#reply-{root}")))
        .await
        .unwrap()
        .send_keys(typed)
        .await
        .unwrap();

    let edited = a
        .post(
            &app,
            &class_page,
            &format!("/messages/{root}/edit"),
            &[("content", "Is the quiz on Friday or Monday?")],
        )
        .await;
    assert_eq!(edited.status().as_u16(), 303);
    let text_at = format!("#m-{root} .msg-text");
    let started = std::time::Instant::now();
    loop {
        let text = client
            .find(Locator::Css(&text_at))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default();
        if text.contains("or Monday") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the edit did not arrive live: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = client
        .find(Locator::Css(&format!("#reply-{root}")))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        kept.as_deref(),
        Some(typed),
        "the reply being typed was lost"
    );
    let open = client
        .find_all(Locator::Css(&format!("#m-{root} details.msg-action[open]")))
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "the reply form closed");
    // The tab's title follows the question's words, as a reload's would.
    let title = client.title().await.unwrap();
    assert_eq!(
        title,
        "Is the quiz on Friday or Monday? · Thread · CS 2150 · Common Grounds"
    );

    // Cut as the server cuts it, at a word by bytes, in any script. (One
    // edit per 5 s: asked again until the limit lets it through.)
    let started = std::time::Instant::now();
    loop {
        let edited = a
            .post(
                &app,
                &class_page,
                &format!("/messages/{root}/edit"),
                &[("content", "Когда будет экзамен по физике завтра")],
            )
            .await;
        match edited.status().as_u16() {
            303 => break,
            429 if started.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            other => panic!("the second edit answered {other}"),
        }
    }
    let started = std::time::Instant::now();
    loop {
        let title = client.title().await.unwrap();
        if title.starts_with("Когда") {
            assert_eq!(title, "Когда будет… · Thread · CS 2150 · Common Grounds");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the second edit did not reach the title: {title}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, reloaded) = b.get(&app, &format!("{class_page}/threads/{root}")).await;
    assert!(
        reloaded.contains("<title>Когда будет… · Thread · CS 2150 · Common Grounds</title>"),
        "the server's title differs"
    );

    // Its author deletes it (no reply yet): the words leave the title too,
    // and the page says the thread is gone.
    let deleted = a
        .post(&app, &class_page, &format!("/messages/{root}/delete"), &[])
        .await;
    assert_eq!(deleted.status().as_u16(), 303);
    let started = std::time::Instant::now();
    loop {
        let title = client.title().await.unwrap();
        if title == "Thread · CS 2150 · Common Grounds" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the deleted words stayed in the title: {title}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let said = client
        .find(Locator::Css("#thread-gone"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(said.contains("no longer here"), "{said}");
    client.close().await.unwrap();
}

/// On the "Top" order a row's place is its votes: news from the live stream
/// updates rows where they are, and a new thread does not jump above the
/// most-voted ones (it waits for a reload, and the page says so).
#[tokio::test]
async fn the_top_order_keeps_its_order_as_news_arrives_in_a_browser() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    // One post each: a student may post once every few seconds.
    let a = app.student("lta1a");
    let b = app.student("ltb2b");
    let c = app.student("ltc3c");
    let d = app.student("ltd4d");
    let e = app.student("lte5e");
    let class = new_class(&app, "CS 2150", &[&a, &b, &c, &d, &e]);
    let class_page = format!("/classes/{}", class.id);
    let mut ids = Vec::new();
    for (who, text) in [
        (&a, "Which chapters are on the midterm?"),
        (&c, "Is the quiz on Friday?"),
    ] {
        let posted = who
            .post(
                &app,
                &class_page,
                &format!("{class_page}/messages"),
                &[("content", text), ("confirmed", "1")],
            )
            .await;
        assert_eq!(posted.status().as_u16(), 303);
        let id: String = class_messages::table
            .filter(class_messages::content.eq(text))
            .select(class_messages::id)
            .first(&mut app.conn())
            .unwrap();
        ids.push(id);
    }
    // B votes for the older thread, so "Top" lists it first.
    let voted = b
        .post(
            &app,
            &class_page,
            &format!("/messages/{}/vote", ids[0]),
            &[("vote", "up")],
        )
        .await;
    assert_eq!(voted.status().as_u16(), 303);

    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("{class_page}?sort=top")))
        .await
        .unwrap();
    let order = |client: fantoccini::Client| async move {
        let ids = client
            .execute(
                "return Array.from(document.querySelectorAll('ol.thread-list > li'), r => r.id);",
                vec![],
            )
            .await
            .unwrap();
        ids.as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let before = order(client.clone()).await;
    assert_eq!(
        before,
        vec![format!("t-{}", ids[0]), format!("t-{}", ids[1])]
    );

    // D replies to the newer thread and E starts a third: news, not votes.
    let replied = d
        .post(
            &app,
            &class_page,
            &format!("{class_page}/messages"),
            &[("content", "It moved to Monday"), ("parent_id", &ids[1])],
        )
        .await;
    assert_eq!(replied.status().as_u16(), 303);
    let started_thread = e
        .post(
            &app,
            &class_page,
            &format!("{class_page}/messages"),
            &[("content", "Office hours this week?"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(started_thread.status().as_u16(), 303);
    // Read in one script: the rows are replaced live, so an element found
    // in one call may be gone by the next.
    let read = format!(
        "var row = document.getElementById('t-{}'); \
         return [document.querySelector('.live-note').textContent, \
                 row ? row.querySelector('.thread-replies').textContent : ''];",
        ids[1]
    );
    let started = std::time::Instant::now();
    loop {
        let seen = client.execute(&read, vec![]).await.unwrap();
        let note = seen[0].as_str().unwrap_or_default().to_string();
        let replies = seen[1].as_str().unwrap_or_default().to_string();
        if note.contains("Reload to see it") && replies.contains('1') {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the news did not arrive live: {note:?} {replies:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        order(client.clone()).await,
        before,
        "the votes' order stays"
    );
    client.close().await.unwrap();
}

backend_test!(
    async fn an_answer_mark_reaches_the_replies_it_changes_live(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        post(&app, &a, &class, "Is the midterm open book", None).await;
        let thread = message_with(&app, "Is the midterm open book");
        post(&app, &b, &class, "No, closed book", Some(&thread)).await;
        post(&app, &b, &class, "One page of notes", Some(&thread)).await;
        let (first, second) = (
            message_with(&app, "No, closed book"),
            message_with(&app, "One page of notes"),
        );
        let mark = |reply: MessageId| {
            let a = &a;
            let app = &app;
            async move {
                let response = a
                    .post(
                        app,
                        "/",
                        &format!("/messages/{reply}/answer"),
                        &[("mark", "yes")],
                    )
                    .await;
                assert_eq!(response.status().as_u16(), 303);
            }
        };
        // The html each frame carries, by message.
        let frames_by_message = |frames: Vec<Frame>| -> Vec<(String, String)> {
            frames
                .iter()
                .map(|f| {
                    let data = data_of(f);
                    (
                        data["message"].as_str().unwrap_or_default().to_string(),
                        data["html"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        mark(first.clone()).await;
        let mut stream = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;

        // Act: the starter marks the other reply instead.
        mark(second.clone()).await;

        // Assert: B's open page hears of the question, the new answer (now
        // badged) and the old one (badge gone), as a reload would show them.
        let frames = frames_by_message(stream.frames(3, WAIT).await);
        let html_of = |id: &MessageId| html_in(&frames, id);
        assert!(html_of(&second).contains("badge answered"), "{frames:?}");
        // And names no author: neither who asked nor who answered.
        for (_, html) in &frames {
            assert_names_no_one(html, &[&a, &b]);
        }
        assert!(!html_of(&first).contains("badge answered"), "{frames:?}");
        html_of(&thread);

        // The answer's author edits it: the question's "Answer" box, which
        // quotes it, is redrawn with the new words.
        let edited = b
            .post(
                &app,
                "/",
                &format!("/messages/{second}/edit"),
                &[("content", "Two pages of notes, sorry")],
            )
            .await;
        assert_eq!(edited.status().as_u16(), 303);
        // (The long wait only when a frame is late: on a loaded machine.)
        let question = html_in(
            &frames_by_message(stream.frames(2, LONG_WAIT).await),
            &thread,
        );
        assert!(
            question.contains("answer-first") && question.contains("Two pages of notes"),
            "{question}"
        );
        assert_names_no_one(&question, &[&a, &b]);

        // A moderator hides the answer: the box leaves the open pages too,
        // not only the reply.
        let moderator = staff(&app, "mo9d", Role::Moderator);
        let hidden = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{second}/hide"),
                &[("category", "spam")],
            )
            .await;
        assert_eq!(hidden.status().as_u16(), 303);
        let question = html_in(
            &frames_by_message(stream.frames(2, LONG_WAIT).await),
            &thread,
        );
        assert!(!question.contains("Two pages of notes"), "{question}");
        assert_names_no_one(&question, &[&a, &b]);
    }
);

backend_test!(
    async fn a_live_update_keeps_a_report_the_viewer_made(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("aaa1a");
        let b = app.student("bbb2b");
        let class = new_class(&app, "CS 3120", &[&a, &b]).id;
        post(&app, &a, &class, "Notes for week two", None).await;
        let thread = message_with(&app, "Notes for week two");
        // Reports count only from students in the class a while.
        diesel::update(
            common_grounds::db::schema::user_classes::table
                .filter(common_grounds::db::schema::user_classes::user_id.eq(&b.user.id)),
        )
        .set(
            common_grounds::db::schema::user_classes::enrolled_at
                .eq(common_grounds::clock::now() - chrono::Duration::days(3)),
        )
        .execute(&mut app.conn())
        .unwrap();
        let page = format!("/classes/{class}/threads/{thread}");
        let reported = b
            .post(
                &app,
                &page,
                &format!("/messages/{thread}/flag"),
                &[("reason", "off topic")],
            )
            .await;
        assert_eq!(reported.status().as_u16(), 303);
        let mut stream = EventStream::open(&b.client, &app.url(&events_path(&class)), None).await;

        // Act: the author edits it; B's page redraws it live.
        let edited = a
            .post(
                &app,
                &page,
                &format!("/messages/{thread}/edit"),
                &[("content", "Notes for week two and three")],
            )
            .await;
        assert_eq!(edited.status().as_u16(), 303);

        // Assert: still "You reported this message.", no Report button again.
        let frame = stream.next_frame(WAIT).await.expect("the edit within 5 s");
        let html = data_of(&frame)["html"].as_str().unwrap().to_string();
        assert!(html.contains("Notes for week two and three"), "{html}");
        assert!(html.contains("You reported this message."), "{html}");
        assert!(!html.contains("/flag\""), "{html}");
    }
);

/// Past the deepest indent, a reply that arrives live names what it answers,
/// as the page does after a reload.
#[tokio::test]
async fn a_deep_reply_arriving_live_names_what_it_answers_in_a_browser() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("dra1a");
    let b = app.student("drb2b");
    let class = new_class(&app, "CS 2150", &[&a, &b]).id;
    // A chain three replies deep: the thread, then depth 1, 2 and 3.
    post(&app, &a, &class, "Depth zero question", None).await;
    let mut parent = message_with(&app, "Depth zero question");
    let thread = parent.clone();
    for depth in 1..=3 {
        let text = format!("Depth {depth} reply");
        let who = if depth % 2 == 1 { &b } else { &a };
        post(&app, who, &class, &text, Some(&parent)).await;
        parent = message_with(&app, &text);
    }
    let deepest_name: String = class_messages::table
        .find(&parent)
        .select(class_messages::anonymous_identifier)
        .first(&mut app.conn())
        .unwrap();

    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("/classes/{class}/threads/{thread}")))
        .await
        .unwrap();

    // Act: A answers the depth-3 reply while B's page is open.
    post(&app, &a, &class, "Depth four answer", Some(&parent)).await;

    // Assert: it arrives, at depth 4, naming the reply it answers.
    let read = "var items = Array.from(document.querySelectorAll('li.msg-item')); \
                var item = items.find(i => i.textContent.includes('Depth four answer')); \
                if (!item) return null; \
                var note = item.querySelector('.replying-to'); \
                return [item.getAttribute('data-depth'), note ? note.textContent : ''];";
    let seen = until_shown(&client, read, vec![], "the reply did not arrive live").await;
    assert_eq!(seen[0], "4");
    assert_eq!(seen[1], format!("replying to {deepest_name}"));
    // The count says four replies now, and a link leads to the new one.
    let head = client
        .execute(
            "var jump = document.querySelector('.live-jump'); \
             return [document.querySelector('.reply-count').textContent, \
                     jump ? jump.getAttribute('href') : ''];",
            vec![],
        )
        .await
        .unwrap();
    let answer = message_with(&app, "Depth four answer");
    assert_eq!(head[0], "4 replies");
    assert_eq!(head[1], format!("#m-{answer}"));

    // A, who started the thread, marks it as the answer: B's page redraws the
    // reply with its badge, and it still names what it answers.
    let page = format!("/classes/{class}/threads/{thread}");
    let marked = a
        .post(
            &app,
            &page,
            &format!("/messages/{answer}/answer"),
            &[("mark", "yes")],
        )
        .await;
    assert_eq!(marked.status().as_u16(), 303);
    let read = "var item = document.getElementById('m-' + arguments[0]).closest('li'); \
                if (!item.querySelector('.badge.answered')) return null; \
                var note = item.querySelector('.replying-to'); \
                return [item.getAttribute('data-depth'), note ? note.textContent : ''];";
    let seen = until_shown(
        &client,
        read,
        vec![serde_json::json!(answer.to_string())],
        "the answer mark did not arrive live",
    )
    .await;
    assert_eq!(seen[0], "4");
    assert_eq!(seen[1], format!("replying to {deepest_name}"));

    // B deletes the depth-3 reply it answers: the answer now names
    // "[deleted]", as the page does after a reload, not a name that is gone.
    let deleted = b
        .post(&app, &page, &format!("/messages/{parent}/delete"), &[])
        .await;
    assert_eq!(deleted.status().as_u16(), 303);
    let read = "var gone = document.getElementById('m-' + arguments[0]);                 if (!gone || gone.querySelector('.msg-head .pseudonym')) return null;                 var note = document.getElementById('m-' + arguments[1]).closest('li')                   .querySelector('.replying-to');                 return [note ? note.textContent : ''];";
    let seen = until_shown(
        &client,
        read,
        vec![
            serde_json::json!(parent.to_string()),
            serde_json::json!(answer.to_string()),
        ],
        "the delete did not arrive live",
    )
    .await;
    assert_eq!(seen[0], "replying to [deleted]");
    client.close().await.unwrap();
}

/// A thread whose first message was deleted stays listed only above a reply
/// the class sees: when that last reply goes, its row leaves open list pages
/// too, though the news is of the reply, not of the thread's first message.
#[tokio::test]
async fn a_deleted_thread_leaves_the_list_with_its_last_reply_in_a_browser() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("dla1a");
    let b = app.student("dlb2b");
    let c = app.student("dlc3c");
    let class = new_class(&app, "CS 2150", &[&a, &b, &c]).id;
    post(&app, &a, &class, "A question someone reported", None).await;
    let thread = message_with(&app, "A question someone reported");
    post(&app, &b, &class, "The only reply", Some(&thread)).await;
    let reply = message_with(&app, "The only reply");
    // Reported, its first message is kept (as evidence) when its author
    // deletes it: a "[deleted]" row, held up by the reply.
    let root = common_grounds::chat::find(&mut app.conn(), &thread)
        .unwrap()
        .unwrap();
    seed::flag(&mut app.conn(), &c.user, &root, "spam");
    let page = format!("/classes/{class}");
    let deleted = a
        .post(&app, &page, &format!("/messages/{thread}/delete"), &[])
        .await;
    assert_eq!(deleted.status().as_u16(), 303);

    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &c.token).await;
    client.goto(&app.url(&page)).await.unwrap();
    let row = format!("return !!document.getElementById('t-{thread}');");
    assert_eq!(
        client.execute(&row, vec![]).await.unwrap(),
        serde_json::json!(true),
        "the [deleted] thread is listed above its reply"
    );

    // Act: the reply's author deletes it.
    let deleted = b
        .post(&app, &page, &format!("/messages/{reply}/delete"), &[])
        .await;
    assert_eq!(deleted.status().as_u16(), 303);

    // Assert: the row leaves the open page, as it is gone after a reload.
    let gone = format!("return document.getElementById('t-{thread}') ? null : true;");
    until_shown(&client, &gone, vec![], "the row stayed on the open page").await;
    let (_, reloaded) = c.get(&app, &page).await;
    assert!(!reloaded.contains(&format!("t-{thread}")), "{reloaded}");
    client.close().await.unwrap();
}

/// A reply to a thread that is not on the open list page (it is on "Older
/// threads") moves its row to the top live: the page never counted that
/// thread's earlier replies, so the row says "new", not a wrong "1 new".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_from_an_older_page_arrives_saying_new_not_a_wrong_count_in_a_browser() {
    use chrono::Duration as Ago;
    use common_grounds::db::schema::user_classes;
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("opa1a");
    let b = app.student("opb2b");
    let class = new_class(&app, "CS 2150", &[&a, &b]);
    // B has taken the class for a day: what came since is news to B.
    diesel::update(user_classes::table.filter(user_classes::user_id.eq(&b.user.id)))
        .set(user_classes::enrolled_at.eq(common_grounds::clock::now() - Ago::days(1)))
        .execute(&mut app.conn())
        .unwrap();
    // The oldest thread, with three replies B has not read, then fifty
    // newer threads: it is on the second page.
    let now = common_grounds::clock::now();
    let oldest =
        builders::MessageBuilder::new(&class.id, &a.user.id, "Anon_0000aaaa", "The oldest thread")
            .created_at(now - Ago::minutes(200))
            .insert(&mut app.conn());
    for r in 0..3 {
        builders::MessageBuilder::new(
            &class.id,
            &a.user.id,
            "Anon_0000aaaa",
            &format!("Old reply {r}"),
        )
        .reply_to(&oldest)
        .created_at(now - Ago::minutes(190 - r))
        .insert(&mut app.conn());
    }
    for n in 0..50 {
        builders::MessageBuilder::new(
            &class.id,
            &a.user.id,
            "Anon_0000aaaa",
            &format!("Newer thread {n}"),
        )
        .created_at(now - Ago::minutes(100 - n))
        .insert(&mut app.conn());
    }

    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("/classes/{}", class.id)))
        .await
        .unwrap();
    let row = format!("t-{}", oldest.id);
    let on_page = client
        .execute(
            &format!("return !!document.getElementById('{row}');"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        on_page,
        serde_json::json!(false),
        "the oldest thread is on page 2"
    );

    // Act: A replies to it.
    post(&app, &a, &class.id, "A fourth reply", Some(&oldest.id)).await;

    // Assert: its row arrives at the top, marked "new" without a count.
    let read = format!(
        "var row = document.getElementById('{row}'); \
         if (!row) return null; \
         var badge = row.querySelector('.new-count'); \
         return [document.querySelector('ol.thread-list > li').id, badge ? badge.textContent : ''];"
    );
    let seen = until_shown(&client, &read, vec![], "the reply did not arrive live").await;
    assert_eq!(seen[0], row.as_str(), "at the top");
    assert_eq!(seen[1], "new", "not a count the page never had");
    client.close().await.unwrap();
}

/// A keyboard or screen-reader user on a thread's row in the list keeps
/// their place when a reply in that thread arrives live: the row is redrawn
/// where it is, focus kept, not moved to the top with focus thrown away.
#[tokio::test]
async fn a_focused_thread_row_keeps_its_focus_when_a_reply_arrives() {
    focused_row_keeps_focus("", ".thread-link").await;
}

/// The same on the "top" list, focus on the row's vote button (its form
/// holds a hidden `back` field the script adds: focus must not land on it).
#[tokio::test]
async fn a_focused_vote_button_on_the_top_list_keeps_its_focus() {
    focused_row_keeps_focus("?sort=top", ".vote-button").await;
}

async fn focused_row_keeps_focus(query: &str, control: &str) {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("kfa1a");
    let b = app.student("kfb2b");
    let class = new_class(&app, "CS 2150", &[&a, &b]).id;
    post(&app, &a, &class, "Older thread about the labs", None).await;
    let older = message_with(&app, "Older thread about the labs");
    post(&app, &a, &class, "Newer thread about the exam", None).await;
    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("/classes/{class}{query}")))
        .await
        .unwrap();
    let id = serde_json::json!(older.to_string());
    let control = serde_json::json!(control);
    client
        .execute(
            "document.querySelector('#t-' + arguments[0] + ' ' + arguments[1]).focus(); return null;",
            vec![id.clone(), control.clone()],
        )
        .await
        .unwrap();

    // Act: A replies in the focused thread.
    post(&app, &a, &class, "A reply about the labs", Some(&older)).await;

    // Assert: the row shows the reply, and focus is still on its link.
    let read = "var row = document.getElementById('t-' + arguments[0]); \
                var count = row && row.querySelector('.thread-replies'); \
                if (!count || !count.textContent.includes('1')) return null; \
                var held = row.querySelector(arguments[1]); \
                return document.activeElement === held ? 'kept' : \
                       (document.activeElement ? document.activeElement.tagName : 'none');";
    let seen = until_shown(
        &client,
        read,
        vec![id, control],
        "the reply did not arrive live",
    )
    .await;
    assert_eq!(seen, serde_json::json!("kept"));
    client.close().await.unwrap();
}

/// A message redrawn live (here marked as the answer) while its author has
/// its Delete box open, focus on the box's summary: focus stays on that
/// summary, not on the form's first button, where the next Enter would
/// delete the message.
#[tokio::test]
async fn a_redrawn_message_keeps_focus_off_its_delete_button() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let a = app.student("kda1a");
    let b = app.student("kdb2b");
    let class = new_class(&app, "CS 2150", &[&a, &b]).id;
    post(&app, &a, &class, "Which chapters are on the quiz?", None).await;
    let thread = message_with(&app, "Which chapters are on the quiz?");
    post(&app, &b, &class, "Chapters three and four", Some(&thread)).await;
    let reply = message_with(&app, "Chapters three and four");
    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("/classes/{class}/threads/{thread}")))
        .await
        .unwrap();
    let id = serde_json::json!(reply.to_string());
    client
        .execute(
            "var item = document.getElementById('m-' + arguments[0]).closest('li'); \
             var summary = Array.from(item.querySelectorAll('summary')) \
                 .find(s => s.textContent.trim() === 'Delete'); \
             summary.parentNode.open = true; summary.focus(); return null;",
            vec![id.clone()],
        )
        .await
        .unwrap();

    // Act: A, who asked, marks B's reply as the answer.
    let page = format!("/classes/{class}/threads/{thread}");
    let marked = a
        .post(
            &app,
            &page,
            &format!("/messages/{reply}/answer"),
            &[("mark", "yes")],
        )
        .await;
    assert_eq!(marked.status().as_u16(), 303);

    // Assert: redrawn with its badge; focus on the Delete summary, box open.
    let read = "var item = document.getElementById('m-' + arguments[0]).closest('li'); \
                if (!item.querySelector('.badge.answered')) return null; \
                var el = document.activeElement; \
                return [el ? el.tagName : 'none', el ? el.textContent.trim() : '', \
                        el && el.parentNode.open ? 'open' : 'closed'];";
    let seen = until_shown(
        &client,
        read,
        vec![id],
        "the answer mark did not arrive live",
    )
    .await;
    assert_eq!(seen, serde_json::json!(["SUMMARY", "Delete", "open"]));
    client.close().await.unwrap();
}
