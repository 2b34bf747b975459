//! Issue 15, items 6 and 7, over HTTP on SQLite and PostgreSQL: reports that a
//! small group cannot abuse (a moderator's restore holds against the same
//! reporters; students new to a class are heard but not counted), and evidence
//! a moderator can trust (an edit or a delete of a reported message keeps its
//! text for the moderators, never for students, and the delete is audited).
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;
use crate::common::seed;

use chrono::Duration;
use common::*;
use common_grounds::accounts::Role;
use common_grounds::chat::{self, ClassMessage, MessageId};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{
    audit_log, class_messages, message_flags, message_revisions, thread_follows, user_classes,
};
use common_grounds::moderation::{AuditAction, AuditEntry};
use common_grounds::ops::student_data;
use diesel::prelude::*;

// ---------------------------------------------------------------- helpers

/// Moves a student's joining of a class into the past (seeding joins "now").
fn joined_ago(app: &TestApp, who: &Student, class: &Class, ago: Duration) {
    let n = diesel::update(user_classes::table.find((&who.user.id, &class.id)))
        .set(user_classes::enrolled_at.eq(clock::now() - ago))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(n, 1);
}

fn message_by_text(app: &TestApp, text: &str) -> ClassMessage {
    class_messages::table
        .filter(class_messages::content.eq(text))
        .select(ClassMessage::as_select())
        .first(&mut app.conn())
        .unwrap()
}

