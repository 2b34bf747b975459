//! Issue 15, items 5 and 8 and the posting limit: who may join a class (a term's
//! worth of sections, one per course and component, twenty changes a day), the
//! class page saying who reads its chat, a suspended student changing nothing,
//! and one student's posts capped across all classes. On SQLite and PostgreSQL.

use crate::common;

use chrono::{Duration, NaiveDateTime};
use common::builders::ClassBuilder;
use common::{chat_as_seen, spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::accounts::UserId;
use common_grounds::chat::ClassMessage;
use common_grounds::classes::{self, Class};
use common_grounds::clock;
use common_grounds::db::schema::{class_messages, friendships, user_classes, users};
use diesel::prelude::*;

/// A section of `code` in `term`, of a SIS component (`LEC`, `LAB`), numbered `sec`.
fn section(app: &TestApp, code: &str, term: &str, component: &str, sec: &str) -> Class {
    ClassBuilder::new(code, term)
        .component(component)
        .section(sec)
        .insert(&mut app.conn())
}

/// The sections a student takes, by id, sorted.
fn enrollments(app: &TestApp, who: &UserId) -> Vec<String> {
    let mut ids: Vec<String> = user_classes::table
        .filter(user_classes::user_id.eq(who))
        .select(user_classes::class_id)
        .load(&mut app.conn())
        .unwrap();
    ids.sort();
    ids
}

fn enroll_directly(app: &TestApp, who: &Student, class: &Class) {
    assert!(classes::enroll(&mut app.conn(), &who.user.id, &class.id, clock::now()).unwrap());
}

/// Presses "Join this class" on the class page (and "Join anyway": every
/// builder section meets at the same default time, and overlaps are not what
/// these rules are about; `week_clashes` tests them).
async fn join(app: &TestApp, who: &Student, class: &Class) -> reqwest::Response {
    let page = format!("/classes/{}", class.id);
    who.post(
        app,
        &page,
        &format!("/classes/{}/enroll", class.id),
        &[
            ("term", &class.term),
            ("next", &page),
            ("confirm_clash", "1"),
        ],
    )
    .await
}

/// Presses "Leave" for a class, coming back to the home page.
async fn leave(app: &TestApp, who: &Student, class: &Class) -> reqwest::Response {
    who.post(
        app,
        "/",
        &format!("/classes/{}/leave", class.id),
        &[("next", "/")],
    )
    .await
}

/// Follows a form's 303 to the page it names and returns that page (with its flash).
async fn landing(app: &TestApp, who: &Student, response: reqwest::Response) -> String {
    assert_eq!(
        response.status().as_u16(),
        303,
        "a form answers with a redirect"
    );
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (status, html) = who.get(app, &location).await;
    assert_eq!(status, 200, "{location}");
    html
}

/// The text of the page's alert (an error flash), if any.
fn alert(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[role=alert]").unwrap();
    doc.select(&sel).flat_map(|e| e.text()).collect()
}

fn text_of(html: &str, selector: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).flat_map(|e| e.text()).collect()
}

backend_test!(
    async fn an_eleventh_section_in_a_term_is_refused_and_changes_nothing(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("te1n");
        let spring: Vec<Class> = (0..11)
            .map(|n| section(&app, &format!("CS {}", 1000 + n), "1262", "LEC", "001"))
            .collect();
        let fall = section(&app, "CS 4000", "1268", "LEC", "001");
        for class in &spring[..10] {
            let html = landing(&app, &student, join(&app, &student, class).await).await;
            assert!(
                alert(&html).is_empty(),
                "joining {} worked: {html}",
                class.code()
            );
        }
        let before = enrollments(&app, &student.user.id);
        assert_eq!(before.len(), 10);

        let eleventh = &spring[10];
        let html = landing(&app, &student, join(&app, &student, eleventh).await).await;
        assert_eq!(
            alert(&html).trim(),
            "You can be in at most 10 sections in Spring 2026. Leave one first to join another."
        );
        assert!(
            text_of(&html, ".chat-locked").contains("Join this class"),
            "the page still offers to join, it did not open the chat"
        );
        assert_eq!(
            enrollments(&app, &student.user.id),
            before,
            "nothing changed"
        );

        // Another term has room of its own.
        let html = landing(&app, &student, join(&app, &student, &fall).await).await;
        assert!(alert(&html).is_empty(), "{html}");
        assert_eq!(enrollments(&app, &student.user.id).len(), 11);

        // Leaving one makes room for the eleventh.
        landing(&app, &student, leave(&app, &student, &spring[0]).await).await;
        let html = landing(&app, &student, join(&app, &student, eleventh).await).await;
        assert!(alert(&html).is_empty(), "{html}");
        assert!(enrollments(&app, &student.user.id).contains(&eleventh.id.to_string()));
    }
);

