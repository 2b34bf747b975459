//! The anonymous class chat, as students see it: only classmates read and write;
//! authors stay anonymous on every page; pseudonyms are stable, per class and
//! unique; reports hide what several students reject; deleted messages keep their
//! threads; hostile text is refused or escaped; the page costs a fixed number of
//! queries; "older" pages by keyset; limits say why and when. Each test runs on
//! SQLite and on PostgreSQL.

use crate::common;
use common::builders::{discrete_math, MessageBuilder, UserBuilder};
use common::*;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use common_grounds::accounts::{self, sessions, Role, User, UserChanges, UserId};
use common_grounds::chat::{
    self, pseudonym, ChatError, ClassMessage, Draft, FlagOutcome, FlagReason, MessageBody,
    MessageId, Rules,
};
use common_grounds::classes::{self, ClassId, NewClassMeeting};
use common_grounds::clock;
use common_grounds::db::schema::{
    chat_events, chat_pseudonyms, chat_thread_reads, class_messages, message_flags, message_votes,
    notifications, thread_follows,
};
use common_grounds::db::DbConn;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER};
use scraper::{ElementRef, Html, Selector};

/// The key `test_config` runs the app with, so domain calls pick the same pseudonyms.
const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

fn rules() -> Rules {
    Rules::new(SECRET.as_bytes(), 3)
}

// ---------------------------------------------------------------- arrange

fn new_user(conn: &mut DbConn, computing_id: &str) -> User {
    UserBuilder::new(computing_id)
        .role(Role::Student.as_str())
        .insert(conn)
}

fn new_class(conn: &mut DbConn, number: &str) -> ClassId {
    let id = discrete_math(number).insert(conn).id;
    classes::insert_meeting(
        conn,
        &NewClassMeeting {
            id: &classes::MeetingId::new(),
            class_id: &id,
            position: 0,
            days: Some("MoWeFr"),
            start_time: Some("10:00"),
            end_time: Some("10:50"),
            location: Some("Rice Hall 130"),
            instructor: Some("Nathan Brunelle"),
            first_day: None,
            last_day: None,
        },
    )
    .unwrap();
    id
}

fn enroll(conn: &mut DbConn, user: &User, class_id: &ClassId) {
    classes::enroll(conn, &user.id, class_id, clock::now()).unwrap();
}

/// A signed-in student with their own browser (the session is made directly;
/// signing in itself is tested in signin.rs).
struct Student {
    user: User,
    client: reqwest::Client,
    csrf: String,
}

async fn student(app: &TestApp, computing_id: &str) -> Student {
    let mut conn = app.conn();
    let user = new_user(&mut conn, computing_id);
    let created = sessions::create(&mut conn, &user.id, Some("test"), clock::now()).unwrap();
    drop(conn);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        COOKIE,
        format!("cg_session={}", created.token).parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html).expect("a signed-in page carries a csrf token");
    Student { user, client, csrf }
}

impl Student {
    async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let response = self.client.get(app.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Submits a form with this student's csrf token added.
    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let response = self
            .client
            .post(app.url(path))
            .form(&all)
            .send()
            .await
            .unwrap();
        Reply::read(response).await
    }

    async fn post_message(&self, app: &TestApp, class_id: &ClassId, text: &str) -> Reply {
        self.post(
            app,
            &format!("/classes/{class_id}/messages"),
            // Past "maybe already answered" (tests/integration/chat_search.rs covers it).
            &[("content", text), ("confirmed", "1")],
        )
        .await
    }
}

/// A response read whole: status, the headers a test looks at, and the body.
struct Reply {
    status: u16,
    location: Option<String>,
    retry_after: Option<String>,
    body: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, retry_after) = (header(LOCATION), header(RETRY_AFTER));
        Reply {
            status: response.status().as_u16(),
            location,
            retry_after,
            body: response.text().await.unwrap(),
        }
    }

    /// Everything of the response a student's browser gets to see.
    fn visible(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.location.as_deref().unwrap_or(""),
            self.retry_after.as_deref().unwrap_or(""),
            self.body
        )
    }
}

/// Writes a message straight into the table (for volume and chosen times), with
/// the pseudonym the app would give the author.
fn seed(
    conn: &mut DbConn,
    class_id: &ClassId,
    author: &User,
    parent: Option<&ClassMessage>,
    text: &str,
    at: NaiveDateTime,
) -> ClassMessage {
    let name = pseudonym::candidate(SECRET.as_bytes(), &author.id, class_id);
    let message = MessageBuilder::new(class_id, &author.id, &name, text).created_at(at);
    match parent {
        Some(parent) => message.reply_to(parent),
        None => message,
    }
    .insert(conn)
}

/// Posts through the domain at a chosen time.
fn post_at(
    conn: &mut DbConn,
    author: &User,
    class_id: &ClassId,
    parent: Option<&MessageId>,
    text: &str,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<ClassMessage, ChatError> {
    let body = MessageBody::parse(text).unwrap();
    chat::post(
        conn,
        author,
        Draft {
            class_id,
            parent_id: parent,
            body: &body,
        },
        rules,
        now,
    )
}

// ---------------------------------------------------------------- read pages

fn select<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel).collect()
}

fn text_of(e: &ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_string()
}

/// A message as the page shows it.
#[derive(Debug, Clone)]
struct Shown {
    id: String,
    pseudonym: Option<String>,
    text: String,
    /// From the `indent-N` class of its `li.msg-item`.
    indent: usize,
    /// Its `li.msg-item`'s `data-depth`.
    depth: usize,
    you: bool,
    replying_to: Option<String>,
    edited: bool,
}

/// Every message on a page (thread pages show them), in page order.
fn shown_messages(html: &str) -> Vec<Shown> {
    let doc = Html::parse_document(html);
    let one = |e: &ElementRef<'_>, css: &str| {
        let sel = Selector::parse(css).unwrap();
        e.select(&sel).next().map(|x| text_of(&x))
    };
    let article = Selector::parse("article.msg").unwrap();
    select(&doc, "li.msg-item")
        .into_iter()
        .map(|item| {
            let class = item.value().attr("class").unwrap_or("").to_string();
            let indent = class
                .split_whitespace()
                .find_map(|c| c.strip_prefix("indent-"))
                .and_then(|n| n.parse().ok())
                .expect("an indent class");
            let depth = item
                .value()
                .attr("data-depth")
                .and_then(|d| d.parse().ok())
                .expect("a data-depth");
            let mut articles = item.select(&article);
            let article = articles.next().expect("a message in its item");
            assert!(articles.next().is_none(), "one message per item");
            Shown {
                id: article
                    .value()
                    .id()
                    .unwrap()
                    .trim_start_matches("m-")
                    .into(),
                pseudonym: one(&article, ".pseudonym"),
                text: one(&article, ".msg-text, .msg-removed").unwrap_or_default(),
                indent,
                depth,
                you: one(&article, ".badge.you").is_some(),
                replying_to: one(&article, ".replying-to"),
                edited: one(&article, ".msg-head").is_some_and(|h| h.contains("edited")),
            }
        })
        .collect()
}

/// The id of each thread in a page of the thread list, in page order.
fn thread_roots(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    select(&doc, "li.thread-row")
        .into_iter()
        .map(|row| {
            row.value()
                .id()
                .expect("a thread row's id")
                .strip_prefix("t-")
                .expect("t-<thread>")
                .to_string()
        })
        .collect()
}

fn older_link(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    select(&doc, "a[rel=next]")
        .first()
        .and_then(|a| a.value().attr("href").map(str::to_string))
}

fn heading(html: &str) -> String {
    let doc = Html::parse_document(html);
    select(&doc, "main h1")
        .first()
        .map(text_of)
        .unwrap_or_default()
}

/// Every UUID-shaped string in a text.
fn uuids_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let shape = |b: &[u8]| {
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    (0..bytes.len().saturating_sub(35))
        .filter(|&i| shape(&bytes[i..i + 36]))
        .map(|i| text[i..i + 36].to_string())
        .collect()
}

fn flags_on(conn: &mut DbConn, message_id: &MessageId) -> (i64, i32, bool) {
    let flags = message_flags::table
        .filter(message_flags::message_id.eq(message_id))
        .count()
        .get_result(conn)
        .unwrap();
    let message = chat::find(conn, message_id).unwrap().unwrap();
    (flags, message.flagged_count, message.hidden)
}

// ---------------------------------------------------------------- 1. anonymity