/// Posts a chat message over HTTP as `who` and returns its row.
async fn post_message(app: &TestApp, who: &Student, class: &Class, text: &str) -> ClassMessage {
    let r = who
        .post(
            app,
            &format!("/classes/{}", class.id),
            &format!("/classes/{}/messages", class.id),
            &[("content", text)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "posting {text:?}");
    message_by_text(app, text)
}

async fn report(app: &TestApp, who: &Student, class: &Class, id: &MessageId, reason: &str) {
    let r = who
        .post(
            app,
            &format!("/classes/{}", class.id),
            &format!("/messages/{id}/flag"),
            &[("reason", reason)],
        )
        .await;
    assert_eq!(
        r.status().as_u16(),
        303,
        "reporting as {}",
        who.user.computing_id
    );
}

async fn moderate(app: &TestApp, moderator: &Student, id: &MessageId, action: &str) {
    let r = moderator
        .post(
            app,
            "/admin/flags",
            &format!("/admin/messages/{id}/{action}"),
            &[("reason", "reviewed in a test"), ("category", "spam")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "{action}");
}

/// The raw HTML of the class chat as `who` sees it: the thread list and every
/// thread page it links to.
async fn chat_seen(app: &TestApp, who: &Student, class: &Class) -> String {
    chat_as_seen(app, &who.client, &format!("/classes/{}", class.id)).await
}

/// The moderators' queue card of one message (its `<section>`), as text.
async fn queue_card(app: &TestApp, moderator: &Student, id: &MessageId) -> Option<String> {
    let (status, html) = moderator.get(app, "/admin/flags").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let sections = scraper::Selector::parse("section.flagged").unwrap();
    let marker = format!("/admin/messages/{id}/");
    doc.select(&sections)
        .find(|s| s.html().contains(&marker))
        .map(|s| s.text().collect::<String>())
}

fn audit_rows(app: &TestApp, action: AuditAction) -> Vec<AuditEntry> {
    audit_log::table
        .filter(audit_log::action.eq(action.as_str()))
        .select(AuditEntry::as_select())
        .load(&mut app.conn())
        .unwrap()
}

// ---------------------------------------------------------------- 6. flag brigades

backend_test!(
    async fn reviewed_reporters_cannot_hide_a_restored_message_again(backend: Backend) {
        // Arrange: three reporters who have been in the class for days.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au1t");
        let (r1, r2, r3) = (
            app.student("rpx1"),
            app.student("rpy2"),
            app.student("rpz3"),
        );
        let reader = app.student("rdw4");
        let moderator = staff(&app, "mov5", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &r1, &r2, &r3, &reader]);
        for s in [&author, &r1, &r2, &r3, &reader] {
            joined_ago(&app, s, &class, Duration::days(3));
        }
        let text = "a perfectly fine opinion about the midterm";
        let message = post_message(&app, &author, &class, text).await;
        for (who, reason) in [
            (&r1, "brigade one"),
            (&r2, "brigade two"),
            (&r3, "brigade three"),
        ] {
            report(&app, who, &class, &message.id, reason).await;
        }
        let page = chat_seen(&app, &reader, &class).await;
        assert!(!page.contains(text), "three reports hide it");
        assert!(page.contains("hidden by moderation"));

        // Act: a moderator restores it, and the same three report it again.
        moderate(&app, &moderator, &message.id, "restore").await;
        assert!(chat_seen(&app, &reader, &class).await.contains(text));
        assert!(
            queue_card(&app, &moderator, &message.id).await.is_none(),
            "reviewed: off the queue until someone reports it again"
        );
        // Their pages offer "Report" again: the earlier report was reviewed.
        let flag_path = format!("/messages/{}/flag", message.id);
        let theirs = chat_seen(&app, &r1, &class).await;
        assert!(theirs.contains(&flag_path) && !theirs.contains("You reported this message."));
        for (who, reason) in [(&r1, "again one"), (&r2, "again two"), (&r3, "again three")] {
            report(&app, who, &class, &message.id, reason).await;
        }
        assert!(chat_seen(&app, &r1, &class)
            .await
            .contains("You reported this message."));

        // Assert: still visible to students; the moderators see the three reports.
        for viewer in [&reader, &author, &r1] {
            let page = chat_seen(&app, viewer, &class).await;
            assert!(page.contains(text), "it stays restored");
            assert!(!page.contains("hidden by moderation"));
        }
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("the repeated reports reach the queue");
        assert!(card.contains(text), "{card}");
        for reason in ["again one", "again two", "again three"] {
            assert!(card.contains(reason), "{reason} in {card}");
        }
        assert_eq!(
            card.matches("reported again after review").count(),
            3,
            "{card}"
        );
        assert!(card.contains("0 counting toward hiding"), "{card}");
        // The report rows were kept through the restore, never deleted.
        let rows: i64 = message_flags::table
            .filter(message_flags::message_id.eq(&message.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(rows, 3);

        // New reporters still count: three more hide it again.
        let (n1, n2, n3) = (
            app.student("nwx1"),
            app.student("nwy2"),
            app.student("nwz3"),
        );
        {
            let mut conn = app.conn();
            for s in [&n1, &n2, &n3] {
                seed::enroll(&mut conn, &s.user, &class);
            }
        }
        for s in [&n1, &n2, &n3] {
            joined_ago(&app, s, &class, Duration::days(2));
        }
        report(&app, &n1, &class, &message.id, "fresh one").await;
        report(&app, &n2, &class, &message.id, "fresh two").await;
        assert!(chat_seen(&app, &reader, &class).await.contains(text));
        report(&app, &n3, &class, &message.id, "fresh three").await;
        assert!(
            !chat_seen(&app, &reader, &class).await.contains(text),
            "the threshold from new reporters hides it"
        );
        let card = queue_card(&app, &moderator, &message.id).await.unwrap();
        assert!(card.contains("3 counting toward hiding"), "{card}");
    }
);

backend_test!(
    async fn a_reporter_who_joined_an_hour_ago_is_queued_not_counted(backend: Backend) {
        // Arrange: two long-standing members and one who joined an hour ago
        // (REPORT_MIN_MEMBERSHIP_HOURS at its default of 24).
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au1t");
        let (old1, old2, old3) = (
            app.student("olx1"),
            app.student("oly2"),
            app.student("olz3"),
        );
        let newcomer = app.student("nuw4");
        let reader = app.student("rdv5");
        let moderator = staff(&app, "mou6", Role::Moderator);
        let class = new_class(
            &app,
            "PSYC 1010",
            &[&author, &old1, &old2, &old3, &newcomer, &reader],
        );
        for s in [&author, &old1, &old2, &old3, &reader] {
            joined_ago(&app, s, &class, Duration::days(30));
        }
        joined_ago(&app, &newcomer, &class, Duration::hours(1));
        let text = "the lecture notes are posted on the course site";
        let message = post_message(&app, &author, &class, text).await;

        // Act
        report(&app, &old1, &class, &message.id, "old member one").await;
        report(&app, &old2, &class, &message.id, "old member two").await;
        // Sent from the thread list: back at the thread's row (t-).
        let list = format!("/classes/{}", class.id);
        let from_list = newcomer
            .post(
                &app,
                &list,
                &format!("/messages/{}/flag", message.id),
                &[("reason", "the newcomer's reason"), ("back", &list)],
            )
            .await;
        assert_eq!(from_list.status().as_u16(), 303);
        assert_eq!(
            from_list.headers()["location"],
            format!("{list}#t-{}", message.id).as_str()
        );

        // Assert: visible to students; the newcomer's report is in the queue.
        let page = chat_seen(&app, &reader, &class).await;
        assert!(
            page.contains(text),
            "two old + one new member do not hide it"
        );
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("the message is queued");
        assert!(card.contains("the newcomer's reason"), "{card}");
        assert!(card.contains("newer member"), "{card}");
        assert!(card.contains("2 counting toward hiding"), "{card}");
        // The newcomer sees their report taken, like anyone else.
        let theirs = chat_seen(&app, &newcomer, &class).await;
        assert!(theirs.contains("You reported this message."));

        // A third long-standing member's report does hide it.
        report(&app, &old3, &class, &message.id, "old member three").await;
        assert!(!chat_seen(&app, &reader, &class).await.contains(text));
    }
);

backend_test!(
    async fn suspended_reporters_stop_counting(backend: Backend) {
        // Arrange: two long-standing members report a message, then a
        // moderator suspends both for brigading.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au1t");
        let (b1, b2, third) = (
            app.student("brx1"),
            app.student("bry2"),
            app.student("thz3"),
        );
        let reader = app.student("rdv5");
        let moderator = staff(&app, "mou6", Role::Moderator);
        let class = new_class(&app, "PSYC 1010", &[&author, &b1, &b2, &third, &reader]);
        for s in [&author, &b1, &b2, &third, &reader] {
            joined_ago(&app, s, &class, Duration::days(30));
        }
        let text = "the study group meets in Clark Hall at seven";
        let message = post_message(&app, &author, &class, text).await;
        report(&app, &b1, &class, &message.id, "brigade one").await;
        report(&app, &b2, &class, &message.id, "brigade two").await;
        for who in [&b1, &b2] {
            let page = format!("/admin/users/{}", who.user.computing_id);
            let r = moderator
                .post(
                    &app,
                    &page,
                    &format!("{page}/suspend"),
                    &[("length", "week"), ("reason", "Reporting posts as a group")],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303);
        }

        // Act: one more long-standing member reports it.
        report(&app, &third, &class, &message.id, "a real concern").await;

        // Assert: still shown (one counting report, not three); the two
        // suspended reports stay in the queue, not counting.
        assert!(chat_seen(&app, &reader, &class).await.contains(text));
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("the message is queued");
        assert!(
            card.contains("brigade one") && card.contains("brigade two"),
            "{card}"
        );
        assert!(card.contains("1 counting toward hiding"), "{card}");
        // Said as for a newcomer's report: the card does not tell which
        // reports were made by the students the moderator suspended.
        assert_eq!(
            card.matches("or from an account suspended since").count(),
            2,
            "{card}"
        );
    }
);

// ---------------------------------------------------------------- 7. evidence

backend_test!(
    async fn an_author_cannot_edit_or_delete_away_a_reported_message(backend: Backend) {
        // Arrange: a reported message.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auth7");
        let reporter = app.student("rpq2");
        let reader = app.student("rdr3");
        let moderator = staff(&app, "mos4", Role::Moderator);
        let class = new_class(&app, "ECON 2010", &[&author, &reporter, &reader]);
        let original = "you are all losers and I know where you live";
        let edited = "just kidding everyone, have a nice weekend";
        let message = post_message(&app, &author, &class, original).await;
        report(&app, &reporter, &class, &message.id, "a threat").await;

        // Act: the author edits it, then deletes it.
        let r = author
            .post(
                &app,
                &format!("/classes/{}", class.id),
                &format!("/messages/{}/edit", message.id),
                &[("content", edited)],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "edit");
        let page = chat_seen(&app, &reader, &class).await;
        assert!(page.contains(edited) && !page.contains(original));
        let r = author
            .post(
                &app,
                &format!("/classes/{}", class.id),
                &format!("/messages/{}/delete", message.id),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "delete");

        // Assert: no student sees either text, in the raw HTML of the class chat.
        for viewer in [&reader, &reporter, &author] {
            let page = chat_seen(&app, viewer, &class).await;
            assert!(!page.contains(original), "old text shown to a student");
            assert!(!page.contains(edited), "last text shown to a student");
            assert!(!page.contains("deleted by author"));
        }
        // Kept for the moderators, it leaves the class's view as any message
        // deleted without replies does: no "[deleted]" row hinting it was
        // reported.
        assert!(!chat_seen(&app, &reader, &class).await.contains("[deleted]"));

        // The moderators' queue shows both versions and who removed it.
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("still in the queue");
        assert!(card.contains(original), "{card}");
        assert!(card.contains(edited), "{card}");
        assert!(card.contains("deleted by author"), "{card}");
        assert!(card.contains("replaced by an edit"), "{card}");
        assert!(card.contains("a threat"), "the report is kept: {card}");

        // The audit log has a row for it, without naming the author on the page.
        let rows = audit_rows(&app, AuditAction::AuthorDelete);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].target_id, message.id.to_string());
        assert_eq!(rows[0].actor_id.as_ref(), Some(&author.user.id));
        let (status, audit) = moderator.get(&app, "/admin/audit").await;
        assert_eq!(status, 200);
        let row = r#"<td data-label="Action">deleted their reported message</td>"#;
        assert!(audit.contains(row), "{audit}");
        assert!(
            audit.contains("its author (a reveal names them)"),
            "{audit}"
        );
        assert!(!audit.contains("auth7"), "only a reveal names the author");
        let (status, filtered) = moderator.get(&app, "/admin/audit?actor=auth7").await;
        assert_eq!(status, 200);
        assert!(
            !filtered.contains(row),
            "filtering by person does not list their author deletes"
        );
        // Students cannot read the audit log at all.
        assert_eq!(reader.get(&app, "/admin/audit").await.0, 404);
        assert_eq!(author.get(&app, "/admin/audit").await.0, 404);

        // The moderator can still act on it: a reveal, once a second staff
        // member approves, names the author and shows what was deleted.
        let r = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{}/reveal", message.id),
                &[("reason", "a threat against classmates")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let request = r
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let second = staff(&app, "ad9z", Role::Admin);
        let r = second
            .post(&app, "/admin/reveals", &format!("{request}/approve"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let (_, revealed) = moderator.get(&app, &request).await;
        assert!(revealed.contains("auth7@virginia.edu"), "{revealed}");
        assert!(
            revealed.contains(edited),
            "the reveal shows what was deleted"
        );

        // The author's own export does not hold the versions kept for the
        // report: their being there would tell the author it was reported
        // (and, in a small class, by whom), which no moderator decided on.
        assert!(exported_versions(&app, &author).await.is_empty());
        // Nor does it list the message its author deleted: an ordinary one
        // deleted the same way is gone from the export too.
        let response = author
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        let json: serde_json::Value = response.json().await.unwrap();
        let listed: Vec<&str> = json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert!(!listed.contains(&message.id.as_str()), "{json}");
        // Nobody else's export carries it.
        let response = reader
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        assert!(!body.contains(original) && !body.contains(edited));
    }
);

/// The earlier texts of `who`'s messages in their own export.
async fn exported_versions(app: &TestApp, who: &Student) -> Vec<String> {
    let response = who
        .client
        .get(app.url("/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let json: serde_json::Value = response.json().await.unwrap();
    json["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["content"].as_str().unwrap().to_string())
        .collect()
}

backend_test!(
    async fn an_export_lists_only_the_text_a_moderator_removed(backend: Backend) {
        // Arrange: a reported message its author edited: its first text is
        // kept for the moderators.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auth8");
        let reporter = app.student("rpq3");
        let moderator = staff(&app, "mos5", Role::Moderator);
        let class = new_class(&app, "ECON 2010", &[&author, &reporter]);
        let original = "meet me behind the library, loser";
        let message = post_message(&app, &author, &class, original).await;
        report(&app, &reporter, &class, &message.id, "a threat").await;
        let r = author
            .post(
                &app,
                &format!("/classes/{}", class.id),
                &format!("/messages/{}/edit", message.id),
                &[("content", "see you all at the review session")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303, "edit");
        assert!(exported_versions(&app, &author).await.is_empty());

        // Act: a moderator hides it (the author is told), then removes it.
        for action in ["hide", "delete"] {
            let r = moderator
                .post(
                    &app,
                    "/admin/flags",
                    &format!("/admin/messages/{}/{action}", message.id),
                    &[("category", "harassment")],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303, "{action}");
            // Assert: the version kept for the report stays the moderators'
            // (it exists only because of the report); the removed text,
            // which the author was told of, is theirs.
            let versions = exported_versions(&app, &author).await;
            assert!(!versions.contains(&original.to_string()), "{versions:?}");
            if action == "delete" {
                assert_eq!(versions, ["see you all at the review session"]);
            } else {
                assert!(versions.is_empty(), "{versions:?}");
            }
        }
    }
);

backend_test!(
    async fn a_message_nobody_reported_keeps_no_history(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auw1");
        let reader = app.student("rdx2");
        let class = new_class(&app, "MATH 1310", &[&author, &reader]);
        let message = post_message(&app, &author, &class, "first draft of a question").await;
        let page = format!("/classes/{}", class.id);
        let r = author
            .post(
                &app,
                &page,
                &format!("/messages/{}/edit", message.id),
                &[("content", "second draft of a question")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let r = author
            .post(
                &app,
                &page,
                &format!("/messages/{}/delete", message.id),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);

        let mut conn = app.conn();
        assert!(
            chat::find(&mut conn, &message.id).unwrap().is_none(),
            "gone"
        );
        let kept: i64 = message_revisions::table
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(kept, 0, "no text hoarded");
        assert!(audit_rows(&app, AuditAction::AuthorDelete).is_empty());
        let html = chat_seen(&app, &reader, &class).await;
        assert!(!html.contains("draft of a question"));
    }
);

backend_test!(
    async fn erasing_an_account_keeps_evidence_under_review_without_the_author(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auy1");
        let reporter = app.student("rpz2");
        let moderator = staff(&app, "mow3", Role::Moderator);
        let class = new_class(&app, "HIST 1501", &[&author, &reporter]);
        let reported = post_message(&app, &author, &class, "harassing words to keep").await;
        report(&app, &reporter, &class, &reported.id, "harassment").await;
        let plain = {
            let mut conn = app.conn();
            seed::message(
                &mut conn,
                &author.user,
                &class,
                "Anon_x",
                "harmless words to erase",
                None,
            )
        };

        // And the author's answer to the reporter's question, marked, then
        // reported: kept at the erasure, it must no longer be the answer.
        let answer = {
            let mut conn = app.conn();
            let question = seed::message(
                &mut conn,
                &reporter.user,
                &class,
                "Anon_q",
                "a question",
                None,
            );
            let answer = seed::message(
                &mut conn,
                &author.user,
                &class,
                "Anon_x",
                "an answer",
                Some(&question),
            );
            diesel::update(class_messages::table.find(&question.id))
                .set(class_messages::answer_id.eq(&answer.id))
                .execute(&mut conn)
                .unwrap();
            seed::flag(&mut conn, &reporter.user, &answer, "rude");
            (question, answer)
        };
        // The reporter had upvoted it too (before it got rude, say), and
        // follows its thread.
        chat::votes::upvote(&mut app.conn(), &reporter.user, &reported.id, clock::now()).unwrap();
        let page = format!("/classes/{}", class.id);
        let path = format!("/classes/{}/threads/{}/follow", class.id, reported.id);
        let followed = reporter.post(&app, &page, &path, &[]).await;
        assert_eq!(followed.status().as_u16(), 303);

        let erased = {
            let mut conn = app.conn();
            let user = author.user.clone();
            common_grounds::db::write_tx(&mut conn, |c| student_data::erase(c, &user, clock::now()))
                .unwrap()
        };

        assert_eq!(
            erased.messages_kept_as_evidence, 2,
            "the reported message and the reported answer"
        );
        let mut conn = app.conn();
        assert!(chat::find(&mut conn, &plain.id).unwrap().is_none());
        let kept = chat::find(&mut conn, &reported.id).unwrap().unwrap();
        assert!(kept.deleted && kept.user_id.is_none() && kept.content.is_empty());
        // Its votes went, as a delete's do: the reporter's export does not
        // list a vote on a message no page shows.
        let votes = chat::votes::of_voter(&mut conn, &reporter.user.id).unwrap();
        assert!(votes.is_empty(), "{votes:?}");
        let (question, kept_answer) = answer;
        assert!(
            chat::find(&mut conn, &kept_answer.id).unwrap().is_some(),
            "kept"
        );
        let marked = chat::find(&mut conn, &question.id)
            .unwrap()
            .unwrap()
            .answer_id;
        assert_eq!(
            marked, None,
            "an erased student's kept reply is still the answer"
        );
        // Nor does the reporter still follow a thread no page shows.
        let follows: i64 = thread_follows::table
            .filter(thread_follows::thread_id.eq(&reported.id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(follows, 0, "a follow of a thread kept for moderators");
        drop(conn);
        let card = queue_card(&app, &moderator, &reported.id)
            .await
            .expect("still in the queue");
        assert!(card.contains("harassing words to keep"), "{card}");
        assert!(card.contains("harassment"), "{card}");
        let html = chat_seen(&app, &reporter, &class).await;
        assert!(!html.contains("harassing words") && !html.contains("harmless words"));

        // The review ends with the reports dismissed: the kept text and the
        // pseudonym go, as at an erasure with nothing under review.
        moderate(&app, &moderator, &reported.id, "dismiss").await;
        let left: i64 = message_revisions::table
            .filter(message_revisions::message_id.eq(&reported.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(
            left, 0,
            "the erased student's text is not kept after the review"
        );
        let after = chat::find(&mut app.conn(), &reported.id).unwrap().unwrap();
        assert_eq!(
            after.anonymous_identifier,
            chat::personal_data::PLACEHOLDER_PSEUDONYM
        );
        let (_, dismissed) = moderator.get(&app, "/admin/flags?tab=dismissed").await;
        assert!(!dismissed.contains("harassing words to keep"));
    }
);

backend_test!(
    async fn a_report_counts_from_exactly_the_minimum_membership(backend: Backend) {
        // Domain calls with exact times: joined at t0, the rule is 24 hours.
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let class = seed::class(&mut conn, "CS 1110", "1262");
        let author = seed::user(&mut conn, "auz1");
        let early = seed::user(&mut conn, "erx2");
        let on_time = seed::user(&mut conn, "onw3");
        let t0 = clock::now() - Duration::days(2);
        for u in [&author, &early, &on_time] {
            common_grounds::classes::enroll(&mut conn, &u.id, &class.id, t0).unwrap();
        }
        let message = seed::message(&mut conn, &author, &class, "Anon_a", "a question", None);
        let rules = chat::Rules::new(b"test-secret-key-that-is-long-enough-0123456789", 1);
        let no_reason = chat::FlagReason::parse(None).unwrap();
        let day = Duration::hours(24);

        let (_, outcome) = chat::flag(
            &mut conn,
            &early.id,
            &message.id,
            &no_reason,
            &rules,
            t0 + day - Duration::seconds(1),
        )
        .unwrap();
        assert_eq!(outcome, chat::FlagOutcome::Flagged { hidden: false });
        let row = chat::find(&mut conn, &message.id).unwrap().unwrap();
        assert_eq!(
            (row.flagged_count, row.hidden),
            (0, false),
            "a second short"
        );

        let (_, outcome) = chat::flag(
            &mut conn,
            &on_time.id,
            &message.id,
            &no_reason,
            &rules,
            t0 + day,
        )
        .unwrap();
        assert_eq!(outcome, chat::FlagOutcome::Flagged { hidden: true });
        let row = chat::find(&mut conn, &message.id).unwrap().unwrap();
        assert_eq!(
            (row.flagged_count, row.hidden),
            (1, true),
            "exactly a day counts"
        );
    }
);

/// PostgreSQL only (SQLite's immediate transactions run one at a time): the
/// third and fourth reports arrive together, each having read the message
/// before the other hid it. It is hidden once: one entry in the log, one
/// notice to its author, one event for open pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reports_at_the_threshold_hide_a_message_once() {
    use common_grounds::db::schema::{chat_events, notifications};
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let author = app.student("au1t");
    let reporters: Vec<Student> = ["rpw1", "rpx2", "rpy3", "rpz4"]
        .iter()
        .map(|id| app.student(id))
        .collect();
    let mut members: Vec<&Student> = reporters.iter().collect();
    members.push(&author);
    let class = new_class(&app, "CS 2150", &members);
    for s in &members {
        joined_ago(&app, s, &class, Duration::days(3));
    }
    let message = post_message(&app, &author, &class, "a fine opinion about the midterm").await;
    for (who, reason) in reporters[..2].iter().zip(["one", "two"]) {
        report(&app, who, &class, &message.id, reason).await;
    }

    // The class's writers wait on a lock another connection holds, so both
    // reports have read the message when they go on.
    let key = format!("chat-class:{}", class.id);
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!("SELECT pg_advisory_lock(hashtext('{key}'))"))
        .unwrap();
    let release = when_waiting(&app.db, 2, std::time::Duration::from_secs(4), move || {
        holder
            .batch_execute(&format!("SELECT pg_advisory_unlock(hashtext('{key}'))"))
            .unwrap();
    });
    let (_, _, seen) = tokio::join!(
        report(&app, &reporters[2], &class, &message.id, "three"),
        report(&app, &reporters[3], &class, &message.id, "four"),
        release,
    );
    assert_eq!(seen.unwrap().0, 2, "both reports waited on the class");

    let mut conn = app.conn();
    let hides: i64 = chat_events::table
        .filter(chat_events::message_id.eq(message.id.as_str()))
        .filter(chat_events::kind.eq("hide"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let notices: i64 = notifications::table
        .filter(notifications::user_id.eq(&author.user.id))
        .filter(notifications::kind.eq("message_hidden"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let logged: i64 = audit_log::table
        .filter(audit_log::target_id.eq(message.id.as_str()))
        .filter(audit_log::action.eq("hide"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(
        (hides, notices, logged),
        (1, 1, 1),
        "events, notices, log entries"
    );
    let flagged: i32 = class_messages::table
        .find(&message.id)
        .select(class_messages::flagged_count)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(flagged, 4, "every report counts");
}

/// PostgreSQL only: a report made while its reporter's suspension commits. The
/// suspension holds the reporter's row (as a moderator's does) and uncounts
/// the reports it can see; the report waits for it, sees the suspension, and
/// is refused instead of counting after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_racing_its_reporters_suspension_does_not_count() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let author = app.student("au1t");
    let reporter = app.student("rpw1");
    let class = new_class(&app, "CS 2150", &[&author, &reporter]);
    for s in [&author, &reporter] {
        joined_ago(&app, s, &class, Duration::days(3));
    }
    let message = post_message(&app, &author, &class, "a fine opinion about the midterm").await;

    // A suspension in flight: the reporter's row is held until it commits.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM users WHERE id = '{}' FOR NO KEY UPDATE",
            reporter.user.id
        ))
        .unwrap();
    let suspended = format!(
        "UPDATE users SET suspended_until = now() + interval '7 days' WHERE id = '{}'; COMMIT",
        reporter.user.id
    );
    let commit = when_waiting(&app.db, 1, std::time::Duration::from_secs(10), move || {
        holder.batch_execute(&suspended).unwrap();
    });
    let path = format!("/messages/{}/flag", message.id);
    let class_path = format!("/classes/{}", class.id);
    let (reported, seen) = tokio::join!(
        reporter.post(&app, &class_path, &path, &[("reason", "spam")]),
        commit,
    );
    assert_eq!(seen.unwrap().0, 1, "the report waited on the suspension");

    // Refused as suspended; nothing counted.
    assert_eq!(reported.status().as_u16(), 403);
    let mut conn = app.conn();
    let flagged: i32 = class_messages::table
        .find(&message.id)
        .select(class_messages::flagged_count)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(flagged, 0, "the suspended reporter's report does not count");
}

backend_test!(
    async fn a_report_past_the_days_limit_is_said_on_the_thread(backend: Backend) {
        // Arrange: a reporter who already reported 20 messages today.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au2t");
        let reporter = app.student("rp2w");
        let class = new_class(&app, "CS 2150", &[&author, &reporter]);
        for s in [&author, &reporter] {
            joined_ago(&app, s, &class, Duration::days(3));
        }
        for n in 0..20 {
            let earlier = common::builders::MessageBuilder::new(
                &class.id,
                &author.user.id,
                "Anon_a",
                &format!("an earlier message {n}"),
            )
            .insert(&mut app.conn());
            seed::flag(&mut app.conn(), &reporter.user, &earlier, "spam");
        }
        let message = post_message(&app, &author, &class, "one more opinion").await;
        let thread = format!("/classes/{}/threads/{}", class.id, message.id);

        // Act: the 21st report, from the thread's page.
        let (status, landed) = reporter
            .post_and_follow(
                &app,
                &thread,
                &format!("/messages/{}/flag", message.id),
                &[("reason", "it is rude to the TA"), ("back", &thread)],
            )
            .await;

        // Assert: back on the thread, told why and until when; nothing counted.
        assert_eq!(status, 200);
        assert!(
            landed.contains("Not reported: You can report at most 20"),
            "{landed}"
        );
        assert!(landed.contains("one more opinion"), "{landed}");
        // From the thread list, back at the thread's row (the list's anchors
        // are t-, a thread page's m-).
        let list = format!("/classes/{}", class.id);
        let from_list = reporter
            .post(
                &app,
                &list,
                &format!("/messages/{}/flag", message.id),
                &[("reason", "it is rude to the TA"), ("back", &list)],
            )
            .await;
        assert_eq!(
            from_list.headers()["location"],
            format!("{list}#t-{}", message.id).as_str()
        );
        // A `back` naming a page outside the class (an old form, a
        // hand-made one) is not followed, as no chat form's is: the refusal
        // is said on a page of its own, as with no `back` at all.
        for elsewhere in [
            "/account/sessions",
            "/classes/not-a-class/threads/x",
            "/admin",
        ] {
            let refused = reporter
                .post(
                    &app,
                    &list,
                    &format!("/messages/{}/flag", message.id),
                    &[("reason", "it is rude to the TA"), ("back", elsewhere)],
                )
                .await;
            assert_eq!(refused.status().as_u16(), 429, "{elsewhere}");
            let page = refused.text().await.unwrap();
            assert!(
                page.contains("You can report at most 20"),
                "{elsewhere}: {page}"
            );
        }
        let flagged: i32 = class_messages::table
            .find(&message.id)
            .select(class_messages::flagged_count)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(flagged, 0);
    }
);

backend_test!(
    async fn removed_text_stays_for_staff_until_erasure(backend: Backend) {
        // Arrange: a reported message a moderator removes.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("aur1");
        let reporter = app.student("rpr2");
        let moderator = staff(&app, "mor3", Role::Moderator);
        let class = new_class(&app, "MATH 1310", &[&author, &reporter]);
        let message = post_message(&app, &author, &class, "words a moderator removes").await;
        report(&app, &reporter, &class, &message.id, "rude").await;
        moderate(&app, &moderator, &message.id, "delete").await;

        // Assert: students see "[deleted]"; the text is a moderators' version.
        let html = chat_seen(&app, &reporter, &class).await;
        assert!(!html.contains("words a moderator removes"));
        let kept = || -> Vec<(String, String)> {
            message_revisions::table
                .filter(message_revisions::message_id.eq(&message.id))
                .select((message_revisions::content, message_revisions::ended_by))
                .load(&mut app.conn())
                .unwrap()
        };
        assert_eq!(
            kept(),
            [(
                "words a moderator removes".to_string(),
                "staff_removal".to_string()
            )]
        );

        // Act: the author's account is erased.
        {
            let mut conn = app.conn();
            let user = author.user.clone();
            common_grounds::db::write_tx(&mut conn, |c| {
                student_data::erase(c, &user, clock::now())
            })
            .unwrap();
        }

        // Assert: the kept text goes with the rest of their words.
        assert!(kept().is_empty(), "the removed text outlived the erasure");
    }
);

// The evidence an erasure leaves does not lead back to the person: its
// kept text does not say when the erasure ended it (that time is the
// erasure entry's own), and only the erasure's entry shows the account's id,
// not the entries written while it had a name (an export for a records
// request, say), which the id would tie to it.
backend_test!(
    async fn erased_evidence_does_not_point_back_at_its_author(backend: Backend) {
        // Arrange: a reported message, an export of its author's data, then
        // the author's erasure, as the command line does them.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("aue1");
        let reporter = app.student("rpe2");
        let moderator = staff(&app, "moe3", Role::Moderator);
        let class = new_class(&app, "HIST 2001", &[&author, &reporter]);
        let message = post_message(&app, &author, &class, "words still under report").await;
        report(&app, &reporter, &class, &message.id, "rude").await;
        let id = author.user.id.clone();
        common_grounds::db::write_tx(&mut app.conn(), |tx| {
            common_grounds::moderation::record(
                tx,
                &common_grounds::moderation::NewAuditEntry {
                    id: &common_grounds::moderation::AuditId::new(),
                    actor_id: None,
                    action: AuditAction::ExportData.as_str(),
                    target_type: "user",
                    target_id: id.as_str(),
                    reason: Some("records request 77"),
                    details: None,
                    created_at: clock::now(),
                    class_id: None,
                    category: None,
                },
            )?;
            student_data::erase(tx, &author.user, clock::now())?;
            common_grounds::moderation::record_erasure(tx, &id, None, clock::now())
        })
        .unwrap();

        // Act
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("the evidence waits in the queue");
        let (_, audit) = moderator.get(&app, "/admin/audit").await;

        // Assert: the kept version says how it ended, not when.
        assert!(card.contains("words still under report"), "{card}");
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        let doc = scraper::Html::parse_document(&queue);
        let versions = scraper::Selector::parse("ol.versions li span").unwrap();
        let lines: Vec<String> = doc
            .select(&versions)
            .map(|l| l.text().collect::<String>())
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].ends_with(", removed when the author's account was erased:"),
            "{lines:?}"
        );
        assert!(!lines[0].contains(" to "), "{lines:?}");
        // The id once, on the erasure's own entry; the export's entry
        // names a deleted account, no more.
        assert_eq!(audit.matches(id.as_str()).count(), 1, "{audit}");
        assert!(
            audit.contains(&format!("a deleted account, id {id}")),
            "{audit}"
        );
        assert!(audit.contains("records request 77"), "{audit}");
    }
);

backend_test!(
    async fn a_reports_hide_waits_for_a_decision_that_outlives_its_moderator(backend: Backend) {
        // Arrange: three long-standing members' reports hide a message.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auh1");
        let reporters = [
            app.student("rph1"),
            app.student("rph2"),
            app.student("rph3"),
        ];
        let moderator = staff(&app, "moh4", Role::Moderator);
        let colleague = staff(&app, "moh5", Role::Moderator);
        let mut members: Vec<&Student> = reporters.iter().collect();
        members.push(&author);
        let class = new_class(&app, "PSYC 1010", &members);
        for s in &members {
            joined_ago(&app, s, &class, Duration::days(30));
        }
        let message = post_message(&app, &author, &class, "words three classmates report").await;
        for r in &reporters {
            report(&app, r, &class, &message.id, "rude").await;
        }
        assert!(
            chat::find(&mut app.conn(), &message.id)
                .unwrap()
                .unwrap()
                .hidden
        );

        // The reporters' accounts are erased: their reports go, but the hide
        // still waits for a moderator, offering "Keep hidden".
        for r in &reporters {
            let user = r.user.clone();
            common_grounds::db::write_tx(&mut app.conn(), |c| {
                student_data::erase(c, &user, clock::now())
            })
            .unwrap();
        }
        let waiting: i64 = message_flags::table
            .filter(message_flags::message_id.eq(&message.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(waiting, 0, "no report left to keep it in the queue");
        let card = queue_card(&app, &moderator, &message.id)
            .await
            .expect("a reports' hide waits in the queue");
        assert!(card.contains("Keep hidden"), "{card}");
        assert!(card.contains("Hidden after reports"), "{card}");

        // Act: the moderator keeps it hidden; later their account is
        // deleted (its audit rows keep no actor).
        moderate(&app, &moderator, &message.id, "hide").await;
        assert!(queue_card(&app, &colleague, &message.id).await.is_none());
        diesel::update(audit_log::table.filter(audit_log::actor_id.eq(&moderator.user.id)))
            .set(audit_log::actor_id.eq(None::<String>))
            .execute(&mut app.conn())
            .unwrap();

        // Assert: the decision stands: not back in Waiting, and its card in
        // Hidden says whose it was, as far as is known.
        assert!(
            queue_card(&app, &colleague, &message.id).await.is_none(),
            "a deleted moderator's decision sent it back to Waiting"
        );
        let (_, hidden) = colleague.get(&app, "/admin/flags?state=hidden").await;
        assert!(hidden.contains("Hidden by a deleted account"), "{hidden}");
        assert!(!hidden.contains("Keep hidden"), "{hidden}");
    }
);