backend_test!(
    async fn a_second_lecture_of_one_course_is_refused(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("se2c");
        let first = section(&app, "CS 2100", "1262", "LEC", "001");
        let second = section(&app, "CS 2100", "1262", "LEC", "002");
        let lab = section(&app, "CS 2100", "1262", "LAB", "101");

        landing(&app, &student, join(&app, &student, &first).await).await;
        let before = enrollments(&app, &student.user.id);
        assert_eq!(before, vec![first.id.to_string()]);

        let html = landing(&app, &student, join(&app, &student, &second).await).await;
        assert_eq!(
            alert(&html).trim(),
            "You already take CS 2100 lecture section 001; leave it first to switch to 002."
        );
        assert_eq!(
            enrollments(&app, &student.user.id),
            before,
            "nothing changed"
        );
        let (_, page) = student.get(&app, &format!("/classes/{}", second.id)).await;
        assert!(
            text_of(&page, ".chat-locked").contains("Join this class"),
            "002's chat stays closed"
        );

        // The lab of the same course is another component: allowed.
        let html = landing(&app, &student, join(&app, &student, &lab).await).await;
        assert!(alert(&html).is_empty(), "{html}");

        // Switching as the message says works.
        landing(&app, &student, leave(&app, &student, &first).await).await;
        let html = landing(&app, &student, join(&app, &student, &second).await).await;
        assert!(alert(&html).is_empty(), "{html}");
        let mut expected = vec![second.id.to_string(), lab.id.to_string()];
        expected.sort();
        assert_eq!(enrollments(&app, &student.user.id), expected);
    }
);

backend_test!(
    async fn a_twenty_first_join_or_leave_in_a_day_is_refused(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("tw2y");
        let class = section(&app, "CS 3120", "1262", "LEC", "001");
        let kept = section(&app, "MATH 3351", "1262", "LEC", "001");
        enroll_directly(&app, &student, &kept);

        // Ten joins and ten leaves: twenty changes.
        for round in 0..10 {
            let html = landing(&app, &student, join(&app, &student, &class).await).await;
            assert!(alert(&html).is_empty(), "join {round}: {html}");
            let html = landing(&app, &student, leave(&app, &student, &class).await).await;
            assert!(alert(&html).is_empty(), "leave {round}: {html}");
        }
        let before = enrollments(&app, &student.user.id);
        assert_eq!(before, vec![kept.id.to_string()]);

        let refused = join(&app, &student, &class).await;
        assert_eq!(refused.status().as_u16(), 429, "the 21st join");
        assert!(refused.headers().contains_key("retry-after"));
        let body = refused.text().await.unwrap();
        assert!(
            body.contains("You have added or dropped 20 classes in the last 24 hours"),
            "{body}"
        );
        assert!(
            body.contains("You can change your classes again after"),
            "{body}"
        );
        assert_eq!(
            enrollments(&app, &student.user.id),
            before,
            "join changed nothing"
        );

        let refused = leave(&app, &student, &kept).await;
        assert_eq!(refused.status().as_u16(), 429, "the 21st change, a leave");
        assert_eq!(
            enrollments(&app, &student.user.id),
            before,
            "leave changed nothing"
        );

        let (status, page) = student.get(&app, &format!("/classes/{}", class.id)).await;
        assert_eq!(status, 200);
        assert!(text_of(&page, ".chat-locked").contains("Join this class"));
    }
);

