//! Issue 4: my classes, friends, classes in common, the timetable, search and
//! privacy, through real HTTP on SQLite and PostgreSQL.

use crate::common;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::accounts::UserId;
use common_grounds::classes::{self, Class, ClassId, MeetingId, NewClassMeeting};
use common_grounds::clock;
use common_grounds::friends::{self, FriendshipId, FriendshipStatus, NewFriendship};
use diesel::prelude::*;

/// A section of `term` with its weekly meetings `(days, start, end)`.
fn section(
    app: &TestApp,
    code: &str,
    term: &str,
    sec: &str,
    title: &str,
    meetings: &[(&str, &str, &str)],
) -> Class {
    let mut conn = app.conn();
    let number = format!("{}", 10000 + rand_suffix());
    let class = ClassBuilder::new(code, term)
        .title(title)
        .sis_class_number(number.as_str())
        .section(sec)
        .seats_available(Some(12))
        .meets(None, None, None)
        .insert(&mut conn);
    let id = class.id.clone();
    for (position, (days, start, end)) in meetings.iter().enumerate() {
        classes::insert_meeting(
            &mut conn,
            &NewClassMeeting {
                id: &MeetingId::new(),
                class_id: &id,
                position: position as i32,
                days: Some(days),
                start_time: Some(start),
                end_time: Some(end),
                location: Some("Rice Hall 130"),
                instructor: Some("Ada Lovelace"),
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
    }
    class
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn join(app: &TestApp, who: &Student, class: &Class) {
    assert!(classes::enroll(&mut app.conn(), &who.user.id, &class.id, clock::now()).unwrap());
}

fn befriend(app: &TestApp, a: &UserId, b: &UserId, status: FriendshipStatus) {
    let now = clock::now();
    friends::insert(
        &mut app.conn(),
        &NewFriendship {
            id: &FriendshipId::new(),
            user_id_1: a,
            user_id_2: b,
            status: status.as_str(),
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap();
}

fn status_between(app: &TestApp, a: &UserId, b: &UserId) -> Option<(FriendshipStatus, UserId)> {
    friends::between(&mut app.conn(), a, b)
        .unwrap()
        .map(|f| (f.status, f.user_id_1))
}

/// The text of each class card on the home page, keyed by course code.
fn home_cards(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let card = scraper::Selector::parse(".class-card").unwrap();
    let title = scraper::Selector::parse(".class-title a").unwrap();
    doc.select(&card)
        .map(|c| {
            let code = c.select(&title).next().unwrap().text().collect::<String>();
            (code, c.text().collect::<String>())
        })
        .collect()
}

/// Whether `word` appears in `html` as a word of its own: a random token
/// (a CSRF token in hex) may hold "bb2b" inside it, and that names no one.
fn names(html: &str, word: &str) -> bool {
    html.match_indices(word).any(|(at, _)| {
        let before = html[..at].chars().next_back();
        let after = html[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn text_of(html: &str, selector: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).flat_map(|e| e.text()).collect()
}

fn count(html: &str, selector: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).count()
}

backend_test!(
    async fn home_and_in_common_show_accepted_friends_only(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let b = app.student("bb2b");
        let c = app.student("cc3c");
        let theory = section(
            &app,
            "CS 3120",
            "1262",
            "001",
            "Discrete Mathematics and Theory 2",
            &[("TuTh", "11.00.00.000000-05:00", "12.15.00.000000-05:00")],
        );
        let math = section(
            &app,
            "MATH 3351",
            "1262",
            "002",
            "Elementary Linear Algebra",
            &[("MoWeFr", "10.00.00.000000-05:00", "10.50.00.000000-05:00")],
        );
        for s in [&a, &b, &c] {
            join(&app, s, &theory);
        }
        join(&app, &a, &math);
        join(&app, &b, &math);

        // A asks B through the form; B accepts through the form. C asks A.
        let sent = a
            .post(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        assert_eq!(sent.status().as_u16(), 303);
        let accepted = b.post(&app, "/friends", "/friends/aa1a/accept", &[]).await;
        assert_eq!(accepted.status().as_u16(), 303);
        // Pressed again (a second tab): said to be done, not "no request".
        let (_, again) = b
            .post_and_follow(&app, "/friends", "/friends/aa1a/accept", &[])
            .await;
        assert!(
            again.contains("You and aa1a are already friends."),
            "{again}"
        );
        let asked = c
            .post(
                &app,
                "/friends",
                "/friends",
                &[("who", "aa1a@virginia.edu")],
            )
            .await;
        assert_eq!(asked.status().as_u16(), 303);
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id).unwrap().0,
            FriendshipStatus::Accepted
        );
        assert_eq!(
            status_between(&app, &a.user.id, &c.user.id).unwrap().0,
            FriendshipStatus::Pending
        );

        let (status, home) = a.get(&app, "/").await;
        assert_eq!(status, 200);
        let cards = home_cards(&home);
        assert_eq!(cards.len(), 2, "A takes two classes: {cards:?}");
        for (code, text) in &cards {
            assert!(
                text.contains("bb2b"),
                "B should be listed under {code}: {text}"
            );
            assert!(
                !text.contains("cc3c"),
                "C is not an accepted friend: {code}: {text}"
            );
        }
        // C's request shows as a request, not as a friend in a class.
        assert!(text_of(&home, "#requests-heading + .rows").contains("cc3c"));

        let (status, page) = a.get(&app, "/friends/bb2b").await;
        assert_eq!(status, 200);
        let mut shared: Vec<String> = {
            let doc = scraper::Html::parse_document(&page);
            let sel = scraper::Selector::parse(".class-card .class-title a").unwrap();
            doc.select(&sel).map(|e| e.text().collect()).collect()
        };
        shared.sort();
        assert_eq!(shared, vec!["CS 3120", "MATH 3351"]);
        assert!(
            page.contains("Tue Thu") && page.contains("11:00 AM–12:15 PM"),
            "meeting times shown"
        );

        assert_eq!(a.get(&app, "/friends/cc3c").await.0, 404);
        assert_eq!(c.get(&app, "/friends/aa1a").await.0, 404);
        assert_eq!(a.get(&app, "/friends/nobody1").await.0, 404);
    }
);

/// The forms on a page: (action, the text of each button), in order.
fn forms(html: &str) -> Vec<(String, Vec<String>)> {
    let doc = scraper::Html::parse_document(html);
    let form = scraper::Selector::parse("main form").unwrap();
    let button = scraper::Selector::parse("button").unwrap();
    doc.select(&form)
        .map(|f| {
            let action = f.value().attr("action").unwrap_or_default().to_string();
            let buttons = f
                .select(&button)
                .map(|b| {
                    b.text()
                        .collect::<String>()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            (action, buttons)
        })
        .collect()
}

backend_test!(
    async fn a_block_is_asked_again_on_its_own_page_and_every_button_says_whom(backend: Backend) {
        // Arrange: a friend, a request for me, one I sent, one I blocked.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let friend = app.student("bb2b");
        let asker = app.student("cc3c");
        let asked = app.student("dd4d");
        let blocked = app.student("ee5e");
        befriend(
            &app,
            &a.user.id,
            &friend.user.id,
            FriendshipStatus::Accepted,
        );
        befriend(&app, &asker.user.id, &a.user.id, FriendshipStatus::Pending);
        befriend(&app, &a.user.id, &asked.user.id, FriendshipStatus::Pending);
        befriend(
            &app,
            &a.user.id,
            &blocked.user.id,
            FriendshipStatus::Blocked,
        );

        // Act + Assert: no form on the friends page blocks at one tap, and
        // each button names whom it acts on (a screen reader's list of
        // buttons is not "Remove, Block, Accept, Decline, Block").
        let (status, html) = a.get(&app, "/friends").await;
        assert_eq!(status, 200);
        let on_page = forms(&html);
        assert!(
            on_page
                .iter()
                .all(|(action, _)| !action.ends_with("/block")),
            "{on_page:?}"
        );
        let named: Vec<(String, Vec<String>)> = on_page
            .into_iter()
            .filter(|(action, _)| action.starts_with("/friends/"))
            .collect();
        assert_eq!(
            named,
            vec![
                (
                    "/friends/cc3c/accept".into(),
                    vec!["Accept cc3c".to_string()]
                ),
                (
                    "/friends/cc3c/decline".into(),
                    vec!["Decline cc3c".to_string()]
                ),
                (
                    "/friends/dd4d/remove".into(),
                    vec!["Withdraw the request to dd4d".to_string()]
                ),
                (
                    "/friends/ee5e/unblock".into(),
                    vec!["Unblock ee5e".to_string()]
                ),
            ]
        );
        assert!(html.contains(r#"href="/friends/bb2b/block""#), "{html}");
        assert!(html.contains(r#"href="/friends/cc3c/block""#), "{html}");
        // Nor does one remove a friend at one tap: Remove asks first, on a
        // page whose button does it (and which offers blocking instead).
        assert!(html.contains(r#"href="/friends/bb2b/remove""#), "{html}");
        let (status, ask_remove) = a.get(&app, "/friends/bb2b/remove").await;
        assert_eq!(status, 200);
        assert!(ask_remove.contains("Remove bb2b?"), "{ask_remove}");
        assert_eq!(
            forms(&ask_remove),
            vec![(
                "/friends/bb2b/remove".to_string(),
                vec!["Remove bb2b".to_string()]
            )]
        );
        let (_, friend_page) = a.get(&app, "/friends/bb2b").await;
        assert!(
            friend_page.contains(r#"href="/friends/bb2b/remove""#)
                && !friend_page.contains(r#"action="/friends/bb2b/remove""#),
            "{friend_page}"
        );

        // The page that asks: the same for an ID nobody holds.
        let (status, ask) = a.get(&app, "/friends/bb2b/block").await;
        assert_eq!(status, 200);
        assert!(ask.contains("Block bb2b?"), "{ask}");
        assert_eq!(
            forms(&ask),
            vec![(
                "/friends/bb2b/block".to_string(),
                vec!["Block bb2b".to_string()]
            )]
        );
        let (status, nobody) = a.get(&app, "/friends/zz9z/block").await;
        assert_eq!(status, 200);
        assert_eq!(
            text_of(&ask, "main").replace("bb2b", "X"),
            text_of(&nobody, "main").replace("zz9z", "X")
        );
        assert_eq!(a.get(&app, "/friends/not%20an%20id/block").await.0, 404);
        assert_eq!(
            status_between(&app, &a.user.id, &friend.user.id),
            Some((FriendshipStatus::Accepted, a.user.id.clone())),
            "asking blocks no one"
        );

        // Its button blocks.
        let done = a
            .post(&app, "/friends/bb2b/block", "/friends/bb2b/block", &[])
            .await;
        assert_eq!(done.status().as_u16(), 303);
        assert_eq!(
            status_between(&app, &a.user.id, &friend.user.id),
            Some((FriendshipStatus::Blocked, a.user.id.clone()))
        );

        // Signed out, it asks to sign in.
        let response = app.get("/friends/bb2b/block").await;
        assert_eq!(response.status().as_u16(), 303);
    }
);

backend_test!(
    async fn a_block_hides_the_blocker_and_unblocking_restores_nothing(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let b = app.student("bb2b");
        let class = section(
            &app,
            "CS 3120",
            "1262",
            "001",
            "Theory",
            &[("TuTh", "11:00", "12:15")],
        );
        join(&app, &a, &class);
        join(&app, &b, &class);
        befriend(&app, &a.user.id, &b.user.id, FriendshipStatus::Accepted);
        assert!(a.get(&app, "/").await.1.contains("bb2b"));

        let blocked = b.post(&app, "/friends", "/friends/aa1a/block", &[]).await;
        assert_eq!(blocked.status().as_u16(), 303);
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Blocked, b.user.id.clone()))
        );

        // A sees B nowhere.
        for page in ["/", "/friends", "/schedule"] {
            let (status, html) = a.get(&app, page).await;
            assert_eq!(status, 200, "{page}");
            assert!(!names(&html, "bb2b"), "{page} still shows B");
        }
        assert_eq!(a.get(&app, "/friends/bb2b").await.0, 404);

        // A's new request gets the ordinary reply and is listed as sent, as
        // a declined one is (a block must not be told from a decline); B
        // hears nothing and the block stays.
        let (_, after) = a
            .post_and_follow(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        assert!(after.contains("Request sent to bb2b"), "{after}");
        assert!(
            text_of(&after, "#outgoing-heading + .rows").contains("bb2b"),
            "listed as sent, like any request: {after}"
        );
        assert!(!text_of(&after, "#friends-heading + .rows").contains("bb2b"));
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Blocked, b.user.id.clone()))
        );
        // Nor can A act on B.
        let (_, refused) = a
            .post_and_follow(&app, "/friends", "/friends/bb2b/accept", &[])
            .await;
        assert!(refused.contains("There is no request from bb2b"));

        // B sees the block and can lift it; nothing comes back by itself.
        let (_, b_friends) = b.get(&app, "/friends").await;
        assert!(text_of(&b_friends, "main").contains("aa1a"));
        let unblocked = b.post(&app, "/friends", "/friends/aa1a/unblock", &[]).await;
        assert_eq!(unblocked.status().as_u16(), 303);
        assert!(!names(&a.get(&app, "/").await.1, "bb2b"));
        let (_, b_home) = b.get(&app, "/").await;
        assert!(
            b_home.contains("aa1a is unblocked"),
            "the flash says so once"
        );
        assert!(home_cards(&b_home)
            .iter()
            .all(|(_, text)| !text.contains("aa1a")));
        assert!(!names(&b.get(&app, "/").await.1, "aa1a"), "and only once");
        assert_eq!(a.get(&app, "/friends/bb2b").await.0, 404);

        // A's request made under the block is now a declined one: still
        // listed to A as sent, never shown to B; B can ask A afresh.
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Rejected, a.user.id.clone()))
        );
        let (_, a_friends) = a.get(&app, "/friends").await;
        assert!(text_of(&a_friends, "#outgoing-heading + .rows").contains("bb2b"));
        let (_, b_friends) = b.get(&app, "/friends").await;
        assert!(!text_of(&b_friends, "main").contains("aa1a"), "{b_friends}");
        b.post(&app, "/friends", "/friends", &[("who", "aa1a")])
            .await;
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Pending, b.user.id.clone()))
        );
    }
);

/// The page after a friend request, with the one varying name and the per-session token masked.
fn normalized_reply(html: &str, who: &str) -> String {
    let masked = html.replace(who, "WHO");
    let re_token = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("name=\"csrf_token\" value=\"") {
            let start = i + "name=\"csrf_token\" value=\"".len();
            out.push_str(&rest[..start]);
            let end = rest[start..].find('"').unwrap();
            out.push_str("TOKEN");
            rest = &rest[start + end..];
        }
        out.push_str(rest);
        out
    };
    re_token(&masked)
}

backend_test!(
    async fn a_request_reply_never_tells_whether_the_person_exists(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a1 = app.student("aa1a");
        let a2 = app.student("aa2a");
        let _real = app.student("real9");

        let to_real = a1
            .post(&app, "/friends", "/friends", &[("who", "real9")])
            .await;
        let to_ghost = a2
            .post(&app, "/friends", "/friends", &[("who", "ghost9")])
            .await;
        assert_eq!(to_real.status(), to_ghost.status());
        assert_eq!(
            to_real.headers().get("location"),
            to_ghost.headers().get("location")
        );
        let flash = |r: &reqwest::Response| {
            r.headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        // The flash cookie carries its text hex-encoded.
        let real_cookie = flash(&to_real)
            .join(";")
            .replace(&hex::encode("real9"), "WHO");
        let ghost_cookie = flash(&to_ghost)
            .join(";")
            .replace(&hex::encode("ghost9"), "WHO");
        assert_eq!(real_cookie, ghost_cookie);

        let (_, real_page) = a1.get(&app, "/friends").await;
        let (_, ghost_page) = a2.get(&app, "/friends").await;
        let real_page = normalized_reply(&real_page, "real9").replace("aa1a", "ME");
        let ghost_page = normalized_reply(&ghost_page, "ghost9").replace("aa2a", "ME");
        assert_eq!(real_page, ghost_page);
        assert!(real_page.contains("Request sent to WHO"));
        assert!(text_of(&real_page, "#outgoing-heading + .rows").contains("WHO"));
    }
);

backend_test!(
    async fn a_declined_request_reads_to_its_sender_as_one_still_waiting(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let b = app.student("bb2b");
        let _c = app.student("cc3c");
        a.post(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        a.post(&app, "/friends", "/friends", &[("who", "cc3c")])
            .await;
        a.get(&app, "/friends").await; // shows the flash, once
        let (_, before) = a.get(&app, "/friends").await;
        let sent = text_of(&before, "#outgoing-heading + .rows");
        assert!(sent.contains("bb2b") && sent.contains("cc3c"), "{sent}");

        // B declines; C does nothing. A's page cannot tell the two apart.
        let (_, declined) = b
            .post_and_follow(&app, "/friends", "/friends/aa1a/decline", &[])
            .await;
        assert!(declined.contains("They are not told"), "{declined}");
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Rejected, a.user.id.clone()))
        );
        let (_, after) = a.get(&app, "/friends").await;
        assert_eq!(
            normalized_reply(&after, "NOBODY"),
            normalized_reply(&before, "NOBODY"),
            "A's friends page changed when B declined"
        );
        // Asking again gets the ordinary reply and changes nothing.
        let (_, again) = a
            .post_and_follow(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        assert!(again.contains("Request sent to bb2b"), "{again}");
        assert!(text_of(&again, "#outgoing-heading + .rows").contains("bb2b"));
        // A's data export says the same: two requests sent, waiting.
        let sent_in_export = || {
            let mut conn = app.conn();
            let export =
                common_grounds::ops::student_data::export(&mut conn, &a.user, clock::now())
                    .unwrap();
            let mut sent: Vec<(String, String)> = export
                .friendships
                .into_iter()
                .filter(|f| f.direction == "sent")
                .map(|f| (f.computing_id, f.status))
                .collect();
            sent.sort();
            sent
        };
        assert_eq!(
            sent_in_export(),
            [
                ("bb2b".into(), "PENDING".into()),
                ("cc3c".into(), "PENDING".into())
            ]
        );

        // Both lapse, to A, at the same age: the unanswered one is removed,
        // the declined one stays (B is not asked again) but is no longer listed.
        {
            use common_grounds::db::schema::friendships;
            let mut conn = app.conn();
            let aged =
                clock::now() - chrono::Duration::days(friends::requests::REQUEST_LIFETIME_DAYS + 1);
            diesel::update(friendships::table)
                .set(friendships::updated_at.eq(aged))
                .execute(&mut *conn)
                .unwrap();
        }
        // Gone to A at once, before the hourly cleanup has run.
        let (_, lapsed) = a.get(&app, "/friends").await;
        assert!(
            !lapsed.contains("outgoing-heading"),
            "nothing listed as sent"
        );
        assert_eq!(sent_in_export(), []);
        let removed =
            friends::requests::delete_lapsed_requests(&mut app.conn(), clock::now()).unwrap();
        assert_eq!(removed, 1, "the unanswered request to C");
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Rejected, a.user.id.clone()))
        );

        // Asking B again reads as a new request to A, and B hears nothing of it.
        let b_notices = || {
            use common_grounds::db::schema::notifications;
            notifications::table
                .filter(notifications::user_id.eq(&b.user.id))
                .count()
                .get_result::<i64>(&mut *app.conn())
                .unwrap()
        };
        let heard = b_notices();
        let (_, again) = a
            .post_and_follow(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        assert!(again.contains("Request sent to bb2b"), "{again}");
        assert!(text_of(&again, "#outgoing-heading + .rows").contains("bb2b"));
        assert_eq!(
            b_notices(),
            heard,
            "B declined: no new request reaches them"
        );

        // Withdrawing it reads as for any request, and asking once more still
        // does not reach B.
        let (_, withdrawn) = a
            .post_and_follow(&app, "/friends", "/friends/bb2b/remove", &[])
            .await;
        assert!(
            withdrawn.contains("Your request to bb2b was withdrawn"),
            "{withdrawn}"
        );
        assert!(!withdrawn.contains("outgoing-heading"));
        a.post(&app, "/friends", "/friends", &[("who", "bb2b")])
            .await;
        assert_eq!(b_notices(), heard);
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Rejected, a.user.id.clone()))
        );
    }
);

