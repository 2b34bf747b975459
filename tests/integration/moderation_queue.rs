//! The report queue and the public moderation log (issue 21, items 1 and 6)
//! over HTTP on SQLite and PostgreSQL: what needs a decision comes first, each
//! decision writes its own audit action, a removal needs a reason category,
//! overdue reports reach the overview, and a class's log names pseudonyms and
//! categories only.

use crate::common;
use crate::common::browser;
use crate::common::seed;

use chrono::{Duration, NaiveDateTime};
use common::builders::MessageBuilder;
use common::*;
use common_grounds::accounts::Role;
use common_grounds::chat::{self, ClassMessage, MessageId};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{audit_log, class_messages, message_flags, user_classes, users};
use common_grounds::moderation::messages::Reason;
use common_grounds::moderation::{self, AuditAction, AuditEntry, ReasonCategory};
use diesel::prelude::*;

// ---------------------------------------------------------------- helpers

fn message(
    app: &TestApp,
    class: &Class,
    author: &Student,
    pseudonym: &str,
    text: &str,
    at: NaiveDateTime,
) -> ClassMessage {
    MessageBuilder::new(&class.id, &author.user.id, pseudonym, text)
        .created_at(at)
        .insert(&mut app.conn())
}

/// `by` reported `m`, `ago` before now.
fn reported(app: &TestApp, by: &Student, m: &ClassMessage, ago: Duration) {
    seed::flag(&mut app.conn(), &by.user, m, "this one is a problem");
    diesel::update(
        message_flags::table
            .filter(message_flags::message_id.eq(&m.id))
            .filter(message_flags::user_id.eq(&by.user.id)),
    )
    .set(message_flags::created_at.eq(clock::now() - ago))
    .execute(&mut app.conn())
    .unwrap();
}

/// Hidden as the reports' automatic hide leaves it (no staff decision).
fn hidden_by_reports(app: &TestApp, m: &ClassMessage) {
    diesel::update(class_messages::table.find(&m.id))
        .set(class_messages::hidden.eq(true))
        .execute(&mut app.conn())
        .unwrap();
}

fn stored(app: &TestApp, id: &MessageId) -> ClassMessage {
    chat::find(&mut app.conn(), id).unwrap().unwrap()
}

fn audit_of(app: &TestApp, id: &MessageId) -> Vec<AuditEntry> {
    audit_log::table
        .filter(audit_log::target_id.eq(id.as_str()))
        .order(audit_log::created_at)
        .select(AuditEntry::as_select())
        .load(&mut app.conn())
        .unwrap()
}

fn waiting_reports_on(app: &TestApp, id: &MessageId) -> i64 {
    message_flags::table
        .filter(message_flags::message_id.eq(id))
        .filter(message_flags::cleared_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The message ids of the queue's cards, top to bottom.
fn card_ids(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("section.flagged").unwrap();
    doc.select(&sel)
        .filter_map(|s| s.value().attr("data-message-id").map(str::to_string))
        .collect()
}

/// The text of the queue card of one message.
fn card_text(html: &str, id: &MessageId) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("section.flagged").unwrap();
    doc.select(&sel)
        .find(|s| s.value().attr("data-message-id") == Some(id.as_str()))
        .map(|s| s.text().collect::<String>())
}

/// The queue's tabs: (label, is the current one).
fn tabs(html: &str) -> Vec<(String, bool)> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("nav.queue-tabs a").unwrap();
    doc.select(&sel)
        .map(|a| {
            (
                a.text().collect::<String>(),
                a.value().attr("aria-current") == Some("page"),
            )
        })
        .collect()
}

fn ids(messages: &[&ClassMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.to_string()).collect()
}

/// A class with four flagged messages as issue 21 describes them: one hidden
/// with 3 reports, one with 2, and two with 1 of different ages (the older
/// report on the newer message, so message date alone would get it wrong).
struct Flagged {
    app: TestApp,
    class: Class,
    moderator: Student,
    hidden: ClassMessage,
    two: ClassMessage,
    older_one: ClassMessage,
    newer_one: ClassMessage,
}

async fn four_flagged(backend: Backend) -> Flagged {
    let app = spawn_quiet_app(backend, &[]).await;
    let author = app.student("au1q");
    let r: Vec<Student> = ["r1q", "r2q", "r3q"]
        .iter()
        .map(|c| app.student(c))
        .collect();
    let moderator = staff(&app, "mo1q", Role::Moderator);
    let class = new_class(&app, "CS 2150", &[&author, &r[0], &r[1], &r[2]]);
    let now = clock::now();
    let hidden = message(&app, &class, &author, "Quiet Otter", "hidden words", now);
    let two = message(
        &app,
        &class,
        &author,
        "Quiet Otter",
        "twice reported",
        now - Duration::hours(1),
    );
    let older_one = message(
        &app,
        &class,
        &author,
        "Quiet Otter",
        "reported long ago",
        now - Duration::minutes(2),
    );
    let newer_one = message(
        &app,
        &class,
        &author,
        "Quiet Otter",
        "reported just now",
        now - Duration::hours(10),
    );
    message(
        &app,
        &class,
        &author,
        "Quiet Otter",
        "nobody minds this",
        now,
    );
    for by in &r {
        reported(&app, by, &hidden, Duration::minutes(5));
    }
    hidden_by_reports(&app, &hidden);
    reported(&app, &r[0], &two, Duration::minutes(20));
    reported(&app, &r[1], &two, Duration::minutes(10));
    reported(&app, &r[0], &older_one, Duration::hours(5));
    reported(&app, &r[2], &newer_one, Duration::hours(1));
    Flagged {
        app,
        class,
        moderator,
        hidden,
        two,
        older_one,
        newer_one,
    }
}

// ---------------------------------------------------------------- 1. order and tabs

