//! Issue 18, items 4, 5 and 8 (search in a class, and "ask before you post"),
//! on SQLite and PostgreSQL, each with its own full-text index: search finds
//! replies by a word from their middle, ranks by how often the words occur,
//! never finds what students cannot see, is for members only and escapes what
//! it is given; a new thread is first shown the threads that may answer it.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;

use chrono::Duration;
use common::*;
use common_grounds::accounts::{Role, User};
use common_grounds::chat::import::{self, ImportedMessage};
use common_grounds::chat::search::{self, SearchQuery};
use common_grounds::chat::{self, ClassMessage, Draft, FlagReason, MessageBody, Rules};
use common_grounds::classes::Class;
use common_grounds::db::schema::class_messages;
use common_grounds::db::{self, DbConn};
use common_grounds::{clock, moderation};
use diesel::prelude::*;

/// The test app's rules with no pause between posts, and reports that count
/// (and hide, at one) from students who joined moments ago.
fn quick_rules(app: &TestApp) -> Rules {
    let mut rules = Rules::new(app.secret_key.as_bytes(), 1);
    rules.post_interval = Duration::zero();
    rules.report_min_membership = Duration::zero();
    rules
}

/// `author` posts `text` (a reply to `parent`, if given) through chat's own path.
fn say(
    app: &TestApp,
    author: &User,
    class: &Class,
    parent: Option<&ClassMessage>,
    text: &str,
) -> ClassMessage {
    let body = MessageBody::parse(text).unwrap();
    chat::post(
        &mut app.conn(),
        author,
        Draft {
            class_id: &class.id,
            parent_id: parent.map(|p| &p.id),
            body: &body,
        },
        &quick_rules(app),
        clock::now(),
    )
    .unwrap()
}

/// The ids of the messages a search finds, best first.
fn found(conn: &mut DbConn, who: &User, class: &Class, words: &str) -> Vec<String> {
    search::search(
        conn,
        &who.id,
        &class.id,
        &SearchQuery::parse(words).unwrap(),
        20,
    )
    .unwrap()
    .into_iter()
    .map(|h| h.message_id.to_string())
    .collect()
}

/// The result links of a search page (or fragment), in order.
fn result_links(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect()
}

backend_test!(
    async fn search_finds_a_reply_by_a_middle_word_and_ranks_by_how_often(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "MATH 3351", &[&a, &b]);
        let elsewhere = new_class(&app, "MATH 3354", &[&a, &b]);
        let thread = say(&app, &a.user, &class, None, "Is problem 4 due on Friday?");
        let reply = say(
            &app,
            &b.user,
            &class,
            Some(&thread),
            "Yes, and the trick is to diagonalize first: the eigenvalues fall out, then the rest is bookkeeping.",
        );
        // The same word in another class is not found from this one.
        say(&app, &a.user, &elsewhere, None, "Eigenvalues again?");
        // The one with the word three times is the older: newest-first would fail.
        let thrice = say(
            &app,
            &b.user,
            &class,
            None,
            "Determinant of a product, determinant of a sum: which determinant rule applies here?",
        );
        let once = say(
            &app,
            &a.user,
            &class,
            None,
            "Where do the lecture notes on determinant proofs live, the old site or the new one?",
        );

        let mut conn = app.conn();
        assert_eq!(
            found(&mut conn, &a.user, &class, "eigenvalues"),
            [reply.id.to_string()]
        );
        assert_eq!(
            found(&mut conn, &a.user, &class, "determinant"),
            [thrice.id.to_string(), once.id.to_string()],
            "three times ranks above once"
        );
        // Stemmed on both backends: "proof" finds "proofs".
        assert_eq!(
            found(&mut conn, &a.user, &class, "Proof"),
            [once.id.to_string()]
        );
        drop(conn);

        let (status, html) = a
            .get(&app, &format!("/classes/{}/search?q=eigenvalues", class.id))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            result_links(&html, "a.search-hit-link"),
            [format!(
                "/classes/{}/threads/{}#m-{}",
                class.id, thread.id, reply.id
            )],
            "a reply links to its thread, at the reply"
        );
        assert!(
            html.contains("<mark>eigenvalues</mark>"),
            "the match is marked: {html}"
        );
        assert!(html.contains("replied"));

        // The class page offers the search box.
        let (_, page) = a.get(&app, &format!("/classes/{}", class.id)).await;
        assert!(page.contains(&format!("action=\"/classes/{}/search\"", class.id)));
        app.stop().await;
    }
);