backend_test!(
    async fn a_block_never_tells_whether_the_person_exists(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a1 = app.student("aa1a");
        let a2 = app.student("aa2a");
        let _real = app.student("real9");

        let on_real = a1.post(&app, "/friends", "/friends/real9/block", &[]).await;
        let on_ghost = a2
            .post(&app, "/friends", "/friends/ghost9/block", &[])
            .await;
        assert_eq!(on_real.status(), on_ghost.status());
        assert_eq!(
            on_real.headers().get("location"),
            on_ghost.headers().get("location")
        );
        let (_, real_page) = a1.get(&app, "/friends").await;
        let (_, ghost_page) = a2.get(&app, "/friends").await;
        let real_page = normalized_reply(&real_page, "real9").replace("aa1a", "ME");
        let ghost_page = normalized_reply(&ghost_page, "ghost9").replace("aa2a", "ME");
        assert_eq!(real_page, ghost_page);
        assert!(text_of(&real_page, "#blocked-heading + .rows").contains("WHO"));

        // Unblocking reads alike too.
        let (_, real_page) = a1
            .post_and_follow(&app, "/friends", "/friends/real9/unblock", &[])
            .await;
        let (_, ghost_page) = a2
            .post_and_follow(&app, "/friends", "/friends/ghost9/unblock", &[])
            .await;
        let real_page = normalized_reply(&real_page, "real9").replace("aa1a", "ME");
        let ghost_page = normalized_reply(&ghost_page, "ghost9").replace("aa2a", "ME");
        assert_eq!(real_page, ghost_page);
        assert!(real_page.contains("WHO is unblocked"), "{real_page}");
    }
);