backend_test!(
    async fn the_queue_puts_hidden_then_most_reports_first(backend: Backend) {
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);

        let (status, html) = moderator.get(app, "/admin/flags").await;
        assert_eq!(status, 200);
        assert_eq!(
            card_ids(&html),
            ids(&[&f.hidden, &f.two, &f.older_one, &f.newer_one]),
            "hidden, then 2 reports, then the older single report, then the newer"
        );
        // The explicit tab is the same list.
        let (_, explicit) = moderator.get(app, "/admin/flags?state=waiting").await;
        assert_eq!(card_ids(&explicit), card_ids(&html));
        assert_eq!(
            tabs(&html),
            vec![
                ("Waiting (4)".to_string(), true),
                ("Hidden (1)".to_string(), false),
                ("Dismissed (0)".to_string(), false),
                ("Removed (0)".to_string(), false),
            ]
        );
        let card = card_text(&html, &f.hidden.id).unwrap();
        assert!(card.contains("Hidden"), "{card}");
        assert!(!card.contains("Overdue"), "five minutes is not overdue");
        // In "The thread", the reported line says so in words, not colour alone.
        let doc = scraper::Html::parse_document(&html);
        let marked = scraper::Selector::parse("ul.thread li.this-one").unwrap();
        let lines: Vec<String> = doc
            .select(&marked)
            .map(|li| li.text().collect::<String>())
            .collect();
        assert!(!lines.is_empty(), "{html}");
        assert!(
            lines.iter().all(|l| l.starts_with("Reported ")),
            "{lines:?}"
        );

        let (status, hidden_tab) = moderator.get(app, "/admin/flags?state=hidden").await;
        assert_eq!(status, 200);
        assert_eq!(card_ids(&hidden_tab), ids(&[&f.hidden]));
        assert!(tabs(&hidden_tab).contains(&("Hidden (1)".to_string(), true)));

        // An unknown tab is refused in words, not a 500 or an empty list.
        let (status, page) = moderator.get(app, "/admin/flags?state=pending").await;
        assert_eq!(status, 400);
        assert!(
            page.contains("Choose one of: waiting, hidden, dismissed, removed"),
            "{page}"
        );
        // The page's statements do not grow with its cards: six more flagged
        // messages (with reports, versions and threads) cost nothing more.
        let before = app.query_count();
        moderator.get(app, "/admin/flags").await;
        let four_cards = app.query_count() - before;
        let author = app.student("au2q");
        let reporter = app.student("rp2q");
        seed::enroll(&mut app.conn(), &author.user, &f.class);
        seed::enroll(&mut app.conn(), &reporter.user, &f.class);
        for i in 0..6 {
            let m = message(
                app,
                &f.class,
                &author,
                "Amber Finch",
                &format!("more to review {i}"),
                clock::now(),
            );
            reported(app, &reporter, &m, Duration::minutes(i));
        }
        let before = app.query_count();
        let (_, ten) = moderator.get(app, "/admin/flags").await;
        assert_eq!(card_ids(&ten).len(), 10);
        assert_eq!(app.query_count() - before, four_cards, "no query per card");
        assert!(!ten.contains("Showing 50 of"));
        // Past 50, the page says how many it leaves for later.
        for i in 0..41 {
            let m = message(
                app,
                &f.class,
                &author,
                "Amber Finch",
                &format!("yet more {i}"),
                clock::now(),
            );
            seed::flag(&mut app.conn(), &reporter.user, &m, "spam");
        }
        let (_, full) = moderator.get(app, "/admin/flags").await;
        assert_eq!(card_ids(&full).len(), 50);
        assert!(full.contains("Showing 50 of 51"), "the limit is said");
        assert_eq!(card_ids(&full)[0], f.hidden.id.to_string());

        // Students still get nothing here.
        let student = app.student("st9q");
        let (status, _) = student.get(app, "/admin/flags?state=hidden").await;
        assert_eq!(status, 404);
    }
);

// ---------------------------------------------------------------- 2. decisions

backend_test!(
    async fn a_message_hidden_by_reports_then_deleted_can_be_marked_reviewed(backend: Backend) {
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        // Its author deleted it after the reports hid it: only "Mark
        // reviewed" is left on its card.
        diesel::update(class_messages::table.find(&f.hidden.id))
            .set(class_messages::deleted.eq(true))
            .execute(&mut app.conn())
            .unwrap();

        let r = moderator
            .post(
                app,
                "/admin/flags",
                &format!("/admin/messages/{}/dismiss", f.hidden.id),
                &[],
            )
            .await;

        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(waiting_reports_on(app, &f.hidden.id), 0, "reports reviewed");
        let (_, queue) = moderator.get(app, "/admin/flags").await;
        assert!(card_text(&queue, &f.hidden.id).is_none(), "{queue}");
    }
);

