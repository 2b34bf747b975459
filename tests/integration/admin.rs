//! The admin area over HTTP on SQLite and PostgreSQL: who may see it, asking
//! for an audited reveal, hide/restore/delete as students see them, suspensions,
//! "sync now" against a loopback SIS, the overview's charts, and roles.

use crate::common;
use crate::common::seed;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use common::builders::MessageBuilder;
use common::sis_server::{self, Fault, SisServer};
use common::*;
use common_grounds::accounts::{Role, User, UserId};
use common_grounds::chat::{self, ClassMessage, MessageId};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{
    audit_log, class_messages, classes as classes_table, friendships, message_flags, sessions,
    sign_in_days, sis_sync_runs, users,
};
use common_grounds::moderation::{AuditAction, AuditEntry};
use diesel::prelude::*;

// ---------------------------------------------------------------- helpers

fn audit_rows(app: &TestApp, action: AuditAction) -> Vec<AuditEntry> {
    audit_log::table
        .filter(audit_log::action.eq(action.as_str()))
        .select(AuditEntry::as_select())
        .load(&mut app.conn())
        .unwrap()
}

fn audit_total(app: &TestApp) -> i64 {
    audit_log::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn message_by_text(app: &TestApp, text: &str) -> ClassMessage {
    class_messages::table
        .filter(class_messages::content.eq(text))
        .select(ClassMessage::as_select())
        .first(&mut app.conn())
        .unwrap()
}

fn message_by_id(app: &TestApp, id: &MessageId) -> ClassMessage {
    chat::find(&mut app.conn(), id).unwrap().unwrap()
}

fn flag_rows(app: &TestApp, id: &MessageId) -> i64 {
    message_flags::table
        .filter(message_flags::message_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn session_count(app: &TestApp, user: &UserId) -> i64 {
    sessions::table
        .filter(sessions::user_id.eq(user))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn user_row(app: &TestApp, id: &UserId) -> User {
    users::table
        .find(id)
        .select(User::as_select())
        .first(&mut app.conn())
        .unwrap()
}

/// A fresh session for a user whose sessions were ended.
fn new_session(app: &TestApp, user: &User) -> Student {
    let session = common_grounds::accounts::sessions::create(
        &mut app.conn(),
        &user.id,
        Some("test"),
        clock::now(),
    )
    .unwrap();
    Student {
        user: user.clone(),
        client: app.client_with_session(&session.token),
        token: session.token,
    }
}

/// Posts a chat message over HTTP as `who` and returns its row.
async fn post_message(
    app: &TestApp,
    who: &Student,
    class: &Class,
    text: &str,
    parent: Option<&ClassMessage>,
) -> ClassMessage {
    let page = format!("/classes/{}", class.id);
    let parent_id = parent.map(|p| p.id.to_string()).unwrap_or_default();
    let mut fields = vec![("content", text)];
    if parent.is_some() {
        fields.push(("parent_id", parent_id.as_str()));
    }
    let r = who
        .post(
            app,
            &page,
            &format!("/classes/{}/messages", class.id),
            &fields,
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "posting {text:?}");
    message_by_text(app, text)
}

async fn flag(app: &TestApp, who: &Student, class: &Class, message: &ClassMessage) {
    let r = who
        .post(
            app,
            &format!("/classes/{}", class.id),
            &format!("/messages/{}/flag", message.id),
            &[("reason", "this is rude")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "flagging");
}

/// The text of the flash message on a page, if any.
fn flash_in(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(".notice, .alert").unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
}

const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

// ---------------------------------------------------------------- 1. access

backend_test!(
    async fn students_get_404_moderators_see_the_pages(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("st1d");
        let other = app.student("ot2h");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&student, &other]);
        let message = post_message(&app, &other, &class, "a message to act on", None).await;

        let gets = [
            "/admin",
            "/admin/users",
            "/admin/users?q=ot2h",
            "/admin/audit",
            "/admin/audit?action=reveal",
            "/admin/flags",
            "/admin/sis",
        ];
        for path in gets {
            let (status, _) = student.get(&app, path).await;
            assert_eq!(status, 404, "student GET {path}");
            let (status, html) = moderator.get(&app, path).await;
            assert_eq!(status, 200, "moderator GET {path}");
            assert!(html.contains("/admin/flags"), "admin nav on {path}");
        }

        let id = message.id.to_string();
        let until = (clock::now().date() + Days::days(7))
            .format("%Y-%m-%d")
            .to_string();
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            ("/admin/users/ot2h/role".into(), vec![("role", "admin")]),
            ("/admin/users/st1d/role".into(), vec![("role", "admin")]),
            (
                "/admin/users/ot2h/suspend".into(),
                vec![("until", &until), ("reason", "a long enough reason")],
            ),
            ("/admin/users/ot2h/lift".into(), vec![]),
            (format!("/admin/messages/{id}/hide"), vec![]),
            (format!("/admin/messages/{id}/restore"), vec![]),
            (format!("/admin/messages/{id}/delete"), vec![]),
            (
                format!("/admin/messages/{id}/reveal"),
                vec![("reason", "curious who wrote this one")],
            ),
            ("/admin/sis/sync".into(), vec![("term", "1262")]),
        ];
        for (path, fields) in &posts {
            let r = student.post(&app, "/", path, fields).await;
            assert_eq!(r.status().as_u16(), 404, "student POST {path}");
            let body = r.text().await.unwrap();
            assert!(!body.contains("ot2h@virginia.edu"), "{path} leaked");
        }
        assert_eq!(audit_total(&app), 0, "no student action was recorded");
        let after = message_by_id(&app, &message.id);
        assert!(!after.hidden && !after.deleted);
        assert_eq!(after.content, "a message to act on");
        for who in [&student, &other] {
            let row = user_row(&app, &who.user.id);
            assert_eq!(row.role, Role::Student);
            assert_eq!(row.suspended_until, None);
        }
        let runs: i64 = sis_sync_runs::table
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(runs, 0);
    }
);

// ---------------------------------------------------------------- 2. reveal

backend_test!(
    async fn reveal_needs_a_reason_and_is_audited(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("zq9xk");
        let flagger = app.student("fl4g");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &flagger]);
        let root = post_message(&app, &flagger, &class, "Is the exam open book?", None).await;
        let bad = post_message(&app, &author, &class, "rude words here", Some(&root)).await;
        flag(&app, &flagger, &class, &bad).await;
        let reveal = format!("/admin/messages/{}/reveal", bad.id);
        let secret_bits = [
            author.user.computing_id.as_str(),
            author.user.email.as_str(),
        ];

        let (status, queue) = moderator.get(&app, "/admin/flags").await;
        assert_eq!(status, 200);
        assert!(queue.contains("rude words here"), "the flagged message");
        assert!(queue.contains("Is the exam open book?"), "its thread");
        assert!(queue.contains(&bad.anonymous_identifier));

        for fields in [vec![], vec![("reason", "")], vec![("reason", "short")]] {
            let (status, body) = moderator
                .post_and_follow(&app, "/admin/flags", &reveal, &fields)
                .await;
            assert_eq!(status, 200, "reveal with {fields:?}");
            assert!(body.contains("at least 10 characters"), "{body}");
            for bit in secret_bits {
                assert!(!body.contains(bit), "refused reveal shows {bit}");
            }
        }
        // Padding does not make a short reason long enough.
        let (_, body) = moderator
            .post_and_follow(&app, "/admin/flags", &reveal, &[("reason", "   short    ")])
            .await;
        assert!(body.contains("at least 10 characters"), "{body}");
        assert!(audit_rows(&app, AuditAction::RevealRequest).is_empty());
        assert_eq!(audit_total(&app), 0);

        // A good reason asks for the reveal; a second staff member must approve
        // before the author shows (tests/integration/moderation_reveal.rs).
        let reason = "Threat reported to the Dean of Students";
        let before = clock::now() - Days::seconds(1);
        let r = moderator
            .post(&app, "/admin/flags", &reveal, &[("reason", reason)])
            .await;
        let after = clock::now() + Days::seconds(1);
        assert_eq!(r.status().as_u16(), 303);
        let request = r
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let (_, page) = moderator.get(&app, &request).await;
        for bit in secret_bits {
            assert!(!page.contains(bit), "the pending request shows {bit}");
        }
        let rows = audit_rows(&app, AuditAction::RevealRequest);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.actor_id.as_ref(), Some(&moderator.user.id));
        assert_eq!(row.target_type, "message");
        assert_eq!(row.target_id, bad.id.to_string());
        assert_eq!(row.reason.as_deref(), Some(reason));
        assert!(
            row.created_at >= before && row.created_at <= after,
            "{}",
            row.created_at
        );
        assert_eq!(audit_total(&app), 1);

        for path in [
            "/admin/flags",
            "/admin/audit",
            "/admin/audit?action=reveal_request",
        ] {
            let (status, html) = moderator.get(&app, path).await;
            assert_eq!(status, 200);
            for bit in secret_bits {
                assert!(!html.contains(bit), "{path} shows {bit}");
            }
        }
        let (_, audit) = moderator.get(&app, "/admin/audit").await;
        assert!(audit.contains(reason), "the audit page lists the request");
        // The row names the message by its class and first words, not its id.
        assert!(audit.contains("rude words here"), "{audit}");
        assert!(!audit.contains(&bad.id.to_string()), "{audit}");
    }
);