// A block of a computing ID no one uses yet makes its account's row; its
// student, signing up days later, must not read the block off their
// export's "created".
backend_test!(
    async fn an_account_is_as_old_as_its_first_sign_in(backend: Backend) {
        use common_grounds::db::schema::users;
        let app = common::spawn_app(backend).await;
        let a1 = app.student("aa1a");
        a1.post(&app, "/friends", "/friends/ghost9/block", &[])
            .await;
        let days_ago = clock::now() - chrono::Duration::days(5);
        diesel::update(users::table.filter(users::computing_id.eq("ghost9")))
            .set(users::created_at.eq(days_ago))
            .execute(&mut app.conn())
            .unwrap();

        let before = clock::now();
        app.sign_in("ghost9@virginia.edu").await;

        let created: chrono::NaiveDateTime = users::table
            .filter(users::computing_id.eq("ghost9"))
            .select(users::created_at)
            .first(&mut app.conn())
            .unwrap();
        assert!(created >= before, "{created} is before {before}");
    }
);

backend_test!(
    async fn blocking_someone_who_blocked_you_first_reads_as_any_block(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a1 = app.student("aa1a");
        let a2 = app.student("aa2a");
        let x1 = app.student("xx1x");
        let _x2 = app.student("xx2x");
        // xx1x blocked aa1a first; nobody blocked aa2a.
        x1.post(&app, "/friends", "/friends/aa1a/block", &[]).await;

        a1.post(&app, "/friends", "/friends/xx1x/block", &[]).await;
        a2.post(&app, "/friends", "/friends/xx2x/block", &[]).await;
        let (_, first) = a1.get(&app, "/friends").await;
        let (_, second) = a2.get(&app, "/friends").await;
        let first = normalized_reply(&first, "xx1x").replace("aa1a", "ME");
        let second = normalized_reply(&second, "xx2x").replace("aa2a", "ME");
        assert_eq!(first, second, "being blocked first does not show");
        assert!(text_of(&first, "#blocked-heading + .rows").contains("WHO"));
        // Asking them reads as "you blocked them", as for any block.
        let (_, asked) = a1
            .post_and_follow(&app, "/friends", "/friends", &[("who", "xx1x")])
            .await;
        assert!(asked.contains("You blocked xx1x"), "{asked}");

        // xx1x lifts theirs: aa1a's block stands, and is now the pair's.
        let (_, lifted) = x1
            .post_and_follow(&app, "/friends", "/friends/aa1a/unblock", &[])
            .await;
        assert!(lifted.contains("aa1a is unblocked"), "{lifted}");
        assert!(!lifted.contains("blocked-heading"), "{lifted}");
        assert_eq!(
            status_between(&app, &a1.user.id, &x1.user.id),
            Some((FriendshipStatus::Blocked, a1.user.id.clone()))
        );
        assert!(text_of(
            &a1.get(&app, "/friends").await.1,
            "#blocked-heading + .rows"
        )
        .contains("xx1x"));

        // Both ways again, then aa1a lifts theirs: xx1x's block stands.
        x1.post(&app, "/friends", "/friends/aa1a/block", &[]).await;
        let (_, mine_lifted) = a1
            .post_and_follow(&app, "/friends", "/friends/xx1x/unblock", &[])
            .await;
        assert!(mine_lifted.contains("xx1x is unblocked"), "{mine_lifted}");
        assert_eq!(
            status_between(&app, &a1.user.id, &x1.user.id),
            Some((FriendshipStatus::Blocked, x1.user.id.clone()))
        );
        assert!(text_of(
            &x1.get(&app, "/friends").await.1,
            "#blocked-heading + .rows"
        )
        .contains("aa1a"));
        assert_eq!(
            a1.get(&app, "/friends/xx1x").await.0,
            404,
            "still blocked by xx1x"
        );
    }
);