/// A form a student submits: what it tries, where, and its fields.
type Attempt<'a> = (&'a str, String, Vec<(&'a str, String)>);

backend_test!(
    async fn a_classmate_can_never_learn_who_wrote_a_message(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "qzx7w").await;
        let b = student(&app, "wvk3j").await;
        // A has a display name (shown to accepted friends only, never in chat).
        common_grounds::accounts::set_privacy(
            &mut app.conn(),
            &a.user.id,
            Some(&common_grounds::accounts::DisplayName::parse("Quentin Zedd").unwrap()),
            false,
            clock::now(),
        )
        .unwrap()
        .unwrap();
        let (class, elsewhere) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "16601");
            let elsewhere = new_class(&mut conn, "16602");
            enroll(&mut conn, &a.user, &class);
            enroll(&mut conn, &b.user, &class);
            enroll(&mut conn, &a.user, &elsewhere);
            // Enough of A's threads for an "older" page.
            let start = clock::now() - Duration::hours(3);
            for i in 0..55 {
                seed(
                    &mut conn,
                    &class,
                    &a.user,
                    None,
                    &format!("old thread {i}"),
                    start + Duration::seconds(i),
                );
            }
            (class, elsewhere)
        };
        // A writes a thread, B replies, A answers B and edits a message.
        assert_eq!(
            a.post_message(&app, &class, "A's question").await.status,
            303
        );
        let a_root = {
            let mut conn = app.conn();
            class_messages::table
                .filter(class_messages::content.eq("A's question"))
                .select(class_messages::id)
                .first::<MessageId>(&mut conn)
                .unwrap()
        };
        let b_reply = b
            .post(
                &app,
                &format!("/classes/{class}/messages"),
                &[("content", "B answers"), ("parent_id", a_root.as_str())],
            )
            .await;
        assert_eq!(b_reply.status, 303);
        let b_reply_id = {
            let mut conn = app.conn();
            class_messages::table
                .filter(class_messages::content.eq("B answers"))
                .select(class_messages::id)
                .first::<MessageId>(&mut conn)
                .unwrap()
        };
        let a_answer = {
            let mut conn = app.conn();
            post_at(
                &mut conn,
                &a.user,
                &class,
                Some(&b_reply_id),
                "A thanks B",
                &rules(),
                clock::now() + Duration::seconds(10),
            )
            .unwrap()
        };
        let edited = a
            .post(
                &app,
                &format!("/messages/{}/edit", a_root),
                &[("content", "A's question, edited")],
            )
            .await;
        assert_eq!(edited.status, 303);

        // Everything B can load or provoke.
        let (status, first_page) = b.get(&app, &format!("/classes/{class}")).await;
        assert_eq!(status, 200);
        let older = older_link(&first_page).expect("an older page");
        let (status, older_page) = b.get(&app, &older).await;
        assert_eq!(status, 200);
        // Every thread page linked from both, where the messages and their forms are.
        let chat_seen = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
        let older_seen = chat_as_seen(&app, &b.client, &older).await;
        assert!(chat_seen.contains("A thanks B") && older_seen.contains("old thread 0"));
        let mut seen = vec![
            ("class page".to_string(), first_page.clone()),
            ("older page".to_string(), older_page.clone()),
            ("threads of the class page".to_string(), chat_seen.clone()),
            ("threads of the older page".to_string(), older_seen),
        ];
        let attempts: Vec<Attempt<'_>> = vec![
            (
                "empty post",
                format!("/classes/{class}/messages"),
                vec![("content", "  ".into())],
            ),
            (
                "edit A's",
                format!("/messages/{a_root}/edit"),
                vec![("content", "mine now".into())],
            ),
            ("delete A's", format!("/messages/{a_root}/delete"), vec![]),
            (
                "flag A's",
                format!("/messages/{}/flag", a_answer.id),
                vec![("reason", "rude".into())],
            ),
            (
                "flag A's again",
                format!("/messages/{}/flag", a_answer.id),
                vec![],
            ),
            ("flag own", format!("/messages/{b_reply_id}/flag"), vec![]),
            (
                "too fast",
                format!("/classes/{class}/messages"),
                vec![("content", "B again".into())],
            ),
            (
                "too fast 2",
                format!("/classes/{class}/messages"),
                vec![("content", "B again 2".into())],
            ),
            (
                "bad parent",
                format!("/classes/{class}/messages"),
                vec![("content", "x".into()), ("parent_id", "nope".into())],
            ),
            (
                "post elsewhere",
                format!("/classes/{elsewhere}/messages"),
                vec![("content", "hi".into())],
            ),
        ];
        for (what, path, fields) in &attempts {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = b.post(&app, path, &fields).await;
            assert!(reply.status < 500, "{what}: {}", reply.status);
            seen.push((what.to_string(), reply.visible()));
        }
        for path in [
            format!("/classes/{elsewhere}"),
            format!("/classes/{}", ClassId::new()),
            format!("/classes/{class}?before=garbage"),
            format!("/messages/{a_root}"),
        ] {
            let (status, html) = b.get(&app, &path).await;
            assert!(status < 500, "{path}: {status}");
            seen.push((path, html));
        }

        let mut conn = app.conn();
        let message_ids: HashSet<String> = class_messages::table
            .select(class_messages::id)
            .load::<MessageId>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|id| id.to_string())
            .collect();
        let allowed: HashSet<String> = message_ids
            .iter()
            .cloned()
            .chain([class.to_string(), elsewhere.to_string()])
            .collect();
        for (what, page) in &seen {
            let lower = page.to_lowercase();
            for secret in [
                a.user.id.as_str(),
                a.user.email.as_str(),
                a.user.computing_id.as_str(),
                "Quentin Zedd",
            ] {
                assert!(
                    !lower.contains(&secret.to_lowercase()),
                    "{what} shows {secret}"
                );
            }
            for uuid in uuids_in(page) {
                assert!(
                    allowed.contains(&uuid),
                    "{what} carries an id that is neither a message nor a class: {uuid}"
                );
            }
        }
        // "you" marks only B's own message, and only B's messages carry edit/delete.
        let shown = shown_messages(&chat_seen);
        let mine: Vec<&Shown> = shown.iter().filter(|m| m.you).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, b_reply_id.to_string());
        let doc = Html::parse_document(&chat_seen);
        assert_eq!(
            select(
                &doc,
                &format!("form[action=\"/messages/{b_reply_id}/delete\"]")
            )
            .len(),
            1,
            "B can delete their own reply"
        );
        for form in select(&doc, "form[action^=\"/messages/\"]") {
            let action = form.value().attr("action").unwrap();
            if action.ends_with("/edit") || action.ends_with("/delete") {
                assert_eq!(
                    action,
                    format!(
                        "/messages/{b_reply_id}/{}",
                        action.rsplit('/').next().unwrap()
                    )
                );
            }
        }
        // A sees their own messages marked, B's not.
        let a_view = chat_as_seen(&app, &a.client, &format!("/classes/{class}")).await;
        let a_marks: Vec<String> = shown_messages(&a_view)
            .into_iter()
            .filter(|m| m.you)
            .map(|m| m.text)
            .collect();
        assert!(a_marks.contains(&"A thanks B".to_string()));
        assert!(!a_marks.contains(&"B answers".to_string()));
    }
);

// ---------------------------------------------------------------- 2. pseudonyms

backend_test!(
    async fn a_pseudonym_is_stable_in_a_class_and_different_in_another(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "mst3k").await;
        let (one, two) = {
            let mut conn = app.conn();
            let one = new_class(&mut conn, "1");
            let two = new_class(&mut conn, "2");
            enroll(&mut conn, &a.user, &one);
            enroll(&mut conn, &a.user, &two);
            (one, two)
        };
        assert_eq!(a.post_message(&app, &one, "first in one").await.status, 303);
        assert_eq!(a.post_message(&app, &two, "first in two").await.status, 303);
        {
            let mut conn = app.conn();
            post_at(
                &mut conn,
                &a.user,
                &one,
                None,
                "second in one",
                &rules(),
                clock::now() + Duration::seconds(30),
            )
            .unwrap();
        }
        let page_one = chat_as_seen(&app, &a.client, &format!("/classes/{one}")).await;
        let page_two = chat_as_seen(&app, &a.client, &format!("/classes/{two}")).await;
        let names_one: HashSet<String> = shown_messages(&page_one)
            .into_iter()
            .filter_map(|m| m.pseudonym)
            .collect();
        let names_two: HashSet<String> = shown_messages(&page_two)
            .into_iter()
            .filter_map(|m| m.pseudonym)
            .collect();
        assert_eq!(shown_messages(&page_one).len(), 2);
        assert_eq!(
            names_one.len(),
            1,
            "one pseudonym on both posts: {names_one:?}"
        );
        assert_eq!(names_two.len(), 1);
        assert_ne!(names_one, names_two);
        let name = names_one.into_iter().next().unwrap();
        let (adjective, noun) = name.split_once(' ').expect("two words");
        assert!(pseudonym::adjectives().contains(&adjective), "{name}");
        assert!(pseudonym::nouns().contains(&noun), "{name}");
        assert_eq!(
            name,
            pseudonym::candidate(SECRET.as_bytes(), &a.user.id, &one)
        );
    }
);

backend_test!(
    async fn two_students_never_share_a_pseudonym_even_when_names_clash(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let now = clock::now();
        let students: Vec<User> = (0..40)
            .map(|i| {
                let user = new_user(&mut conn, &format!("s{i}x"));
                enroll(&mut conn, &user, &class);
                user
            })
            .collect();
        // Every student's first name is already held (by erased accounts, say):
        // each must move on along their own stream.
        let mut held = HashSet::new();
        for user in &students {
            let first = pseudonym::candidate(SECRET.as_bytes(), &user.id, &class);
            if !held.insert(first.clone()) {
                continue; // two students' first names may meet
            }
            diesel::insert_into(chat_pseudonyms::table)
                .values((
                    chat_pseudonyms::class_id.eq(&class),
                    chat_pseudonyms::name.eq(&first),
                    chat_pseudonyms::created_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let mut names = Vec::new();
        for (i, user) in students.iter().enumerate() {
            let message = post_at(
                &mut conn,
                user,
                &class,
                None,
                &format!("hello {i}"),
                &rules(),
                now,
            )
            .unwrap();
            names.push(message.anonymous_identifier);
        }
        let distinct: HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), students.len(), "{names:?}");
        for (user, name) in students.iter().zip(&names) {
            let stream: Vec<String> =
                pseudonym::Candidates::new(SECRET.as_bytes(), &user.id, &class)
                    .take(64)
                    .collect();
            assert_ne!(name, &stream[0], "the first candidate was taken");
            assert!(
                stream[1..].contains(name),
                "{name} is from the student's stream"
            );
            // Stable once chosen: a later post reuses it.
            let again = post_at(
                &mut conn,
                user,
                &class,
                None,
                "again",
                &rules(),
                now + Duration::minutes(1),
            )
            .unwrap();
            assert_eq!(&again.anonymous_identifier, name);
        }
    }
);

backend_test!(
    async fn students_posting_at_once_still_get_distinct_pseudonyms(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        // Students in pairs whose first choice of name in this class is the
        // same: each pair posting at once really competes for one name (24
        // students picked at random collide about once in seventy runs).
        let mut first_choice: HashMap<String, UserId> = HashMap::new();
        let mut pairs: Vec<(UserId, UserId)> = Vec::new();
        while pairs.len() < 6 {
            let id = UserId::new();
            let name = pseudonym::candidate(SECRET.as_bytes(), &id, &class);
            match first_choice.remove(&name) {
                Some(other) => pairs.push((other, id)),
                None => {
                    first_choice.insert(name, id);
                }
            }
        }
        let students: Vec<User> = pairs
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .enumerate()
            .map(|(i, id)| {
                let user = UserBuilder::new(&format!("c{i}x"))
                    .id(id)
                    .role(Role::Student.as_str())
                    .insert(&mut conn);
                enroll(&mut conn, &user, &class);
                user
            })
            .collect();
        let tiny = rules();
        let now = clock::now();
        // Each student on their own connection, all first posts at the same moment.
        let barrier = Arc::new(std::sync::Barrier::new(students.len()));
        let workers: Vec<_> = students
            .into_iter()
            .map(|user| {
                let mut conn = db.connect();
                let (class, tiny, barrier) = (class.clone(), tiny.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    post_at(&mut conn, &user, &class, None, "at once", &tiny, now)
                        .unwrap()
                        .anonymous_identifier
                })
            })
            .collect();
        let names: Vec<String> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let distinct: HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }
);

// ---------------------------------------------------------------- 3. enrollment

backend_test!(
    async fn a_student_who_is_not_enrolled_gets_no_message_text(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let outsider = student(&app, "cc3c").await;
        let (class, first) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            let start = clock::now() - Duration::hours(1);
            let mut last = None;
            for i in 0..60 {
                let m = seed(
                    &mut conn,
                    &class,
                    &a.user,
                    None,
                    &format!("classmates only {i}"),
                    start + Duration::seconds(i),
                );
                last = Some(m);
            }
            (class, last.unwrap())
        };
        let a_name = pseudonym::candidate(SECRET.as_bytes(), &a.user.id, &class);
        let (_, a_page) = a.get(&app, &format!("/classes/{class}")).await;
        let older = older_link(&a_page).expect("an older page");

        let (status, page) = outsider.get(&app, &format!("/classes/{class}")).await;
        assert_eq!(status, 200);
        assert!(heading(&page).contains("Discrete Mathematics"));
        let doc = Html::parse_document(&page);
        let join = select(&doc, &format!("form[action=\"/classes/{class}/enroll\"]"));
        assert_eq!(join.len(), 1, "a Join this class form");
        assert!(text_of(&join[0]).contains("Join this class"));
        let join_csrf = Selector::parse("input[name=csrf_token]").unwrap();
        assert_eq!(
            join[0]
                .select(&join_csrf)
                .next()
                .unwrap()
                .value()
                .attr("value"),
            Some(outsider.csrf.as_str())
        );
        let mut answers = vec![page];
        answers.push(outsider.get(&app, &older).await.1);
        // The thread page, where a message's text is read, and its live stream.
        let (status, thread) = outsider
            .get(&app, &format!("/classes/{class}/threads/{}", first.id))
            .await;
        assert_eq!(status, 403, "{thread}");
        assert!(thread.contains("Join this class"), "{thread}");
        answers.push(thread);
        for (path, fields) in [
            (
                format!("/classes/{class}/messages"),
                vec![("content", "let me in")],
            ),
            (
                format!("/classes/{class}/messages"),
                vec![("content", "reply"), ("parent_id", first.id.as_str())],
            ),
            (format!("/messages/{}/flag", first.id), vec![]),
            (
                format!("/messages/{}/edit", first.id),
                vec![("content", "x")],
            ),
            (format!("/messages/{}/delete", first.id), vec![]),
        ] {
            let reply = outsider.post(&app, &path, &fields).await;
            assert!(
                matches!(reply.status, 403 | 404),
                "{path}: {}",
                reply.status
            );
            answers.push(reply.visible());
        }
        for answer in &answers {
            assert!(!answer.contains("classmates only"), "message text leaked");
            assert!(!answer.contains(&a_name), "a pseudonym leaked");
            assert!(!answer.contains("class=\"pseudonym"), "a pseudonym leaked");
        }
        let mut conn = app.conn();
        let count: i64 = class_messages::table.count().get_result(&mut conn).unwrap();
        assert_eq!(count, 60, "nothing was posted or deleted");
        assert_eq!(flags_on(&mut conn, &first.id).0, 0);
    }
);

