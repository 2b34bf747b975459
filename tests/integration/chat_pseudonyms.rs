//! Issue 18, memorable pseudonyms and "How anonymous am I?", on SQLite and
//! PostgreSQL: two-word names from our lists, stable in a class and different
//! across classes, unique among 300 students even when every first choice is
//! taken, old `Anon_` names kept on their messages; the count of recent posters
//! beside the compose box and its warning below `ANONYMITY_MIN_POSTERS`; and
//! pages that name no author.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;
use crate::common::builders::{MessageBuilder, UserBuilder};

use std::collections::HashSet;

use chrono::Duration;
use common::*;
use common_grounds::accounts::User;
use common_grounds::chat::{self, anonymity, pseudonym, Draft, MessageBody, Rules};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{chat_pseudonyms, users};
use diesel::prelude::*;
use scraper::{Html, Selector};

/// The rules the test app runs with (its secret), with no pause between posts.
fn rules(app: &TestApp) -> Rules {
    let mut rules = Rules::new(app.secret_key.as_bytes(), 3);
    rules.post_interval = Duration::zero();
    rules
}

/// `author` starts a thread through chat's own posting path; returns its name.
fn post(app: &TestApp, author: &User, class: &Class, text: &str) -> String {
    let body = MessageBody::parse(text).unwrap();
    chat::post(
        &mut app.conn(),
        author,
        Draft {
            class_id: &class.id,
            parent_id: None,
            body: &body,
        },
        &rules(app),
        clock::now(),
    )
    .unwrap()
    .anonymous_identifier
}

fn is_two_words_from_our_lists(name: &str) -> bool {
    name.split_once(' ').is_some_and(|(a, n)| {
        pseudonym::adjectives().contains(&a) && pseudonym::nouns().contains(&n)
    })
}

/// Each shown pseudonym of a page with the number of its colour mark (a
/// `pm-N` class on the name, drawn as a dot by the stylesheet, adding no text).
fn shown_names(html: &str) -> Vec<(String, Option<usize>)> {
    let doc = Html::parse_document(html);
    let names = Selector::parse("ol .pseudonym").unwrap();
    doc.select(&names)
        .map(|n| {
            let number = n
                .value()
                .classes()
                .find_map(|c| c.strip_prefix("pm-"))
                .and_then(|d| d.parse().ok());
            (n.text().collect::<String>().trim().to_string(), number)
        })
        .collect()
}