backend_test!(
    async fn a_lapsed_request_cannot_be_accepted_before_the_cleanup_removes_it(backend: Backend) {
        use common_grounds::db::schema::friendships;
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let x = app.student("xx1x");
        x.post(&app, "/friends", "/friends", &[("who", "aa1a")])
            .await;
        let aged =
            clock::now() - chrono::Duration::days(friends::requests::REQUEST_LIFETIME_DAYS + 1);
        diesel::update(friendships::table)
            .set(friendships::updated_at.eq(aged))
            .execute(&mut *app.conn())
            .unwrap();
        // Gone for both at once: not offered to A, not answerable.
        let (_, page) = a.get(&app, "/friends").await;
        assert!(!page.contains("incoming-heading"), "{page}");
        let (_, refused) = a
            .post_and_follow(&app, "/friends", "/friends/xx1x/accept", &[])
            .await;
        assert!(
            refused.contains("There is no request from xx1x"),
            "{refused}"
        );
        // Asking back is a new request, not an acceptance.
        a.post(&app, "/friends", "/friends", &[("who", "xx1x")])
            .await;
        assert_eq!(
            status_between(&app, &a.user.id, &x.user.id),
            Some((FriendshipStatus::Pending, a.user.id.clone()))
        );
    }
);

backend_test!(
    async fn blocks_are_counted_so_they_cannot_fill_the_accounts_table(backend: Backend) {
        use common_grounds::db::schema::users;
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let accounts = || {
            users::table
                .count()
                .get_result::<i64>(&mut *app.conn())
                .unwrap()
        };
        let now = clock::now();
        for n in 0..friends::requests::BLOCKS_PER_DAY {
            friends::requests::act(
                &mut app.conn(),
                &a.user,
                &format!("gh{n}x"),
                friends::Action::Block,
                "virginia.edu",
                now,
            )
            .unwrap();
        }
        let before = accounts();
        // Oneself is no one to block: refused, saying so, before the count.
        let (_, own) = a
            .post_and_follow(&app, "/friends", "/friends/aa1a/block", &[])
            .await;
        assert!(
            own.contains("That is you: there is no one to block."),
            "{own}"
        );
        let refused = a.post(&app, "/friends", "/friends/gh999x/block", &[]).await;
        assert_eq!(refused.status().as_u16(), 429);
        let page = refused.text().await.unwrap();
        assert!(page.contains("You have blocked 50 people today"), "{page}");
        assert_eq!(accounts(), before, "no placeholder for the refused block");
    }
);

backend_test!(
    async fn hiding_classes_is_mutual(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1a");
        let b = app.student("bb2b");
        let class = section(
            &app,
            "CS 3120",
            "1262",
            "001",
            "Theory",
            &[("TuTh", "11:00", "12:15")],
        );
        join(&app, &a, &class);
        join(&app, &b, &class);
        befriend(&app, &b.user.id, &a.user.id, FriendshipStatus::Accepted);
        assert!(a.get(&app, "/").await.1.contains("bb2b"));
        assert!(b.get(&app, "/").await.1.contains("aa1a"));
        let (_, list) = a.get(&app, "/friends").await;
        assert!(list.contains("1 shared class in"), "{list}");

        let (_, saved) = b
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Bea <b>Bold</b>"), ("hide_classes", "on")],
            )
            .await;
        assert!(saved.contains("Your classes are hidden"), "{saved}");
        assert!(
            saved.contains("Bea &#60;b&#62;Bold&#60;/b&#62;"),
            "display name escaped in the form"
        );

        let (_, a_home) = a.get(&app, "/").await;
        assert!(
            !names(&a_home, "bb2b") && !a_home.contains("Bea"),
            "A sees none of B's classes"
        );
        let (status, a_on_b) = a.get(&app, "/friends/bb2b").await;
        assert_eq!(status, 200, "still friends");
        assert_eq!(count(&a_on_b, ".class-card"), 0);
        assert!(a_on_b.contains("keeps their classes private"));
        // The list says so too, not "0 shared classes".
        let (_, list) = a.get(&app, "/friends").await;
        assert!(list.contains("keeps their classes private"), "{list}");
        assert!(!list.contains("0 shared"), "{list}");
        let (_, b_home) = b.get(&app, "/").await;
        assert!(
            // Matched as a word: "aa1a" is all hex digits, and the page's
            // CSRF tokens are 64 of them (a raw `contains` failed by chance).
            !names(&b_home, "aa1a"),
            "B sees none of A's classes either"
        );
        assert_eq!(
            count(&b.get(&app, "/friends/aa1a").await.1, ".class-card"),
            0
        );
        assert!(!a.get(&app, "/schedule").await.1.contains("1 friend"));
        // Hiding them from friends keeps them on B's own timetable and home.
        let (status, b_week) = b.get(&app, "/schedule").await;
        assert_eq!(status, 200);
        assert!(b_week.contains("CS 3120") && !names(&b_week, "aa1a"));
        let (_, b_home) = b.get(&app, "/").await;
        assert_eq!(home_cards(&b_home).len(), 1);
        assert!(!b_home.contains("No friends in this class yet"), "{b_home}");
        // It says why no friend shows, rather than "no friends", there and
        // in the class.
        let hidden = "Your classes are hidden from friends, so you do not see theirs either";
        assert!(b_week.contains(hidden), "{b_week}");
        assert!(!b_week.contains("no friends") && !b_week.contains("No friends in it"));
        let (_, b_class) = b.get(&app, &format!("/classes/{}", class.id)).await;
        assert!(b_class.contains(hidden), "{b_class}");
        assert!(!b_class.contains("None of your friends take this class"));

        // Switched off again, the display name shows to A, escaped.
        b.post(
            &app,
            "/account",
            "/account/privacy",
            &[("display_name", "Bea <b>Bold</b>")],
        )
        .await;
        let (_, a_home) = a.get(&app, "/").await;
        assert!(
            a_home.contains("Bea &#60;b&#62;Bold&#60;/b&#62; (bb2b)"),
            "{a_home}"
        );
        // And on A's timetable, where a class's friends are one line,
        // written once for every day the class meets (here Tuesday and
        // Thursday).
        let (_, a_week) = a.get(&app, "/schedule").await;
        assert_eq!(
            a_week
                .matches("1 friend: Bea &#60;b&#62;Bold&#60;/b&#62; (bb2b)")
                .count(),
            2,
            "{a_week}"
        );
        assert!(!a_week.contains("<b>Bold"), "{a_week}");

        // A display name with a direction override is refused, and the old one kept.
        let (_, refused) = b
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "evil\u{202E}gnp.exe")],
            )
            .await;
        assert!(refused.contains("text-direction"), "{refused}");
        // What was typed comes back to the field without the override.
        assert!(refused.contains(r#"value="evilgnp.exe""#), "{refused}");
        assert!(!refused.contains('\u{202E}'), "{refused}");
        let stored = common_grounds::accounts::find(&mut app.conn(), &b.user.id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.display_name.as_deref(), Some("Bea <b>Bold</b>"));

        // "Hide my classes" ticked beside a refused name is saved all the same,
        // and the answer says so.
        let (_, refused) = b
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[
                    ("display_name", "evil\u{202E}gnp.exe"),
                    ("hide_classes", "on"),
                ],
            )
            .await;
        assert!(refused.contains("text-direction"), "{refused}");
        assert!(refused.contains("Your classes are hidden"), "{refused}");
        let stored = common_grounds::accounts::find(&mut app.conn(), &b.user.id)
            .unwrap()
            .unwrap();
        assert!(stored.hide_classes, "the classes choice was dropped");
        assert_eq!(stored.display_name.as_deref(), Some("Bea <b>Bold</b>"));
    }
);

