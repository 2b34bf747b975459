//! A student's own data through HTTP, on SQLite and PostgreSQL: the export
//! holds everything about them and nothing more of anyone else than they could
//! already see; deleting the account erases them everywhere while keeping other
//! students' threads whole.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id or hash.

use crate::common;
use crate::common::seed;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use common_grounds::accounts::sessions;
use common_grounds::chat::{self, ClassMessage};
use common_grounds::clock;
use common_grounds::db::schema::{
    audit_log, chat_pseudonyms, class_messages, email_outbox, friendships, magic_links,
    message_flags, message_revisions, user_classes, users,
};
use common_grounds::db::{self, DbConn};
use common_grounds::friends::FriendshipStatus;
use common_grounds::moderation::{self, AuditId, NewAuditEntry};
use diesel::prelude::*;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::Value;

/// `GET /account/export`: the Content-Disposition, the raw body and the parsed JSON.
async fn export_of(app: &TestApp, student: &Student) -> (String, String, Value) {
    let response = student
        .client
        .get(app.url("/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        response.headers()[CONTENT_TYPE]
    );
    let disposition = response.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    let json: Value = serde_json::from_str(&body).expect("the export is JSON");
    (disposition, body, json)
}

fn strings<'a>(list: &'a Value, field: &str) -> BTreeSet<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

fn set_flagged_count(conn: &mut DbConn, message: &ClassMessage, n: i32) {
    diesel::update(class_messages::table.find(&message.id))
        .set(class_messages::flagged_count.eq(n))
        .execute(conn)
        .unwrap();
}