backend_test!(
    async fn hidden_and_deleted_messages_are_never_found_edits_and_restores_are(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let moderator = staff(&app, "mm9z", Role::Moderator);
        let class = new_class(&app, "CHEM 1410", &[&a, &b]);
        let thread = say(&app, &a.user, &class, None, "Titration lab partners wanted");
        let reported = say(
            &app,
            &a.user,
            &class,
            Some(&thread),
            "Spam spam buy kumquats now",
        );
        let hidden = say(
            &app,
            &a.user,
            &class,
            Some(&thread),
            "The mangosteen answer is 42",
        );
        let deleted = say(
            &app,
            &a.user,
            &class,
            Some(&thread),
            "Sorry, wrong rambutan class",
        );
        let edited = say(
            &app,
            &a.user,
            &class,
            Some(&thread),
            "Bring your durian goggles",
        );
        let now = clock::now();
        let mut conn = app.conn();
        for (word, message) in [
            ("kumquats", &reported),
            ("mangosteen", &hidden),
            ("rambutan", &deleted),
            ("durian", &edited),
        ] {
            assert_eq!(
                found(&mut conn, &b.user, &class, word),
                [message.id.to_string()],
                "{word} is found before"
            );
        }

        // Hidden after a report (the test's threshold is one report).
        chat::flag(
            &mut conn,
            &b.user.id,
            &reported.id,
            &FlagReason::parse(None).unwrap(),
            &quick_rules(&app),
            now,
        )
        .unwrap();
        // Hidden by staff.
        moderation::messages::hide(
            &mut conn,
            &moderator.user.id,
            &hidden.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now,
        )
        .unwrap();
        // Deleted by its author.
        chat::delete(&mut conn, &a.user.id, &deleted.id, now, |_, _| Ok(0)).unwrap();
        // Edited: found by its new words only.
        chat::edit(
            &mut conn,
            &a.user.id,
            &edited.id,
            &MessageBody::parse("Bring your lychee goggles").unwrap(),
            &quick_rules(&app),
            now,
        )
        .unwrap();
        for word in ["kumquats", "mangosteen", "rambutan", "durian"] {
            assert!(
                found(&mut conn, &b.user, &class, word).is_empty(),
                "{word} is not found after"
            );
            assert!(
                found(&mut conn, &a.user, &class, word).is_empty(),
                "{word} is not found by its author either"
            );
        }
        assert_eq!(
            found(&mut conn, &b.user, &class, "lychee"),
            [edited.id.to_string()]
        );

        // Restored by staff: found again.
        moderation::messages::restore(&mut conn, &moderator.user.id, &hidden.id, None, now)
            .unwrap();
        assert_eq!(
            found(&mut conn, &b.user, &class, "mangosteen"),
            [hidden.id.to_string()]
        );
        // Removed by staff for good: gone again.
        moderation::messages::delete(
            &mut conn,
            &moderator.user.id,
            &hidden.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now,
        )
        .unwrap();
        assert!(found(&mut conn, &b.user, &class, "mangosteen").is_empty());
        drop(conn);

        let (status, html) = b
            .get(&app, &format!("/classes/{}/search?q=kumquats", class.id))
            .await;
        assert_eq!(status, 200);
        assert!(!html.contains("kumquats now"), "{html}");
        // One word sought is told of as one word (not "try fewer words").
        assert!(
            html.contains("No messages in this class hold this word."),
            "{html}"
        );
        let (_, html) = b
            .get(
                &app,
                &format!("/classes/{}/search?q=kumquats+mangosteen", class.id),
            )
            .await;
        assert!(html.contains("No messages in this class hold all of these words."));
        app.stop().await;
    }
);