/// Statements one GET runs.
async fn queries_for(app: &TestApp, who: &Student, path: &str) -> u64 {
    let before = app.query_count();
    let (status, _) = who.get(app, path).await;
    assert_eq!(status, 200, "{path}");
    app.query_count() - before
}

/// A student with `n` classes, each with `n` accepted friends in it, and `n` pending requests.
async fn campus_of(backend: Backend, n: usize) -> (TestApp, Student) {
    let app = spawn_quiet_app(backend, &[]).await;
    let me = app.student("me1");
    let friends: Vec<Student> = (0..n).map(|i| app.student(&format!("fr{i}"))).collect();
    for i in 0..n {
        let class = section(
            &app,
            &format!("CS {}", 1000 + i),
            "1262",
            "001",
            "A class",
            &[("MoWeFr", "10:00", "10:50"), ("Th", "13:00", "14:15")],
        );
        join(&app, &me, &class);
        for f in &friends {
            join(&app, f, &class);
        }
    }
    for f in &friends {
        befriend(&app, &me.user.id, &f.user.id, FriendshipStatus::Accepted);
    }
    for i in 0..n {
        let asker = app.student(&format!("ask{i}"));
        befriend(&app, &asker.user.id, &me.user.id, FriendshipStatus::Pending);
    }
    (app, me)
}

backend_test!(
    async fn pages_run_a_fixed_number_of_queries(backend: Backend) {
        let paths = ["/", "/schedule", "/friends", "/friends/fr0"];
        let mut counts = Vec::new();
        for n in [1, 50] {
            let (app, me) = campus_of(backend, n).await;
            // Warm up, as a student's first request would.
            me.get(&app, "/").await;
            let mut per_page = Vec::new();
            for path in paths {
                per_page.push(queries_for(&app, &me, path).await);
            }
            let (_, home) = me.get(&app, "/").await;
            assert_eq!(count(&home, ".class-card"), n, "home lists all {n} classes");
            assert_eq!(
                count(&home, ".class-card .chip"),
                n * n,
                "every friend in every class"
            );
            eprintln!("{backend:?} n={n}: {paths:?} ran {per_page:?} queries");
            counts.push(per_page);
        }
        assert_eq!(
            counts[0], counts[1],
            "query counts must not grow with classes, friends or members"
        );
    }
);