backend_test!(
    async fn dismiss_restore_and_remove_each_write_their_own_audit_action(backend: Backend) {
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        let act = |id: &MessageId, action: &str| format!("/admin/messages/{id}/{action}");

        // Dismiss: the reports were wrong; the message stays shown.
        let r = moderator
            .post(app, "/admin/flags", &act(&f.two.id, "dismiss"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let audit = audit_of(app, &f.two.id);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, AuditAction::Dismiss);
        assert_eq!(audit[0].class_id.as_deref(), Some(f.class.id.as_str()));
        assert_eq!(audit[0].actor_id.as_ref(), Some(&moderator.user.id));
        let two = stored(app, &f.two.id);
        assert!(!two.hidden && !two.deleted, "left as it was");
        assert_eq!(waiting_reports_on(app, &f.two.id), 0, "reports reviewed");

        // A dismissal from a card loaded before reports hid the message is
        // refused: "left as it was" would leave it hidden by reports with no
        // decision the queue could still take.
        let (status, page) = moderator
            .post_and_follow(app, "/admin/flags", &act(&f.hidden.id, "dismiss"), &[])
            .await;
        assert_eq!(status, 200);
        assert!(
            page.contains("Reports hid this message since the page was loaded"),
            "{page}"
        );
        assert!(stored(app, &f.hidden.id).hidden);
        assert!(audit_of(app, &f.hidden.id).is_empty());
        assert_eq!(waiting_reports_on(app, &f.hidden.id), 3);

        // Restore: un-hidden, logged as restore (not dismiss).
        let r = moderator
            .post(app, "/admin/flags", &act(&f.hidden.id, "restore"), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let audit = audit_of(app, &f.hidden.id);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, AuditAction::Restore);
        assert!(!stored(app, &f.hidden.id).hidden);

        // Remove without a category, with a made-up one, and "other" without
        // words: each refused in words, back on the queue (not a dead end),
        // with the words typed to paste again; nothing changes.
        let refusals: [(&[(&str, &str)], &str); 3] = [
            (&[("reason", "rude <b>")], "Choose why"),
            (
                &[("category", "rude"), ("reason", "rude <b>")],
                "not one of the list",
            ),
            (&[("category", "other"), ("reason", "  ")], "other"),
        ];
        for (fields, words) in refusals {
            let r = moderator
                .post(app, "/admin/flags", &act(&f.older_one.id, "delete"), fields)
                .await;
            assert_eq!(r.status().as_u16(), 303, "{fields:?}");
            assert_eq!(r.headers()["location"], "/admin/flags", "{fields:?}");
            let (_, page) = moderator.get(app, "/admin/flags").await;
            let alert = scraper::Html::parse_document(&page)
                .select(&scraper::Selector::parse("#flash").unwrap())
                .next()
                .map(|n| n.text().collect::<String>())
                .unwrap_or_default();
            assert!(alert.contains(words), "{fields:?}: {page}");
            assert!(alert.contains("Nothing was changed"), "{alert}");
            if fields.iter().any(|(_, v)| *v == "rude <b>") {
                assert!(alert.contains("to paste again: “rude <b>”"), "{alert}");
                assert!(!page.contains("rude <b>"), "escaped: {page}");
            }
        }
        let (_, page) = moderator
            .post_and_follow(app, "/admin/flags", &act(&f.newer_one.id, "hide"), &[])
            .await;
        assert!(page.contains("Choose why"), "a hide needs a category too");
        // A long reason is quoted up to its first 150 characters, the quote
        // closed: the whole refusal fits the one-time message.
        let long = format!("{}\nsecond line", "w".repeat(300));
        let (_, page) = moderator
            .post_and_follow(
                app,
                "/admin/flags",
                &act(&f.newer_one.id, "hide"),
                &[("reason", long.as_str())],
            )
            .await;
        assert!(
            page.contains(&format!("to paste again: “{}…”", "w".repeat(150))),
            "{page}"
        );
        let untouched = stored(app, &f.older_one.id);
        assert!(!untouched.deleted && untouched.content == "reported long ago");
        assert!(!stored(app, &f.newer_one.id).hidden);
        assert!(audit_of(app, &f.older_one.id).is_empty());
        assert!(audit_of(app, &f.newer_one.id).is_empty());
        assert_eq!(waiting_reports_on(app, &f.older_one.id), 1);

        // Remove with a category and words: logged as delete with its category.
        let r = moderator
            .post(
                app,
                "/admin/flags",
                &act(&f.older_one.id, "delete"),
                &[
                    ("category", "personal_info"),
                    ("reason", "Posted a phone number"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let audit = audit_of(app, &f.older_one.id);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, AuditAction::Delete);
        assert_eq!(audit[0].category.as_deref(), Some("personal_info"));
        assert_eq!(audit[0].reason.as_deref(), Some("Posted a phone number"));
        assert!(stored(app, &f.older_one.id).deleted);

        // The tabs sort the decisions: dismissed and removed hold one each;
        // only the untouched single report still waits.
        let (_, waiting) = moderator.get(app, "/admin/flags").await;
        assert_eq!(card_ids(&waiting), ids(&[&f.newer_one]));
        let (_, dismissed) = moderator.get(app, "/admin/flags?state=dismissed").await;
        assert_eq!(card_ids(&dismissed), ids(&[&f.two]));
        assert!(card_text(&dismissed, &f.two.id)
            .unwrap()
            .contains("Reports dismissed"));
        let (_, removed) = moderator.get(app, "/admin/flags?state=removed").await;
        assert_eq!(card_ids(&removed), ids(&[&f.older_one]));
        let card = card_text(&removed, &f.older_one.id).unwrap();
        assert!(card.contains("Removed · personal information"), "{card}");
        // Students see "[deleted]"; moderators can still read what was removed.
        assert!(
            card.contains("removed by a moderator:") && card.contains("reported long ago"),
            "{card}"
        );
        assert_eq!(
            stored(app, &f.older_one.id).content,
            "",
            "gone from the message"
        );
        assert_eq!(
            tabs(&removed),
            vec![
                ("Waiting (1)".to_string(), false),
                ("Hidden (0)".to_string(), false),
                ("Dismissed (1)".to_string(), false),
                ("Removed (1)".to_string(), true),
            ]
        );
        // Reported by someone new after the dismissal, it waits again, after the
        // report that has waited longer.
        let again = app.student("ag1q");
        seed::enroll(&mut app.conn(), &again.user, &f.class);
        reported(app, &again, &f.two, Duration::minutes(1));
        let (_, waiting) = moderator.get(app, "/admin/flags").await;
        assert_eq!(card_ids(&waiting), ids(&[&f.newer_one, &f.two]));
    }
);

backend_test!(
    async fn a_hide_is_a_decision_and_keep_hidden_decides_one_by_reports(backend: Backend) {
        use common_grounds::db::schema::notifications;
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        let act = |id: &MessageId, action: &str| format!("/admin/messages/{id}/{action}");
        let (_, html) = moderator.get(app, "/admin/flags").await;
        let card = card_text(&html, &f.hidden.id).unwrap();
        assert!(
            card.contains("Keep hidden") && card.contains("Restore"),
            "{card}"
        );
        assert!(!card_text(&html, &f.two.id).unwrap().contains("Keep hidden"));

        // A moderator hides a shown, reported message: decided, so it leaves
        // Waiting for Hidden, its reports reviewed, with no "Keep hidden".
        let r = moderator
            .post(
                app,
                "/admin/flags",
                &act(&f.two.id, "hide"),
                &[("category", "spam")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(waiting_reports_on(app, &f.two.id), 0);
        let (_, html) = moderator.get(app, "/admin/flags").await;
        assert_eq!(
            card_ids(&html),
            ids(&[&f.hidden, &f.older_one, &f.newer_one])
        );
        let (_, hidden_tab) = moderator.get(app, "/admin/flags?state=hidden").await;
        assert_eq!(card_ids(&hidden_tab), ids(&[&f.hidden, &f.two]));
        let card = card_text(&hidden_tab, &f.two.id).unwrap();
        assert!(
            card.contains("Restore") && !card.contains("Keep hidden"),
            "{card}"
        );
        // A colleague reads who hid it and why before undoing it.
        assert!(
            card.contains("Last decision: Hidden by mo1q · spam or off-topic"),
            "{card}"
        );

        // The one reports hid: "Keep hidden" is the moderator's decision. It
        // stays hidden, leaves Waiting, and its author hears a moderator's words.
        let (status, page) = moderator
            .post_and_follow(
                app,
                "/admin/flags",
                &act(&f.hidden.id, "hide"),
                &[("category", "harassment"), ("reason", "Name-calling")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("kept hidden"), "{page}");
        assert!(stored(app, &f.hidden.id).hidden);
        assert_eq!(waiting_reports_on(app, &f.hidden.id), 0);
        assert_eq!(card_ids(&page), ids(&[&f.older_one, &f.newer_one]));
        assert!(tabs(&page).contains(&("Waiting (2)".to_string(), true)));
        let author = stored(app, &f.hidden.id).user_id.unwrap();
        let told: Vec<(String, Option<String>)> = notifications::table
            .filter(notifications::user_id.eq(&author))
            .filter(notifications::message_id.eq(&f.hidden.id))
            .select((notifications::kind, notifications::detail))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].0, "message_hidden");
        assert!(
            told[0].1.as_deref().unwrap().contains("Name-calling"),
            "{told:?}"
        );

        // Pressed again, it is decided already: refused, nothing logged.
        let (_, again) = moderator
            .post_and_follow(
                app,
                "/admin/flags",
                &act(&f.hidden.id, "hide"),
                &[("category", "harassment")],
            )
            .await;
        assert!(again.contains("already hidden"), "{again}");
        assert_eq!(audit_of(app, &f.hidden.id).len(), 1);

        // Restoring the other, a moderator says why, for the staff log.
        let r = moderator
            .post(
                app,
                "/admin/flags?state=hidden",
                &act(&f.two.id, "restore"),
                &[("reason", "Context: a quote from the reading")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let restored = audit_of(app, &f.two.id);
        assert_eq!(restored.last().unwrap().action, AuditAction::Restore);
        assert_eq!(
            restored.last().unwrap().reason.as_deref(),
            Some("Context: a quote from the reading")
        );
    }
);

backend_test!(
    async fn a_second_press_changes_nothing_and_logs_nothing(backend: Backend) {
        // Arrange: one message hidden, one dismissed, one removed, as a first
        // moderator's presses leave them.
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        let act = |id: &MessageId, action: &str| format!("/admin/messages/{id}/{action}");
        let spam = [("category", "spam")];
        let firsts = [
            (&f.newer_one, "hide", &spam[..]),
            (&f.two, "dismiss", &[][..]),
            (&f.older_one, "delete", &spam[..]),
        ];
        for (message, action, fields) in firsts {
            let r = moderator
                .post(app, "/admin/flags", &act(&message.id, action), fields)
                .await;
            assert_eq!(r.status().as_u16(), 303, "{action}");
        }

        // Act: a second moderator's stale page presses again (and restores a
        // message that is shown, and acts on the removed one).
        let seconds = [
            (&f.newer_one, "hide", &spam[..], "already hidden"),
            (&f.two, "dismiss", &[][..], "No report"),
            (&f.two, "restore", &[][..], "not hidden"),
            (&f.older_one, "restore", &[][..], "deleted"),
            (&f.older_one, "hide", &spam[..], "deleted"),
            (&f.older_one, "delete", &spam[..], "deleted"),
        ];
        let mut answers = Vec::new();
        for (message, action, fields, _) in seconds {
            let r = moderator
                .post(app, "/admin/flags", &act(&message.id, action), fields)
                .await;
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            // The flash is shown once, on the next page.
            let (_, page) = moderator.get(app, "/admin/flags").await;
            answers.push((status, location, page));
        }

        // Assert: each refused in words, back on the queue (not a dead end);
        // each message keeps its one log row and its state.
        for ((_, action, _, words), (status, location, page)) in seconds.iter().zip(&answers) {
            assert_eq!(*status, 303, "{action}");
            assert_eq!(location.as_deref(), Some("/admin/flags"), "{action}");
            assert!(page.contains(words), "{action}: {page}");
            assert!(page.contains("Nothing was changed"), "{action}: {page}");
        }
        for message in [&f.newer_one, &f.two, &f.older_one] {
            assert_eq!(audit_of(app, &message.id).len(), 1, "{}", message.content);
        }
        assert!(stored(app, &f.newer_one.id).hidden);
        assert!(!stored(app, &f.two.id).hidden);
        let removed = stored(app, &f.older_one.id);
        assert!(removed.deleted && !removed.hidden);
    }
);

backend_test!(
    async fn two_moderators_pressing_at_once_act_once(backend: Backend) {
        // Arrange: three shown messages under report.
        let f = four_flagged(backend).await;
        let targets = [
            f.two.id.clone(),
            f.older_one.id.clone(),
            f.newer_one.id.clone(),
        ];

        // Act: for each, two moderators press "Hide" at the same moment.
        for id in &targets {
            let start = std::sync::Arc::new(std::sync::Barrier::new(2));
            let presses: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, start, id) = (f.app.pool.clone(), start.clone(), id.clone());
                    let actor = f.moderator.user.id.clone();
                    std::thread::spawn(move || {
                        let mut conn = pool.get().unwrap();
                        let reason = Reason::new(ReasonCategory::Spam, None).unwrap();
                        start.wait();
                        moderation::messages::hide(&mut conn, &actor, &id, &reason, clock::now())
                    })
                })
                .collect();
            let outcomes: Vec<_> = presses.into_iter().map(|p| p.join().unwrap()).collect();

            // Assert: one hid it, the other was told it already was; one log row.
            let hid = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(hid, 1, "{outcomes:?}");
            assert!(outcomes
                .iter()
                .any(|o| matches!(o, Err(moderation::messages::ActionError::AlreadyHidden))));
            assert_eq!(audit_of(&f.app, id).len(), 1);
        }
    }
);

/// The `decided` field of `id`'s card on a queue page, as its forms carry it.
fn decided_on_card(html: &str, id: &MessageId) -> String {
    let card = &html[html
        .find(&format!("data-message-id=\"{id}\""))
        .expect("the card is on the page")..];
    let field = "name=\"decided\" value=\"";
    let at = card.find(field).expect("a decided field") + field.len();
    card[at..at + card[at..].find('"').unwrap()].to_string()
}

backend_test!(
    async fn a_decision_from_a_stale_card_does_not_overrule_one_made_since(backend: Backend) {
        // Arrange: two moderators load the queue; the message reports hid
        // (three reports) shows "Keep hidden" and "Restore" to both.
        let f = four_flagged(backend).await;
        let (app, first) = (&f.app, &f.moderator);
        let second = staff(app, "mo2q", Role::Moderator);
        let (_, page) = second.get(app, "/admin/flags").await;
        let seen = decided_on_card(&page, &f.hidden.id);
        assert_eq!(seen, "none", "no decision yet");
        let act = |id: &MessageId, action: &str| format!("/admin/messages/{id}/{action}");

        // Act: the first keeps it hidden; then the second, from the card
        // loaded before, presses Restore.
        let (_, page) = first.get(app, "/admin/flags").await;
        let kept = first
            .post(
                app,
                "/admin/flags",
                &act(&f.hidden.id, "hide"),
                &[
                    ("category", "harassment"),
                    ("decided", &decided_on_card(&page, &f.hidden.id)),
                ],
            )
            .await;
        assert_eq!(kept.status().as_u16(), 303);
        let (status, answer) = second
            .post_and_follow(
                app,
                "/admin/flags",
                &act(&f.hidden.id, "restore"),
                &[("decided", &seen), ("reason", "Looks fine to me")],
            )
            .await;

        // Assert: refused, back on the queue, saying why and with the note
        // to paste again; the message stays hidden, one decision logged, and
        // its author was told once.
        assert_eq!(status, 200);
        assert!(
            answer.contains("This message was decided on since you loaded the page"),
            "{answer}"
        );
        assert!(answer.contains("Looks fine to me"), "{answer}");
        assert!(stored(app, &f.hidden.id).hidden);
        let audit = audit_of(app, &f.hidden.id);
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].action, AuditAction::Hide);

        // Read again, the card carries the decision, and the restore goes
        // through: a considered overruling is allowed.
        let (_, page) = second.get(app, "/admin/flags?state=hidden").await;
        let fresh = decided_on_card(&page, &f.hidden.id);
        assert_eq!(fresh, audit[0].id.to_string());
        let restored = second
            .post(
                app,
                "/admin/flags?state=hidden",
                &act(&f.hidden.id, "restore"),
                &[("decided", &fresh)],
            )
            .await;
        assert_eq!(restored.status().as_u16(), 303);
        assert!(!stored(app, &f.hidden.id).hidden);

        // The same for a dismissal pressed after a hide made since.
        let (_, page) = second.get(app, "/admin/flags").await;
        let stale = decided_on_card(&page, &f.two.id);
        let hid = first
            .post(
                app,
                "/admin/flags",
                &act(&f.two.id, "hide"),
                &[("category", "spam"), ("decided", &stale)],
            )
            .await;
        assert_eq!(hid.status().as_u16(), 303);
        let (_, answer) = second
            .post_and_follow(
                app,
                "/admin/flags",
                &act(&f.two.id, "dismiss"),
                &[("decided", &stale)],
            )
            .await;
        assert!(answer.contains("decided on since you loaded"), "{answer}");
        assert!(stored(app, &f.two.id).hidden);
        let audit = audit_of(app, &f.two.id);
        assert_eq!(audit.len(), 1, "no dismissal logged: {audit:?}");
        assert_eq!(audit[0].action, AuditAction::Hide);

        // Reports that really hide a message log that hide: the card loaded
        // after it carries it, and Keep hidden from that card goes through.
        let author = app.student("au9q");
        let reporters: Vec<Student> = ["r7q", "r8q", "r9q"]
            .iter()
            .map(|c| app.student(c))
            .collect();
        for who in std::iter::once(&author).chain(&reporters) {
            crate::common::seed::enroll(&mut app.conn(), &who.user, &f.class);
        }
        diesel::update(user_classes::table.filter(user_classes::class_id.eq(&f.class.id)))
            .set(user_classes::enrolled_at.eq(clock::now() - Duration::days(3)))
            .execute(&mut app.conn())
            .unwrap();
        let m = message(
            app,
            &f.class,
            &author,
            "Pale Finch",
            "rude words",
            clock::now(),
        );
        let thread = format!("/classes/{}/threads/{}", f.class.id, m.id);
        for who in &reporters {
            let r = who
                .post(
                    app,
                    &thread,
                    &format!("/messages/{}/flag", m.id),
                    &[("reason", "harassment"), ("back", thread.as_str())],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303);
        }
        assert!(stored(app, &m.id).hidden, "the reports hid it");
        let (_, page) = second.get(app, "/admin/flags").await;
        let seen = decided_on_card(&page, &m.id);
        assert_ne!(seen, "none", "the reports' hide is a decision on the card");
        let kept = second
            .post(
                app,
                "/admin/flags",
                &act(&m.id, "hide"),
                &[("category", "harassment"), ("decided", &seen)],
            )
            .await;
        assert_eq!(kept.status().as_u16(), 303);
        let audit = audit_of(app, &m.id);
        assert_eq!(
            audit.len(),
            2,
            "the reports' hide, then the moderator's: {audit:?}"
        );
        assert_eq!(audit[1].actor_id.as_ref(), Some(&second.user.id));
    }
);

/// On PostgreSQL, two presses that really overlap: both wait on the class's
/// chat (held here by a third transaction, as a post in flight holds it) and
/// go on together when it ends; still one hides and one is told. Without the
/// class lock neither waits, and both would read the message shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_moderators_waiting_together_act_once() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let f = four_flagged(Backend::Postgres).await;
    let id = f.two.id.clone();
    let class_id = stored(&f.app, &id).class_id;
    let mut holder = f.app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('chat-class:{class_id}'))"
        ))
        .unwrap();
    let presses: Vec<_> = (0..2)
        .map(|_| {
            let (pool, id) = (f.app.pool.clone(), id.clone());
            let actor = f.moderator.user.id.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                let reason = Reason::new(ReasonCategory::Spam, None).unwrap();
                moderation::messages::hide(&mut conn, &actor, &id, &reason, clock::now())
            })
        })
        .collect();
    let release = when_waiting(&f.app.db, 2, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").unwrap();
    });
    let (seen, ()) = release.await.unwrap();
    let outcomes: Vec<_> = presses.into_iter().map(|p| p.join().unwrap()).collect();

    assert_eq!(seen, 2, "both presses waited on the class: {outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, Err(moderation::messages::ActionError::AlreadyHidden))));
    assert_eq!(audit_of(&f.app, &id).len(), 1);
}