backend_test!(
    async fn a_reply_must_stay_in_its_class(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let a = new_user(&mut conn, "aa1a");
        let one = new_class(&mut conn, "1");
        let two = new_class(&mut conn, "2");
        enroll(&mut conn, &a, &one);
        enroll(&mut conn, &a, &two);
        let now = clock::now();
        let in_two = post_at(&mut conn, &a, &two, None, "in two", &rules(), now).unwrap();
        let crossed = post_at(&mut conn, &a, &one, Some(&in_two.id), "hi", &rules(), now);
        assert!(
            matches!(crossed, Err(ChatError::ParentNotInClass)),
            "{crossed:?}"
        );
        let unknown = post_at(
            &mut conn,
            &a,
            &one,
            Some(&MessageId::new()),
            "hi",
            &rules(),
            now,
        );
        assert!(matches!(unknown, Err(ChatError::ParentNotInClass)));
    }
);

// ---------------------------------------------------------------- 4. flags

backend_test!(
    async fn reports_from_three_students_hide_a_message(backend: Backend) {
        // Members of a minute: their reports count only with no minimum membership.
        let app = spawn_app_with(
            TestDb::new(backend),
            TestMail::Memory,
            &[("REPORT_MIN_MEMBERSHIP_HOURS", "0")],
        )
        .await;
        let author = student(&app, "au1t").await;
        let b = student(&app, "bb2b").await;
        let c = student(&app, "cc3c").await;
        let d = student(&app, "dd4d").await;
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            for s in [&author, &b, &c, &d] {
                enroll(&mut conn, &s.user, &class);
            }
            class
        };
        assert_eq!(
            author.post_message(&app, &class, "rude words").await.status,
            303
        );
        let message = {
            let mut conn = app.conn();
            class_messages::table
                .select(ClassMessage::as_select())
                .first(&mut conn)
                .unwrap()
        };
        let flag_path = format!("/messages/{}/flag", message.id);

        let own = author.post(&app, &flag_path, &[]).await;
        assert_eq!(own.status, 400);
        assert!(own.body.contains("cannot report your own"));
        for _ in 0..3 {
            assert_eq!(
                b.post(&app, &flag_path, &[("reason", "rude")]).await.status,
                303
            );
        }
        assert_eq!(
            flags_on(&mut app.conn(), &message.id),
            (1, 1, false),
            "one student counts once"
        );
        let b_page = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
        assert!(b_page.contains("rude words"));
        assert!(b_page.contains("You reported this message."));

        assert_eq!(c.post(&app, &flag_path, &[]).await.status, 303);
        assert_eq!(flags_on(&mut app.conn(), &message.id), (2, 2, false));
        assert_eq!(d.post(&app, &flag_path, &[]).await.status, 303);
        assert_eq!(flags_on(&mut app.conn(), &message.id), (3, 3, true));

        for viewer in [&b, &author, &c] {
            let page = chat_as_seen(&app, &viewer.client, &format!("/classes/{class}")).await;
            assert!(!page.contains("rude words"), "hidden text is not shown");
            let shown = shown_messages(&page);
            assert_eq!(shown.len(), 1);
            assert_eq!(shown[0].text, "hidden by moderation");
        }
        let reason: Option<String> = message_flags::table
            .filter(message_flags::user_id.eq(&b.user.id))
            .select(message_flags::reason)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(reason.as_deref(), Some("rude"));
    }
);

backend_test!(
    async fn a_student_can_report_at_most_twenty_messages_a_day(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let author = new_user(&mut conn, "au1t");
        let flagger = new_user(&mut conn, "fl4g");
        enroll(&mut conn, &author, &class);
        enroll(&mut conn, &flagger, &class);
        let start = clock::now();
        let messages: Vec<ClassMessage> = (0..22)
            .map(|i| seed(&mut conn, &class, &author, None, &format!("m{i}"), start))
            .collect();
        let no_reason = FlagReason::parse(None).unwrap();
        for (i, m) in messages.iter().take(20).enumerate() {
            let at = start + Duration::minutes(i as i64);
            let (_, outcome) =
                chat::flag(&mut conn, &flagger.id, &m.id, &no_reason, &rules(), at).unwrap();
            assert_eq!(outcome, FlagOutcome::Flagged { hidden: false });
        }
        let late = start + Duration::hours(2);
        let refused = chat::flag(
            &mut conn,
            &flagger.id,
            &messages[20].id,
            &no_reason,
            &rules(),
            late,
        );
        match refused {
            Err(ChatError::FlagLimit { retry_at }) => {
                assert_eq!(retry_at, start + Duration::days(1))
            }
            other => panic!("expected the daily limit, got {other:?}"),
        }
        // Re-reporting is a no-op, not a refusal; and a day later the limit frees up.
        let again = chat::flag(
            &mut conn,
            &flagger.id,
            &messages[0].id,
            &no_reason,
            &rules(),
            late,
        )
        .unwrap();
        assert_eq!(again.1, FlagOutcome::AlreadyFlagged);
        let next_day = start + Duration::days(1) + Duration::seconds(1);
        assert!(chat::flag(
            &mut conn,
            &flagger.id,
            &messages[20].id,
            &no_reason,
            &rules(),
            next_day
        )
        .is_ok());
    }
);

// ---------------------------------------------------------------- 5. deleting

backend_test!(
    async fn deleting_a_message_keeps_its_replies_behind_a_placeholder(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let b = student(&app, "bb2b").await;
        let (class, root, reply, lonely) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            enroll(&mut conn, &b.user, &class);
            let t = clock::now() - Duration::minutes(30);
            let root = seed(&mut conn, &class, &a.user, None, "question from A", t);
            let reply = seed(
                &mut conn,
                &class,
                &b.user,
                Some(&root),
                "answer from B",
                t + Duration::minutes(1),
            );
            let lonely = seed(
                &mut conn,
                &class,
                &a.user,
                None,
                "nobody answered",
                t + Duration::minutes(2),
            );
            (class, root, reply, lonely)
        };

        assert_eq!(
            a.post(&app, &format!("/messages/{}/delete", root.id), &[])
                .await
                .status,
            303
        );
        assert_eq!(
            a.post(&app, &format!("/messages/{}/delete", lonely.id), &[])
                .await
                .status,
            303
        );

        let page = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
        let shown = shown_messages(&page);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0].id, root.id.to_string());
        assert_eq!(shown[0].text, "[deleted]");
        assert_eq!(shown[0].pseudonym, None);
        assert_eq!(shown[1].text, "answer from B");
        assert_eq!(shown[1].indent, 1);
        assert!(!page.contains("question from A") && !page.contains("nobody answered"));
        let mut conn = app.conn();
        assert!(
            chat::find(&mut conn, &lonely.id).unwrap().is_none(),
            "gone for good"
        );
        let placeholder = chat::find(&mut conn, &root.id).unwrap().unwrap();
        assert!(
            placeholder.deleted && placeholder.content.is_empty(),
            "its words are erased"
        );
        drop(conn);

        // When the last reply goes, the placeholder holding it up goes too.
        assert_eq!(
            b.post(&app, &format!("/messages/{}/delete", reply.id), &[])
                .await
                .status,
            303
        );
        let mut conn = app.conn();
        let left: i64 = class_messages::table.count().get_result(&mut conn).unwrap();
        assert_eq!(left, 0);
    }
);

backend_test!(
    async fn authors_edit_within_fifteen_minutes_and_only_their_own(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let b = student(&app, "bb2b").await;
        let mut conn = app.conn();
        let class = new_class(&mut conn, "1");
        enroll(&mut conn, &a.user, &class);
        enroll(&mut conn, &b.user, &class);
        let posted = clock::now();
        let message = post_at(&mut conn, &a.user, &class, None, "draft", &rules(), posted).unwrap();
        let body = MessageBody::parse("final").unwrap();
        let late = chat::edit(
            &mut conn,
            &a.user.id,
            &message.id,
            &body,
            &rules(),
            posted + Duration::minutes(16),
        );
        assert!(matches!(late, Err(ChatError::EditWindowClosed)), "{late:?}");
        let theirs = chat::edit(&mut conn, &b.user.id, &message.id, &body, &rules(), posted);
        assert!(matches!(theirs, Err(ChatError::NotYours)));
        drop(conn);

        let by_form = a
            .post(
                &app,
                &format!("/messages/{}/edit", message.id),
                &[("content", "final, really")],
            )
            .await;
        assert_eq!(by_form.status, 303);
        let page = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
        let shown = shown_messages(&page);
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(shown[0].text, "final, really");
        assert!(shown[0].edited, "marked edited");
        // Later, still within the window (and past the edit pacing).
        let edited = chat::edit(
            &mut app.conn(),
            &a.user.id,
            &message.id,
            &body,
            &rules(),
            posted + Duration::minutes(14),
        )
        .unwrap();
        assert_eq!(edited.content, "final");
        let refused = b
            .post(
                &app,
                &format!("/messages/{}/edit", message.id),
                &[("content", "mine")],
            )
            .await;
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("only messages you wrote"));
    }
);

// ---------------------------------------------------------------- 6. hostile text