backend_test!(
    async fn the_timetable_places_every_meeting(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let friend = app.student("fr1");
        befriend(
            &app,
            &me.user.id,
            &friend.user.id,
            FriendshipStatus::Accepted,
        );
        let calc = section(
            &app,
            "MATH 1310",
            "1262",
            "001",
            "Calculus I",
            &[
                ("MoWeFr", "10.00.00.000000-05:00", "10.50.00.000000-05:00"),
                ("Fr", "13.00.00.000000-05:00", "13.50.00.000000-05:00"),
            ],
        );
        let tba = section(
            &app,
            "CS 4993",
            "1262",
            "010",
            "Independent Study",
            &[("TBA", "", "")],
        );
        let left = section(
            &app,
            "CS 2100",
            "1262",
            "001",
            "Data Structures",
            &[("TuTh", "14:00", "15:15")],
        );
        let right = section(
            &app,
            "PHYS 1425",
            "1262",
            "001",
            "Physics",
            &[("Tu", "14:30", "15:45")],
        );
        for c in [&calc, &tba, &left, &right] {
            join(&app, &me, c);
        }
        join(&app, &friend, &calc);

        let (status, html) = me.get(&app, "/schedule").await;
        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&html);
        let day = |name: &str| {
            let sel = scraper::Selector::parse(&format!(
                "section.tt-day[aria-label=\"{name}\"] .tt-block"
            ))
            .unwrap();
            doc.select(&sel)
                .map(|b| {
                    (
                        b.text().collect::<String>(),
                        b.value().attr("class").unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        for name in ["Mon", "Wed"] {
            let blocks = day(name);
            assert_eq!(blocks.len(), 1, "{name}: {blocks:?}");
            assert!(blocks[0].0.contains("MATH 1310") && blocks[0].0.contains("10:00–10:50 AM"));
            assert!(blocks[0].0.contains("1 friend"), "{blocks:?}");
        }
        let fri = day("Fri");
        assert_eq!(fri.len(), 2, "{fri:?}");
        assert!(fri.iter().any(|b| b.0.contains("10:00–10:50 AM")));
        assert!(fri.iter().any(|b| b.0.contains("1:00–1:50 PM")));
        // 8:00 is the first row: 10:00 starts at row 25, 10:50 ends at row 35.
        assert!(fri.iter().any(|b| b.1.contains("gs-25 ge-35")), "{fri:?}");

        let tue = day("Tue");
        assert_eq!(tue.len(), 2, "{tue:?}");
        let lanes: Vec<&str> = tue.iter().map(|b| b.1.as_str()).collect();
        assert!(
            lanes.iter().any(|c| c.contains("lk2 li0"))
                && lanes.iter().any(|c| c.contains("lk2 li1")),
            "overlapping classes side by side: {lanes:?}"
        );
        let thu = day("Thu");
        assert_eq!(thu.len(), 1);
        assert!(
            thu[0].1.contains("lk1 li0"),
            "alone on Thursday, full width"
        );

        let below = text_of(&html, "#unscheduled-heading + .rows");
        assert!(
            below.contains("CS 4993") && below.contains("No fixed meeting time"),
            "{below}"
        );
        assert!(!text_of(&html, ".timetable").contains("CS 4993"));

        // The sheet that places blocks is served, and styles are never inline (CSP).
        let linked = common_grounds::web::assets::schedule_css_href();
        assert!(html.contains(&format!(r#"href="{linked}""#)), "{html}");
        let sheet = app.client.get(app.url(linked)).send().await.unwrap();
        assert_eq!(sheet.status().as_u16(), 200);
        let sheet = sheet.text().await.unwrap();
        assert!(
            sheet.contains(".gs-25{grid-row-start:25}")
                && sheet.contains(".lk2.li1{grid-column:31 / span 30}")
        );
        assert!(!html.contains("style="));
    }
);

/// The course codes (with term) a search page lists.
fn found(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(".class-card").unwrap();
    let title = scraper::Selector::parse(".class-title a").unwrap();
    doc.select(&sel)
        .map(|c| {
            c.select(&title)
                .next()
                .unwrap()
                .value()
                .attr("href")
                .unwrap()
                .to_string()
        })
        .collect()
}

backend_test!(
    async fn search_finds_a_course_however_it_is_typed_in_the_chosen_term(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let now_ds = section(
            &app,
            "CS 2100",
            "1262",
            "001",
            "Data Structures and Algorithms 1",
            &[("MoWeFr", "10:00", "10:50")],
        );
        let old_ds = section(
            &app,
            "CS 2100",
            "1258",
            "001",
            "Data Structures and Algorithms 1",
            &[("MoWeFr", "10:00", "10:50")],
        );
        let _other = section(&app, "CS 2120", "1262", "001", "Discrete Mathematics", &[]);
        let _math = section(&app, "MATH 2100", "1262", "001", "Structures of Math", &[]);
        let now_href = format!("/classes/{}", now_ds.id);
        let old_href = format!("/classes/{}", old_ds.id);

        for q in [
            "cs2100",
            "CS 2100",
            "cs 2100",
            "CS2100",
            "structures algorithms",
        ] {
            let path = format!(
                "/classes/search?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            let (status, html) = me.get(&app, &path).await;
            assert_eq!(status, 200, "{q}");
            let hits = found(&html);
            assert!(hits.contains(&now_href), "{q}: {hits:?}");
            assert!(
                !hits.contains(&old_href),
                "{q} must not list Fall 2025: {hits:?}"
            );
        }
        let (_, subject) = me.get(&app, "/classes/search?q=cs").await;
        assert_eq!(
            found(&subject).len(),
            2,
            "subject alone: both CS sections of 1262"
        );
        let (_, word) = me.get(&app, "/classes/search?q=data").await;
        assert_eq!(found(&word), vec![now_href.clone()]);
        assert!(
            word.contains("12 of 100 seats open")
                && word.contains("Ada Lovelace")
                && word.contains("Mon Wed Fri")
        );

        // Asked for, the other term is searched.
        let (_, old) = me.get(&app, "/classes/search?q=cs2100&term=1258").await;
        assert_eq!(found(&old), vec![old_href.clone()]);

        // Joining from the search page; a second join, another term's section and an inactive one are refused clearly.
        let page = "/classes/search?q=cs2100";
        let (_, joined) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", now_ds.id),
                &[("term", "1262"), ("next", page)],
            )
            .await;
        assert!(joined.contains("You joined CS 2100"), "{joined}");
        assert!(joined.contains("You are in this class"));
        let (_, again) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", now_ds.id),
                &[("term", "1262"), ("next", page)],
            )
            .await;
        assert!(again.contains("You are already in CS 2100"), "{again}");
        let (_, other_term) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", old_ds.id),
                &[("term", "1262"), ("next", page)],
            )
            .await;
        assert!(
            other_term.contains("is a Fall 2025 section, but you are looking at Spring 2026"),
            "{other_term}"
        );
        diesel::update(common_grounds::db::schema::classes::table.find(&old_ds.id))
            .set(common_grounds::db::schema::classes::active.eq(false))
            .execute(&mut app.conn())
            .unwrap();
        let (_, inactive) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", old_ds.id),
                &[("term", "1258"), ("next", page)],
            )
            .await;
        assert!(inactive.contains("no longer offered"), "{inactive}");
        assert!(!classes::is_enrolled(&mut app.conn(), &me.user.id, &old_ds.id).unwrap());
        // Its page offers no Join that cannot work, but the way to its successor.
        let (_, gone) = me.get(&app, &format!("/classes/{}", old_ds.id)).await;
        assert!(
            !gone.contains(&format!("/classes/{}/enroll", old_ds.id)),
            "{gone}"
        );
        assert!(gone.contains("can no longer be joined"), "{gone}");
        assert!(gone.contains("/classes/search?q=CS%202100"), "{gone}");

        // Leaving works once, then says so.
        let (_, left) = me
            .post_and_follow(
                &app,
                "/",
                &format!("/classes/{}/leave", now_ds.id),
                &[("next", "/")],
            )
            .await;
        assert!(left.contains("You left CS 2100"));
        let (_, not_in) = me
            .post_and_follow(
                &app,
                "/",
                &format!("/classes/{}/leave", now_ds.id),
                &[("next", "/")],
            )
            .await;
        assert!(not_in.contains("You are not in CS 2100"));
    }
);

backend_test!(
    async fn a_section_sis_renumbered_lets_its_students_join_the_new_one(backend: Backend) {
        // Arrange: I take CS 2100 lecture 001; SIS then lists it as 002 (a
        // new class number, so a new section) and the old one as gone.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("ren1q");
        let meets = [("MoWe", "10:00", "11:15")];
        let old = section(&app, "CS 2100", "1262", "001", "Data Structures", &meets);
        join(&app, &me, &old);
        diesel::update(common_grounds::db::schema::classes::table.find(&old.id))
            .set(common_grounds::db::schema::classes::active.eq(false))
            .execute(&mut app.conn())
            .unwrap();
        let new = section(&app, "CS 2100", "1262", "002", "Data Structures", &meets);

        // Act: join the new section, at the very same times.
        let page = "/classes/search?term=1262";
        let (_, joined) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", new.id),
                &[("term", "1262"), ("next", page)],
            )
            .await;

        // Assert: joined, with no "leave 001 first" and no clash with it.
        assert!(joined.contains("You joined CS 2100"), "{joined}");
        assert!(classes::is_enrolled(&mut app.conn(), &me.user.id, &new.id).unwrap());
    }
);

fn assert_clear(status: u16, html: &str, what: &str) {
    assert!(status < 500, "{what}: {status}");
    assert!(!html.contains("<script>alert"), "{what}: unescaped markup");
}

backend_test!(
    async fn bad_input_gets_a_clear_answer_and_never_a_500(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let class = section(
            &app,
            "CS 2100",
            "1262",
            "001",
            "Data <script>alert(1)</script>",
            &[("MoWeFr", "10:00", "10:50")],
        );
        join(&app, &me, &class);

        // Untrusted catalog text is escaped.
        let (_, home) = me.get(&app, "/").await;
        assert!(home.contains("Data &#60;script&#62;alert(1)&#60;/script&#62;"));
        assert_clear(200, &home, "home");

        let long = "x".repeat(10_000);
        let hostile = [
            "'; DROP TABLE classes; --",
            "\"><script>alert(1)</script>",
            "%' OR '1'='1",
            "cs_%",
            "\\",
            &long,
        ];
        for q in hostile {
            let path = format!(
                "/classes/search?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            let (status, html) = me.get(&app, &path).await;
            assert_clear(status, &html, q);
            if q.len() > 100 {
                assert_eq!(status, 400);
                assert!(html.contains("too long"), "10,000 characters: {status}");
            }
        }
        for path in [
            "/classes/search?q=cs&term=9999",
            "/classes/search?q=cs&term=%3Cscript%3E",
            "/classes/search?q=cs&page=0",
            "/classes/search?q=cs&page=abc",
            "/?term=1263",
            "/schedule?term=1'--",
            "/friends?term=1290",
        ] {
            let (status, html) = me.get(&app, path).await;
            assert_eq!(status, 400, "{path}");
            assert!(
                html.contains("term") || html.contains("page"),
                "{path}: {html}"
            );
            assert!(!html.contains("<script>"));
        }
        // Unknown ids.
        for path in [
            "/classes/not-a-uuid/enroll",
            &format!("/classes/{}/enroll", ClassId::new()),
            "/classes/%27%3B--/leave",
        ] {
            let response = me.post(&app, "/", path, &[("term", "1262")]).await;
            assert_eq!(response.status().as_u16(), 404, "{path}");
        }
        for path in [
            "/friends/%3Cscript%3E",
            "/friends/a'--",
            "/friends/nobody/explode",
        ] {
            let (status, _) = me.get(&app, path).await;
            assert!(status == 404 || status == 405, "{path}: {status}");
        }
        let unknown_action = me
            .post(&app, "/friends", "/friends/bb2b/explode", &[])
            .await;
        assert_eq!(unknown_action.status().as_u16(), 404);
        // Bad "who".
        for who in ["", "<script>alert(1)</script>", "a@evil.com", &long, "me1"] {
            let (status, html) = me
                .post_and_follow(&app, "/friends", "/friends", &[("who", who)])
                .await;
            assert_clear(status, &html, who);
            assert!(
                html.contains("class=\"alert\""),
                "{who:?} should be refused with a message"
            );
        }
        // A form without its token changes nothing.
        let forged = me
            .client
            .post(app.url(&format!("/classes/{}/leave", class.id)))
            .form(&[("csrf_token", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        assert!(classes::is_enrolled(&mut app.conn(), &me.user.id, &class.id).unwrap());
        // Too long a display name.
        let (_, refused) = me
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", &"n".repeat(61))],
            )
            .await;
        assert!(refused.contains("at most 60 characters"));
    }
);

backend_test!(
    async fn signed_out_visitors_are_sent_to_sign_in(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        for path in [
            "/schedule",
            "/friends",
            "/friends/bb2b",
            "/classes/search?q=cs",
            "/account",
        ] {
            let response = app.get(path).await;
            assert_eq!(response.status().as_u16(), 303, "{path}");
            assert!(response.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login?next="));
        }
    }
);

backend_test!(
    async fn the_term_list_is_kept_until_it_expires_or_a_sync_forgets_it(backend: Backend) {
        use common_grounds::classes::term::TermList;
        let db = common::TestDb::with_schema(backend);
        let mut conn = db.connect();
        common::seed::class(&mut conn, "CS 2100", "1262");
        let codes = |terms: &[classes::Term]| -> Vec<String> {
            terms.iter().map(|t| t.code().to_string()).collect()
        };
        let keep_for = std::time::Duration::from_secs(3);
        let terms = TermList::keeping_for(keep_for);
        assert_eq!(codes(&terms.get(&mut conn).unwrap()), ["1262"]);

        // A sync elsewhere adds Fall 2026: within the expiry the held list is
        // shown, and no statement runs for it.
        common::seed::class(&mut conn, "CS 2100", "1268");
        let held = terms.get(&mut conn).unwrap();
        assert_eq!(codes(&held), ["1262"], "kept within the expiry");

        // Past the expiry, the next page reads it again.
        std::thread::sleep(keep_for + std::time::Duration::from_millis(100));
        assert_eq!(codes(&terms.get(&mut conn).unwrap()), ["1268", "1262"]);

        // A sync in this process forgets it at once.
        common::seed::class(&mut conn, "CS 2100", "1271");
        assert_eq!(codes(&terms.get(&mut conn).unwrap()), ["1268", "1262"]);
        terms.forget();
        assert_eq!(
            codes(&terms.get(&mut conn).unwrap()),
            ["1271", "1268", "1262"]
        );
    }
);

/// On PostgreSQL, a block that commits while the other student's accept is
/// between its read and its write stays a block: the accept waits for it,
/// then finds no request to answer. (A plain read let the accept overwrite
/// the block, and the blocked student became a friend who sees the week.)
#[tokio::test]
async fn a_block_in_flight_is_not_undone_by_the_others_accept() {
    use diesel::connection::SimpleConnection;
    if common::postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let a = app.student("blf1a");
    let b = app.student("blf2b");
    a.post(&app, "/friends", "/friends", &[("who", "blf2b")])
        .await;
    let pair = friends::between(&mut app.conn(), &a.user.id, &b.user.id)
        .unwrap()
        .expect("the request");
    assert_eq!(pair.status, FriendshipStatus::Pending);

    // A's block, written and not yet committed.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; UPDATE friendships SET status = '{}' WHERE id = '{}'",
            FriendshipStatus::Blocked.as_str(),
            pair.id
        ))
        .unwrap();
    let release = common::when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").unwrap();
    });
    let ((_, answer), seen) = tokio::join!(
        b.post_and_follow(&app, "/friends", "/friends/blf1a/accept", &[]),
        release,
    );
    assert_eq!(seen.unwrap().0, 1, "the accept waited on the block");
    assert_eq!(
        status_between(&app, &a.user.id, &b.user.id),
        Some((FriendshipStatus::Blocked, a.user.id.clone())),
        "the block stands"
    );
    assert!(!answer.contains("now friends"), "{answer}");
}

/// On PostgreSQL, a block sent while the blocked student's erasure is in
/// flight waits for it, then blocks the computing ID (its placeholder): no
/// 500, and the block is kept. (It once read the erased account's id and
/// failed the reference once the erasure committed.)
#[tokio::test]
async fn a_block_racing_the_blocked_students_erasure_is_kept() {
    use diesel::connection::SimpleConnection;
    if common::postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let blocker = app.student("bre1a");
    let leaver = app.student("bre2b");
    // The erasure in flight: the account's row locked, then deleted.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM users WHERE id = '{}' FOR NO KEY UPDATE",
            leaver.user.id
        ))
        .unwrap();
    let leaver_id = leaver.user.id.to_string();
    let release = common::when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        holder
            .batch_execute(&format!(
                "DELETE FROM users WHERE id = '{leaver_id}'; COMMIT"
            ))
            .unwrap();
    });
    let (blocked, seen) = tokio::join!(
        blocker.post(&app, "/friends", "/friends/bre2b/block", &[]),
        release,
    );
    assert_eq!(seen.unwrap().0, 1, "the block waited on the erasure");
    assert_eq!(blocked.status().as_u16(), 303);
    let placeholder = common_grounds::accounts::find_by_computing_id(&mut app.conn(), "bre2b")
        .unwrap()
        .expect("the blocked ID's placeholder");
    assert_ne!(placeholder.id, leaver.user.id);
    assert_eq!(
        status_between(&app, &blocker.user.id, &placeholder.id),
        Some((FriendshipStatus::Blocked, blocker.user.id.clone()))
    );
}