// ---------------------------------------------------------------- 3. overdue

backend_test!(
    async fn a_report_waiting_48_hours_is_overdue(backend: Backend) {
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        let overdue = |html: &str| -> String {
            let doc = scraper::Html::parse_document(html);
            let sel = scraper::Selector::parse(".overdue-reports dd a").unwrap();
            let a = doc.select(&sel).next().expect("the overdue figure");
            assert_eq!(a.value().attr("href"), Some("/admin/flags"));
            a.text().collect()
        };
        let (status, html) = moderator.get(app, "/admin").await;
        assert_eq!(status, 200);
        assert_eq!(overdue(&html), "0");

        // Backdate the older single report to 49 hours ago.
        diesel::update(message_flags::table.filter(message_flags::message_id.eq(&f.older_one.id)))
            .set(message_flags::created_at.eq(clock::now() - Duration::hours(49)))
            .execute(&mut app.conn())
            .unwrap();
        // And one at 47 hours, which is not overdue yet.
        diesel::update(message_flags::table.filter(message_flags::message_id.eq(&f.newer_one.id)))
            .set(message_flags::created_at.eq(clock::now() - Duration::hours(47)))
            .execute(&mut app.conn())
            .unwrap();
        let (_, html) = moderator.get(app, "/admin").await;
        assert_eq!(overdue(&html), "1");
        assert_eq!(
            moderation::stats::overdue_reports(&mut app.conn(), clock::now()).unwrap(),
            1
        );
        let (_, queue) = moderator.get(app, "/admin/flags").await;
        assert!(card_text(&queue, &f.older_one.id)
            .unwrap()
            .contains("Overdue"));
        assert!(!card_text(&queue, &f.newer_one.id)
            .unwrap()
            .contains("Overdue"));
        // Waiting longest still comes before waiting less, after hidden and most reported.
        assert_eq!(
            card_ids(&queue),
            ids(&[&f.hidden, &f.two, &f.older_one, &f.newer_one])
        );
        // Dismissed, it is no longer overdue.
        moderation::messages::dismiss(
            &mut app.conn(),
            &moderator.user.id,
            &f.older_one.id,
            None,
            clock::now(),
        )
        .unwrap();
        let (_, html) = moderator.get(app, "/admin").await;
        assert_eq!(overdue(&html), "0");

        // Two overdue reports on one message are one overdue card, as the
        // queue shows it.
        diesel::update(message_flags::table.filter(message_flags::message_id.eq(&f.two.id)))
            .set(message_flags::created_at.eq(clock::now() - Duration::hours(50)))
            .execute(&mut app.conn())
            .unwrap();
        assert_eq!(waiting_reports_on(app, &f.two.id), 2);
        let (_, html) = moderator.get(app, "/admin").await;
        assert_eq!(overdue(&html), "1");
    }
);