backend_test!(
    async fn the_export_holds_the_students_data_and_nothing_more_of_anyone_else(backend: Backend) {
        // Arrange: a student with classes, friendships of every kind, messages and a flag,
        // among others who have their own.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("mex1q");
        let seeded = {
            let mut pooled = app.conn();
            let conn: &mut DbConn = &mut pooled;
            let friend = seed::user(conn, "frx2q"); // I asked, they accepted
            let asker = seed::user(conn, "asx3q"); // asked me, waiting
            let blocker = seed::user(conn, "blx4q"); // blocked me
            let decliner = seed::user(conn, "dex5q"); // declined my request
            let blocked = seed::user(conn, "bdx6q"); // I blocked them
            let declined = seed::user(conn, "ddx7q"); // I declined them
            let stranger = seed::user(conn, "stx8q"); // my friend's friend, not mine
            seed::friendship(conn, &me.user, &friend, FriendshipStatus::Accepted);
            seed::friendship(conn, &asker, &me.user, FriendshipStatus::Pending);
            seed::friendship(conn, &blocker, &me.user, FriendshipStatus::Blocked);
            seed::friendship(conn, &me.user, &decliner, FriendshipStatus::Rejected);
            seed::friendship(conn, &me.user, &blocked, FriendshipStatus::Blocked);
            seed::friendship(conn, &declined, &me.user, FriendshipStatus::Rejected);
            seed::friendship(conn, &friend, &stranger, FriendshipStatus::Accepted);
            let cs = seed::class(conn, "CS 2100", "1262");
            let math = seed::class(conn, "MATH 3351", "1262");
            let bio = seed::class(conn, "BIOL 2100", "1262");
            seed::enroll(conn, &me.user, &cs);
            seed::enroll(conn, &me.user, &math);
            seed::enroll(conn, &friend, &cs);
            seed::enroll(conn, &stranger, &cs);
            seed::enroll(conn, &stranger, &bio);
            let question = seed::message(
                conn,
                &me.user,
                &cs,
                "Anon_mine",
                "Is the lab due Friday?",
                None,
            );
            seed::message(
                conn,
                &friend,
                &cs,
                "Anon_frnd",
                "Yes, at noon",
                Some(&question),
            );
            let selling = seed::message(
                conn,
                &stranger,
                &cs,
                "Anon_strg",
                "Anyone selling the textbook?",
                None,
            );
            let my_reply =
                seed::message(conn, &me.user, &cs, "Anon_mine", "Me, DM", Some(&selling));
            seed::flag(conn, &me.user, &selling, "spam");
            seed::flag(conn, &stranger, &question, "off topic");
            sessions::create(
                conn,
                &me.user.id,
                Some("Firefox/128 on my phone"),
                clock::now(),
            )
            .unwrap();
            sessions::create(
                conn,
                &friend.id,
                Some("Chrome/1 of my friend"),
                clock::now(),
            )
            .unwrap();
            // A name I hold where I have not posted, and a classmate's.
            for (class, name, holder) in [
                (&math, "Quiet Otter", &me.user),
                (&cs, "Loud Heron", &stranger),
            ] {
                diesel::insert_into(chat_pseudonyms::table)
                    .values((
                        chat_pseudonyms::class_id.eq(class.id.as_str()),
                        chat_pseudonyms::name.eq(name),
                        chat_pseudonyms::user_id.eq(Some(holder.id.as_str())),
                        chat_pseudonyms::created_at.eq(clock::now()),
                    ))
                    .execute(conn)
                    .unwrap();
            }
            // A sign-in email of mine, once tried, and a classmate's; mail
            // to me and to my friend.
            for (id, holder, tries) in [("link-mine", &me.user, 1), ("link-strg", &stranger, 3)] {
                diesel::insert_into(magic_links::table)
                    .values((
                        magic_links::id.eq(id),
                        magic_links::user_id.eq(holder.id.as_str()),
                        magic_links::token_hash.eq(format!("tokenhash-{id}")),
                        magic_links::code_hash.eq(format!("codehash-{id}")),
                        magic_links::code_attempts.eq(tries),
                        magic_links::expires_at.eq(clock::now()),
                        magic_links::used.eq(false),
                        magic_links::created_at.eq(clock::now()),
                    ))
                    .execute(conn)
                    .unwrap();
            }
            for (to, subject) in [
                ("mex1q@virginia.edu", "Your sign-in link"),
                ("mex1q@alumni.virginia.edu", "Your sign-in code"),
                ("frx2q@virginia.edu", "A digest for my friend"),
            ] {
                seed::mail(conn, to, subject, "secret-body-link");
            }
            (cs, math, question, selling, my_reply)
        };
        let (cs, math, question, selling, my_reply) = seeded;

        // Act
        let (disposition, body, json) = export_of(&app, &me).await;

        // Assert: an attachment.
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(disposition.contains(".json"), "{disposition}");

        // Everything of mine is there.
        // Its timestamps are written without an offset: the document names their zone.
        assert_eq!(json["timestamps_zone"], "UTC");
        assert_eq!(json["profile"]["email"], "mex1q@virginia.edu");
        assert_eq!(json["profile"]["computing_id"], "mex1q");
        assert_eq!(
            strings(&json["classes"], "class_id"),
            BTreeSet::from([cs.id.as_str(), math.id.as_str()])
        );
        assert_eq!(
            strings(&json["classes"], "course"),
            BTreeSet::from(["CS 2100", "MATH 3351"])
        );
        let friendships: BTreeMap<&str, (&str, &str)> = json["friendships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["computing_id"].as_str().unwrap(),
                    (
                        f["status"].as_str().unwrap(),
                        f["direction"].as_str().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(
            friendships,
            BTreeMap::from([
                ("frx2q", ("ACCEPTED", "sent")),
                ("asx3q", ("PENDING", "received")),
                // They declined me: to me it still reads as sent.
                ("dex5q", ("PENDING", "sent")),
                ("bdx6q", ("BLOCKED", "sent")),
                ("ddx7q", ("REJECTED", "received")),
            ]),
            "no row where someone else blocked or declined me"
        );
        let messages = json["messages"].as_array().unwrap();
        assert_eq!(
            strings(&json["messages"], "id"),
            BTreeSet::from([question.id.as_str(), my_reply.id.as_str()])
        );
        let mine = messages
            .iter()
            .find(|m| m["id"] == question.id.as_str())
            .unwrap();
        assert_eq!(mine["content"], "Is the lab due Friday?");
        assert_eq!(mine["course"], "CS 2100");
        let reply = messages
            .iter()
            .find(|m| m["id"] == my_reply.id.as_str())
            .unwrap();
        assert_eq!(reply["reply_to"], selling.id.as_str());
        let flags = json["flags"].as_array().unwrap();
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0]["message_id"], selling.id.as_str());
        assert_eq!(flags[0]["reason"], "spam");
        assert_eq!(json["sessions"].as_array().unwrap().len(), 2);
        assert!(body.contains("Firefox/128 on my phone"));
        let names = json["chat_names"].as_array().unwrap();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(names[0]["name"], "Quiet Otter");
        assert_eq!(names[0]["course"], "MATH 3351");
        let requests = json["sign_in_requests"].as_array().unwrap();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0]["code_tries"], 1);
        assert_eq!(requests[0]["closed"], false);
        assert_eq!(
            strings(&json["emails"], "subject"),
            BTreeSet::from(["Your sign-in link", "Your sign-in code"])
        );
        assert_eq!(
            strings(&json["emails"], "to"),
            BTreeSet::from(["mex1q@virginia.edu", "mex1q@alumni.virginia.edu"])
        );
        for secret in ["tokenhash-", "codehash-", "secret-body-link"] {
            assert!(!body.contains(secret), "{secret} is never exported");
        }

        // Nothing of anyone else beyond what I could already see.
        let others: Vec<(String, String, String)> = users::table
            .filter(users::id.ne(&me.user.id))
            .select((users::id, users::email, users::computing_id))
            .load(&mut *app.conn())
            .unwrap();
        assert_eq!(others.len(), 7);
        for (id, email, _) in &others {
            assert!(
                !body.contains(email.as_str()),
                "another student's email {email}"
            );
            assert!(
                !body.contains(id.as_str()),
                "another student's user id {id}"
            );
        }
        for hidden in ["blx4q", "stx8q"] {
            assert!(!body.contains(hidden), "{hidden} is not mine to see");
        }
        for others_text in [
            "Anon_frnd",
            "Anon_strg",
            "Yes, at noon",
            "Anyone selling the textbook?",
            "off topic",
            "Chrome/1 of my friend",
            "Loud Heron",
            "A digest for my friend",
        ] {
            assert!(
                !body.contains(others_text),
                "someone else's {others_text:?}"
            );
        }

        // Signed out, there is nothing to download.
        let response = app.get("/account/export").await;
        assert_eq!(response.status().as_u16(), 303);
    }
);