backend_test!(
    async fn refused_joins_do_not_use_up_the_days_changes(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("MAX_CLASS_CHANGES_PER_DAY", "2")]).await;
        let student = app.student("re3f");
        let first = section(&app, "CS 2100", "1262", "LEC", "001");
        let second = section(&app, "CS 2100", "1262", "LEC", "002");
        let other = section(&app, "CS 2120", "1262", "LEC", "001");
        landing(&app, &student, join(&app, &student, &first).await).await;
        for _ in 0..3 {
            let html = landing(&app, &student, join(&app, &student, &second).await).await;
            assert!(alert(&html).contains("leave it first"), "{html}");
        }
        let html = landing(&app, &student, join(&app, &student, &other).await).await;
        assert!(
            alert(&html).is_empty(),
            "the second change still counts as the second: {html}"
        );
        assert_eq!(join(&app, &student, &second).await.status().as_u16(), 303);
        let refused = leave(&app, &student, &other).await;
        assert_eq!(
            refused.status().as_u16(),
            429,
            "a third change with a limit of 2"
        );
    }
);

// Deleting the account and signing up again must not reset the day's
// limits (here joins and leaves, which decide who reads a class's chat).
backend_test!(
    async fn a_new_account_for_an_erased_id_keeps_its_days_limits(backend: Backend) {
        let app = common::spawn_app_with(
            common::TestDb::with_schema(backend),
            common::TestMail::Memory,
            &[("MAX_CLASS_CHANGES_PER_DAY", "2")],
        )
        .await;
        let student = app.student("cy1c");
        let classes: Vec<Class> = ["001", "002", "003"]
            .iter()
            .enumerate()
            .map(|(i, sec)| section(&app, &format!("CS 21{i}0"), "1262", "LEC", sec))
            .collect();
        for class in &classes[..2] {
            assert_eq!(join(&app, &student, class).await.status().as_u16(), 303);
        }
        assert_eq!(
            join(&app, &student, &classes[2]).await.status().as_u16(),
            429
        );
        // A post leaves chat limits' hits, which must not outlive the account:
        // they name the class, at the post's very instant.
        let page = format!("/classes/{}", classes[0].id);
        let posted = student
            .post(
                &app,
                &page,
                &format!("{page}/messages"),
                &[("content", "Is the lab due Friday?"), ("confirmed", "1")],
            )
            .await;
        assert_eq!(posted.status().as_u16(), 303);
        let deleted = student
            .post(&app, "/account", "/account/delete", &[("confirm", "cy1c")])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);
        let buckets: Vec<String> = common_grounds::db::schema::rate_limit_hits::table
            .select(common_grounds::db::schema::rate_limit_hits::bucket)
            .load(&mut app.conn())
            .unwrap();
        assert!(
            buckets.iter().all(|b| !b.starts_with("chat-")
                && !b.contains(classes[0].id.as_str())
                && !b.contains(student.user.id.as_str())),
            "{buckets:?}"
        );
        assert!(
            buckets.iter().any(|b| b.starts_with("class-changes:")),
            "{buckets:?}"
        );

        app.sign_in("cy1c@virginia.edu").await;
        let page = format!("/classes/{}", classes[2].id);
        let csrf = app.csrf_from(&page).await;
        let again = app
            .post_form(
                &format!("/classes/{}/enroll", classes[2].id),
                &[
                    ("csrf_token", csrf.as_str()),
                    ("term", "1262"),
                    ("next", page.as_str()),
                    ("confirm_clash", "1"),
                ],
            )
            .await;

        assert_eq!(again.status().as_u16(), 429, "the day's changes were reset");
    }
);

backend_test!(
    async fn the_class_page_says_who_reads_the_chat_and_how_many_added_it(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let class = section(&app, "CS 2150", "1262", "LEC", "001");
        let members: Vec<Student> = ["ma1a", "mb2b", "mc3c"]
            .iter()
            .map(|id| app.student(id))
            .collect();
        for m in &members {
            enroll_directly(&app, m, &class);
        }
        let outsider = app.student("ou4t");
        let page = format!("/classes/{}", class.id);

        let (status, html) = members[0].get(&app, &page).await;
        assert_eq!(status, 200);
        assert_eq!(
            text_of(&html, ".class-members").trim(),
            "3 students added this class."
        );
        let audience = text_of(&html, ".chat-audience");
        assert!(
            audience.contains("readable by students who added this class (3 students)"),
            "{audience}"
        );

        let (status, html) = outsider.get(&app, &page).await;
        assert_eq!(status, 200);
        assert_eq!(
            text_of(&html, ".class-members").trim(),
            "3 students added this class."
        );
        assert!(
            text_of(&html, ".chat-locked").contains("readable by students who added this class"),
            "{html}"
        );
        // A count, never a list: no member's computing ID appears.
        for m in &members {
            assert!(
                !html.contains(&m.user.computing_id),
                "{} listed",
                m.user.computing_id
            );
        }

        landing(&app, &outsider, join(&app, &outsider, &class).await).await;
        let (_, html) = outsider.get(&app, &page).await;
        assert_eq!(
            text_of(&html, ".class-members").trim(),
            "4 students added this class."
        );
        landing(&app, &members[1], leave(&app, &members[1], &class).await).await;
        landing(&app, &members[2], leave(&app, &members[2], &class).await).await;
        landing(&app, &outsider, leave(&app, &outsider, &class).await).await;
        let (_, html) = members[0].get(&app, &page).await;
        assert_eq!(
            text_of(&html, ".class-members").trim(),
            "1 student added this class."
        );
    }
);