backend_test!(
    async fn a_card_says_its_message_was_edited_and_what_was_kept(backend: Backend) {
        // Arrange: a post made harmless within the edit window before anyone
        // reported it (its first words kept nowhere), then reported; and a
        // post reported first, then edited (its first words kept).
        let f = four_flagged(backend).await;
        let (app, moderator) = (&f.app, &f.moderator);
        let author = app.student("ed1q");
        let reporter = app.student("ed2q");
        seed::enroll(&mut app.conn(), &author.user, &f.class);
        seed::enroll(&mut app.conn(), &reporter.user, &f.class);
        let mut rules = chat::Rules::new(app.secret_key.as_bytes(), 3);
        rules.post_interval = Duration::zero();
        let body = |t: &str| chat::MessageBody::parse(t).unwrap();
        let post = |t: &str| {
            let draft = chat::Draft {
                class_id: &f.class.id,
                parent_id: None,
                body: &body(t),
            };
            chat::post(&mut app.conn(), &author.user, draft, &rules, clock::now()).unwrap()
        };
        let washed = post("you are a worthless moron");
        let id = washed.id.clone();
        chat::edit(
            &mut app.conn(),
            &author.user.id,
            &id,
            &body("Check the syllabus."),
            &rules,
            clock::now(),
        )
        .unwrap();
        seed::flag(
            &mut app.conn(),
            &reporter.user,
            &washed,
            "called me a moron, then edited it",
        );
        let kept = post("the answers are on my site");
        seed::flag(&mut app.conn(), &reporter.user, &kept, "spam");
        let id = kept.id.clone();
        chat::edit(
            &mut app.conn(),
            &author.user.id,
            &id,
            &body("the answers are in the notes"),
            &rules,
            clock::now(),
        )
        .unwrap();

        // Act
        let (_, queue) = moderator.get(app, "/admin/flags").await;

        // Assert: each card says it was edited; only the first says its
        // first text was lost. A card never edited says neither.
        let card = card_text(&queue, &washed.id).unwrap();
        assert!(card.contains("edited"), "{card}");
        assert!(card.contains("its first text was not kept"), "{card}");
        let card = card_text(&queue, &kept.id).unwrap();
        assert!(card.contains("edited"), "{card}");
        assert!(!card.contains("its first text was not kept"), "{card}");
        assert!(card.contains("the answers are on my site"), "kept: {card}");
        let other = card_text(&queue, &f.older_one.id).unwrap();
        assert!(!other.contains("edited"), "{other}");
    }
);