backend_test!(
    async fn a_search_with_more_matches_than_shown_says_so(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let class = new_class(&app, "PHYS 1425", &[&a]);
        for n in 0..21 {
            let extra = if n == 7 { " zebra" } else { "" };
            say(
                &app,
                &a.user,
                &class,
                None,
                &format!("pendulum question number {n}{extra}"),
            );
        }
        let path = |q: &str| format!("/classes/{}/search?q={q}", class.id);

        let (status, many) = a.get(&app, &path("pendulum")).await;
        let (_, one) = a.get(&app, &path("zebra")).await;

        assert_eq!(status, 200, "{many}");
        assert_eq!(many.matches("class=\"search-hit\"").count(), 20);
        assert!(many.contains("The 20 best matches"), "{many}");
        assert!(many.contains("add a word to narrow the search"), "{many}");
        assert!(one.contains("1 message found"), "{one}");
        app.stop().await;
    }
);

backend_test!(
    async fn a_student_who_does_not_take_the_class_finds_nothing(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let outsider = app.student("oo7z");
        let class = new_class(&app, "PHYS 1425", &[&a]);
        say(
            &app,
            &a.user,
            &class,
            None,
            "Pendulum lab: my period was off by a factor of two",
        );

        let result = search::search(
            &mut app.conn(),
            &outsider.user.id,
            &class.id,
            &SearchQuery::parse("pendulum").unwrap(),
            20,
        );
        assert!(matches!(result, Err(chat::ChatError::NotEnrolled { .. })));

        let (status, html) = outsider
            .get(&app, &format!("/classes/{}/search?q=pendulum", class.id))
            .await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("Join this class first"));
        assert!(!html.contains("Pendulum lab"));
        let response = outsider
            .post(
                &app,
                "/",
                &format!("/classes/{}/similar", class.id),
                &[("q", "pendulum")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 404);
        assert!(!response.text().await.unwrap().contains("Pendulum lab"));
        app.stop().await;
    }
);

backend_test!(
    async fn searches_are_shown_back_escaped_and_bad_ones_answered_clearly(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let class = new_class(&app, "CS 4630", &[&a]);
        say(
            &app,
            &a.user,
            &class,
            None,
            "Why does <script>alert(1)</script> in a script tag not run here?",
        );
        let path = |q: &str| {
            format!(
                "/classes/{}/search?q={}",
                class.id,
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            )
        };

        let (status, html) = a.get(&app, &path("<script>")).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script>"), "nothing unescaped: {html}");
        // Askama writes `<` as `&#60;`; either form is escaped.
        let html = html.replace("&#60;", "&lt;").replace("&#62;", "&gt;");
        assert!(
            html.contains("value=\"&lt;script&gt;\""),
            "the query shown back escaped"
        );
        // The text whole and escaped around the marks, on both backends
        // (PostgreSQL's parser would read `<script>` as a tag and drop it).
        assert!(
            html.contains("Why does &lt;<mark>script</mark>&gt;alert(1)&lt;/"),
            "{html}"
        );
        assert!(html.contains("in a <mark>script</mark> tag not run here?"));
        assert!(!html.contains("alert(1)</script>"));

        for (query, status, says) in [
            ("", 200, "Type a word or two"),
            ("!!! ???", 400, "Search by words"),
            (&"x".repeat(201) as &str, 400, "at most 200 characters"),
            ("\" OR * NEAR( col:x", 200, "messages in this class"),
        ] {
            let (got, html) = a.get(&app, &path(query)).await;
            assert_eq!(got, status, "{query:?}: {html}");
            assert!(html.contains(says), "{query:?}: {html}");
        }
        app.stop().await;
    }
);

backend_test!(
    async fn the_index_is_each_databases_own(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            def: String,
        }
        let sql = match &conn {
            DbConn::Sqlite(_) => "SELECT sql AS def FROM sqlite_master WHERE name = 'chat_search'",
            DbConn::Postgresql(_) => {
                "SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'chat_search'"
            }
        };
        let defs: Vec<String> = diesel::sql_query(sql)
            .load::<Row>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.def.to_lowercase())
            .collect();
        match &conn {
            DbConn::Sqlite(_) => assert!(
                defs.iter()
                    .any(|d| d.contains("create virtual table") && d.contains("fts5")),
                "{defs:?}"
            ),
            DbConn::Postgresql(_) => assert!(
                defs.iter()
                    .any(|d| d.contains("using gin") && d.contains("document")),
                "{defs:?}"
            ),
        }
    }
);