backend_test!(
    async fn hostile_text_is_refused_or_shown_escaped(backend: Backend) {
        let app = spawn_app(backend).await;
        let writers = [
            student(&app, "aa1a").await,
            student(&app, "bb2b").await,
            student(&app, "cc3c").await,
            student(&app, "dd4d").await,
            student(&app, "ee5e").await,
        ];
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            for w in &writers {
                enroll(&mut conn, &w.user, &class);
            }
            class
        };
        let a = &writers[0];
        let refused = [
            ("x".repeat(2001), "at most 2000 characters; yours has 2001"),
            ("     ".to_string(), "empty"),
            ("\n\t  \r\n".to_string(), "empty"),
            ("nul\0byte".to_string(), "control character"),
            (
                "bell\u{7} and escape \u{1b}[2J".to_string(),
                "control character",
            ),
            ("abc\u{202E}cba".to_string(), "text-direction"),
        ];
        for (text, why) in &refused {
            let reply = a.post_message(&app, &class, text).await;
            assert_eq!(reply.status, 400, "{text:?}");
            assert!(reply.body.contains(why), "{text:?}: {}", reply.body);
            // The draft comes back in its form, to fix and send again.
            let doc = Html::parse_document(&reply.body);
            let forms = select(&doc, &format!("form[action='/classes/{class}/messages']"));
            assert_eq!(forms.len(), 1, "{text:?}: {}", reply.body);
            let kept: String = select(&doc, "#refused-draft")[0].text().collect();
            let typed: String = text
                .chars()
                .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
                .collect();
            assert_eq!(kept.trim(), typed.trim(), "{text:?}");
        }
        // Each accepted text from a different student: one post per 5 seconds each.
        let accepted = [
            "<script>alert('x')</script>",
            "\"><img src=x onerror=alert(1)>",
            "exam 🎓🦀 at 9 — café",
            "notes at https://example.edu/notes?a=1&b=2 and javascript:alert(1)",
            &"é".repeat(2000),
        ];
        for (writer, text) in writers.iter().zip(accepted) {
            let reply = writer.post_message(&app, &class, text).await;
            assert_eq!(reply.status, 303, "{text}: {}", reply.body);
        }
        let page = chat_as_seen(&app, &a.client, &format!("/classes/{class}")).await;
        let texts: Vec<String> = shown_messages(&page).into_iter().map(|m| m.text).collect();
        for text in accepted {
            assert!(texts.iter().any(|t| t == text), "{text} shown as itself");
        }
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img src=x"));
        let doc = Html::parse_document(&page);
        assert!(select(&doc, "main img, main script, [onerror]").is_empty());
        let links = select(&doc, ".msg-text a");
        assert_eq!(links.len(), 1);
        assert_eq!(
            links[0].value().attr("href"),
            Some("https://example.edu/notes?a=1&b=2")
        );
        assert_eq!(links[0].value().attr("rel"), Some("nofollow noopener"));

        // Hostile fields elsewhere: never a 500.
        let message_id = {
            let mut conn = app.conn();
            class_messages::table
                .select(class_messages::id)
                .first::<MessageId>(&mut conn)
                .unwrap()
        };
        let writer = &writers[1];
        for (path, fields) in [
            (
                format!("/classes/{class}/messages"),
                vec![("content", "ok"), ("parent_id", "\0")],
            ),
            (
                format!("/classes/{class}/messages"),
                vec![("content", "ok"), ("parent_id", "' OR 1=1 --")],
            ),
            (
                format!("/messages/{message_id}/flag"),
                vec![("reason", "bad\0reason")],
            ),
            (
                format!("/messages/{message_id}/flag"),
                vec![("reason", "\u{202E}")],
            ),
            (
                format!("/messages/{message_id}/edit"),
                vec![("content", "\0")],
            ),
        ] {
            let reply = writer.post(&app, &path, &fields).await;
            assert_eq!(reply.status, 400, "{path} {fields:?}");
        }
        for path in [
            format!("/classes/{class}?before=%00"),
            format!("/classes/{class}?before=1_2"),
            format!("/classes/{class}?before=99999999999999999999_{message_id}"),
            format!("/classes/{class}?before=a&before=b"),
            format!("/classes/{class}%00"),
            format!("/classes/{}", "f".repeat(36)),
        ] {
            let (status, _) = a.get(&app, &path).await;
            assert!(matches!(status, 400 | 404), "{path}: {status}");
        }
    }
);

// ---------------------------------------------------------------- 7. queries

/// Loads the class page data the way `GET /classes/{id}` does, on a connection
/// that counts every statement it runs.
fn count_page_queries(db: &TestDb, viewer: &UserId, class_id: &ClassId) -> (usize, usize) {
    let mut conn = db.connect();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let page = chat::class_page(&mut conn, viewer, class_id, None, &rules(), clock::now()).unwrap();
    let messages = page
        .chat
        .unwrap()
        .threads
        .iter()
        .map(|t| t.replies + 1)
        .sum();
    (count.load(Ordering::SeqCst), messages)
}

backend_test!(
    async fn the_class_page_runs_as_many_queries_for_500_messages_as_for_5(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let viewer = new_user(&mut conn, "vv1v");
        let other = new_user(&mut conn, "oo1o");
        enroll(&mut conn, &viewer, &class);
        enroll(&mut conn, &other, &class);
        let start = clock::now() - Duration::hours(5);
        let mut seeded = 0;
        let mut grow = |conn: &mut DbConn, until: usize| {
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                while seeded < until {
                    let at = start + Duration::seconds(seeded as i64);
                    let author = if seeded % 2 == 0 { &viewer } else { &other };
                    // Threads of ten: a first message and a chain of replies nine deep.
                    let parent: Option<ClassMessage> = if seeded % 10 == 0 {
                        None
                    } else {
                        class_messages::table
                            .filter(class_messages::class_id.eq(&class))
                            .order(class_messages::created_at.desc())
                            .select(ClassMessage::as_select())
                            .first(conn)
                            .optional()?
                    };
                    let m = seed(
                        conn,
                        &class,
                        author,
                        parent.as_ref(),
                        &format!("m{seeded}"),
                        at,
                    );
                    if seeded % 3 == 0 && author.id == other.id {
                        chat::insert_flag(
                            conn,
                            &chat::MessageFlag {
                                message_id: m.id.clone(),
                                user_id: viewer.id.clone(),
                                reason: None,
                                created_at: at,
                            },
                        )?;
                    }
                    seeded += 1;
                }
                Ok(())
            })
            .unwrap();
        };
        grow(&mut conn, 5);
        let (few, shown_few) = count_page_queries(&db, &viewer.id, &class);
        grow(&mut conn, 500);
        let (many, shown_many) = count_page_queries(&db, &viewer.id, &class);
        assert_eq!(shown_few, 5);
        assert_eq!(shown_many, 500, "50 threads of ten on the first page");
        assert_eq!(
            few, many,
            "queries with 5 messages: {few}, with 500: {many}"
        );
        eprintln!("class page queries: {few} with 5 messages, {many} with 500");
        // The head (class, meetings, enrollment, class mark, latest event,
        // and whether any thread is pinned: none here), and the threads with
        // the viewer's reports, votes and marks on them and their replies
        // counted (shown, answered, new to the viewer).
        assert_eq!(many, 2, "{many} queries");
    }
);

backend_test!(
    async fn the_class_page_over_http_runs_a_fixed_number_of_queries(backend: Backend) {
        let app = common::spawn_quiet_app(backend, &[]).await;
        let viewer = app.student("vv1v");
        let other = app.student("oo1o");
        let class = new_class(&mut app.conn(), "77");
        enroll(&mut app.conn(), &viewer.user, &class);
        enroll(&mut app.conn(), &other.user, &class);
        let start = clock::now() - Duration::hours(5);
        // One thread grows with the class: its page must cost the same too.
        let long = seed(
            &mut app.conn(),
            &class,
            &other.user,
            None,
            "a long thread",
            start,
        );
        let thread_path = format!("/classes/{class}/threads/{}", long.id);
        let mut counts = Vec::new();
        let mut thread_counts = Vec::new();
        let mut seeded = 0;
        let mut long_replies: Vec<ClassMessage> = Vec::new();
        for total in [5, 500] {
            let mut conn = app.conn();
            let mut last: Option<ClassMessage> = None;
            while seeded < total {
                let author = if seeded % 2 == 0 {
                    &viewer.user
                } else {
                    &other.user
                };
                let parent = if seeded % 10 == 0 { None } else { last.clone() };
                let at = start + Duration::seconds(seeded as i64 + 1);
                last = Some(seed(
                    &mut conn,
                    &class,
                    author,
                    parent.as_ref(),
                    &format!("m{seeded}"),
                    at,
                ));
                // The long thread gets a reply too: chains and siblings, some
                // of them reported by the viewer.
                let parent = match long_replies.len() % 4 {
                    0 => &long,
                    _ => long_replies.last().unwrap(),
                };
                let reply = seed(
                    &mut conn,
                    &class,
                    author,
                    Some(parent),
                    &format!("r{seeded}"),
                    at,
                );
                if seeded % 3 == 0 && author.id == other.user.id {
                    chat::insert_flag(
                        &mut conn,
                        &chat::MessageFlag {
                            message_id: reply.id.clone(),
                            user_id: viewer.user.id.clone(),
                            reason: None,
                            created_at: at,
                        },
                    )
                    .unwrap();
                }
                long_replies.push(reply);
                seeded += 1;
            }
            drop(conn);
            let path = format!("/classes/{class}");
            viewer.get(&app, &path).await; // a first use, as a student's would be
            let before = app.query_count();
            let (status, _) = viewer.get(&app, &path).await;
            assert_eq!(status, 200);
            counts.push(app.query_count() - before);

            viewer.get(&app, &thread_path).await; // marks the new replies read
            let before = app.query_count();
            let (status, page) = viewer.get(&app, &thread_path).await;
            assert_eq!(status, 200);
            thread_counts.push(app.query_count() - before);
            assert_eq!(
                shown_messages(&page).len(),
                total + 1,
                "the thread page shows the whole thread"
            );
        }
        eprintln!(
            "{backend:?}: GET /classes/{{id}} ran {counts:?} queries with 5 and 500 messages, \
             its thread page {thread_counts:?} with 5 and 500 replies"
        );
        assert_eq!(counts[0], counts[1]);
        assert_eq!(thread_counts[0], thread_counts[1]);
    }
);

// ---------------------------------------------------------------- 8. paging

backend_test!(
    async fn older_pages_show_every_thread_once_in_order_while_new_ones_arrive(backend: Backend) {
        let app = spawn_app(backend).await;
        let reader = student(&app, "rr1r").await;
        let (class, expected, writer) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            let writer = new_user(&mut conn, "ww1w");
            enroll(&mut conn, &reader.user, &class);
            enroll(&mut conn, &writer, &class);
            let start = clock::now() - Duration::hours(2);
            // Each thread with the time of its latest activity.
            let mut threads: Vec<(NaiveDateTime, String)> = Vec::new();
            for i in 0..120 {
                // Pairs share a timestamp: the id breaks the tie.
                let at = start + Duration::seconds(i / 2);
                let root = seed(&mut conn, &class, &writer, None, &format!("thread {i}"), at);
                let mut active = at;
                if i % 7 == 0 {
                    // A reply moves its thread ahead of the next 14, level with two.
                    active = at + Duration::seconds(7);
                    seed(
                        &mut conn,
                        &class,
                        &reader.user,
                        Some(&root),
                        "a reply",
                        active,
                    );
                }
                threads.push((active, root.id.to_string()));
            }
            threads.sort_by(|x, y| y.cmp(x));
            let expected: Vec<String> = threads.into_iter().map(|(_, id)| id).collect();
            (class, expected, writer)
        };
        let bumped_unseen = expected[100].clone();
        let mut seen: Vec<String> = Vec::new();
        let mut sizes = Vec::new();
        let mut next = Some(format!("/classes/{class}"));
        while let Some(path) = next {
            let (status, page) = reader.get(&app, &path).await;
            assert_eq!(status, 200, "{path}");
            let roots = thread_roots(&page);
            sizes.push(roots.len());
            seen.extend(roots.iter().cloned());
            next = older_link(&page);
            if next.is_some() {
                assert!(page.contains(">Older threads</a>"), "{path}");
            }
            // New threads and replies arrive between pages: a new thread, a
            // reply to the last thread just shown (the one the older link
            // starts after), and one to a thread not reached yet.
            let mut conn = app.conn();
            let newest = seed(
                &mut conn,
                &class,
                &writer,
                None,
                "breaking news",
                clock::now(),
            );
            seed(
                &mut conn,
                &class,
                &writer,
                Some(&newest),
                "more news",
                clock::now(),
            );
            for id in [roots.last().unwrap(), &bumped_unseen] {
                let old_root = chat::find(&mut conn, &MessageId(id.clone()))
                    .unwrap()
                    .unwrap();
                seed(
                    &mut conn,
                    &class,
                    &writer,
                    Some(&old_root),
                    "late reply",
                    clock::now(),
                );
            }
        }
        // The thread replied to before the reader reached it moved up to the
        // latest page; every other thread shows once, by latest activity.
        assert_eq!(sizes, vec![50, 50, 19]);
        let once: Vec<String> = expected
            .iter()
            .filter(|id| **id != bumped_unseen)
            .cloned()
            .collect();
        assert_eq!(
            seen, once,
            "each of the other 119 threads once, latest activity first"
        );
        let (_, latest) = reader.get(&app, &format!("/classes/{class}")).await;
        let latest = thread_roots(&latest);
        assert!(
            latest[..3].contains(&bumped_unseen),
            "a reply brings its thread to the top: {latest:?}"
        );
    }
);