/// What a student tries, the form's address, and its fields.
type Attempt<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

/// Everything a suspended student could change, as rows to compare.
#[derive(Debug, PartialEq)]
struct Rows {
    classes: Vec<String>,
    messages: Vec<(String, String, Option<NaiveDateTime>, NaiveDateTime)>,
    user: (Option<String>, bool, NaiveDateTime),
    friendships: Vec<(String, String, String, String, NaiveDateTime)>,
}

fn rows(app: &TestApp, who: &UserId) -> Rows {
    let mut conn = app.conn();
    let mut messages: Vec<ClassMessage> = class_messages::table
        .select(ClassMessage::as_select())
        .load(&mut conn)
        .unwrap();
    messages.sort_by(|a, b| a.id.cmp(&b.id));
    let user = users::table
        .find(who)
        .select((users::display_name, users::hide_classes, users::updated_at))
        .first(&mut conn)
        .unwrap();
    let mut friendships = friendships::table
        .select((
            friendships::id,
            friendships::user_id_1,
            friendships::user_id_2,
            friendships::status,
            friendships::updated_at,
        ))
        .load(&mut conn)
        .unwrap();
    friendships.sort();
    drop(conn);
    Rows {
        classes: enrollments(app, who),
        messages: messages
            .into_iter()
            .map(|m| (m.id.to_string(), m.content, m.edited_at, m.updated_at))
            .collect(),
        user,
        friendships,
    }
}