/// 199 threads about other things and one about the midterm's room, written
/// through chat's bulk import (which indexes them too).
fn two_hundred_threads(app: &TestApp, class: &Class, author: &User) -> String {
    let at = clock::now() - Duration::days(3);
    let class_id = class.id.to_string();
    let mut messages: Vec<ImportedMessage<'_>> = (0..199)
        .map(|n| {
            let when = at + Duration::seconds(n);
            ImportedMessage {
                id: chat::MessageId::new().to_string(),
                class_id: &class_id,
                user_id: Some(author.id.as_str()),
                anonymous_identifier: format!("Anon_{n:08x}"),
                content: format!("Lecture {n} notes: lemma {n} and its corollary, proved twice."),
                parent_message_id: None,
                thread_root_id: None,
                flagged_count: 0,
                hidden: false,
                deleted: false,
                created_at: when,
                updated_at: when,
                last_activity_at: when,
            }
        })
        .collect();
    let target = chat::MessageId::new().to_string();
    messages.push(ImportedMessage {
        id: target.clone(),
        class_id: &class_id,
        user_id: Some(author.id.as_str()),
        anonymous_identifier: "Anon_0badcafe".into(),
        content: "Which room is the midterm exam in? The syllabus says TBA.".into(),
        parent_message_id: None,
        thread_root_id: None,
        flagged_count: 0,
        hidden: false,
        deleted: false,
        created_at: at - Duration::hours(1),
        updated_at: at - Duration::hours(1),
        last_activity_at: at - Duration::hours(1),
    });
    db::write_tx(&mut app.conn(), |tx| import::import(tx, &messages, &[])).unwrap();
    target
}