// ---------------------------------------------------------------- threads and limits

backend_test!(
    async fn deep_replies_stop_indenting_at_the_third_level(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let b = student(&app, "bb2b").await;
        let (class, chain) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            enroll(&mut conn, &b.user, &class);
            let t = clock::now() - Duration::minutes(10);
            let mut chain: Vec<ClassMessage> = Vec::new();
            for depth in 0..6 {
                let author = if depth % 2 == 0 { &a.user } else { &b.user };
                let m = seed(
                    &mut conn,
                    &class,
                    author,
                    chain.last(),
                    &format!("depth {depth}"),
                    t + Duration::seconds(depth),
                );
                chain.push(m);
            }
            // A sibling reply to the first message comes after the whole chain.
            seed(
                &mut conn,
                &class,
                &b.user,
                Some(&chain[0]),
                "sibling",
                t + Duration::seconds(30),
            );
            (class, chain)
        };
        let page = chat_as_seen(&app, &a.client, &format!("/classes/{class}")).await;
        assert_eq!(thread_links(&page).len(), 1, "one thread");
        let shown = shown_messages(&page);
        let texts: Vec<&str> = shown.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            ["depth 0", "depth 1", "depth 2", "depth 3", "depth 4", "depth 5", "sibling"]
        );
        let indents: Vec<usize> = shown.iter().map(|m| m.indent).collect();
        assert_eq!(indents, [0, 1, 2, 3, 3, 3, 1]);
        let depths: Vec<usize> = shown.iter().map(|m| m.depth).collect();
        assert_eq!(depths, [0, 1, 2, 3, 4, 5, 1]);
        // Every reply says what it answers; within the indent it is read out
        // only (a screen reader hears no indent), past it shown.
        assert_eq!(shown[0].replying_to, None);
        assert_eq!(
            shown[3].replying_to.as_deref(),
            Some(format!("replying to {}", chain[2].anonymous_identifier).as_str())
        );
        assert_eq!(
            shown[6].replying_to.as_deref(),
            Some(format!("replying to {}", chain[0].anonymous_identifier).as_str())
        );
        let hidden_notes = select(&Html::parse_document(&page), "li.msg-item")
            .into_iter()
            .map(|item| {
                let sel = Selector::parse(".replying-to.visually-hidden").unwrap();
                item.select(&sel).next().is_some()
            })
            .collect::<Vec<bool>>();
        assert_eq!(hidden_notes, [false, true, true, true, false, false, true]);
        assert_eq!(
            shown[4].replying_to.as_deref(),
            Some(format!("replying to {}", chain[3].anonymous_identifier).as_str())
        );
        assert_eq!(
            shown[5].replying_to.as_deref(),
            Some(format!("replying to {}", chain[4].anonymous_identifier).as_str())
        );
        let you: Vec<bool> = shown.iter().map(|m| m.you).collect();
        assert_eq!(you, [true, false, true, false, true, false, false]);
    }
);

backend_test!(
    async fn edits_are_paced_like_posts(backend: Backend) {
        // Arrange: a student's message, and a classmate reading the class.
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let b = student(&app, "bb2b").await;
        let mut conn = app.conn();
        let class = new_class(&mut conn, "1");
        enroll(&mut conn, &a.user, &class);
        enroll(&mut conn, &b.user, &class);
        let t0 = clock::now();
        let message = post_at(&mut conn, &a.user, &class, None, "draft", &rules(), t0).unwrap();
        drop(conn);

        // Act: two edits by form at once.
        let edit = |text: &'static str| {
            let path = format!("/messages/{}/edit", message.id);
            let a = &a;
            let app = &app;
            async move { a.post(app, &path, &[("content", text)]).await }
        };
        let first = edit("draft, fixed").await;
        let second = edit("draft, fixed again").await;

        // Assert: the second waits, with the reason; the class reads the first.
        assert_eq!(first.status, 303);
        assert_eq!(second.status, 429, "{}", second.body);
        assert!(
            second.body.contains("You can edit once every 5 seconds"),
            "{}",
            second.body
        );
        let page = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
        assert_eq!(shown_messages(&page)[0].text, "draft, fixed");

        // And an hour holds at most `posts_per_hour` edits (30 in `rules()`),
        // each spaced past the 5 seconds.
        let mut conn = app.conn();
        let later = t0 + Duration::seconds(10);
        let mut outcomes = Vec::new();
        for i in 0..31 {
            let body = MessageBody::parse(&format!("version {i}")).unwrap();
            let at = later + Duration::seconds(6 * i);
            outcomes.push(chat::edit(
                &mut conn,
                &a.user.id,
                &message.id,
                &body,
                &rules(),
                at,
            ));
        }
        // The form's edit counted too: the 30th here is the 31st of the hour.
        assert!(outcomes[..29].iter().all(Result::is_ok));
        assert!(
            matches!(outcomes[29], Err(ChatError::EditHourlyLimit { .. })),
            "{:?}",
            outcomes[29]
        );
    }
);

backend_test!(
    async fn posting_limits_refuse_with_the_reason_and_the_time(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let other_class = new_class(&mut conn, "2");
        let a = new_user(&mut conn, "aa1a");
        enroll(&mut conn, &a, &class);
        enroll(&mut conn, &a, &other_class);
        let r = rules();
        let t0 = clock::now();

        post_at(&mut conn, &a, &class, None, "one", &r, t0).unwrap();
        match post_at(
            &mut conn,
            &a,
            &class,
            None,
            "two",
            &r,
            t0 + Duration::seconds(2),
        ) {
            Err(ChatError::TooFast { retry_at }) => assert_eq!(retry_at, t0 + Duration::seconds(5)),
            other => panic!("expected the 5-second limit, got {other:?}"),
        }
        // Another class has its own limit.
        post_at(
            &mut conn,
            &a,
            &other_class,
            None,
            "elsewhere",
            &r,
            t0 + Duration::seconds(2),
        )
        .unwrap();
        match post_at(
            &mut conn,
            &a,
            &class,
            None,
            "one",
            &r,
            t0 + Duration::seconds(6),
        ) {
            Err(ChatError::Duplicate { retry_at }) => {
                assert_eq!(retry_at, t0 + Duration::minutes(5))
            }
            other => panic!("expected the repeat rule, got {other:?}"),
        }
        post_at(
            &mut conn,
            &a,
            &class,
            None,
            "one",
            &r,
            t0 + Duration::minutes(5) + Duration::seconds(1),
        )
        .unwrap();

        // 30 an hour: 28 more at 10-second steps, then the 31st waits for the first to age out.
        let t1 = t0 + Duration::minutes(10);
        for i in 0..28 {
            post_at(
                &mut conn,
                &a,
                &class,
                None,
                &format!("n{i}"),
                &r,
                t1 + Duration::seconds(10 * i),
            )
            .unwrap();
        }
        let t2 = t1 + Duration::seconds(10 * 28);
        match post_at(&mut conn, &a, &class, None, "one too many", &r, t2) {
            Err(ChatError::HourlyLimit { retry_at }) => {
                assert_eq!(retry_at, t0 + Duration::hours(1))
            }
            other => panic!("expected the hourly limit, got {other:?}"),
        }
        post_at(
            &mut conn,
            &a,
            &class,
            None,
            "later",
            &r,
            t0 + Duration::hours(1) + Duration::seconds(1),
        )
        .unwrap();

        // A refused post leaves nothing behind, not even a counted hit.
        let suspended_until = t0 + Duration::days(2);
        accounts::update(
            &mut conn,
            &a.id,
            &UserChanges {
                suspended_until: Some(Some(suspended_until)),
                ..Default::default()
            },
        )
        .unwrap();
        let a = accounts::find(&mut conn, &a.id).unwrap().unwrap();
        match post_at(
            &mut conn,
            &a,
            &class,
            None,
            "let me",
            &r,
            t0 + Duration::hours(2),
        ) {
            Err(ChatError::Suspended { until }) => assert_eq!(until, suspended_until),
            other => panic!("expected the suspension, got {other:?}"),
        }
    }
);

backend_test!(
    async fn limit_pages_say_why_and_when(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            class
        };
        assert_eq!(a.post_message(&app, &class, "first").await.status, 303);
        let fast = a.post_message(&app, &class, "second").await;
        assert_eq!(fast.status, 429);
        assert!(fast.body.contains("once every 5 seconds"), "{}", fast.body);
        assert!(fast.body.contains("Try again after"));
        assert!(fast
            .retry_after
            .is_some_and(|s| (1..=5).contains(&s.parse::<i64>().unwrap())));

        let until = clock::now() + Duration::days(3);
        accounts::update(
            &mut app.conn(),
            &a.user.id,
            &UserChanges {
                suspended_until: Some(Some(until)),
                ..Default::default()
            },
        )
        .unwrap();
        let suspended = a.post_message(&app, &class, "third").await;
        assert_eq!(suspended.status, 403);
        assert!(suspended.body.contains("suspended"));
        // The end, in campus time with its zone ("Dec 4, 2026, 1:30 PM EST").
        let end = common_grounds::campus_time::CampusTime::default().exact(until);
        assert!(suspended.body.contains(&end.title), "{}", suspended.body);
    }
);

backend_test!(
    async fn chat_forms_need_a_session_and_its_csrf_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = student(&app, "aa1a").await;
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            class
        };
        let forged = a
            .client
            .post(app.url(&format!("/classes/{class}/messages")))
            .form(&[("csrf_token", "forged"), ("content", "hi")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        let (status, _) = app.get_html(&format!("/classes/{class}")).await;
        assert_eq!(status, 303, "signed-out visitors are sent to sign in");
        let count: i64 = class_messages::table
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(count, 0);
    }
);

// Left the class in another tab, then sent what was typed here: the text is
// kept to copy, with the way back into the class, not lost to a bare page.
backend_test!(
    async fn a_post_to_a_class_left_since_keeps_its_draft(backend: Backend) {
        use common_grounds::db::schema::user_classes;
        let app = spawn_app(backend).await;
        let a = student(&app, "lf1t").await;
        let (class, mine) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            let mine = seed(
                &mut conn,
                &class,
                &a.user,
                None,
                "my earlier post",
                clock::now(),
            );
            (class, mine)
        };
        diesel::delete(user_classes::table.find((&a.user.id, &class)))
            .execute(&mut app.conn())
            .unwrap();

        let reply = a
            .post_message(&app, &class, "my long question <about> the exam")
            .await;

        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(
            reply.body.contains("Only students who added this class"),
            "{}",
            reply.body
        );
        assert!(
            reply
                .body
                .contains("my long question &#60;about&#62; the exam"),
            "the draft is kept, escaped: {}",
            reply.body
        );
        assert!(
            reply.body.contains(&format!(
                r#"<a href="/classes/{class}">Open the class page to join it</a>"#
            )),
            "{}",
            reply.body
        );
        assert!(
            !reply
                .body
                .contains(r#"<button type="submit">Post</button>"#),
            "sending it again from here cannot work: {}",
            reply.body
        );
        // An edit of their own message there: the same, not "deleted".
        let edit = a
            .post(
                &app,
                &format!("/messages/{}/edit", mine.id),
                &[("content", "my earlier post, mended")],
            )
            .await;
        assert_eq!(edit.status, 403, "{}", edit.body);
        assert!(
            edit.body.contains("Only students who added this class"),
            "{}",
            edit.body
        );
        assert!(
            edit.body.contains("my earlier post, mended"),
            "{}",
            edit.body
        );
        assert!(
            edit.body.contains(&format!(
                r#"<a href="/classes/{class}">Open the class page to join it</a>"#
            )),
            "{}",
            edit.body
        );
    }
);