/// The text of the anonymity note(s) beside the compose box.
fn notes(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(".anonymity").unwrap();
    doc.select(&sel)
        .map(|n| {
            n.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn warns(html: &str) -> bool {
    html.contains("anonymity-warning") && html.contains("classmates may guess who is writing")
}

/// `n` students of the class who each posted once, `days_ago` days ago.
fn posters(app: &TestApp, class: &Class, tag: &str, n: usize, days_ago: i64) -> Vec<User> {
    let mut conn = app.conn();
    let at = clock::now() - Duration::days(days_ago);
    (0..n)
        .map(|i| {
            let user = UserBuilder::new(&format!("{tag}{i}z")).insert(&mut conn);
            common::seed::enroll(&mut conn, &user, class);
            let name = pseudonym::candidate(app.secret_key.as_bytes(), &user.id, &class.id);
            MessageBuilder::new(&class.id, &user.id, &name, &format!("post {i} by {tag}"))
                .created_at(at)
                .announced()
                .insert(&mut conn);
            user
        })
        .collect()
}

backend_test!(
    async fn names_are_two_words_stable_in_a_class_and_different_across_classes(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("ppga");
        let b = app.student("qqgb");
        let one = new_class(&app, "CS 3120", &[&a, &b]);
        let two = new_class(&app, "CS 2100", &[&a]);

        // Over HTTP, as a student posts.
        let page = format!("/classes/{}", one.id);
        let posted = a
            .post(
                &app,
                &page,
                &format!("/classes/{}/messages", one.id),
                &[("content", "first")],
            )
            .await;
        assert_eq!(posted.status(), 303);
        let again = post(&app, &a.user, &one, "second");
        let elsewhere = post(&app, &a.user, &two, "in another class");

        let name = pseudonym::candidate(app.secret_key.as_bytes(), &a.user.id, &one.id);
        assert!(is_two_words_from_our_lists(&name), "{name}");
        assert_eq!(again, name, "stable in the class");
        assert!(is_two_words_from_our_lists(&elsewhere), "{elsewhere}");
        assert_ne!(elsewhere, name, "different in another class");
        let held: Vec<(String, Option<String>)> = chat_pseudonyms::table
            .filter(chat_pseudonyms::class_id.eq(&one.id))
            .select((chat_pseudonyms::name, chat_pseudonyms::user_id))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(
            held,
            vec![(name.clone(), Some(a.user.id.to_string()))],
            "taken once"
        );

        // B sees both threads under A's name, each with its mark.
        let seen = chat_as_seen(&app, &b.client, &page).await;
        let shown = shown_names(&seen);
        assert!(shown.len() >= 4, "two rows and two thread pages: {shown:?}");
        for (shown, mark) in &shown {
            assert_eq!(shown, &name);
            assert_eq!(*mark, Some(pseudonym::mark(&name)));
        }
        // A is told the name before posting again; B the one B would take.
        let (_, a_page) = a.get(&app, &page).await;
        assert!(notes(&a_page)[0].contains(&format!("You post here as {name} (names are given")));
        let (_, b_page) = b.get(&app, &page).await;
        let b_name = pseudonym::candidate(app.secret_key.as_bytes(), &b.user.id, &one.id);
        assert!(notes(&b_page)[0].contains(&format!("You post here as {b_name} (names are given")));
        assert_eq!(post(&app, &b.user, &one, "now B"), b_name, "as announced");
    }
);

backend_test!(
    async fn three_hundred_get_distinct_names_when_first_choices_clash(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let class = new_class(&app, "CS 1110", &[]);
        let secret = app.secret_key.clone();
        let now = clock::now();
        let students: Vec<User> = {
            let mut conn = app.conn();
            (0..300)
                .map(|i| {
                    let user = UserBuilder::new(&format!("mx{i}w")).insert(&mut conn);
                    common::seed::enroll(&mut conn, &user, &class);
                    user
                })
                .collect()
        };
        // Every student's first choice is held already, as by accounts erased
        // since (user_id NULL): each must move on along their own stream.
        let mut blocked = HashSet::new();
        {
            let mut conn = app.conn();
            for user in &students {
                let first = pseudonym::candidate(secret.as_bytes(), &user.id, &class.id);
                if blocked.insert(first.clone()) {
                    diesel::insert_into(chat_pseudonyms::table)
                        .values((
                            chat_pseudonyms::class_id.eq(&class.id),
                            chat_pseudonyms::name.eq(&first),
                            chat_pseudonyms::created_at.eq(now),
                        ))
                        .execute(&mut conn)
                        .unwrap();
                }
            }
        }
        let names: Vec<String> = students
            .iter()
            .map(|user| post(&app, user, &class, "hello class"))
            .collect();
        let distinct: HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 300, "unique within the class");
        for (user, name) in students.iter().zip(&names) {
            assert!(is_two_words_from_our_lists(name), "{name}");
            assert!(!blocked.contains(name), "{name} was taken");
            // Deterministic: the first candidate of the student's stream that
            // was free when they posted (taken ones are the blocked set and
            // the names of those who posted before).
            let stream: Vec<String> =
                pseudonym::Candidates::new(secret.as_bytes(), &user.id, &class.id)
                    .take(64)
                    .collect();
            let at = stream
                .iter()
                .position(|c| c == name)
                .expect("from the stream");
            assert!(at >= 1);
            for earlier in &stream[..at] {
                assert!(
                    blocked.contains(earlier) || names.contains(earlier),
                    "{earlier} was free before {name}"
                );
            }
        }
        // Stable: a second post keeps the name.
        assert_eq!(post(&app, &students[7], &class, "again"), names[7]);

        // An erased account's name stays taken.
        diesel::delete(users::table.filter(users::id.eq(&students[0].id)))
            .execute(&mut app.conn())
            .unwrap();
        let kept: Option<Option<String>> = chat_pseudonyms::table
            .filter(chat_pseudonyms::class_id.eq(&class.id))
            .filter(chat_pseudonyms::name.eq(&names[0]))
            .select(chat_pseudonyms::user_id)
            .first(&mut app.conn())
            .optional()
            .unwrap();
        assert_eq!(kept, Some(None), "held, by no one");
    }
);

backend_test!(
    async fn old_anon_messages_keep_their_names_and_new_posts_take_two_words(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("oldr");
        let b = app.student("vwrs");
        let class = new_class(&app, "CS 4102", &[&a, &b]);
        let old = MessageBuilder::new(&class.id, &a.user.id, "Anon_1a2b3c4d", "an old question")
            .created_at(clock::now() - Duration::days(3))
            .insert(&mut app.conn());
        let reply = a
            .post(
                &app,
                &format!("/classes/{}/threads/{}", class.id, old.id),
                &format!("/classes/{}/messages", class.id),
                &[("content", "a new reply"), ("parent_id", old.id.as_str())],
            )
            .await;
        assert_eq!(reply.status(), 303);
        let new_name = pseudonym::candidate(app.secret_key.as_bytes(), &a.user.id, &class.id);

        let (_, list) = b.get(&app, &format!("/classes/{}", class.id)).await;
        assert_eq!(
            shown_names(&list),
            vec![("Anon_1a2b3c4d".to_string(), Some(0x1a % pseudonym::MARKS))],
            "the list shows the thread under its old name"
        );
        let (_, thread) = b
            .get(&app, &format!("/classes/{}/threads/{}", class.id, old.id))
            .await;
        assert_eq!(
            shown_names(&thread),
            vec![
                ("Anon_1a2b3c4d".to_string(), Some(0x1a % pseudonym::MARKS)),
                (new_name.clone(), Some(pseudonym::mark(&new_name))),
            ],
            "the old message keeps its name, the new one has two words"
        );
        assert!(is_two_words_from_our_lists(&new_name));
    }
);

backend_test!(
    async fn the_count_of_recent_posters_is_right_for_3_and_for_30(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let viewer = app.student("vwer");
        let now = clock::now();

        // Three recent posters, the viewer one of them, and two from long ago.
        let small = new_class(&app, "CS 4710", &[&viewer]);
        posters(&app, &small, "sm", 2, 1);
        posters(&app, &small, "so", 2, 15);
        post(&app, &viewer.user, &small, "me too");
        let n = anonymity::recent_posters(&mut app.conn(), &viewer.user.id, &small.id, now);
        assert_eq!(
            n.unwrap(),
            3,
            "the viewer counted once, old posts not at all"
        );
        let (_, page) = viewer.get(&app, &format!("/classes/{}", small.id)).await;
        assert!(
            notes(&page)[0].contains("You would be one of 3 recent posters"),
            "{:?}",
            notes(&page)
        );
        assert!(warns(&page), "3 is below 5");

        // Thirty recent posters, the viewer not among them: they would be one of 31.
        let large = new_class(&app, "CS 4750", &[&viewer]);
        let many = posters(&app, &large, "lg", 30, 13);
        posters(&app, &large, "lo", 5, 20);
        let n = anonymity::recent_posters(&mut app.conn(), &viewer.user.id, &large.id, now);
        assert_eq!(n.unwrap(), 31);
        // A poster posting again still counts once.
        post(&app, &many[0], &large, "again");
        let (_, page) = viewer.get(&app, &format!("/classes/{}", large.id)).await;
        assert!(notes(&page)[0].contains("You would be one of 31 recent posters"));
        assert!(!warns(&page), "31 is plenty");

        // The thread page says it once, above the replies.
        let thread = thread_links(&page)[0].clone();
        let (_, thread_page) = viewer.get(&app, &thread).await;
        assert_eq!(notes(&thread_page).len(), 1, "{thread_page}");
        assert!(notes(&thread_page)[0].contains("one of 31 recent posters"));
    }
);

backend_test!(
    async fn the_warning_shows_below_the_minimum_and_not_at_it(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let viewer = app.student("vwmn");
        let class = new_class(&app, "CS 3240", &[&viewer]);
        let path = format!("/classes/{}", class.id);

        // Alone: no one else has posted.
        let (_, page) = viewer.get(&app, &path).await;
        assert!(notes(&page)[0].contains("No one else has posted in this class"));
        assert!(warns(&page));
        // Three others: four with the viewer, below 5.
        posters(&app, &class, "fw", 3, 2);
        let (_, page) = viewer.get(&app, &path).await;
        assert!(notes(&page)[0].contains("one of 4 recent posters"));
        assert!(warns(&page), "4 < 5");
        // One more: five, at the minimum.
        posters(&app, &class, "fx", 1, 2);
        let (_, page) = viewer.get(&app, &path).await;
        assert!(notes(&page)[0].contains("one of 5 recent posters"));
        assert!(!warns(&page), "5 is not below 5");
        let thread = thread_links(&page)[0].clone();
        let (_, thread_page) = viewer.get(&app, &thread).await;
        assert!(!warns(&thread_page));

        // The minimum is the deployment's: with ANONYMITY_MIN_POSTERS=6, five warn.
        let strict = spawn_app_with(
            app.stop().await,
            TestMail::Memory,
            &[("ANONYMITY_MIN_POSTERS", "6")],
        )
        .await;
        let viewer = strict.student("vwmo");
        common::seed::enroll(&mut strict.conn(), &viewer.user, &class);
        let (_, page) = viewer.get(&strict, &path).await;
        assert!(
            notes(&page)[0].contains("one of 5 recent posters"),
            "{:?}",
            notes(&page)
        );
        assert!(warns(&page), "5 < 6");
    }
);

backend_test!(
    async fn a_quiet_class_reuses_its_count_and_its_next_post_counts_again(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let viewer = app.student("vwqt");
        let class = new_class(&app, "CS 4414", &[&viewer]);
        let path = format!("/classes/{}", class.id);
        let (_, page) = viewer.get(&app, &path).await;
        assert!(notes(&page)[0].contains("No one else has posted in this class"));

        // Written as stored, with no event (no writer of the app does
        // that; a post ageing out of the window also moves the count with
        // none): the count made a moment ago still holds.
        {
            let mut conn = app.conn();
            let quiet = UserBuilder::new("qsq1z").insert(&mut conn);
            common::seed::enroll(&mut conn, &quiet, &class);
            let name = pseudonym::candidate(app.secret_key.as_bytes(), &quiet.id, &class.id);
            MessageBuilder::new(&class.id, &quiet.id, &name, "unannounced").insert(&mut conn);
        }
        let (_, page) = viewer.get(&app, &path).await;
        assert!(
            notes(&page)[0].contains("No one else has posted in this class"),
            "the count was made again though nothing happened: {:?}",
            notes(&page)
        );

        // A post records its event: the next page counts both posters.
        let author = app.student("qtpo");
        common::seed::enroll(&mut app.conn(), &author.user, &class);
        post(&app, &author.user, &class, "a question");
        let (_, page) = viewer.get(&app, &path).await;
        assert!(
            notes(&page)[0].contains("one of 3 recent posters"),
            "{:?}",
            notes(&page)
        );
        // The viewer's own post: counted once, on the thread page too.
        post(&app, &viewer.user, &class, "mine");
        let (_, page) = viewer.get(&app, &path).await;
        assert!(notes(&page)[0].contains("one of 3 recent posters"));
        let thread = thread_links(&page)[0].clone();
        let (_, thread_page) = viewer.get(&app, &thread).await;
        assert!(notes(&thread_page)[0].contains("one of 3 recent posters"));
    }
);

backend_test!(
    async fn list_and_thread_pages_name_no_author_and_count_no_one(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("kqzw");
        let b = app.student("rqzv");
        let class = new_class(&app, "CS 2150", &[&a, &b]);
        for text in ["what is on the exam?", "and the project?"] {
            post(&app, &a.user, &class, text);
        }
        MessageBuilder::new(&class.id, &a.user.id, "Anon_77aa", "an old one")
            .insert(&mut app.conn());
        let seen = chat_as_seen(&app, &b.client, &format!("/classes/{}", class.id)).await;
        let lower = seen.to_lowercase();
        for secret in [
            a.user.id.as_str(),
            a.user.email.as_str(),
            a.user.computing_id.as_str(),
        ] {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "the pages show {secret}"
            );
        }
        let a_name = pseudonym::candidate(app.secret_key.as_bytes(), &a.user.id, &class.id);
        assert!(
            seen.contains(&a_name) && seen.contains("Anon_77aa"),
            "names shown"
        );
        // The note counts the class, never a student's posts.
        for note in notes(&seen) {
            assert!(!note.contains(&a_name), "{note}");
            assert!(note.contains("one of 2 recent posters"), "{note}");
        }
        assert!(!lower.contains("posts by") && !lower.contains("messages by"));
    }
);