/// The rows that mention `user_id`, table by table.
fn rows_of(conn: &mut DbConn, user_id: &str) -> BTreeMap<&'static str, i64> {
    use common_grounds::db::schema::sessions as s;
    BTreeMap::from([
        (
            "users",
            users::table
                .filter(users::id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "sessions",
            s::table
                .filter(s::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "magic_links",
            magic_links::table
                .filter(magic_links::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "user_classes",
            user_classes::table
                .filter(user_classes::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "friendships",
            friendships::table
                .filter(
                    friendships::user_id_1
                        .eq(user_id)
                        .or(friendships::user_id_2.eq(user_id)),
                )
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "message_flags",
            message_flags::table
                .filter(message_flags::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "class_messages",
            class_messages::table
                .filter(class_messages::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
        (
            "audit_log",
            audit_log::table
                .filter(audit_log::actor_id.eq(user_id))
                .count()
                .get_result(conn)
                .unwrap(),
        ),
    ])
}

fn all_counts(conn: &mut DbConn) -> Vec<(String, i64)> {
    db::schema::TABLES
        .iter()
        .map(|t| (t.to_string(), db::count_rows(conn, t).unwrap()))
        .collect()
}

fn message(conn: &mut DbConn, message: &ClassMessage) -> Option<ClassMessage> {
    chat::find(conn, &message.id).unwrap()
}

/// The pages another student loads that could mention people they know.
async fn pages_of(app: &TestApp, student: &Student, friend: &str) -> Vec<(String, String)> {
    let mut pages = Vec::new();
    for path in ["/", "/friends", &format!("/friends/{friend}"), "/schedule"] {
        let (status, html) = student.get(app, path).await;
        assert_eq!(status, 200, "{path}: {html}");
        pages.push((path.to_string(), html));
    }
    let (_, export, _) = export_of(app, student).await;
    pages.push(("/account/export".into(), export));
    pages
}

backend_test!(
    async fn deleting_an_account_erases_the_student_and_keeps_others_threads(backend: Backend) {
        // Arrange: a leaving student with classes, friends, a sign-in link, messages
        // (answered by others, unanswered, a chain of their own, a reply), a flag and
        // an audit entry; and two friends who see them.
        let app = spawn_quiet_app(backend, &[]).await;
        let leaver = app.student("lvx1q");
        let viewer = app.student("vwx2q");
        let third = app.student("thx3q");
        let email = "lvx1q@virginia.edu";
        let m = {
            let mut pooled = app.conn();
            let conn: &mut DbConn = &mut pooled;
            let decliner = seed::user(conn, "dcx4q");
            seed::friendship(conn, &leaver.user, &viewer.user, FriendshipStatus::Accepted);
            seed::friendship(conn, &viewer.user, &third.user, FriendshipStatus::Accepted);
            seed::friendship(conn, &leaver.user, &third.user, FriendshipStatus::Pending);
            seed::friendship(conn, &decliner, &leaver.user, FriendshipStatus::Rejected);
            let cs = seed::class(conn, "CS 2100", "1262");
            let math = seed::class(conn, "MATH 3351", "1262");
            for s in [&leaver, &viewer, &third] {
                seed::enroll(conn, &s.user, &cs);
            }
            seed::enroll(conn, &leaver.user, &math);
            seed::enroll(conn, &viewer.user, &math);
            let answered =
                seed::message(conn, &leaver.user, &cs, "Anon_lv", "Who has notes?", None);
            let answer = seed::message(conn, &viewer.user, &cs, "Anon_vw", "I do", Some(&answered));
            let lonely = seed::message(conn, &leaver.user, &cs, "Anon_lv", "Anyone?", None);
            let chain = seed::message(conn, &leaver.user, &math, "Anon_lv", "Q1", None);
            let chain_reply = seed::message(
                conn,
                &leaver.user,
                &math,
                "Anon_lv",
                "Never mind",
                Some(&chain),
            );
            let theirs = seed::message(conn, &third.user, &cs, "Anon_th", "Study group?", None);
            let my_reply = seed::message(
                conn,
                &leaver.user,
                &cs,
                "Anon_lv",
                "Count me in",
                Some(&theirs),
            );
            let flagged = seed::message(conn, &viewer.user, &cs, "Anon_vw", "Buy my notes", None);
            seed::flag(conn, &leaver.user, &flagged, "spam");
            seed::flag(conn, &third.user, &flagged, "spam");
            set_flagged_count(conn, &flagged, 2);
            // Text an edit replaced while the message was under a report since reviewed.
            diesel::insert_into(message_revisions::table)
                .values((
                    message_revisions::id.eq(uuid::Uuid::new_v4().to_string()),
                    message_revisions::message_id.eq(&answered.id),
                    message_revisions::content.eq("Who has notes? (my number is 434-555-0100)"),
                    message_revisions::written_at.eq(clock::now()),
                    message_revisions::ended_by.eq("edit"),
                    message_revisions::created_at.eq(clock::now()),
                ))
                .execute(conn)
                .unwrap();
            // Sign-in mail to the same computing ID at another allowed domain,
            // and a classmate's, both still queued.
            for to in ["lvx1q@cs.virginia.edu", "vwx2q@virginia.edu"] {
                seed::mail(conn, to, "Your sign-in link", "text");
            }
            sessions::create(conn, &leaver.user.id, Some("a second device"), clock::now()).unwrap();
            diesel::insert_into(magic_links::table)
                .values((
                    magic_links::id.eq(uuid::Uuid::new_v4().to_string()),
                    magic_links::user_id.eq(&leaver.user.id),
                    magic_links::token_hash.eq(sessions::hash_token("t")),
                    magic_links::code_hash.eq("x"),
                    magic_links::code_attempts.eq(0),
                    magic_links::expires_at.eq(clock::now() + chrono::Duration::minutes(15)),
                    magic_links::used.eq(false),
                    magic_links::created_at.eq(clock::now()),
                ))
                .execute(conn)
                .unwrap();
            let audit_id = AuditId::new();
            common_grounds::db::write_tx(conn, |tx| {
                moderation::record(
                    tx,
                    &NewAuditEntry {
                        id: &audit_id,
                        // A student's own entry: deleting their message
                        // while it was reported. (An entry of a staff
                        // action would keep the account: acted_as_staff.)
                        actor_id: Some(&leaver.user.id),
                        action: "author_delete",
                        target_type: "message",
                        target_id: flagged.id.as_str(),
                        reason: Some("test"),
                        details: None,
                        created_at: clock::now(),
                        class_id: None,
                        category: None,
                    },
                )
            })
            .unwrap();
            (
                answered,
                answer,
                lonely,
                chain,
                chain_reply,
                theirs,
                my_reply,
                flagged,
                audit_id,
            )
        };
        let (answered, answer, lonely, chain, chain_reply, theirs, my_reply, flagged, audit_id) = m;
        // The friends' pages name the leaver now, so their absence later means
        // something. (The timetable counts friends per class rather than naming them.)
        for (path, html) in pages_of(&app, &viewer, "thx3q").await {
            if ["/", "/friends", "/account/export"].contains(&path.as_str()) {
                assert!(
                    html.contains("lvx1q"),
                    "{path} should show the leaver before: {html}"
                );
            }
            if path == "/schedule" {
                assert!(
                    html.contains("2 friends"),
                    "CS 2100 with both friends: {html}"
                );
            }
        }
        let leaver_id = leaver.user.id.as_str().to_string();
        let before_rows = rows_of(&mut app.conn(), &leaver_id);
        assert!(before_rows.values().all(|n| *n > 0), "{before_rows:?}");
        let before = all_counts(&mut app.conn());

        // Act: the wrong computing ID.
        let (status, page) = leaver
            .post_and_follow(&app, "/account", "/account/delete", &[("confirm", "vwx2q")])
            .await;

        // Assert: back on the account page with an error; nothing deleted.
        assert_eq!(status, 200);
        assert!(page.contains("Nothing was deleted"), "{page}");
        assert!(
            page.contains("lvx1q"),
            "still the leaver's account page: {page}"
        );
        // The confirmation field holds what was typed, marked as in error and
        // pointing at the refusal.
        let doc = scraper::Html::parse_document(&page);
        let field = doc
            .select(&scraper::Selector::parse("input[name=confirm]").unwrap())
            .next()
            .expect("the confirmation field");
        assert_eq!(field.value().attr("value"), Some("vwx2q"));
        assert_eq!(field.value().attr("aria-invalid"), Some("true"));
        assert_eq!(field.value().attr("aria-describedby"), Some("flash"));
        assert_eq!(all_counts(&mut app.conn()), before);
        assert_eq!(rows_of(&mut app.conn(), &leaver_id), before_rows);

        // Act: the right one.
        let response = leaver
            .post(&app, "/account", "/account/delete", &[("confirm", "lvx1q")])
            .await;

        // Assert: signed out and sent home.
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(response.headers()[LOCATION], "/");
        let cleared = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("cg_session="))
            .expect("the session cookie is cleared");
        assert!(cleared.starts_with("cg_session=;"), "{cleared}");

        // Every row of theirs is gone; the audit entry stays without an actor.
        let mut conn = app.conn();
        let after_rows = rows_of(&mut conn, &leaver_id);
        assert!(after_rows.values().all(|n| *n == 0), "{after_rows:?}");
        let actor: Option<String> = audit_log::table
            .find(&audit_id)
            .select(audit_log::actor_id)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(actor, None);
        // The erasure itself is in the log, naming no one but the vanished id.
        let erasures: Vec<(Option<String>, String, Option<String>)> = audit_log::table
            .filter(audit_log::action.eq("erase_account"))
            .select((audit_log::actor_id, audit_log::target_id, audit_log::reason))
            .load(&mut *conn)
            .unwrap();
        assert_eq!(
            erasures,
            vec![(
                None,
                leaver_id.clone(),
                Some("At the student's own request.".to_string())
            )]
        );
        // Staff read that id on the audit page: after a restore from an
        // older snapshot, the runbook erases each such account again by it.
        drop(conn);
        let admin = staff(&app, "adx7q", common_grounds::accounts::Role::Admin);
        let (_, audit) = admin.get(&app, "/admin/audit?action=erase_account").await;
        let row = audit
            .split("<tr>")
            .find(|r| r.contains(r#"data-label="Action">erased a student"#))
            .unwrap_or_else(|| panic!("no erasure row: {audit}"));
        assert!(row.contains(&format!("id {leaver_id}")), "{row}");
        let mut conn = app.conn();
        // Mail to them at any address goes; a classmate's stays.
        let queued: Vec<String> = email_outbox::table
            .select(email_outbox::to_address)
            .load(&mut *conn)
            .unwrap();
        assert!(
            !queued.iter().any(|to| to.starts_with("lvx1q@")),
            "{queued:?}"
        );
        assert!(
            queued.iter().any(|to| to == "vwx2q@virginia.edu"),
            "{queued:?}"
        );
        // A placeholder keeps no earlier text of its own.
        let revisions: i64 = message_revisions::table
            .filter(message_revisions::message_id.eq(&answered.id))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(revisions, 0, "the placeholder's earlier text survived");
        // Messages without replies are gone, a chain of their own entirely.
        for gone in [&lonely, &chain, &chain_reply, &my_reply] {
            assert_eq!(
                message(&mut conn, gone),
                None,
                "{:?} should be gone",
                gone.content
            );
        }
        // A message others replied to stays as an authorless placeholder, the reply under it.
        let placeholder = message(&mut conn, &answered).expect("the answered message stays");
        assert!(placeholder.deleted);
        assert_eq!(placeholder.user_id, None);
        assert_eq!(placeholder.content, "");
        assert_eq!(
            placeholder.anonymous_identifier,
            common_grounds::ops::student_data::PLACEHOLDER_PSEUDONYM
        );
        let kept_answer = message(&mut conn, &answer).expect("the reply by another stays");
        assert_eq!(kept_answer.parent_message_id.as_ref(), Some(&answered.id));
        assert_eq!(kept_answer.content, "I do");
        assert_eq!(kept_answer.user_id.as_ref(), Some(&viewer.user.id));
        assert_eq!(message(&mut conn, &theirs).unwrap().content, "Study group?");
        // Their flag no longer counts; the other one does.
        assert_eq!(message(&mut conn, &flagged).unwrap().flagged_count, 1);
        let flags: i64 = message_flags::table
            .filter(message_flags::message_id.eq(&flagged.id))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(flags, 1);
        // Nobody else lost anything.
        for s in [&viewer, &third] {
            let left = rows_of(&mut conn, s.user.id.as_str());
            assert_eq!(left["users"], 1);
            assert!(left["sessions"] >= 1 && left["user_classes"] >= 1);
        }
        drop(conn);

        // The old session cookie no longer works: the visitor's welcome page.
        let stale = app.client_with_session(&leaver.token);
        let home = stale.get(app.url("/")).send().await.unwrap();
        assert_eq!(home.status().as_u16(), 200);
        let html = home.text().await.unwrap();
        assert!(html.contains("See who is in your classes."), "{html}");
        assert!(!html.contains(r#"<a href="/account""#), "{html}");
        let account = stale.get(app.url("/account")).send().await.unwrap();
        assert_eq!(account.status().as_u16(), 303);

        // No page another student loads, and no export of theirs, names them.
        for (student, friend) in [(&viewer, "thx3q"), (&third, "vwx2q")] {
            for (path, html) in pages_of(&app, student, friend).await {
                assert!(!html.contains(email), "{path} still shows the email");
                assert!(
                    !html.contains("lvx1q"),
                    "{path} still shows the computing ID"
                );
                if path == "/schedule" && student.user.id == viewer.user.id {
                    assert!(
                        !html.contains("2 friends"),
                        "the leaver is still counted: {html}"
                    );
                }
            }
        }
    }
);

backend_test!(
    async fn a_staff_account_is_not_deleted_from_its_account_page(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mdx5q", common_grounds::accounts::Role::Moderator);
        let (status, page) = moderator
            .post_and_follow(&app, "/account", "/account/delete", &[("confirm", "mdx5q")])
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("cannot be deleted here"), "{page}");
        let left: i64 = users::table
            .filter(users::id.eq(&moderator.user.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(left, 1, "the moderator's account stays");
    }
);

/// On PostgreSQL, a post sent while its author's erasure is in flight waits
/// for it, then finds no account: nothing is stored, and the answer is not a
/// 500. (Without the hold on the author's row, the post reached its insert,
/// whose reference check failed once the erasure committed.)
#[tokio::test]
async fn a_post_racing_its_authors_erasure_stores_nothing() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let leaver = app.student("lvx6q");
    let other = app.student("otx7q");
    let class = new_class(&app, "CS 2100", &[&leaver, &other]);

    // The erasure in flight: the account's row deleted, not yet committed.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; DELETE FROM users WHERE id = '{}'",
            leaver.user.id
        ))
        .unwrap();
    let release = when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").unwrap();
    });
    let path = format!("/classes/{}", class.id);
    let post_to = format!("{path}/messages");
    let (response, seen) = tokio::join!(
        leaver.post(
            &app,
            &path,
            &post_to,
            &[("content", "posted as I leave"), ("confirmed", "1")]
        ),
        release,
    );
    assert_eq!(seen.unwrap().0, 1, "the post waited on the erasure");
    let status = response.status().as_u16();
    assert!(status < 500, "{status}");
    let stored: i64 = class_messages::table
        .filter(class_messages::content.eq("posted as I leave"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(stored, 0);
}

backend_test!(
    async fn a_block_outlives_the_blocked_students_erasure(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let pest = app.student("pst1q");
        let blocker = app.student("blk2q");
        let decliner = app.student("dcl3q");
        {
            let mut conn = app.conn();
            seed::friendship(
                &mut conn,
                &blocker.user,
                &pest.user,
                FriendshipStatus::Blocked,
            );
            seed::friendship(
                &mut conn,
                &pest.user,
                &decliner.user,
                FriendshipStatus::Rejected,
            );
        }
        let deleted = pest
            .post(&app, "/account", "/account/delete", &[("confirm", "pst1q")])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);

        // The same computing ID signs up again: the account it gets is the
        // placeholder the blocks hold on to, and nothing of the old one.
        let again = common_grounds::accounts::find_by_computing_id(&mut app.conn(), "pst1q")
            .unwrap()
            .expect("a placeholder for the blocked ID");
        assert_ne!(again.id, pest.user.id);
        assert!(!again.email_verified);
        assert_eq!(again.display_name, None);
        for (other, status, first) in [
            (&blocker, FriendshipStatus::Blocked, &blocker.user.id),
            (&decliner, FriendshipStatus::Rejected, &again.id),
        ] {
            let row = common_grounds::friends::between(&mut app.conn(), &again.id, &other.user.id)
                .unwrap()
                .expect("the other's choice stays");
            assert_eq!((row.status, &row.user_id_1), (status, first));
        }
        // Asking again changes nothing, and tells the blocker nothing.
        let asked = common_grounds::friends::requests::request(
            &mut app.conn(),
            &again,
            "blk2q",
            "virginia.edu",
            clock::now(),
        )
        .unwrap();
        assert!(
            matches!(asked, common_grounds::friends::RequestOutcome::Sent { .. }),
            "{asked:?}"
        );
        let row = common_grounds::friends::between(&mut app.conn(), &again.id, &blocker.user.id)
            .unwrap()
            .unwrap();
        assert_eq!(row.status, FriendshipStatus::Blocked);
        let (_, page) = blocker.get(&app, "/friends").await;
        assert!(page.contains("pst1q"), "still on the blocked list: {page}");
        let told: i64 = common_grounds::db::schema::notifications::table
            .filter(common_grounds::db::schema::notifications::user_id.eq(&blocker.user.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(told, 0, "the blocker heard of the new request");
    }
);

backend_test!(
    async fn a_decline_outlives_the_erasure_and_the_cleanup(backend: Backend) {
        // Arrange: the decliner declined the asker; no block anywhere.
        let app = spawn_quiet_app(backend, &[]).await;
        let asker = app.student("ask1q");
        let decliner = app.student("dcl3q");
        seed::friendship(
            &mut app.conn(),
            &asker.user,
            &decliner.user,
            FriendshipStatus::Rejected,
        );

        // Act: the asker erases their account; two days on, the cleanup that
        // deletes unconfirmed accounts runs.
        let deleted = asker
            .post(&app, "/account", "/account/delete", &[("confirm", "ask1q")])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);
        let later = clock::now() + chrono::Duration::days(2);
        common_grounds::db::write_tx(&mut app.conn(), |tx| {
            common_grounds::accounts::delete_unconfirmed(tx, later)
        })
        .unwrap();

        // Assert: the ID's placeholder, and the decline with it, are kept.
        let again = common_grounds::accounts::find_by_computing_id(&mut app.conn(), "ask1q")
            .unwrap()
            .expect("the placeholder the decline holds on to");
        let row = common_grounds::friends::between(&mut app.conn(), &again.id, &decliner.user.id)
            .unwrap()
            .expect("the decline stays");
        assert_eq!(row.status, FriendshipStatus::Rejected);
    }
);

backend_test!(
    async fn cleanup_keeps_an_account_whose_sign_in_email_works(backend: Backend) {
        // Arrange: an account made two days ago (as a friend request makes
        // one) that never signed in; today its owner asks for a link.
        let app = spawn_app(backend).await;
        let made = clock::now() - chrono::Duration::days(2);
        let waiting = common::builders::UserBuilder::new("lnk1q")
            .email_verified(false)
            .created_at(made)
            .insert(&mut app.conn());
        let asked = app.post_login("lnk1q@virginia.edu").await;
        assert_eq!(asked.status().as_u16(), 200);
        let token = token_in(&app.wait_for_emails(1).await[0].text).unwrap();

        // Act: the cleanup runs now, and again once the link has expired.
        let now_removed = common_grounds::db::write_tx(&mut app.conn(), |tx| {
            common_grounds::accounts::delete_unconfirmed(tx, clock::now())
        })
        .unwrap();
        let kept = common_grounds::accounts::find(&mut app.conn(), &waiting.id).unwrap();
        let csrf = app
            .csrf_from(&format!("/login/confirm?token={token}"))
            .await;
        let signed_in = app
            .post_form(
                "/login/confirm",
                &[("csrf_token", &csrf), ("token", &token)],
            )
            .await;
        let later_removed = common_grounds::db::write_tx(&mut app.conn(), |tx| {
            common_grounds::accounts::delete_unconfirmed(
                tx,
                clock::now() + chrono::Duration::hours(1),
            )
        })
        .unwrap();

        // Assert: kept while the email worked, so its link signed them in
        // (and a confirmed account is never cleaned up).
        assert_eq!(now_removed, 0);
        assert!(kept.is_some());
        assert_eq!(signed_in.status().as_u16(), 303);
        assert_eq!(later_removed, 0);
    }
);

backend_test!(
    async fn a_suspension_outlives_deleting_the_account(backend: Backend) {
        // Arrange: a student suspended for a week, their name also removed.
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("sus1q");
        let now = clock::now();
        let until = now + chrono::Duration::days(7);
        let name_wait = now + chrono::Duration::days(5);
        diesel::update(users::table.find(&student.user.id))
            .set((
                users::suspended_until.eq(Some(until)),
                users::suspension_reason.eq(Some("Repeated harassment in CS 2100")),
                users::display_name_locked_until.eq(Some(name_wait)),
            ))
            .execute(&mut app.conn())
            .unwrap();

        // Act: they delete the account; two days on, the cleanup runs.
        let deleted = student
            .post(&app, "/account", "/account/delete", &[("confirm", "sus1q")])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);
        common_grounds::db::write_tx(&mut app.conn(), |tx| {
            common_grounds::accounts::delete_unconfirmed(tx, now + chrono::Duration::days(2))
        })
        .unwrap();

        // Assert: the account the same ID gets on signing up again is still
        // suspended, with its reason, and still waits for a name.
        let again = common_grounds::accounts::find_by_computing_id(&mut app.conn(), "sus1q")
            .unwrap()
            .expect("a placeholder keeps the suspension");
        assert_ne!(again.id, student.user.id);
        let close = |a: Option<chrono::NaiveDateTime>, b: chrono::NaiveDateTime| {
            a.is_some_and(|a| (a - b).num_seconds().abs() < 2)
        };
        assert!(close(again.suspended_until, until), "{again:?}");
        assert!(
            close(again.display_name_locked_until, name_wait),
            "{again:?}"
        );
        assert_eq!(
            again.suspension_reason.as_deref(),
            Some("Repeated harassment in CS 2100")
        );
        assert_eq!(again.display_name, None);
    }
);

/// On PostgreSQL, an erasure and a classmate's write that names the erased
/// student (a reply's notice to them, here a row naming them) while holding
/// a class the erasure takes next: both finish, neither is aborted as a
/// deadlock. (With the account's row locked FOR UPDATE, the write's
/// reference check waited on the erasure while the erasure waited on the
/// class: PostgreSQL aborted one.)
#[tokio::test]
async fn an_erasure_and_a_reply_naming_the_student_do_not_deadlock() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let leaver = app.student("lvx8q");
    let other = app.student("otx9q");
    let class = new_class(&app, "CS 2100", &[&leaver, &other]);
    {
        let mut conn = app.conn();
        seed::message(
            &mut conn,
            &leaver.user,
            &class,
            "Anon_lv",
            "Who has notes?",
            None,
        );
    }
    // The classmate's reply: it holds the class's chat, as posting does.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('chat-class:{}'))",
            class.id
        ))
        .unwrap();
    let (leaver_id, class_id) = (leaver.user.id.to_string(), class.id.to_string());
    let reply = when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        // Now the reply writes a row naming the student, and commits.
        let wrote = holder.batch_execute(&format!(
            "INSERT INTO class_mutes (user_id, class_id, created_at) \
             VALUES ('{leaver_id}', '{class_id}', now()); COMMIT"
        ));
        wrote.map_err(|e| e.to_string())
    });
    let (deleted, reply) = tokio::join!(
        leaver.post(&app, "/account", "/account/delete", &[("confirm", "lvx8q")]),
        reply,
    );
    let (seen, wrote) = reply.unwrap();
    assert_eq!(seen, 1, "the erasure waited on the class");
    assert_eq!(wrote, Ok(()), "the reply's write was aborted");
    assert_eq!(deleted.status().as_u16(), 303, "the erasure was aborted");
    let left: i64 = users::table
        .filter(users::id.eq(&leaver.user.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(left, 0);
}

/// SQLite only: erasure overwrites the student's words in the database file,
/// not only unlinks them (`secure_delete`); a copy of the file taken later
/// does not hold them.
#[tokio::test]
async fn an_erased_students_words_leave_the_sqlite_file() {
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let student = app.student("sec1q");
    let class = new_class(&app, "CS 2150", &[&student]);
    let class_page = format!("/classes/{}", class.id);
    let phrase = "my landlord on Wertland Street still owes me the deposit";
    let posted = student
        .post(
            &app,
            &class_page,
            &format!("{class_page}/messages"),
            &[("content", phrase), ("confirmed", "1")],
        )
        .await;
    assert_eq!(posted.status().as_u16(), 303);

    let deleted = student
        .post(&app, "/account", "/account/delete", &[("confirm", "sec1q")])
        .await;
    assert_eq!(deleted.status().as_u16(), 303);
    diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut app.conn())
        .unwrap();

    let common_grounds::config::DatabaseUrl::Sqlite(file) = &app.db.url else {
        panic!("a SQLite test database");
    };
    let mut bytes = std::fs::read(file).unwrap();
    bytes.extend(std::fs::read(file.with_extension("db-wal")).unwrap_or_default());
    // The whole text (the message row, the search index's copy) and a word
    // of it alone (the search index's terms).
    for gone in [phrase, "wertland"] {
        let found = bytes.windows(gone.len()).any(|w| w == gone.as_bytes());
        assert!(!found, "{gone:?} is still in the database file");
    }
}

backend_test!(
    async fn a_student_downloads_their_data_ten_times_a_day(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("ex1q");
        // A link on another site spends none of them: it is sent to the
        // account page's button.
        let cross = student
            .client
            .get(app.url("/account/export"))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status().as_u16(), 303);

        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(student.get(&app, "/account/export").await.0);
        }
        let (eleventh, page) = student.get(&app, "/account/export").await;

        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        assert_eq!(eleventh, 429);
        assert!(
            page.contains("You can download your data 10 times a day"),
            "{page}"
        );
    }
);