// ---------------------------------------------------------------- 4. public log

// Lines about a message its author then deleted leave the log whether the
// row went (its lines with it) or was kept for moderators (it was reported
// again): were the kept one's lines left, the class would know.
backend_test!(
    async fn a_message_its_author_deleted_leaves_the_public_log_kept_or_not(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au8z");
        let reader = app.student("re8z");
        let moderator = staff(&app, "mo8z", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &reader]);
        let now = clock::now();
        let kept = message(&app, &class, &author, "Amber Finch", "first", now);
        let gone = message(&app, &class, &author, "Amber Finch", "second", now);
        let mut conn = app.conn();
        let reason = Reason::new(ReasonCategory::Spam, None).unwrap();
        for (n, m) in [&kept, &gone].into_iter().enumerate() {
            let at = now + Duration::seconds(n as i64);
            moderation::messages::hide(&mut conn, &moderator.user.id, &m.id, &reason, at).unwrap();
            moderation::messages::restore(&mut conn, &moderator.user.id, &m.id, None, at).unwrap();
        }
        seed::flag(&mut conn, &reader.user, &kept, "still spam");
        for m in [&kept, &gone] {
            chat::delete(&mut conn, &author.user.id, &m.id, now, |_, _| Ok(0)).unwrap();
        }
        assert!(chat::find(&mut conn, &kept.id).unwrap().is_some(), "kept");
        assert!(chat::find(&mut conn, &gone.id).unwrap().is_none(), "gone");
        drop(conn);
        let (status, html) = reader
            .get(&app, &format!("/classes/{}/moderation", class.id))
            .await;
        assert_eq!(status, 200);
        assert!(!html.contains("Amber Finch"), "{html}");
    }
);