fn message_count(app: &TestApp) -> i64 {
    class_messages::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

backend_test!(
    async fn a_draft_like_an_existing_thread_is_asked_about_before_posting(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let c = app.student("cc3z");
        let class = new_class(&app, "ECON 2010", &[&a, &b, &c]);
        let target = two_hundred_threads(&app, &class, &a.user);
        let list = format!("/classes/{}", class.id);
        let post_to = format!("/classes/{}/messages", class.id);
        let thread_href = format!("/classes/{}/threads/{target}#m-{target}", class.id);
        let draft = "Does anyone know the midterm room?";
        let before = message_count(&app);

        let response = b.post(&app, &list, &post_to, &[("content", draft)]).await;
        assert_eq!(response.status().as_u16(), 200, "asked first, not posted");
        let html = response.text().await.unwrap();
        assert!(html.contains("Maybe already answered:"), "{html}");
        assert_eq!(
            result_links(&html, ".similar-list a"),
            vec![thread_href.clone()]
        );
        assert!(html.contains("<mark>midterm</mark>"));
        let doc = scraper::Html::parse_document(&html);
        let textarea = scraper::Selector::parse("textarea[name=content]").unwrap();
        assert_eq!(
            doc.select(&textarea)
                .next()
                .map(|t| t.text().collect::<String>()),
            Some(draft.to_string()),
            "the draft is kept"
        );
        let confirmed = scraper::Selector::parse("input[name=confirmed][value='1']").unwrap();
        assert!(doc.select(&confirmed).next().is_some(), "Post anyway");
        assert!(!html.contains("aa1x") && !html.contains(a.user.id.as_str()));
        assert_eq!(message_count(&app), before, "nothing stored yet");

        // "Post anyway".
        let response = b
            .post(
                &app,
                &list,
                &post_to,
                &[("content", draft), ("confirmed", "1")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(message_count(&app), before + 1);

        // A draft that matches nothing posts at once, as before.
        let response = a
            .post(
                &app,
                &list,
                &post_to,
                &[("content", "Pizza social on Thursday?")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(message_count(&app), before + 2);

        // A reply never asks first, however alike.
        let response = c
            .post(
                &app,
                &list,
                &post_to,
                &[
                    ("content", "Midterm room is Rice 130"),
                    ("parent_id", &target),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);

        // The fragment our script asks for while the student types: the
        // draft in a POST body, never in the address (an access log keeps it).
        let similar = format!("/classes/{}/similar", class.id);
        let class_page = format!("/classes/{}", class.id);
        let ask = |q: &'static str| {
            let (similar, class_page) = (similar.clone(), class_page.clone());
            let b = &b;
            let app = &app;
            async move {
                let response = b.post(app, &class_page, &similar, &[("q", q)]).await;
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let (status, fragment) = ask("midterm room?").await;
        assert_eq!(status, 200);
        assert!(fragment.contains("Maybe already answered:"));
        let links = result_links(&fragment, "a");
        assert!(links.contains(&thread_href), "{links:?}");
        assert!(links.len() <= 5);
        assert!(!fragment.contains("aa1x") && !fragment.contains(a.user.id.as_str()));
        let (status, fragment) = ask("the and a").await;
        assert_eq!(status, 200);
        assert!(fragment.trim().is_empty(), "common words match nothing");
        // The old address takes no draft: opened, it leads to the class's
        // chat, searching nothing.
        let (status, body) = b.get(&app, &format!("{similar}?q=midterm")).await;
        assert_eq!(status, 303, "{body}");
        assert!(body.is_empty(), "{body}");
        // The class page's script sends it so, with its token.
        let script = client()
            .get(app.url("/static/app.js"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            script.contains("method: \"POST\""),
            "the script still asks by GET"
        );
        assert!(
            !script.contains("\"?q=\""),
            "the script still puts the draft in the address"
        );
        app.stop().await;
    }
);

backend_test!(
    async fn search_pages_show_no_author_and_run_a_fixed_number_of_queries(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let class = new_class(&app, "HIST 2001", &[&a, &b]);
        let thread = say(&app, &a.user, &class, None, "Essay on the Hanseatic league");
        let search_path = |q: &str| format!("/classes/{}/search?q={q}", class.id);
        // A first use, as a student's would be.
        b.get(&app, &search_path("hanseatic")).await;
        let queries = |app: &TestApp| app.query_count();

        let start = queries(&app);
        let (_, one) = b.get(&app, &search_path("hanseatic")).await;
        let with_one = queries(&app) - start;
        for n in 0..15 {
            say(
                &app,
                &a.user,
                &class,
                Some(&thread),
                &format!("Hanseatic trade point {n}: herring, salt and cloth"),
            );
        }
        let start = queries(&app);
        let (_, many) = b.get(&app, &search_path("hanseatic")).await;
        let with_many = queries(&app) - start;
        eprintln!("{backend:?}: a search ran {with_one} queries for 1 hit and {with_many} for 16");
        assert_eq!(with_one, with_many, "constant in the number of hits");
        assert_eq!(result_links(&many, "a.search-hit-link").len(), 16);

        for page in [&one, &many] {
            let lower = page.to_lowercase();
            for secret in [
                a.user.id.as_str(),
                a.user.email.as_str(),
                a.user.computing_id.as_str(),
            ] {
                assert!(!lower.contains(&secret.to_lowercase()), "shows {secret}");
            }
        }
        app.stop().await;
    }
);

/// In a browser, typing a new thread shows the threads that may already
/// answer it: our script sends the draft in a POST body with the page's
/// token (the address carries none), and the form then posts without the
/// preview step.
#[tokio::test]
async fn typing_a_new_thread_shows_threads_that_may_answer_it_in_a_browser() {
    use fantoccini::Locator;
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let a = app.student("aa1b");
    let b = app.student("bb2c");
    let class = new_class(&app, "CS 4630", &[&a, &b]);
    let thread = say(&app, &a.user, &class, None, "Midterm room is Rice 130");
    let client = browser::open(&driver, &chromium, 1280, 900).await;
    browser::sign_in(&client, &app.address, &b.token).await;
    client
        .goto(&app.url(&format!("/classes/{}", class.id)))
        .await
        .unwrap();
    client
        .find(Locator::Css("#new-message"))
        .await
        .unwrap()
        .send_keys("Which room is the midterm in?")
        .await
        .unwrap();
    let link = client
        .wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Css("#similar-threads a"))
        .await
        .expect("the similar threads, shown while typing");
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.contains(thread.id.as_str()), "{href}");
    let confirmed = client
        .find(Locator::Css("form.compose input[name=confirmed]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(confirmed.as_deref(), Some("1"));
    client.close().await.unwrap();
}