backend_test!(
    async fn an_export_reads_one_snapshot_inside_or_outside_a_transaction(backend: Backend) {
        #[derive(diesel::QueryableByName)]
        struct Level {
            #[diesel(sql_type = diesel::sql_types::Text)]
            transaction_isolation: String,
        }
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let student = common::builders::UserBuilder::new("sn4p").insert(&mut conn);

        // Outside a transaction: its own, which on PostgreSQL is one
        // snapshot for every statement (REPEATABLE READ), read only.
        let level = db::read_snapshot(&mut conn, |c| -> diesel::QueryResult<Option<String>> {
            Ok(match c {
                DbConn::Postgresql(pg) => Some(
                    diesel::sql_query("SHOW transaction_isolation")
                        .get_result::<Level>(pg)?
                        .transaction_isolation,
                ),
                DbConn::Sqlite(_) => None,
            })
        })
        .unwrap();
        if let DbConn::Postgresql(_) = conn {
            assert_eq!(level.as_deref(), Some("repeatable read"));
        }
        // The export itself reads in one, and leaves none open.
        let export =
            common_grounds::ops::student_data::export(&mut conn, &student, clock::now()).unwrap();
        assert_eq!(export.profile.computing_id, "sn4p");
        // Inside a write transaction (the command line's export), it reads
        // in that one, whose write still commits.
        db::write_tx(&mut conn, |tx| -> diesel::QueryResult<()> {
            common_grounds::ops::student_data::export(tx, &student, clock::now())?;
            diesel::update(users::table.find(&student.id))
                .set(users::display_name.eq(Some("Snap")))
                .execute(&mut **tx)?;
            Ok(())
        })
        .unwrap();
        let name: Option<String> = users::table
            .find(&student.id)
            .select(users::display_name)
            .first(&mut conn)
            .unwrap();
        assert_eq!(name.as_deref(), Some("Snap"));

        // The export page's reads run between the snapshot's BEGIN and its
        // COMMIT (the download counter's write comes before, on its own).
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("sn5p");
        app.queries.record();
        let (status, _) = me.get(&app, "/account/export").await;
        let ran = app.queries.take_recorded();
        assert_eq!(status, 200);
        let reads = ran
            .iter()
            .position(|q| q.contains("message_revisions"))
            .unwrap_or_else(|| panic!("no read of kept versions: {ran:#?}"));
        let begin = ran[..reads]
            .iter()
            .rposition(|q| q.starts_with("BEGIN"))
            .unwrap_or_else(|| panic!("no snapshot begun: {ran:#?}"));
        // Not the counter's write transaction, which has ended by then.
        assert!(!ran[begin].contains("IMMEDIATE"), "{ran:#?}");
        assert!(
            !ran[begin..reads].iter().any(|q| q.starts_with("COMMIT")),
            "{ran:#?}"
        );
        let commit = ran
            .iter()
            .rposition(|q| q.starts_with("COMMIT"))
            .unwrap_or_else(|| panic!("no commit: {ran:#?}"));
        assert!(begin < reads && reads < commit, "{ran:#?}");
        if matches!(backend, Backend::Postgres) {
            assert!(ran[begin].contains("REPEATABLE READ READ ONLY"), "{ran:#?}");
        }
    }
);