// ---------------------------------------------------------------- 3. hide, restore, delete

backend_test!(
    async fn hide_restore_delete_show_to_students(backend: Backend) {
        // Members of a minute: their reports count only with no minimum membership.
        let app = spawn_quiet_app(backend, &[("REPORT_MIN_MEMBERSHIP_HOURS", "0")]).await;
        let author = app.student("au1t");
        let flagger = app.student("fl4g");
        let reader = app.student("re4d");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &flagger, &reader]);
        let page = format!("/classes/{}", class.id);
        let message = post_message(&app, &author, &class, "the moderated words", None).await;
        post_message(&app, &reader, &class, "a reply that stays", Some(&message)).await;
        flag(&app, &flagger, &class, &message).await;
        assert_eq!(message_by_id(&app, &message.id).flagged_count, 1);
        assert_eq!(flag_rows(&app, &message.id), 1);
        let html = chat_as_seen(&app, &reader.client, &page).await;
        assert!(html.contains("the moderated words"));
        assert!(html.contains("a reply that stays"));

        let act = |action: &'static str| {
            let path = format!("/admin/messages/{}/{action}", message.id);
            let moderator = &moderator;
            let app = &app;
            async move {
                let r = moderator
                    .post(
                        app,
                        "/admin/flags",
                        &path,
                        &[("reason", "moderation test"), ("category", "spam")],
                    )
                    .await;
                assert_eq!(r.status().as_u16(), 303, "{action}");
                assert_eq!(r.headers()["location"], "/admin/flags");
            }
        };

        act("hide").await;
        for viewer in [&reader, &author] {
            let html = chat_as_seen(&app, &viewer.client, &page).await;
            assert!(!html.contains("the moderated words"), "hidden text gone");
            assert!(html.contains("hidden by moderation"));
            assert!(html.contains("a reply that stays"));
        }
        assert_eq!(audit_rows(&app, AuditAction::Hide).len(), 1);
        assert_eq!(audit_total(&app), 1);

        act("restore").await;
        let html = chat_as_seen(&app, &reader.client, &page).await;
        assert!(html.contains("the moderated words"), "text back");
        assert!(!html.contains("hidden by moderation"));
        let restored = message_by_id(&app, &message.id);
        assert_eq!((restored.flagged_count, restored.hidden), (0, false));
        assert_eq!(
            flag_rows(&app, &message.id),
            1,
            "the report is kept, as reviewed"
        );
        assert_eq!(audit_rows(&app, AuditAction::Restore).len(), 1);
        assert_eq!(audit_total(&app), 2);

        act("delete").await;
        let html = chat_as_seen(&app, &reader.client, &page).await;
        assert!(!html.contains("the moderated words"));
        assert!(html.contains("[deleted]"));
        assert!(html.contains("a reply that stays"));
        let deleted = message_by_id(&app, &message.id);
        assert!(deleted.deleted);
        assert_eq!(deleted.content, "");
        assert_eq!(audit_rows(&app, AuditAction::Delete).len(), 1);
        assert_eq!(audit_total(&app), 3);
        for (action, n) in [
            (AuditAction::Hide, 1),
            (AuditAction::Restore, 1),
            (AuditAction::Delete, 1),
        ] {
            let rows = audit_rows(&app, action);
            assert_eq!(rows.len(), n, "{action:?}");
            assert_eq!(rows[0].target_id, message.id.to_string());
            assert_eq!(rows[0].actor_id.as_ref(), Some(&moderator.user.id));
            assert_eq!(rows[0].reason.as_deref(), Some("moderation test"));
        }
    }
);