backend_test!(
    async fn a_post_that_waits_out_a_held_lock_says_try_again_and_saves_nothing(backend: Backend) {
        use diesel::connection::SimpleConnection;
        let app = spawn_app(backend).await;
        let a = student(&app, "mst3k").await;
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            class
        };
        // Another writer (a migration, an operator's LOCK, a long job) holds
        // what a post needs for 8 s, longer than a request waits for it.
        let mut holder = app.db.connect();
        holder
            .batch_execute(match backend {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                Backend::Postgres => "BEGIN; LOCK TABLE class_messages IN EXCLUSIVE MODE",
            })
            .unwrap();
        let held = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(8));
            holder.batch_execute("ROLLBACK").unwrap();
        });
        let started = std::time::Instant::now();
        let reply = a.post_message(&app, &class, "held back by a lock").await;
        let took = started.elapsed();
        held.join().unwrap();

        assert_eq!(reply.status, 503, "a lock held too long: {}", reply.body);
        assert!(
            reply.body.contains("Your message was not posted"),
            "{}",
            reply.body
        );
        assert!(
            reply
                .body
                .contains("too busy to save your message just now"),
            "{}",
            reply.body
        );
        // The words typed come back to send again, not lost with the page.
        assert!(
            reply.body.contains(">held back by a lock</textarea>"),
            "{}",
            reply.body
        );
        assert_eq!(reply.retry_after.as_deref(), Some("5"));
        assert!(
            took < std::time::Duration::from_secs(8),
            "the request waited {took:?}, for the lock to be let go"
        );
        let page = chat_as_seen(&app, &a.client, &format!("/classes/{class}")).await;
        assert!(
            !page.contains("held back by a lock"),
            "nothing of the refused post is kept"
        );

        // Once the lock is free, the same post goes through, once.
        assert_eq!(
            a.post_message(&app, &class, "held back by a lock")
                .await
                .status,
            303
        );
        let page = chat_as_seen(&app, &a.client, &format!("/classes/{class}")).await;
        let shown: Vec<String> = shown_messages(&page)
            .into_iter()
            .map(|m| m.text)
            .filter(|t| t.contains("held back by a lock"))
            .collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
    }
);

backend_test!(
    async fn a_post_or_edit_refused_by_a_limit_or_its_text_keeps_the_draft(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = student(&app, "drf1a").await;
        let class = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            class
        };
        let first = a.post_message(&app, &class, "Is the lab due Friday?").await;
        assert_eq!(first.status, 303, "{}", first.body);
        // The same text again at once: a limit, when to retry, and the draft.
        let again = a.post_message(&app, &class, "Is the lab due Friday?").await;
        assert_eq!(again.status, 429, "{}", again.body);
        assert!(again.retry_after.is_some());
        assert!(again.body.contains("Nothing was saved"), "{}", again.body);
        let doc = Html::parse_document(&again.body);
        assert_eq!(
            select(&doc, &format!("form[action='/classes/{class}/messages']")).len(),
            1
        );
        let kept: String = select(&doc, "#refused-draft")[0].text().collect();
        assert_eq!(kept, "Is the lab due Friday?");

        // An edit refused for its text keeps it, and leads back to the message.
        let id: String = class_messages::table
            .filter(class_messages::user_id.eq(&a.user.id))
            .select(class_messages::id)
            .first(&mut app.conn())
            .unwrap();
        let long = "y".repeat(2001);
        let edit = a
            .post(&app, &format!("/messages/{id}/edit"), &[("content", &long)])
            .await;
        assert_eq!(edit.status, 400, "{}", edit.body);
        let doc = Html::parse_document(&edit.body);
        assert_eq!(
            select(&doc, &format!("form[action='/messages/{id}/edit']")).len(),
            1
        );
        let kept: String = select(&doc, "#refused-draft")[0].text().collect();
        assert_eq!(kept, long);
        let back: Vec<_> = select(&doc, "a")
            .into_iter()
            .filter_map(|l| l.value().attr("href"))
            .filter(|h| h.contains(&id))
            .collect();
        assert!(!back.is_empty(), "a way back to the message");
        // A reply refused for its text leads back to its parent on the
        // thread's page (the reply form names the page it was on).
        let thread = format!("/classes/{class}/threads/{id}");
        let (_, page) = a.get(&app, &thread).await;
        let doc = Html::parse_document(&page);
        let form_back: Vec<String> =
            select(&doc, "form input[name='parent_id'] ~ input[name='back']")
                .into_iter()
                .filter_map(|i| i.value().attr("value").map(str::to_string))
                .collect();
        assert_eq!(form_back, vec![thread.clone()]);
        let reply = a
            .post(
                &app,
                &format!("/classes/{class}/messages"),
                &[("content", &long), ("parent_id", &id), ("back", &thread)],
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        let doc = Html::parse_document(&reply.body);
        let hrefs: Vec<&str> = select(&doc, ".compose-foot a")
            .into_iter()
            .filter_map(|l| l.value().attr("href"))
            .collect();
        assert_eq!(hrefs, vec![format!("{thread}#m-{id}").as_str()]);
        // Another student's message: refused as before, with nothing of it.
        let b = student(&app, "drf2b").await;
        let theirs = b
            .post(&app, &format!("/messages/{id}/edit"), &[("content", &long)])
            .await;
        assert!(!theirs.body.contains("refused-draft"), "{}", theirs.body);
    }
);

// A reply whose message was deleted meanwhile (kept as a placeholder above
// other replies, or gone) cannot be sent again as a reply: its draft comes
// back in a form that posts it as a new thread, and that goes through.
backend_test!(
    async fn a_reply_to_a_deleted_message_can_be_a_new_thread(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = student(&app, "rdl1a").await;
        let b = student(&app, "rdl2b").await;
        let c = student(&app, "rdl3c").await;
        let (class, root, lonely) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            enroll(&mut conn, &b.user, &class);
            enroll(&mut conn, &c.user, &class);
            let t = clock::now() - Duration::minutes(10);
            let root = seed(&mut conn, &class, &a.user, None, "question from A", t);
            seed(
                &mut conn,
                &class,
                &a.user,
                Some(&root),
                "a detail from A",
                t + Duration::minutes(1),
            );
            let lonely = seed(&mut conn, &class, &a.user, None, "nobody answered", t);
            (class, root, lonely)
        };
        for gone in [&root, &lonely] {
            let deleted = a
                .post(&app, &format!("/messages/{}/delete", gone.id), &[])
                .await;
            assert_eq!(deleted.status, 303, "{}", deleted.body);
        }
        // Each by another student: one post of a student's a few seconds.
        // One text for both: which it was would tell whether a message gone
        // from the class's view was kept for moderators.
        let mut whys = Vec::new();
        for (b, gone, draft) in [
            (&b, &root, "B's reply under the placeholder"),
            (&c, &lonely, "C's reply to the lonely one"),
        ] {
            let draft = draft.to_string();
            let refused = b
                .post(
                    &app,
                    &format!("/classes/{class}/messages"),
                    &[
                        ("content", draft.as_str()),
                        ("parent_id", &gone.id.to_string()),
                    ],
                )
                .await;
            assert_eq!(refused.status, 400, "{}", refused.body);
            let doc = Html::parse_document(&refused.body);
            let why: String = select(&doc, "#refused-why")[0].text().collect();
            assert!(why.contains("post yours as a new thread"), "{why}");
            whys.push(why);
            let kept: String = select(&doc, "#refused-draft")[0].text().collect();
            assert_eq!(kept, draft);
            assert!(
                select(&doc, "form.compose input[name='parent_id']").is_empty(),
                "sent again, it would be refused again: {}",
                refused.body
            );
            let button: String = select(&doc, "form.compose button[type='submit']")[0]
                .text()
                .collect();
            assert_eq!(button, "Post as a new thread");
            let back: Vec<&str> = select(&doc, ".compose-foot a")
                .into_iter()
                .filter_map(|l| l.value().attr("href"))
                .collect();
            assert_eq!(back, vec![format!("/classes/{class}").as_str()]);
            // The form as it stands takes the new thread's usual way: past
            // "maybe already answered" if that is asked, then in the class.
            let fields: Vec<(String, String)> = select(&doc, "form.compose input")
                .into_iter()
                .filter_map(|i| {
                    let v = i.value();
                    Some((v.attr("name")?.to_string(), v.attr("value")?.to_string()))
                })
                .collect();
            let mut sent: Vec<(&str, &str)> = fields
                .iter()
                .filter(|(name, _)| name != "csrf_token")
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            sent.push(("content", &kept));
            let mut posted = b
                .post(&app, &format!("/classes/{class}/messages"), &sent)
                .await;
            if posted.status == 200 {
                assert!(
                    posted.body.contains(r#"name="confirmed""#),
                    "{}",
                    posted.body
                );
                sent.push(("confirmed", "1"));
                posted = b
                    .post(&app, &format!("/classes/{class}/messages"), &sent)
                    .await;
            }
            assert_eq!(posted.status, 303, "{}", posted.body);
            let page = chat_as_seen(&app, &b.client, &format!("/classes/{class}")).await;
            let thread = shown_messages(&page)
                .into_iter()
                .find(|m| m.text == draft)
                .unwrap_or_else(|| panic!("{draft} is not on the class page"));
            assert_eq!(thread.indent, 0, "a new thread, not a reply");
        }
        assert_eq!(whys[0], whys[1]);
        // An edit of a message deleted since (in another tab), kept as a
        // placeholder or gone for good: the draft is kept to copy, with no
        // button that would only be refused again, and "back" does not lead
        // to a thread that may be gone.
        for (gone, status, back) in [
            (&root, 400, format!("/classes/{class}")),
            (&lonely, 404, "/".to_string()),
        ] {
            let draft = "A's edit, too late";
            let refused = a
                .post(
                    &app,
                    &format!("/messages/{}/edit", gone.id),
                    &[("content", draft)],
                )
                .await;
            assert_eq!(refused.status, status, "{}", refused.body);
            let doc = Html::parse_document(&refused.body);
            let kept: String = select(&doc, "#refused-draft")[0].text().collect();
            assert_eq!(kept, draft);
            assert!(
                select(&doc, "form.compose button").is_empty(),
                "{}",
                refused.body
            );
            let hrefs: Vec<&str> = select(&doc, ".compose-foot a")
                .into_iter()
                .filter_map(|l| l.value().attr("href"))
                .collect();
            assert_eq!(hrefs, vec![back.as_str()]);
        }
    }
);