backend_test!(
    async fn a_suspended_student_is_read_only(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let sus = app.student("su5p");
        let friend = app.student("fr1e");
        let asker = app.student("as2k");
        let taken = section(&app, "CS 2150", "1262", "LEC", "001");
        let wanted = section(&app, "CS 3240", "1262", "LEC", "001");
        enroll_directly(&app, &sus, &taken);
        let page = format!("/classes/{}", taken.id);

        // Before the suspension: a message, a display name, a friend and a pending request.
        let posted = sus
            .post(
                &app,
                &page,
                &format!("/classes/{}/messages", taken.id),
                &[("content", "my original words")],
            )
            .await;
        assert_eq!(posted.status().as_u16(), 303);
        let message_id: String = class_messages::table
            .filter(class_messages::content.eq("my original words"))
            .select(class_messages::id)
            .first(&mut app.conn())
            .unwrap();
        let named = sus
            .post(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Sam Student")],
            )
            .await;
        assert_eq!(named.status().as_u16(), 303);
        let asked = sus
            .post(&app, "/friends", "/friends", &[("who", "fr1e")])
            .await;
        assert_eq!(asked.status().as_u16(), 303);
        let accepted = friend
            .post(&app, "/friends", "/friends/su5p/accept", &[])
            .await;
        assert_eq!(accepted.status().as_u16(), 303);
        let incoming = asker
            .post(&app, "/friends", "/friends", &[("who", "su5p")])
            .await;
        assert_eq!(incoming.status().as_u16(), 303);

        let until = clock::now() + Duration::days(9);
        diesel::update(users::table.find(&sus.user.id))
            .set((
                users::suspended_until.eq(Some(until)),
                users::suspension_reason.eq(Some("Spamming the class chat")),
            ))
            .execute(&mut app.conn())
            .unwrap();
        let before = rows(&app, &sus.user.id);
        assert_eq!(before.classes.len(), 1);
        assert_eq!(before.friendships.len(), 2);

        // The end in campus time, with its zone: "Dec 10, 2026, 4:05 PM EST".
        let end_date = common_grounds::campus_time::CampusTime::default()
            .exact(until)
            .title;
        let attempts: Vec<Attempt> = vec![
            (
                "edit a message",
                format!("/messages/{message_id}/edit"),
                vec![("content", "rewritten after the fact")],
            ),
            (
                "join a class",
                format!("/classes/{}/enroll", wanted.id),
                vec![("term", "1262")],
            ),
            (
                "send a friend request",
                "/friends".into(),
                vec![("who", "zz9z")],
            ),
            ("accept a request", "/friends/as2k/accept".into(), vec![]),
        ];
        for (what, path, fields) in &attempts {
            let response = sus.post(&app, &page, path, fields).await;
            assert_eq!(response.status().as_u16(), 403, "{what} while suspended");
            let body = response.text().await.unwrap();
            assert!(
                body.contains(&end_date),
                "{what}: the refusal names the end date {end_date}: {body}"
            );
            assert_eq!(rows(&app, &sus.user.id), before, "{what} changed a row");
        }
        // A new display name is refused on the account page, with the end
        // date. (Leaving a class and turning friends away stay open to a
        // suspended student: `admin::a_suspended_student_can_still_keep_people_away`.)
        let (_, account) = sus
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Someone Else")],
            )
            .await;
        assert!(
            account.contains("Your display name was not changed: your account is suspended until")
                && account.contains(&end_date),
            "{account}"
        );
        assert_eq!(rows(&app, &sus.user.id), before, "the name changed");

        // Reading still works (the thread pages too), and the chat still shows
        // the original words.
        let html = chat_as_seen(&app, &sus.client, &page).await;
        assert!(html.contains("my original words"));
        assert!(!html.contains("rewritten after the fact"));

        // Once the suspension is lifted, the same edit goes through.
        diesel::update(users::table.find(&sus.user.id))
            .set(users::suspended_until.eq(None::<NaiveDateTime>))
            .execute(&mut app.conn())
            .unwrap();
        let edited = sus
            .post(
                &app,
                &page,
                &format!("/messages/{message_id}/edit"),
                &[("content", "rewritten after the fact")],
            )
            .await;
        assert_eq!(edited.status().as_u16(), 303);
    }
);

backend_test!(
    async fn posts_across_classes_stop_at_the_hourly_limit_for_the_student(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("POSTS_PER_HOUR", "5")]).await;
        let spammer = app.student("sp4m");
        let classes: Vec<Class> = (0..6)
            .map(|n| section(&app, &format!("ENGL {}", 1000 + n), "1262", "LEC", "001"))
            .collect();
        for class in &classes {
            enroll_directly(&app, &spammer, class);
        }
        let post = |class: &Class| {
            let page = format!("/classes/{}", class.id);
            let path = format!("/classes/{}/messages", class.id);
            let spammer = &spammer;
            let app = &app;
            async move {
                spammer
                    .post(
                        app,
                        &page,
                        &path,
                        &[("content", "buy my notes at example.com")],
                    )
                    .await
            }
        };
        for class in &classes[..5] {
            assert_eq!(post(class).await.status().as_u16(), 303, "{}", class.code());
        }
        let refused = post(&classes[5]).await;
        assert_eq!(refused.status().as_u16(), 429, "the sixth post in an hour");
        assert!(refused.headers().contains_key("retry-after"));
        let body = refused.text().await.unwrap();
        assert!(
            body.contains("You can post at most 5 messages an hour across all your classes."),
            "{body}"
        );
        assert!(body.contains("Nothing was saved."), "{body}");

        let mut conn = app.conn();
        let stored: i64 = class_messages::table
            .filter(class_messages::user_id.eq(&spammer.user.id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(stored, 5);
        let in_sixth: i64 = class_messages::table
            .filter(class_messages::class_id.eq(&classes[5].id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(in_sixth, 0, "the refused post was not stored");
        drop(conn);
        let (_, html) = spammer
            .get(&app, &format!("/classes/{}", classes[5].id))
            .await;
        assert!(!html.contains("buy my notes"));

        // A classmate is not held back by the spammer's limit.
        let classmate = app.student("cl4s");
        enroll_directly(&app, &classmate, &classes[5]);
        let r = classmate
            .post(
                &app,
                &format!("/classes/{}", classes[5].id),
                &format!("/classes/{}/messages", classes[5].id),
                &[("content", "anyone have the problem set?")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
    }
);