// ---------------------------------------------------------------- 4. suspension

backend_test!(
    async fn suspension_blocks_posts_until_lifted(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let suspended = app.student("su5p");
        let other = app.student("ot2h");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&suspended, &other]);
        let page = format!("/classes/{}", class.id);
        let theirs = post_message(&app, &other, &class, "something to report", None).await;
        let earlier = post_message(&app, &suspended, &class, "said before it", None).await;

        let until_day = clock::now().date() + Days::days(10);
        let until = until_day.format("%Y-%m-%d").to_string();
        // The reason is read by all staff: the form says not to quote a post.
        let (_, search) = moderator.get(&app, "/admin/users?q=su5p").await;
        assert!(search.contains("do not quote a post"), "{search}");
        let r = moderator
            .post(
                &app,
                "/admin/users?q=su5p",
                "/admin/users/su5p/suspend",
                &[("until", &until), ("reason", "Spamming the class chat")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            r.headers()["location"],
            "/admin/users?q=su5p",
            "back to the search"
        );
        assert_eq!(audit_rows(&app, AuditAction::Suspend).len(), 1);
        assert_eq!(session_count(&app, &suspended.user.id), 0, "sessions ended");
        let (status, _) = suspended.get(&app, &page).await;
        assert_eq!(status, 303, "the old session is gone");

        let fresh = new_session(&app, &suspended.user);
        // A suspended student can still read: the list and each thread.
        let html = chat_as_seen(&app, &fresh.client, &page).await;
        assert!(html.contains("something to report"));
        // Every page says so, until when and why, before anything is refused.
        let (_, class_page) = fresh.get(&app, &page).await;
        let notice = scraper::Html::parse_document(&class_page)
            .select(&scraper::Selector::parse("#suspended").unwrap())
            .next()
            .map(|n| n.text().collect::<String>())
            .unwrap_or_default();
        assert!(
            notice.contains("Your account is suspended")
                && notice.contains("you cannot post")
                && notice.contains("Spamming the class chat"),
            "{class_page}"
        );
        let (_, other_page) = other.get(&app, &page).await;
        assert!(!other_page.contains("id=\"suspended\""), "{other_page}");

        let day = until_day.format("%-d, %Y").to_string();
        let month = until_day.format("%b").to_string();
        let attempts = [
            (
                format!("/classes/{}/messages", class.id),
                vec![("content", "posted by the suspended student")],
            ),
            (format!("/messages/{}/flag", theirs.id), vec![]),
            ("/friends".to_string(), vec![("who", "ot2h")]),
            (
                format!("/messages/{}/edit", earlier.id),
                vec![("content", "rewritten while suspended")],
            ),
        ];
        for (path, fields) in &attempts {
            let r = fresh.post(&app, &page, path, fields).await;
            assert_eq!(r.status().as_u16(), 403, "{path} while suspended");
            let body = r.text().await.unwrap();
            assert!(
                body.contains(&day) && body.contains(&month),
                "{path}: the refusal names the end date {until}: {body}"
            );
            // Said once, not again in the notice atop other pages.
            assert!(!body.contains(r#"id="suspended""#), "{path}: {body}");
            // A post's words are kept to copy, not lost with the refusal.
            if let Some((_, draft)) = fields.iter().find(|(name, _)| *name == "content") {
                assert!(body.contains(draft), "{path}: the draft is kept: {body}");
            }
        }
        let mut conn = app.conn();
        let mine: i64 = class_messages::table
            .filter(class_messages::user_id.eq(&suspended.user.id))
            .filter(class_messages::content.ne("said before it"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(mine, 0);
        assert_eq!(flag_rows(&app, &theirs.id), 0);
        let requests: i64 = friendships::table.count().get_result(&mut conn).unwrap();
        assert_eq!(requests, 0);
        drop(conn);

        // Lifted from the person's page, which it comes back to.
        let person = format!("/admin/users/{}", suspended.user.id);
        let (_, person_page) = moderator.get(&app, &person).await;
        assert!(
            person_page.contains(r#"name="from" value="person""#),
            "{person_page}"
        );
        let r = moderator
            .post(
                &app,
                &person,
                "/admin/users/su5p/lift",
                &[("from", "person")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], person.as_str());
        assert_eq!(audit_rows(&app, AuditAction::LiftSuspension).len(), 1);
        assert_eq!(user_row(&app, &suspended.user.id).suspended_until, None);
        // (The post before the suspension is moments old: the 5 s pace.)
        crate::live_stream::let_post_again(&mut app.conn());
        for (path, fields) in &attempts {
            let r = fresh.post(&app, &page, path, fields).await;
            assert_eq!(r.status().as_u16(), 303, "{path} after the lift");
        }
        message_by_text(&app, "posted by the suspended student");
        assert_eq!(flag_rows(&app, &theirs.id), 1);
        let requests: i64 = friendships::table
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(requests, 1);
    }
);

backend_test!(
    async fn a_suspended_student_can_still_keep_people_away(backend: Backend) {
        use common_grounds::friends::FriendshipStatus;
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("su6k");
        let friend = app.student("fr1e");
        let asker = app.student("rq2e");
        let second_asker = app.student("rq4e");
        // Blocked below by computing ID: an account that signed in.
        let _blocked = app.student("bl3k");
        let class = new_class(&app, "CS 2150", &[&me]);
        {
            let mut conn = app.conn();
            seed::friendship(
                &mut conn,
                &me.user,
                &friend.user,
                FriendshipStatus::Accepted,
            );
            seed::friendship(&mut conn, &asker.user, &me.user, FriendshipStatus::Pending);
            seed::friendship(
                &mut conn,
                &second_asker.user,
                &me.user,
                FriendshipStatus::Pending,
            );
            diesel::update(users::table.find(&me.user.id))
                .set((
                    users::suspended_until.eq(Some(clock::now() + Days::days(7))),
                    users::display_name.eq(Some("Sam K.")),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let rows = |app: &TestApp| -> i64 {
            friendships::table
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };

        // Act and assert: declining, unfriending and blocking keep people
        // away, so they are open to a suspended student.
        for (who, action, words) in [
            ("rq2e", "decline", "You declined rq2e"),
            ("fr1e", "remove", "You and fr1e are no longer friends"),
            ("bl3k", "block", "bl3k is blocked"),
        ] {
            let (status, page) = me
                .post_and_follow(&app, "/friends", &format!("/friends/{who}/{action}"), &[])
                .await;
            assert_eq!(status, 200, "{action}");
            assert!(page.contains(words), "{action}: {page}");
        }
        let statuses: Vec<String> = friendships::table
            .select(friendships::status)
            .order(friendships::status)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(statuses, ["BLOCKED", "PENDING", "REJECTED"], "fr1e is gone");
        // Letting someone in is not: no accepting, no unblocking.
        for (who, action) in [("rq4e", "accept"), ("bl3k", "unblock")] {
            let r = me
                .post(&app, "/friends", &format!("/friends/{who}/{action}"), &[])
                .await;
            assert_eq!(r.status().as_u16(), 403, "{action}");
        }
        assert_eq!(rows(&app), 3);

        // Hiding classes saves; the display name stays as it was.
        let (_, page) = me
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Sam K."), ("hide_classes", "on")],
            )
            .await;
        assert!(page.contains("Saved. Your classes are hidden"), "{page}");
        assert!(user_row(&app, &me.user.id).hide_classes);
        let (_, page) = me
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Someone Else")],
            )
            .await;
        assert!(
            page.contains("Your display name was not changed: your account is suspended until"),
            "{page}"
        );
        let row = user_row(&app, &me.user.id);
        assert_eq!(row.display_name.as_deref(), Some("Sam K."));
        assert!(
            !row.hide_classes,
            "the classes choice sent with it is saved"
        );

        // Leaving a class lets no one in either.
        let (_, page) = me
            .post_and_follow(
                &app,
                "/",
                &format!("/classes/{}/leave", class.id),
                &[("next", "/")],
            )
            .await;
        assert!(page.contains("You left CS 2150"), "{page}");
    }
);

// ---------------------------------------------------------------- 5. sync now

backend_test!(
    async fn sync_now_runs_once_at_a_time(backend: Backend) {
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS"]);
        let sections: Vec<_> = [10001, 10002, 10003]
            .iter()
            .map(|n| sis_server::generated_section("1262", "CS", *n, 5))
            .collect();
        server.set_pages("1262", "CS", sis_server::object_pages(&sections, 2));
        let app = spawn_quiet_app(
            backend,
            &[
                ("SIS_BASE_URL", server.base_url.as_str()),
                ("SIS_PAUSE_MS", "0"),
                ("SIS_MAX_RETRIES", "0"),
                ("SIS_BACKOFF_MS", "2"),
                ("SIS_READ_TIMEOUT_MS", "15000"),
            ],
        )
        .await;
        let moderator = staff(&app, "mo3d", Role::Moderator);

        let (status, page) = moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1262")])
            .await;
        assert_eq!(status, 200);
        let flash = flash_in(&page);
        assert!(flash.contains("1262"), "{flash}");
        let started = Instant::now();
        let status = loop {
            let status: Option<String> = sis_sync_runs::table
                .select(sis_sync_runs::status)
                .first(&mut app.conn())
                .optional()
                .unwrap();
            if status.as_deref().is_some_and(|s| s != "running") {
                break status.unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "never ended");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status, "succeeded");
        let cs: i64 = classes_table::table
            .filter(classes_table::subject.eq("CS"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(cs, 3, "the synced sections are in the catalog");
        let started_rows = audit_rows(&app, AuditAction::SyncStarted);
        assert_eq!(started_rows.len(), 1);
        assert_eq!(started_rows[0].target_id, "1262");
        assert_eq!(started_rows[0].actor_id.as_ref(), Some(&moderator.user.id));
        let (_, sis_page) = moderator.get(&app, "/admin/sis").await;
        assert!(sis_page.contains("succeeded"));

        // Now MATH's first page never answers: the next run holds the lock.
        server.set_subjects("1262", &["CS", "MATH"]);
        server.set_pages(
            "1262",
            "MATH",
            sis_server::object_pages(
                &[sis_server::generated_section("1262", "MATH", 20001, 5)],
                2,
            ),
        );
        server.fail(Some("MATH"), None, None, Fault::Stall);
        let (_, first) = moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1262")])
            .await;
        let first_flash = flash_in(&first);
        assert!(first_flash.contains("is running"), "{first_flash}");
        assert!(
            server.pages_requested("MATH").contains(&1),
            "the run reached the stalled page"
        );
        let (status, second) = moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1262")])
            .await;
        assert_eq!(status, 200);
        let second_flash = flash_in(&second);
        assert!(
            second_flash.contains("already running"),
            "second sync now: {second_flash}"
        );
        let running: i64 = sis_sync_runs::table
            .filter(sis_sync_runs::status.eq("running"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(running, 1, "only one run at a time");
        assert_eq!(audit_rows(&app, AuditAction::SyncStarted).len(), 3);
        server.clear_faults();
    }
);

// A sync from the admin page that ends partial reads as a failure, not in
// the calm colours of one that succeeded.
backend_test!(
    async fn a_partial_sync_reads_as_an_error_on_the_admin_page(backend: Backend) {
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS", "MATH"]);
        for (subject, number) in [("CS", 10001), ("MATH", 20001)] {
            let section = sis_server::generated_section("1262", subject, number, 5);
            server.set_pages("1262", subject, sis_server::object_pages(&[section], 2));
        }
        server.fail(Some("MATH"), None, None, Fault::Status(500));
        let app = spawn_quiet_app(
            backend,
            &[
                ("SIS_BASE_URL", server.base_url.as_str()),
                ("SIS_PAUSE_MS", "0"),
                ("SIS_MAX_RETRIES", "0"),
                ("SIS_BACKOFF_MS", "2"),
            ],
        )
        .await;
        let moderator = staff(&app, "mo4d", Role::Moderator);

        let (status, page) = moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1262")])
            .await;

        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&page);
        let alert = scraper::Selector::parse(r#"#flash.alert[role="alert"]"#).unwrap();
        let shown: Vec<String> = doc
            .select(&alert)
            .map(|e| e.text().collect::<String>())
            .collect();
        assert!(
            shown.len() == 1 && shown[0].starts_with("Sync of 1262 finished"),
            "{shown:?}: {}",
            flash_in(&page)
        );
        server.clear_faults();
    }
);

// ---------------------------------------------------------------- 6. charts

/// (title, [(data-day, data-count)]) for each chart on the overview.
fn charts_in(html: &str) -> Vec<(String, Vec<(String, i64)>)> {
    let doc = scraper::Html::parse_document(html);
    let fig = scraper::Selector::parse("figure.chart").unwrap();
    let title = scraper::Selector::parse("figcaption strong").unwrap();
    let bar = scraper::Selector::parse("rect.chart-bar").unwrap();
    doc.select(&fig)
        .map(|f| {
            let t = f
                .select(&title)
                .next()
                .map(|t| t.text().collect::<String>())
                .unwrap_or_default();
            let bars = f
                .select(&bar)
                .map(|b| {
                    (
                        b.value().attr("data-day").unwrap().to_string(),
                        b.value().attr("data-count").unwrap().parse().unwrap(),
                    )
                })
                .collect();
            (t, bars)
        })
        .collect()
}

backend_test!(
    async fn overview_charts_count_thirty_days(backend: Backend) {
        use common_grounds::campus_time::CampusTime;
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo3d", Role::Moderator);
        // Days are campus days (the app's default zone, America/New_York).
        let campus = CampusTime::default();
        let now = clock::now();
        let today = campus.date_of(now);
        let mut conn = app.conn();
        let author = seed::user(&mut conn, "au1t");
        let class = seed::class(&mut conn, "CS 2150", "1262");

        // days ago → sign-ins; 30 and 45 days ago fall outside the window.
        let sign_ins: BTreeMap<i64, i32> =
            [(0, 4), (1, 2), (3, 7), (10, 1), (29, 5), (30, 9), (45, 11)].into();
        for (ago, n) in &sign_ins {
            diesel::insert_into(sign_in_days::table)
                .values((
                    sign_in_days::day.eq((today - Days::days(*ago)).format("%Y-%m-%d").to_string()),
                    sign_in_days::sign_ins.eq(*n),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        // A sign-in at 11:30 PM campus time yesterday (the next day in UTC)
        // counts for yesterday.
        let late = campus.at_hour(today - Days::days(1), 23) + Days::minutes(30);
        assert_eq!(late.date(), today, "UTC has moved on to today");
        common_grounds::accounts::signin::count_sign_in(&mut conn, late, campus).unwrap();
        // Messages at campus noon of each day, and one at 11:30 PM yesterday.
        let mut messages: BTreeMap<i64, usize> =
            [(0, 2), (2, 3), (3, 1), (15, 4), (29, 1), (30, 6), (60, 2)].into();
        for (ago, n) in &messages {
            for i in 0..*n {
                let at = campus.at_hour(today - Days::days(*ago), 12) - Days::seconds(i as i64);
                MessageBuilder::new(&class.id, &author.id, "Blue Otter", &format!("m{ago}-{i}"))
                    .created_at(at)
                    .insert(&mut conn);
            }
        }
        MessageBuilder::new(&class.id, &author.id, "Blue Otter", "late last night")
            .created_at(late)
            .insert(&mut conn);
        *messages.entry(1).or_default() += 1;
        drop(conn);

        let expected = |counts: &dyn Fn(i64) -> i64| -> Vec<(String, i64)> {
            (0..30)
                .rev()
                .map(|ago| {
                    let day = today - Days::days(ago);
                    (day.format("%b %-d").to_string(), counts(ago))
                })
                .collect()
        };
        let sign_ins_of = |ago| i64::from(*sign_ins.get(&ago).unwrap_or(&0)) + i64::from(ago == 1);
        let want_sign_ins = expected(&sign_ins_of);
        let want_messages = expected(&|ago| *messages.get(&ago).unwrap_or(&0) as i64);

        let (status, html) = moderator.get(&app, "/admin").await;
        assert_eq!(status, 200);
        let charts = charts_in(&html);
        assert_eq!(charts.len(), 2, "two charts");
        let by_title: BTreeMap<_, _> = charts.into_iter().collect();
        assert_eq!(by_title["Sign-ins per day"], want_sign_ins);
        assert_eq!(by_title["Messages per day"], want_messages);
        assert!(html.contains("20 in all"), "sign-in total in the window");
        assert!(html.contains("12 in all"), "message total in the window");
    }
);

// ---------------------------------------------------------------- 7. roles

/// Runs the command line against the app's database, as an operator would.
async fn run_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("cg-admin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = app.db.url_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cli_dir = dir.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_common-grounds"))
            .args(&args)
            .current_dir(&cli_dir)
            .env_remove("APP_ENV")
            .env("DATABASE_URL", url)
            .env("DATA_DIR", cli_dir.join("data"))
            .env("SECRET_KEY", SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

backend_test!(
    async fn roles_change_by_cli_and_admins_only(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let future_admin = app.student("gr4n");
        let target = app.student("ta7g");
        let bystander = app.student("by5t");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        assert_eq!(future_admin.get(&app, "/").await.0, 200);

        let output = run_cli(&app, &["grant-role", "gr4n", "admin"]).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let admin_row = user_row(&app, &future_admin.user.id);
        assert_eq!(admin_row.role, Role::Admin);
        assert_eq!(session_count(&app, &future_admin.user.id), 0);
        // An account that never finished signing in is not given a role
        // (cleanup deletes such accounts a day on, and the role with them).
        let unconfirmed = common::builders::UserBuilder::new("un1c")
            .email_verified(false)
            .insert(&mut app.conn());
        let refused = run_cli(&app, &["grant-role", "un1c@virginia.edu", "moderator"]).await;
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("has not finished signing in"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        assert_eq!(user_row(&app, &unconfirmed.id).role, Role::Student);
        // An address of another domain can never sign in: said so, not
        // "sign in once first".
        let elsewhere = run_cli(&app, &["grant-role", "gr4n@gmail.com", "admin"]).await;
        assert!(!elsewhere.status.success());
        let said = String::from_utf8_lossy(&elsewhere.stderr);
        assert!(said.contains("cannot have an account here"), "{said}");
        assert!(!said.contains("sign in once first"), "{said}");
        assert_eq!(
            future_admin.get(&app, "/friends").await.0,
            303,
            "signed out"
        );
        let changes = audit_rows(&app, AuditAction::RoleChange);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].actor_id, None, "from the command line");
        assert_eq!(changes[0].target_id, future_admin.user.id.to_string());
        assert!(changes[0].details.as_deref().unwrap().contains("admin"));

        // An admin changes a role in the admin area: the target is signed out.
        let admin = new_session(&app, &admin_row);
        assert_eq!(admin.get(&app, "/admin/users?q=ta7g").await.0, 200);
        assert_eq!(target.get(&app, "/friends").await.0, 200);
        let r = admin
            .post(
                &app,
                "/admin/users?q=ta7g",
                "/admin/users/ta7g/role",
                &[("role", "moderator")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(user_row(&app, &target.user.id).role, Role::Moderator);
        assert_eq!(session_count(&app, &target.user.id), 0);
        assert_eq!(
            target.get(&app, "/friends").await.0,
            303,
            "target signed out"
        );
        let changes = audit_rows(&app, AuditAction::RoleChange);
        assert_eq!(changes.len(), 2);
        assert!(changes
            .iter()
            .any(|c| c.actor_id.as_ref() == Some(&admin.user.id)
                && c.target_id == target.user.id.to_string()));

        // A moderator may not.
        let (status, page) = moderator
            .post_and_follow(
                &app,
                "/admin/users?q=by5t",
                "/admin/users/by5t/role",
                &[("role", "admin")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            flash_in(&page).contains("Only admins"),
            "{}",
            flash_in(&page)
        );
        assert_eq!(user_row(&app, &bystander.user.id).role, Role::Student);
        assert_eq!(session_count(&app, &bystander.user.id), 1);
        assert_eq!(audit_rows(&app, AuditAction::RoleChange).len(), 2);

        // An operator's export of a student's data is on the admins' audit
        // page, by the command line, with its reason.
        let output = run_cli(
            &app,
            &["student", "export", "by5t", "--reason", "ticket <RQ-7>"],
        )
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let exports = audit_rows(&app, AuditAction::ExportData);
        assert_eq!(exports.len(), 1);
        assert_eq!(exports[0].target_id, bystander.user.id.to_string());
        let (_, audit) = admin.get(&app, "/admin/audit?action=export_data").await;
        let row = audit
            .split("<tr>")
            .find(|r| r.contains("data-label=\"Action\">exported a student&#39;s data"))
            .unwrap_or_else(|| panic!("no export row: {audit}"));
        assert!(row.contains("command line"), "{row}");
        assert!(row.contains("by5t"), "{row}");
        assert!(row.contains("ticket &#60;RQ-7&#62;"), "escaped: {row}");
    }
);

// A sync from the admin page that outlasts the page's wait (1.5 s) still
// makes this process read the term list again when it ends: a page asked for
// while it ran held the list as it was, and would have kept it 30 s.
backend_test!(
    async fn a_sync_that_ends_after_the_page_answered_shows_its_term_at_once(backend: Backend) {
        // Arrange: a synced term, and a student who takes a class in it.
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS"]);
        server.set_subjects("1268", &["CS"]);
        let spring = sis_server::generated_section("1262", "CS", 10001, 5);
        server.set_pages("1262", "CS", sis_server::object_pages(&[spring], 2));
        let fall = sis_server::generated_section("1268", "CS", 10002, 5);
        server.set_pages("1268", "CS", sis_server::object_pages(&[fall], 2));
        let app = spawn_quiet_app(
            backend,
            &[
                ("SIS_BASE_URL", server.base_url.as_str()),
                ("SIS_PAUSE_MS", "0"),
                ("SIS_MAX_RETRIES", "0"),
                ("SIS_READ_TIMEOUT_MS", "15000"),
            ],
        )
        .await;
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let shared = &app;
        let finished = |runs: i64| async move {
            let started = Instant::now();
            loop {
                let done: i64 = sis_sync_runs::table
                    .filter(sis_sync_runs::status.eq("succeeded"))
                    .count()
                    .get_result(&mut shared.conn())
                    .unwrap();
                if done == runs {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(30), "never ended");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1262")])
            .await;
        finished(1).await;
        let student = app.student("st4u");
        let class: Class = classes_table::table
            .filter(classes_table::sis_class_number.eq("10001"))
            .first(&mut app.conn())
            .unwrap();
        assert!(common_grounds::classes::enroll(
            &mut app.conn(),
            &student.user.id,
            &class.id,
            clock::now()
        )
        .unwrap());
        assert!(!student.get(&app, "/").await.1.contains("Fall 2026"));

        // Act: the next term's sync, whose SIS answers slowly; a page is
        // asked for while it runs.
        server.fail(
            Some("CS"),
            None,
            Some(1),
            Fault::Delay(Duration::from_millis(6000)),
        );
        let (_, page) = moderator
            .post_and_follow(&app, "/admin/sis", "/admin/sis/sync", &[("term", "1268")])
            .await;
        assert!(
            flash_in(&page).contains("is running"),
            "{}",
            flash_in(&page)
        );
        assert!(!student.get(&app, "/").await.1.contains("Fall 2026"));
        finished(2).await;

        // Assert: the new term is offered within moments of the run's end (its
        // thread forgets just after it records the run), not after 30 s.
        let ended = Instant::now();
        loop {
            let (_, home) = student.get(&app, "/").await;
            if home.contains("Fall 2026") {
                break;
            }
            assert!(ended.elapsed() < Duration::from_secs(10), "{home}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
);

backend_test!(
    async fn a_killed_sync_reads_as_stopped_not_running(backend: Backend) {
        use common_grounds::sis::{self, lock, SyncRunId, Term};
        // Arrange: two runs marked running: one whose process still holds
        // its term (a live lease), one killed (its lease lapsed a minute ago).
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mod1s", Role::Moderator);
        let now = clock::now();
        let (live, killed) = (SyncRunId::new(), SyncRunId::new());
        for (id, term) in [(&live, "1262"), (&killed, "1258")] {
            sis::insert_run(
                &mut app.conn(),
                &sis::NewSyncRun {
                    id,
                    term,
                    subjects: "",
                    status: "running",
                    started_at: now - Days::minutes(10),
                },
            )
            .unwrap();
        }
        let claimed = lock::claim(
            &mut app.conn(),
            &Term::parse("1262").unwrap(),
            &live,
            "h:1",
            now,
        )
        .unwrap();
        assert_eq!(claimed, lock::Claim::Claimed);
        lock::claim(
            &mut app.conn(),
            &Term::parse("1258").unwrap(),
            &killed,
            "h:2",
            now - Days::minutes(10),
        )
        .unwrap();

        // Act
        let (status, page) = moderator.get(&app, "/admin/sis").await;

        // Assert: only the live one is running.
        assert_eq!(status, 200);
        assert!(page.contains("Running now: 1262 ."), "{page}");
        assert!(!page.contains("Running now: 1262 1258"), "{page}");
        assert_eq!(
            page.matches("stopped without finishing").count(),
            1,
            "{page}"
        );
    }
);

backend_test!(
    async fn a_suspended_student_is_not_made_staff(backend: Backend) {
        // Arrange: a moderator suspends a student for a week.
        let app = spawn_quiet_app(backend, &[]).await;
        let admin = staff(&app, "ad1m", Role::Admin);
        let target = app.student("su5p");
        let page = "/admin/users/su5p";
        let r = admin
            .post(
                &app,
                page,
                "/admin/users/su5p/suspend",
                &[
                    ("length", "week"),
                    ("reason", "Brigading reports on purpose"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let changes_before = audit_rows(&app, AuditAction::RoleChange).len();

        // Act: an admin, then the command line, try to make them a moderator.
        let (_, html) = admin
            .post_and_follow(
                &app,
                page,
                "/admin/users/su5p/role",
                &[("role", "moderator")],
            )
            .await;
        let cli = run_cli(&app, &["grant-role", "su5p", "moderator"]).await;

        // Assert: both refused, in words; nothing changed or audited.
        assert!(
            html.contains("a suspended account cannot be made staff"),
            "{}",
            flash_in(&html)
        );
        assert!(!cli.status.success());
        assert!(
            String::from_utf8_lossy(&cli.stderr).contains("cannot be made staff"),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        assert_eq!(user_row(&app, &target.user.id).role, Role::Student);
        assert_eq!(
            audit_rows(&app, AuditAction::RoleChange).len(),
            changes_before
        );

        // A suspended staff account made before this rule (here by a direct
        // edit) is kept out of the admin pages and staff forms all the same.
        diesel::update(users::table.find(&target.user.id))
            .set(users::role.eq(Role::Moderator.as_str()))
            .execute(&mut app.conn())
            .unwrap();
        let target = new_session(&app, &user_row(&app, &target.user.id));
        assert_eq!(target.get(&app, "/admin/flags").await.0, 404);
        let r = target
            .post(
                &app,
                "/",
                "/admin/users/ad1m/suspend",
                &[("length", "week")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 404);
    }
);