// A reported message its author deleted is kept for moderators, on no page:
// to a classmate it must answer every action exactly as a message deleted
// for good does, or the difference would tell them it had been reported.
// The same for a reply kept up by nothing the class sees (only by another
// kept row under it), for a classmate's held message, and for the actions
// on a whole thread (follow, mark read) and on an answer.
backend_test!(
    async fn a_deleted_message_kept_for_moderators_answers_as_one_gone(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = student(&app, "kfm1a").await;
        let b = student(&app, "kfm2b").await;
        let (class, reported, unreported, held, question) = {
            let mut conn = app.conn();
            let class = new_class(&mut conn, "1");
            enroll(&mut conn, &a.user, &class);
            enroll(&mut conn, &b.user, &class);
            let t = clock::now() - Duration::minutes(10);
            let reported = seed(
                &mut conn,
                &class,
                &a.user,
                None,
                "reported, then deleted",
                t,
            );
            let unreported = seed(&mut conn, &class, &a.user, None, "just deleted", t);
            // And one held for review, which is not there for a classmate either.
            let held = seed(&mut conn, &class, &a.user, None, "held for review", t);
            diesel::update(class_messages::table.find(&held.id))
                .set(class_messages::held.eq(true))
                .execute(&mut conn)
                .unwrap();
            let question = seed(&mut conn, &class, &b.user, None, "B asks", t);
            (class, reported, unreported, held, question)
        };
        // B's question; A's reply to it (B marks it the answer and upvotes
        // it) and A's reply under that, both reported, then deleted; and one
        // A deletes for good. Posted through the domain, so B hears of each.
        let (reply, under, gone_reply) = {
            let mut conn = app.conn();
            let rules = rules();
            let at = |s: i64| clock::now() - Duration::seconds(s);
            let mut reply_at = |parent: &MessageId, text: &str, s: i64| {
                post_at(
                    &mut conn,
                    &a.user,
                    &class,
                    Some(parent),
                    text,
                    &rules,
                    at(s),
                )
                .unwrap()
            };
            let reply = reply_at(&question.id, "A answers", 30);
            let under = reply_at(&reply.id, "A adds", 20);
            let gone_reply = reply_at(&question.id, "A again", 10);
            (reply, under, gone_reply)
        };
        // B follows A's reported thread by hand and has read it.
        let thread_page = format!("/classes/{class}/threads/{}", reported.id);
        let followed = b.post(&app, &format!("{thread_page}/follow"), &[]).await;
        assert_eq!(followed.status, 303, "{}", followed.body);
        let read = b.post(&app, &format!("{thread_page}/read"), &[]).await;
        assert_eq!(read.status, 204, "{}", read.body);
        let held_by_b = |conn: &mut DbConn| {
            let notices: i64 = notifications::table
                .filter(notifications::user_id.eq(&b.user.id))
                .filter(
                    notifications::message_id
                        .eq_any([&reply.id, &under.id, &gone_reply.id])
                        .or(notifications::thread_id.eq(&reported.id)),
                )
                .count()
                .get_result(conn)
                .unwrap();
            let follows: i64 = thread_follows::table
                .filter(thread_follows::user_id.eq(&b.user.id))
                .filter(thread_follows::thread_id.eq(&reported.id))
                .count()
                .get_result(conn)
                .unwrap();
            let reads: i64 = chat_thread_reads::table
                .filter(chat_thread_reads::user_id.eq(&b.user.id))
                .filter(chat_thread_reads::thread_id.eq(&reported.id))
                .count()
                .get_result(conn)
                .unwrap();
            (notices, follows, reads)
        };
        // (A's reply under A's own reply tells B nothing: not a reply to B.)
        assert_eq!(
            held_by_b(&mut app.conn()),
            (2, 1, 1),
            "B heard, follows, read"
        );
        let marked = b
            .post(
                &app,
                &format!("/messages/{}/answer", reply.id),
                &[("mark", "yes")],
            )
            .await;
        assert_eq!(marked.status, 303, "{}", marked.body);
        let back = format!("/classes/{class}");
        let voted = b
            .post(
                &app,
                &format!("/messages/{}/vote", reply.id),
                &[("vote", "up"), ("back", &back)],
            )
            .await;
        assert_eq!(voted.status, 303, "{}", voted.body);
        for kept in [&reported, &reply, &under] {
            let flagged = b
                .post(
                    &app,
                    &format!("/messages/{}/flag", kept.id),
                    &[("reason", "rude")],
                )
                .await;
            assert_eq!(flagged.status, 303, "{}", flagged.body);
        }
        // The reply first: a placeholder above the shown reply under it,
        // until that goes too, and with it the placeholder from every page.
        for gone in [&reported, &unreported, &reply, &under, &gone_reply] {
            let deleted = a
                .post(&app, &format!("/messages/{}/delete", gone.id), &[])
                .await;
            assert_eq!(deleted.status, 303, "{}", deleted.body);
        }
        {
            let mut conn = app.conn();
            for kept in [&reported, &reply, &under] {
                assert!(chat::find(&mut conn, &kept.id).unwrap().is_some(), "kept");
            }
            for gone in [&unreported, &gone_reply] {
                assert!(chat::find(&mut conn, &gone.id).unwrap().is_none(), "gone");
            }
            // B's upvote went with the delete, as it would with the row: left
            // on a row no page shows, it could not be taken back, and B's
            // export would list it.
            let votes: i64 = message_votes::table
                .filter(message_votes::message_id.eq(&reply.id))
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(votes, 0, "a vote on a deleted message must go with it");
            // Nor does B hold anything about them a message deleted for good
            // would have taken along: notices, the follow, the read mark.
            assert_eq!(held_by_b(&mut conn), (0, 0, 0), "what B holds of kept rows");
            // Nor is the kept reply B's question's answer any more, as with a
            // row gone (its next answer change would name it to the class).
            let answer = chat::find(&mut conn, &question.id)
                .unwrap()
                .unwrap()
                .answer_id;
            assert_eq!(answer, None, "the answer still names a kept reply");
            // Open pages heard the placeholder leave, as when it goes for good.
            let deletes: i64 = chat_events::table
                .filter(chat_events::message_id.eq(&reply.id))
                .filter(chat_events::kind.eq("delete"))
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(deletes, 2, "deleted, then gone from every page");
        }
        let on_message = |id: &MessageId| {
            vec![
                (
                    format!("/messages/{id}/edit"),
                    vec![("content", "x".to_string())],
                ),
                (format!("/messages/{id}/delete"), vec![]),
                (
                    format!("/messages/{id}/flag"),
                    vec![("reason", "spam".to_string())],
                ),
                (
                    format!("/messages/{id}/vote"),
                    vec![("vote", "up".to_string()), ("back", back.clone())],
                ),
                (
                    format!("/messages/{id}/vote"),
                    vec![("vote", "take_back".to_string()), ("back", back.clone())],
                ),
                (
                    format!("/messages/{id}/answer"),
                    vec![("mark", "yes".to_string())],
                ),
                (
                    format!("/messages/{id}/answer"),
                    vec![("mark", "no".to_string())],
                ),
            ]
        };
        let on_thread = |id: &MessageId| {
            ["follow", "unfollow", "read"]
                .into_iter()
                .map(|action| (format!("/classes/{class}/threads/{id}/{action}"), vec![]))
                .collect::<Vec<(String, Vec<(&str, String)>)>>()
        };
        let masked = |reply: &Reply, id: &MessageId| {
            let body = reply.visible().replace(&id.to_string(), "ID");
            let body = without_csrf(&body);
            (reply.status, body)
        };
        let cases = [
            (&reported, &unreported, "kept for moderators", true),
            (&held, &unreported, "held", true),
            (&reply, &gone_reply, "kept, above another kept reply", false),
            (&under, &gone_reply, "kept, under another kept reply", false),
        ];
        for (hidden, gone, what, thread) in cases {
            let mut actions: Vec<_> = on_message(&hidden.id)
                .into_iter()
                .zip(on_message(&gone.id))
                .collect();
            if thread {
                actions.extend(on_thread(&hidden.id).into_iter().zip(on_thread(&gone.id)));
            }
            for (kept, gone_action) in actions {
                let kept_fields: Vec<(&str, &str)> =
                    kept.1.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let gone_fields: Vec<(&str, &str)> = gone_action
                    .1
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect();
                let on_kept = b.post(&app, &kept.0, &kept_fields).await;
                let on_gone = b.post(&app, &gone_action.0, &gone_fields).await;
                assert_eq!(on_gone.status, 404, "{}: {}", gone_action.0, on_gone.body);
                assert_eq!(
                    masked(&on_kept, &hidden.id),
                    masked(&on_gone, &gone.id),
                    "{} answers otherwise for a message {what}",
                    kept.0
                );
            }
        }
        // What a page shows, its thread actions still take: a thread whose
        // deleted first post a classmate's reply keeps up, and, for a
        // moderator in the class, a classmate's held thread.
        let kept_up = {
            let mut conn = app.conn();
            let t = clock::now() - Duration::minutes(5);
            let root = seed(&mut conn, &class, &a.user, None, "A's thread", t);
            seed(&mut conn, &class, &b.user, Some(&root), "B's reply", t);
            root
        };
        let deleted = a
            .post(&app, &format!("/messages/{}/delete", kept_up.id), &[])
            .await;
        assert_eq!(deleted.status, 303, "{}", deleted.body);
        for (action, status) in [("follow", 303), ("unfollow", 303), ("read", 204)] {
            let path = format!("/classes/{class}/threads/{}/{action}", kept_up.id);
            let answer = b.post(&app, &path, &[]).await;
            assert_eq!(answer.status, status, "{path}: {}", answer.body);
        }
        // A's export lists a deleted message of theirs only where their own
        // page shows it: the thread B's reply keeps up, not the rows kept
        // for moderators (`reply` has a kept reply under it, and no more).
        let (status, export) = a.get(&app, "/account/export").await;
        assert_eq!(status, 200, "{export}");
        assert!(export.contains(kept_up.id.as_str()), "{export}");
        for kept in [&reported, &reply, &under] {
            assert!(!export.contains(kept.id.as_str()), "{}: {export}", kept.id);
        }
        let moderator = staff(&app, "kfm3m", Role::Moderator);
        enroll(&mut app.conn(), &moderator.user, &class);
        for (action, status) in [("follow", 303), ("read", 204)] {
            let path = format!("/classes/{class}/threads/{}/{action}", held.id);
            let answer = moderator.post(&app, &back, &path, &[]).await;
            assert_eq!(answer.status().as_u16(), status, "{path}");
        }
    }
);