backend_test!(
    async fn the_public_log_shows_pseudonyms_and_categories_only(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au7z");
        let reader = app.student("re7z");
        let outsider = app.student("ou7z");
        let moderator = staff(&app, "mo7z", Role::Moderator);
        diesel::update(users::table.find(&moderator.user.id))
            .set(users::display_name.eq("Mona Moderata"))
            .execute(&mut app.conn())
            .unwrap();
        diesel::update(users::table.find(&author.user.id))
            .set(users::display_name.eq("Aubrey Authorsson"))
            .execute(&mut app.conn())
            .unwrap();
        let class = new_class(&app, "CS 2150", &[&author, &reader]);
        let now = clock::now();
        let phone = message(
            &app,
            &class,
            &author,
            "Violet Heron",
            "call 434-555-0100",
            now,
        );
        let spam = message(&app, &class, &author, "Amber Finch", "buy my notes", now);
        let held = message(&app, &class, &author, "Coral Lynx", "held post", now);
        diesel::update(class_messages::table.find(&held.id))
            .set(class_messages::held.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let mid = &moderator.user.id;
        let reason = |c: ReasonCategory, text: &str| Reason::new(c, Some(text)).unwrap();
        let mut conn = app.conn();
        let secret = "Shared Jordan's phone number";
        moderation::messages::delete(
            &mut conn,
            mid,
            &phone.id,
            &reason(ReasonCategory::PersonalInfo, secret),
            now,
        )
        .unwrap();
        moderation::messages::hide(
            &mut conn,
            mid,
            &spam.id,
            &reason(ReasonCategory::Spam, "Selling notes again"),
            now + Duration::seconds(1),
        )
        .unwrap();
        moderation::messages::restore(&mut conn, mid, &spam.id, None, now + Duration::seconds(2))
            .unwrap();
        // Left out: a dismissal (of a report made after the restore), and
        // anything about a held post.
        seed::flag(&mut conn, &reader.user, &spam, "still spam");
        moderation::messages::dismiss(&mut conn, mid, &spam.id, None, now + Duration::seconds(3))
            .unwrap();
        // A held post is never hidden (that would announce it); it is removed.
        assert!(matches!(
            moderation::messages::hide(
                &mut conn,
                mid,
                &held.id,
                &reason(ReasonCategory::Hate, "Held and hidden"),
                now + Duration::seconds(4),
            ),
            Err(moderation::messages::ActionError::Held)
        ));
        moderation::messages::delete(
            &mut conn,
            mid,
            &held.id,
            &reason(ReasonCategory::Hate, "Held and removed"),
            now + Duration::seconds(4),
        )
        .unwrap();
        drop(conn);

        let path = format!("/classes/{}/moderation", class.id);
        let (status, html) = reader.get(&app, &path).await;
        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("ol.log-lines li").unwrap();
        let lines: Vec<String> = doc
            .select(&sel)
            .map(|li| li.text().collect::<String>())
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("Restored · a message by Amber Finch"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("Hidden · spam or off-topic · a message by Amber Finch"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("Removed · personal information · a message by Violet Heron"),
            "{lines:?}"
        );
        // The raw HTML names no one and carries no moderator's words.
        for leak in [
            author.user.computing_id.as_str(),
            author.user.email.as_str(),
            "Aubrey Authorsson",
            moderator.user.computing_id.as_str(),
            moderator.user.email.as_str(),
            "Mona Moderata",
            secret,
            "Jordan",
            "Selling notes",
            "Held and removed",
            "Coral Lynx",
            "434-555",
            "buy my notes",
        ] {
            assert!(!html.contains(leak), "the log shows {leak:?}");
        }
        // The chat links to it.
        let (_, chat_page) = reader.get(&app, &format!("/classes/{}", class.id)).await;
        assert!(chat_page.contains(&format!(r#"href="{path}""#)));

        // Not a member: the chat's own "join first"; staff may read it.
        let (status, page) = outsider.get(&app, &path).await;
        assert_eq!(status, 403);
        assert!(page.contains("Join this class first"), "{page}");
        assert!(!page.contains("Violet Heron"));
        let (status, page) = moderator.get(&app, &path).await;
        assert_eq!(status, 200);
        assert!(page.contains("Violet Heron"));
        assert!(page.contains(r#"href="/admin""#), "the nav's Admin link");
        // A suspended moderator (only a direct edit makes one: staff cannot
        // be suspended) has no staff view anywhere, the admin pages' rule:
        // they read it as any non-member, with no Admin link.
        diesel::update(users::table.find(&moderator.user.id))
            .set(users::suspended_until.eq(Some(clock::now() + Duration::days(7))))
            .execute(&mut app.conn())
            .unwrap();
        let (status, page) = moderator.get(&app, &path).await;
        assert_eq!(status, 403, "{page}");
        assert!(!page.contains("Violet Heron"));
        assert!(!page.contains(r#"href="/admin""#), "{page}");
        // An unknown class is a 404.
        let (status, _) = reader
            .get(&app, &format!("/classes/{}/moderation", uuid_like()))
            .await;
        assert_eq!(status, 404);
    }
);

/// A class id that exists nowhere.
fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}

backend_test!(
    async fn a_hide_by_reports_is_logged_without_anyone_named(backend: Backend) {
        let app = spawn_quiet_app(
            backend,
            &[
                ("FLAG_HIDE_THRESHOLD", "1"),
                ("REPORT_MIN_MEMBERSHIP_HOURS", "0"),
            ],
        )
        .await;
        let author = app.student("au8z");
        let reporter = app.student("rp8z");
        let moderator = staff(&app, "mo8z", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &reporter]);
        let m = message(
            &app,
            &class,
            &author,
            "Slate Wren",
            "reported words",
            clock::now(),
        );
        let r = reporter
            .post(
                &app,
                &format!("/classes/{}", class.id),
                &format!("/messages/{}/flag", m.id),
                &[("reason", "Mean to a classmate")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert!(
            stored(&app, &m.id).hidden,
            "one report hides at threshold 1"
        );
        let audit = audit_of(&app, &m.id);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, AuditAction::Hide);
        assert_eq!(audit[0].actor_id, None, "no reporter is the actor");
        assert_eq!(audit[0].category.as_deref(), Some("reports"));

        let (status, html) = author
            .get(&app, &format!("/classes/{}/moderation", class.id))
            .await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Hidden after reports</strong> · a message by Slate Wren"),
            "{html}"
        );
        for leak in [
            reporter.user.computing_id.as_str(),
            reporter.user.email.as_str(),
            "Mean to a classmate",
        ] {
            assert!(!html.contains(leak), "the log shows {leak:?}");
        }
        // The staff audit page says what did it, not "deleted account".
        let (_, audit_page) = moderator.get(&app, "/admin/audit").await;
        assert!(
            audit_page.contains("students&#39; reports (automatic)")
                || audit_page.contains("students' reports (automatic)"),
            "{audit_page}"
        );
        assert!(!audit_page.contains(&reporter.user.computing_id));
    }
);

// ---------------------------------------------------------------- 5. in a browser

/// The page's width against the window's, for "no sideways scroll".
const WIDTHS: &str =
    "return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_tabs_and_the_public_log_pass_axe_at_375_and_1280() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let f = four_flagged(Backend::Sqlite).await;
    let (app, moderator) = (&f.app, &f.moderator);
    let reason = Reason::new(
        ReasonCategory::AcademicIntegrity,
        Some("Posted the answers to problem set 4 before the deadline"),
    )
    .unwrap();
    let now = clock::now();
    moderation::messages::delete(
        &mut app.conn(),
        &moderator.user.id,
        &f.older_one.id,
        &reason,
        now,
    )
    .unwrap();
    moderation::messages::dismiss(&mut app.conn(), &moderator.user.id, &f.two.id, None, now)
        .unwrap();
    let reader = app.student("rd5q");
    seed::enroll(&mut app.conn(), &reader.user, &f.class);
    let log = format!("/classes/{}/moderation", f.class.id);
    let staff_pages = [
        "/admin/flags",
        "/admin/flags?state=hidden",
        "/admin/flags?state=dismissed",
        "/admin/flags?state=removed",
    ];
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        for (who, paths) in [
            (moderator, &staff_pages[..]),
            (&reader, &[log.as_str()][..]),
        ] {
            let client = browser::open(&driver, &chromium, width, height).await;
            browser::sign_in(&client, &app.address, &who.token).await;
            for path in paths {
                client.goto(&app.url(path)).await.unwrap();
                let name = format!("queue{}-{width}", path.replace(['/', '?', '='], "-"));
                let shot = browser::screenshot(&client, &name).await;
                eprintln!("screenshot: {}", shot.display());
                let measured = client.execute(WIDTHS, vec![]).await.unwrap();
                let scroll = measured["scroll"].as_f64().unwrap();
                let inner = measured["inner"].as_f64().unwrap();
                assert!(
                    scroll <= inner,
                    "{path} at {width}px scrolls sideways ({scroll} > {inner})"
                );
                if let Some(found) = browser::axe_findings(&client).await {
                    assert!(found.is_empty(), "{path} at {width}px: {found:?}");
                }
            }
            client.close().await.unwrap();
        }
    }
}