backend_test!(
    async fn a_lapsed_request_leaves_home(backend: Backend) {
        // Arrange: A asked B; B takes a class (home's one-statement path)
        // and C takes none (the requests-only path); A asked C too.
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let c = app.student("cc3z");
        let class = section(&app, "CS 3120", "1262", "001", "Theory", &[]);
        join(&app, &b, &class);
        befriend(&app, &a.user.id, &b.user.id, FriendshipStatus::Pending);
        befriend(&app, &a.user.id, &c.user.id, FriendshipStatus::Pending);
        let requests = |html: &str| text_of(html, "#requests-heading + .rows");
        for who in [&b, &c] {
            assert!(requests(&who.get(&app, "/").await.1).contains("aa1x"));
        }

        // Act: both requests pass their 60 days (the hourly cleanup has not
        // run yet).
        use common_grounds::db::schema::friendships;
        diesel::update(friendships::table)
            .set(friendships::updated_at.eq(clock::now() - chrono::Duration::days(61)))
            .execute(&mut app.conn())
            .unwrap();

        // Assert: neither home lists them, as the friends page does not.
        for who in [&b, &c] {
            let (_, home) = who.get(&app, "/").await;
            assert!(!requests(&home).contains("aa1x"), "{home}");
            let (_, page) = who.get(&app, "/friends").await;
            assert!(!text_of(&page, "main").contains("aa1x"), "{page}");
        }
    }
);

backend_test!(
    async fn a_block_reads_as_a_decline_and_lifts_none(backend: Backend) {
        use common_grounds::db::schema::notifications;
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("aa1x");
        let b = app.student("bb2y");
        let notices_to = |who: &Student| -> i64 {
            notifications::table
                .filter(notifications::user_id.eq(&who.user.id))
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };
        let sent = |html: &str| text_of(html, "#outgoing-heading + .rows");

        // A asks B; B blocks A: to A, the request still waits, as a
        // declined one would, and A can withdraw it as any other.
        a.post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        b.post(&app, "/friends", "/friends/aa1x/block", &[]).await;
        let (_, page) = a.get(&app, "/friends").await;
        assert!(sent(&page).contains("bb2y"), "{page}");
        let (_, page) = a
            .post_and_follow(&app, "/friends", "/friends/bb2y/remove", &[])
            .await;
        assert!(
            page.contains("Your request to bb2y was withdrawn"),
            "{page}"
        );
        assert!(!sent(&page).contains("bb2y"), "{page}");
        b.post(&app, "/friends", "/friends/aa1x/unblock", &[]).await;

        // B asks A, then blocks A: B's request leaves A's inbox as a
        // withdrawn one does, not as a block would show.
        diesel::delete(common_grounds::db::schema::friendships::table)
            .execute(&mut app.conn())
            .unwrap();
        let before = notices_to(&a);
        b.post(&app, "/friends", "/friends", &[("who", "aa1x")])
            .await;
        assert_eq!(notices_to(&a), before + 1, "A is told of B's request");
        b.post(&app, "/friends", "/friends/aa1x/block", &[]).await;
        assert_eq!(notices_to(&a), before, "the notice goes, as on withdrawal");
        b.post(&app, "/friends", "/friends/aa1x/unblock", &[]).await;

        // B declined A; A blocks B and unblocks: the decline holds, and
        // asking again reaches no one.
        diesel::delete(common_grounds::db::schema::friendships::table)
            .execute(&mut app.conn())
            .unwrap();
        a.post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        b.post(&app, "/friends", "/friends/aa1x/decline", &[]).await;
        a.post(&app, "/friends", "/friends/bb2y/block", &[]).await;
        a.post(&app, "/friends", "/friends/bb2y/unblock", &[]).await;
        let before = notices_to(&b);
        a.post(&app, "/friends", "/friends", &[("who", "bb2y")])
            .await;
        assert_eq!(
            status_between(&app, &a.user.id, &b.user.id),
            Some((FriendshipStatus::Rejected, a.user.id.clone()))
        );
        assert_eq!(notices_to(&b), before, "B hears nothing");
        let (_, page) = b.get(&app, "/friends").await;
        assert!(!text_of(&page, "#incoming-heading + .rows").contains("aa1x"));
    }
);