// Rows a delete kept before 2026-12-21 still carried what a row deleted
// for good takes along; the migration that came with the fix drops it.
backend_test!(
    async fn the_migration_forgets_what_kept_rows_held(backend: Backend) {
        use diesel_migrations::MigrationHarness;
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let a = new_user(&mut conn, "kmg1a");
        let b = new_user(&mut conn, "kmg2b");
        enroll(&mut conn, &a, &class);
        enroll(&mut conn, &b, &class);
        let now = clock::now();
        let t = |s: i64| now - Duration::seconds(s);
        let rules = rules();
        // B's question and A's reply to it (B hears of it), which B upvotes
        // and marks the answer; A's thread, which B follows and has read;
        // and A's thread kept up by B's reply, which B follows too.
        let question = post_at(&mut conn, &b, &class, None, "B asks", &rules, t(60)).unwrap();
        let reply = post_at(
            &mut conn,
            &a,
            &class,
            Some(&question.id),
            "A answers",
            &rules,
            t(50),
        )
        .unwrap();
        let thread = post_at(&mut conn, &a, &class, None, "A's thread", &rules, t(40)).unwrap();
        let shown = post_at(&mut conn, &a, &class, None, "A's other", &rules, t(30)).unwrap();
        post_at(
            &mut conn,
            &b,
            &class,
            Some(&shown.id),
            "B replies",
            &rules,
            t(20),
        )
        .unwrap();
        chat::votes::upvote(&mut conn, &b, &reply.id, now).unwrap();
        diesel::update(class_messages::table.find(&question.id))
            .set(class_messages::answer_id.eq(&reply.id))
            .execute(&mut conn)
            .unwrap();
        for followed in [&thread, &shown] {
            common_grounds::notifications::chat::choose_following(
                &mut conn,
                &b.id,
                false,
                &class,
                &followed.id,
                true,
                now,
            )
            .unwrap();
        }
        assert!(
            chat::reads::mark_thread_seen(&mut conn, &b.id, false, &class, &thread.id).unwrap()
        );
        // A moderator's word to A about the reply, which stays.
        common_grounds::db::write_tx(&mut conn, |tx| {
            common_grounds::notifications::notify(
                tx,
                &common_grounds::notifications::Notice::new(
                    &a.id,
                    common_grounds::notifications::Kind::MessageHidden,
                    now,
                )
                .about_message(&class, &question.id, &reply.id),
            )
        })
        .unwrap();
        // What a delete that kept the rows left, before the fix.
        diesel::update(
            class_messages::table
                .filter(class_messages::id.eq_any([&reply.id, &thread.id, &shown.id])),
        )
        .set((
            class_messages::deleted.eq(true),
            class_messages::content.eq(""),
        ))
        .execute(&mut conn)
        .unwrap();
        let held = |conn: &mut DbConn| {
            let count = |n: QueryResult<i64>| n.unwrap();
            (
                count(message_votes::table.count().get_result(conn)),
                count(
                    notifications::table
                        .filter(notifications::message_id.eq(&reply.id))
                        .filter(notifications::user_id.eq(&b.id))
                        .count()
                        .get_result(conn),
                ),
                count(
                    notifications::table
                        .filter(notifications::user_id.eq(&a.id))
                        .filter(notifications::message_id.eq(&reply.id))
                        .count()
                        .get_result(conn),
                ),
                count(
                    thread_follows::table
                        .filter(thread_follows::user_id.eq(&b.id))
                        .count()
                        .get_result(conn),
                ),
                count(chat_thread_reads::table.count().get_result(conn)),
                chat::find(conn, &question.id)
                    .unwrap()
                    .unwrap()
                    .answer_id
                    .is_some(),
            )
        };
        // (B follows its own question too.)
        assert_eq!(held(&mut conn), (1, 1, 1, 3, 1, true), "the old state");
        // Back to before the migration (its down changes nothing), then up.
        let target = "20261221000001";
        for _ in 0..20 {
            let reverted = match &mut conn {
                DbConn::Postgresql(c) => c
                    .revert_last_migration(common_grounds::db::POSTGRES_MIGRATIONS)
                    .map(|v| v.to_string()),
                DbConn::Sqlite(c) => c
                    .revert_last_migration(common_grounds::db::SQLITE_MIGRATIONS)
                    .map(|v| v.to_string()),
            }
            .unwrap();
            if reverted == target {
                break;
            }
        }
        assert!(
            common_grounds::db::pending_migrations(&mut conn)
                .unwrap()
                .iter()
                .any(|m| m.starts_with("2026-12-21-000001")),
            "the migration was not reverted"
        );
        common_grounds::db::run_migrations(&mut conn).unwrap();
        // The follows of the question and of the thread B's reply keeps up
        // stay: their pages show them.
        // A's notice from the moderator stays.
        assert_eq!(
            held(&mut conn),
            (0, 0, 1, 2, 0, false),
            "what kept rows held"
        );
    }
);

/// How many events of `kind` are recorded about `message`.
fn events_about(conn: &mut DbConn, message: &MessageId, kind: &str) -> i64 {
    chat_events::table
        .filter(chat_events::message_id.eq(message))
        .filter(chat_events::kind.eq(kind))
        .count()
        .get_result(conn)
        .unwrap()
}

// A moderator's removal of a thread's marked answer redraws the question's
// answer box on open pages, as any change to the answer does, and takes
// the placeholder that stood on it alone off them.
backend_test!(
    async fn a_removed_answer_redraws_its_question_live(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let a = new_user(&mut conn, "rma1a");
        let b = new_user(&mut conn, "rma2b");
        enroll(&mut conn, &a, &class);
        enroll(&mut conn, &b, &class);
        let now = clock::now();
        let rules = rules();
        let t = |s: i64| now - Duration::seconds(s);
        let question = post_at(&mut conn, &b, &class, None, "B asks", &rules, t(30)).unwrap();
        // A's note, then A's answer under it, then the note deleted: a
        // placeholder the answer alone keeps on the page.
        let note = post_at(
            &mut conn,
            &a,
            &class,
            Some(&question.id),
            "A's note",
            &rules,
            t(20),
        )
        .unwrap();
        let answer = post_at(
            &mut conn,
            &a,
            &class,
            Some(&note.id),
            "A answers",
            &rules,
            t(10),
        )
        .unwrap();
        chat::delete(&mut conn, &a.id, &note.id, now, |_, _| Ok(0)).unwrap();
        let note_before = events_about(&mut conn, &note.id, "delete");
        diesel::update(class_messages::table.find(&question.id))
            .set(class_messages::answer_id.eq(&answer.id))
            .execute(&mut conn)
            .unwrap();
        let before = events_about(&mut conn, &question.id, "edit");
        common_grounds::db::write_tx(&mut conn, |tx| chat::staff::remove(tx, &answer.id, now))
            .unwrap();
        assert_eq!(events_about(&mut conn, &question.id, "edit"), before + 1);
        assert_eq!(events_about(&mut conn, &answer.id, "delete"), 1);
        // The placeholder that stood on it alone leaves open pages too, as
        // after an author's delete.
        assert_eq!(events_about(&mut conn, &note.id, "delete"), note_before + 1);
    }
);

// An erasure takes the student's "[deleted]" placeholders off open pages
// when nothing the class sees stands under them any more: one deleted for
// good and one kept for moderators (it was hidden) alike, or the event for
// the one alone would tell the class it had been kept, so reported.
backend_test!(
    async fn an_erasure_tells_open_pages_of_every_placeholder_it_takes_away(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let a = new_user(&mut conn, "era1a");
        enroll(&mut conn, &a, &class);
        let rules = rules();
        let t = |s: i64| clock::now() - Duration::seconds(s);
        let mut placeholders = Vec::new();
        for (n, evidence) in [(0, false), (1, true)] {
            let root = post_at(
                &mut conn,
                &a,
                &class,
                None,
                &format!("A asks {n}"),
                &rules,
                t(60 - 20 * n),
            )
            .unwrap();
            post_at(
                &mut conn,
                &a,
                &class,
                Some(&root.id),
                &format!("A adds {n}"),
                &rules,
                t(50 - 20 * n),
            )
            .unwrap();
            if evidence {
                diesel::update(class_messages::table.find(&root.id))
                    .set(class_messages::hidden.eq(true))
                    .execute(&mut conn)
                    .unwrap();
            }
            let (_, deletion) =
                chat::delete(&mut conn, &a.id, &root.id, clock::now(), |_, _| Ok(0)).unwrap();
            assert!(matches!(deletion, chat::Deletion::Placeholder));
            placeholders.push(root.id);
        }
        let before: Vec<i64> = placeholders
            .iter()
            .map(|p| events_about(&mut conn, p, "delete"))
            .collect();
        common_grounds::db::write_tx(&mut conn, |tx| {
            common_grounds::ops::student_data::erase(tx, &a, clock::now())
        })
        .unwrap();
        assert!(
            chat::find(&mut conn, &placeholders[0]).unwrap().is_none(),
            "gone"
        );
        assert!(
            chat::find(&mut conn, &placeholders[1]).unwrap().is_some(),
            "kept"
        );
        for (p, before) in placeholders.iter().zip(before) {
            assert_eq!(events_about(&mut conn, p, "delete"), before + 1, "{p}");
        }
    }
);

// A classmate's deleted question that stood only above the erased
// student's reply goes with it, as it would had the reply been deleted: a
// row of nothing, holding the classmate's account and pseudonym, is not kept.
backend_test!(
    async fn an_erasure_takes_a_classmates_placeholder_it_held_up(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let a = new_user(&mut conn, "erp1a");
        let b = new_user(&mut conn, "erp2b");
        enroll(&mut conn, &a, &class);
        enroll(&mut conn, &b, &class);
        let rules = rules();
        let t = |s: i64| clock::now() - Duration::seconds(s);
        let question = post_at(&mut conn, &b, &class, None, "B asks", &rules, t(60)).unwrap();
        post_at(
            &mut conn,
            &a,
            &class,
            Some(&question.id),
            "A answers",
            &rules,
            t(50),
        )
        .unwrap();
        let (_, deletion) =
            chat::delete(&mut conn, &b.id, &question.id, clock::now(), |_, _| Ok(0)).unwrap();
        assert!(matches!(deletion, chat::Deletion::Placeholder));
        let before = events_about(&mut conn, &question.id, "delete");

        common_grounds::db::write_tx(&mut conn, |tx| {
            common_grounds::ops::student_data::erase(tx, &a, clock::now())
        })
        .unwrap();

        assert!(chat::find(&mut conn, &question.id).unwrap().is_none());
        let left: i64 = class_messages::table
            .filter(class_messages::class_id.eq(&class))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(left, 0);
        assert_eq!(events_about(&mut conn, &question.id, "delete"), before + 1);
    }
);

// The live page's "read" marks a thread read through the newest message
// the student's page shows, not through a classmate's held reply: its time
// in the mark (and in the student's export) would tell them it is there.
backend_test!(
    async fn a_thread_read_live_is_read_through_what_the_page_shows(backend: Backend) {
        let db = TestDb::with_schema(backend);
        let mut conn = db.migrated();
        let class = new_class(&mut conn, "1");
        let a = new_user(&mut conn, "rdt1a");
        let b = new_user(&mut conn, "rdt2b");
        enroll(&mut conn, &a, &class);
        enroll(&mut conn, &b, &class);
        let rules = rules();
        let t = |s: i64| clock::now() - Duration::seconds(s);
        let root = post_at(&mut conn, &b, &class, None, "B asks", &rules, t(30)).unwrap();
        let held = post_at(
            &mut conn,
            &a,
            &class,
            Some(&root.id),
            "A holds",
            &rules,
            t(20),
        )
        .unwrap();
        diesel::update(class_messages::table.find(&held.id))
            .set(class_messages::held.eq(true))
            .execute(&mut conn)
            .unwrap();
        let marked = |conn: &mut DbConn, user: &User| -> NaiveDateTime {
            assert!(
                chat::reads::mark_thread_seen(conn, &user.id, false, &class, &root.id).unwrap()
            );
            chat_thread_reads::table
                .filter(chat_thread_reads::user_id.eq(&user.id))
                .filter(chat_thread_reads::thread_id.eq(&root.id))
                .select(chat_thread_reads::read_through)
                .first(conn)
                .unwrap()
        };
        assert_eq!(
            marked(&mut conn, &b),
            root.created_at,
            "B's page shows the question alone"
        );
        assert_eq!(
            marked(&mut conn, &a),
            held.created_at,
            "A's page shows A's held reply"
        );
    }
);