backend_test!(
    async fn pages_show_the_term_in_progress_not_the_next(backend: Backend) {
        // Arrange: Fall 2026 in progress (its dates around today), Spring
        // 2027's catalog already synced for registration; no CURRENT_TERM.
        let today = clock::now().date();
        let days = |from: i64, to: i64| {
            let day = |n| (today + chrono::Duration::days(n)).format("%Y-%m-%d");
            format!("{}..{}", day(from), day(to))
        };
        let terms = format!("1268:{},1272:{}", days(-60, 20), days(40, 150));
        let app = spawn_quiet_app(backend, &[("TERMS", &terms)]).await;
        let me = app.student("tm1a");
        let meets = [("MoWeFr", "10:00", "10:50")];
        let fall = section(&app, "CS 2100", "1268", "001", "Data Structures", &meets);
        let spring = section(&app, "CS 3100", "1272", "001", "Algorithms", &meets);
        join(&app, &me, &fall);
        join(&app, &me, &spring);

        // Act + Assert: home, the week and the friends pages show Fall.
        for path in ["/", "/schedule", "/friends", "/classes/search"] {
            let (status, html) = me.get(&app, path).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(
                text_of(&html, "select[name=term] option[selected]"),
                "Fall 2026",
                "{path}"
            );
        }
        let (_, home) = me.get(&app, "/").await;
        let cards: Vec<String> = home_cards(&home).into_iter().map(|(c, _)| c).collect();
        assert_eq!(cards, ["CS 2100"]);
        // The picker still shows Spring on asking.
        let (_, next) = me.get(&app, "/?term=1272").await;
        let cards: Vec<String> = home_cards(&next).into_iter().map(|(c, _)| c).collect();
        assert_eq!(cards, ["CS 3100"]);
    }
);

backend_test!(
    async fn a_meeting_to_be_announced_beside_a_set_one_is_listed(backend: Backend) {
        // Arrange: a lecture Tue Thu 11:00 whose second meeting is TBA.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("tb1a");
        let meets = [("TuTh", "11:00", "12:15"), ("TBA", "", "")];
        let class = section(
            &app,
            "CS 4710",
            "1262",
            "001",
            "Artificial Intelligence",
            &meets,
        );
        join(&app, &me, &class);

        // Act
        let (status, week) = me.get(&app, "/schedule?term=1262").await;

        // Assert: on the grid on Tuesday, and listed apart for the TBA one.
        assert_eq!(status, 200);
        assert_eq!(count(&week, "section.tt-day[aria-label=Tue] .tt-block"), 1);
        let apart = text_of(&week, ".unscheduled li");
        let apart = apart.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            apart.contains("CS 4710") && apart.contains("Also meets at a time to be announced"),
            "{apart}"
        );
    }
);

backend_test!(
    async fn adding_a_friend_says_what_was_typed_and_what_happens_next(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("ad1a");
        let add = |who: &'static str| {
            let me = &me;
            let app = &app;
            async move {
                me.post_and_follow(app, "/friends", "/friends", &[("who", who)])
                    .await
            }
        };

        // A typo and an alias: refused, quoting what was typed, in words
        // about the friend; the box holds it again, marked as the field in
        // error, and points at the refusal.
        let (_, typo) = add("jd4ab!").await;
        assert!(typo.contains("“jd4ab!” is not a computing ID"), "{typo}");
        let doc = scraper::Html::parse_document(&typo);
        let field = doc
            .select(&scraper::Selector::parse("input#who").unwrap())
            .next()
            .unwrap();
        assert_eq!(field.value().attr("value"), Some("jd4ab!"));
        assert_eq!(field.value().attr("aria-invalid"), Some("true"));
        assert_eq!(field.value().attr("aria-describedby"), Some("flash"));
        let refusal = doc
            .select(&scraper::Selector::parse("#flash").unwrap())
            .next()
            .unwrap()
            .text()
            .collect::<String>();
        assert!(refusal.contains("is not a computing ID"), "{refusal}");
        // Too long is said as too long, not as letters that are not letters;
        // other characters as what they are.
        let (_, long_id) = add("abcdefghijklmnopqrstu").await;
        assert!(
            long_id.contains("it has 21 characters, and computing IDs have at most 16"),
            "{long_id}"
        );
        let (_, accented) = add("josé.garcía-lópez").await;
        assert!(
            accented.contains("those are 2 to 16 letters and digits"),
            "{accented}"
        );
        // A long entry in another script, with invisible characters in it,
        // still comes back to this page (not home, for an address too long
        // to redirect to), less the characters that show nothing.
        let long: &'static str =
            Box::leak(format!("\u{202E}{}\u{3164}", "漢".repeat(60)).into_boxed_str());
        let (_, page) = add(long).await;
        let doc = scraper::Html::parse_document(&page);
        let field = doc
            .select(&scraper::Selector::parse("input#who").unwrap())
            .next()
            .expect("back on the friends page");
        let kept = field.value().attr("value").unwrap();
        assert!(
            kept.starts_with("漢漢漢") && kept.chars().all(|c| c == '漢'),
            "{kept:?}"
        );
        assert_eq!(field.value().attr("aria-invalid"), Some("true"));
        let (_, alias) = add("jane.doe@virginia.edu").await;
        assert!(
            alias.contains("“jane.doe@virginia.edu” is not an address we can look up")
                && alias.contains("your friend"),
            "{alias}"
        );
        // Someone who has not signed up (or has: it reads the same) learns
        // of it only from the sender, and a wrong ID can be taken back.
        let (_, sent) = add("nw9z").await;
        assert!(sent.contains("Request sent to nw9z"), "{sent}");
        // Sent, the box is empty again, and nothing in it is marked.
        let doc = scraper::Html::parse_document(&sent);
        let field = doc
            .select(&scraper::Selector::parse("input#who").unwrap())
            .next()
            .unwrap();
        assert_eq!(field.value().attr("value"), Some(""));
        assert_eq!(field.value().attr("aria-invalid"), None);
        assert!(
            sent.contains("tell them to sign in with their UVA email"),
            "{sent}"
        );
        assert!(
            sent.contains("Withdraw it under Requests you sent"),
            "{sent}"
        );
    }
);

backend_test!(
    async fn a_lecture_and_its_discussion_have_links_named_apart(backend: Backend) {
        // Arrange: a student in a course's lecture and in its discussion:
        // two chats, two cards on home.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("ld1a");
        let mut conn = app.conn();
        let lecture = ClassBuilder::new("MATH 1012", "1262")
            .component("LEC")
            .section("001")
            .insert(&mut conn);
        let discussion = ClassBuilder::new("MATH 1012", "1262")
            .component("DIS")
            .section("101")
            .insert(&mut conn);
        drop(conn);
        join(&app, &me, &lecture);
        join(&app, &me, &discussion);

        // Act
        let (_, home) = me.get(&app, "/").await;

        // Assert: each card's links say which section they are for, so a
        // list of links read aloud tells the two chats apart.
        let doc = scraper::Html::parse_document(&home);
        let links = scraper::Selector::parse(".card-actions a").unwrap();
        let names: Vec<String> = doc
            .select(&links)
            .map(|a| a.text().collect::<String>().trim().to_string())
            .collect();
        assert_eq!(names.len(), 4, "{home}");
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 4, "{names:?}");
        assert!(
            names
                .iter()
                .any(|n| n.contains("MATH 1012") && n.contains("101")),
            "{names:?}"
        );
    }
);
