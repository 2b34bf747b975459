//! Issue 18's questions that get answered, over HTTP on SQLite and PostgreSQL:
//! upvotes (one per student per message, never on one's own, a count only),
//! the list's orders (latest activity, top, unanswered), answers marked by a
//! thread's starter or staff and shown first, threads pinned by moderators (at
//! most 3, each pin audited once), votes in the export and out of the counts
//! after erasure, no identity or per-student count in the pages, and pages
//! that cost a fixed number of queries.
//!
//! Computing IDs here all hold a letter past f, so none can turn up by chance
//! inside a hex id.

use crate::common;
use crate::common::builders::MessageBuilder;

use chrono::Duration;
use common::*;
use common_grounds::accounts::{Role, User};
use common_grounds::chat::{self, ClassMessage, MessageId};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{audit_log, chat_events, class_messages, message_votes};
use common_grounds::moderation::{self, AuditAction};
use diesel::prelude::*;
use scraper::{Html, Selector};

// ---------------------------------------------------------------- helpers

/// A thread opened by `author`, `minutes_ago` minutes ago.
fn thread(
    app: &TestApp,
    class: &Class,
    author: &User,
    text: &str,
    minutes_ago: i64,
) -> ClassMessage {
    MessageBuilder::new(&class.id, &author.id, "Anon_0000aaaa", text)
        .created_at(clock::now() - Duration::minutes(minutes_ago))
        .insert(&mut app.conn())
}

/// A reply by `author` to `parent`, now.
fn reply(app: &TestApp, author: &User, parent: &ClassMessage, text: &str) -> ClassMessage {
    MessageBuilder::new(&parent.class_id, &author.id, "Anon_0000bbbb", text)
        .reply_to(parent)
        .insert(&mut app.conn())
}

fn stored(app: &TestApp, id: &MessageId) -> ClassMessage {
    chat::find(&mut app.conn(), id).unwrap().unwrap()
}

fn vote_rows(app: &TestApp, id: &MessageId) -> i64 {
    message_votes::table
        .filter(message_votes::message_id.eq(id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn audit_count(app: &TestApp, action: AuditAction) -> i64 {
    audit_log::table
        .filter(audit_log::action.eq(action.as_str()))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn list_path(class: &Class) -> String {
    format!("/classes/{}", class.id)
}

fn thread_path(root: &ClassMessage) -> String {
    format!("/classes/{}/threads/{}", root.class_id, root.id)
}

/// Presses a message's vote button (`up` or `take_back`) from the class list.
async fn vote(app: &TestApp, who: &Student, message: &ClassMessage, how: &str) -> u16 {
    let class = format!("/classes/{}", message.class_id);
    who.post(
        app,
        &class,
        &format!("/messages/{}/vote", message.id),
        &[("vote", how), ("back", &class)],
    )
    .await
    .status()
    .as_u16()
}

/// Presses "Mark as answer" (`yes`) or "Unmark answer" (`no`) on a reply: status and body.
async fn mark(app: &TestApp, who: &Student, reply: &ClassMessage, how: &str) -> (u16, String) {
    let response = who
        .post(
            app,
            "/",
            &format!("/messages/{}/answer", reply.id),
            &[("mark", how)],
        )
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Presses "Pin" or "Unpin" (`pin` / `unpin`) on a thread: status and body.
async fn pin(app: &TestApp, who: &Student, root: &ClassMessage, how: &str) -> (u16, String) {
    let response = who
        .post(app, "/", &format!("{}/{how}", thread_path(root)), &[])
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `li.thread-row` ids of a list page, top first.
fn thread_order(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let rows = Selector::parse("ol.thread-list > li.thread-row").unwrap();
    doc.select(&rows)
        .filter_map(|r| r.value().attr("id"))
        .map(|id| id.trim_start_matches("t-").to_string())
        .collect()
}

fn text_at(html: &str, selector: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).unwrap();
    doc.select(&sel).next().map(|e| {
        e.text()
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn attr_at(html: &str, selector: &str, attr: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr(attr).map(str::to_string))
}

fn count(html: &str, selector: &str) -> usize {
    let doc = Html::parse_document(html);
    doc.select(&Selector::parse(selector).unwrap()).count()
}

fn ids(messages: &[&ClassMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.to_string()).collect()
}

// ---------------------------------------------------------------- 1. votes

backend_test!(
    async fn one_vote_per_student_never_their_own_and_five_less_one_is_four(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auth1x");
        let voters: Vec<Student> = (1..=5).map(|i| app.student(&format!("votr{i}x"))).collect();
        let mut members: Vec<&Student> = voters.iter().collect();
        members.push(&author);
        let class = new_class(&app, "CS 2100", &members);
        let root = thread(
            &app,
            &class,
            &author.user,
            "How do I read a proof by induction?",
            5,
        );
        let answer = reply(&app, &voters[4].user, &root, "Start from the base case.");

        // A second upvote is a no-op.
        assert_eq!(vote(&app, &voters[0], &root, "up").await, 303);
        assert_eq!(vote(&app, &voters[0], &root, "up").await, 303);
        assert_eq!(stored(&app, &root.id).vote_count, 1);
        assert_eq!(vote_rows(&app, &root.id), 1);

        // Not on one's own message: refused, saying why, and nothing counted.
        let response = author
            .post(
                &app,
                &list_path(&class),
                &format!("/messages/{}/vote", root.id),
                &[("vote", "up")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 400);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("You cannot upvote your own message."));
        assert_eq!(stored(&app, &root.id).vote_count, 1);
        let (_, page) = author.get(&app, &list_path(&class)).await;
        assert_eq!(
            count(&page, &format!("li#t-{} form.vote", root.id)),
            0,
            "no vote button on one's own thread"
        );

        for v in &voters[1..] {
            assert_eq!(vote(&app, v, &root, "up").await, 303);
        }
        assert_eq!(stored(&app, &root.id).vote_count, 5);
        assert_eq!(vote(&app, &voters[2], &root, "take_back").await, 303);
        // Taking back a vote never given changes nothing.
        assert_eq!(vote(&app, &voters[2], &root, "take_back").await, 303);
        assert_eq!(stored(&app, &root.id).vote_count, 4);
        assert_eq!(vote_rows(&app, &root.id), 4);

        // The count shows on the list and on the thread page, the button
        // pressed only for those whose vote stands.
        let row = format!("li#t-{}", root.id);
        let (_, page) = voters[0].get(&app, &list_path(&class)).await;
        assert_eq!(
            text_at(&page, &format!("{row} .row-votes")).unwrap(),
            "4 upvotes"
        );
        assert_eq!(
            attr_at(&page, &format!("{row} .vote-button"), "aria-pressed").as_deref(),
            Some("true")
        );
        let (_, page) = voters[2].get(&app, &list_path(&class)).await;
        assert_eq!(
            attr_at(&page, &format!("{row} .vote-button"), "aria-pressed").as_deref(),
            Some("false")
        );
        let (_, page) = voters[0].get(&app, &thread_path(&root)).await;
        assert_eq!(
            text_at(&page, &format!("#m-{} .vote-button", root.id)).as_deref(),
            Some("4 upvotes")
        );

        // A reply takes votes too; a hidden one does not.
        assert_eq!(vote(&app, &voters[0], &answer, "up").await, 303);
        assert_eq!(stored(&app, &answer.id).vote_count, 1);
        let moderator = staff(&app, "modr1x", Role::Moderator);
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &answer.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            clock::now(),
        )
        .unwrap();
        assert_eq!(vote(&app, &voters[1], &answer, "up").await, 400);
        assert_eq!(stored(&app, &answer.id).vote_count, 1);

        // A student outside the class cannot vote (nor learn the message exists).
        let stranger = app.student("strngr");
        let response = stranger
            .post(
                &app,
                "/",
                &format!("/messages/{}/vote", root.id),
                &[("vote", "up")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 404);
        assert_eq!(stored(&app, &root.id).vote_count, 4);
    }
);

backend_test!(
    async fn top_orders_by_votes_and_pages_by_keyset(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("rdrr1x");
        let voter = app.student("vtrr2x");
        let class = new_class(&app, "CS 2100", &[&me, &voter]);
        // 55 threads, the newest last; votes 0..=4 in a cycle, set directly.
        let roots: Vec<ClassMessage> = (0..55)
            .map(|n| {
                thread(
                    &app,
                    &class,
                    &me.user,
                    &format!("Thread number {n}"),
                    100 - n,
                )
            })
            .collect();
        for (n, root) in roots.iter().enumerate() {
            diesel::update(class_messages::table.find(&root.id))
                .set(class_messages::vote_count.eq((n % 5) as i32))
                .execute(&mut app.conn())
                .unwrap();
        }
        let mut expected: Vec<(i32, i64, String)> = roots
            .iter()
            .enumerate()
            .map(|(n, r)| ((n % 5) as i32, n as i64, r.id.to_string()))
            .collect();
        // Votes first, then latest activity (the later n, the newer).
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        let expected: Vec<String> = expected.into_iter().map(|e| e.2).collect();

        let top = format!("{}?sort=top", list_path(&class));
        let (status, first) = me.get(&app, &top).await;
        assert_eq!(status, 200);
        assert_eq!(
            attr_at(&first, ".sort-tabs a[aria-current=page]", "href").as_deref(),
            Some(top.as_str())
        );
        let older = attr_at(&first, "a[rel=next]", "href").expect("an older page");
        assert!(older.starts_with(&format!("{top}&before=v")), "{older}");
        let (status, second) = me.get(&app, &older).await;
        assert_eq!(status, 200);
        // Its way back is to Top's first page, not the latest activity.
        assert_eq!(
            attr_at(&second, "nav.pager a:not([rel=next])", "href").as_deref(),
            Some(top.as_str())
        );
        let mut shown = thread_order(&first);
        assert_eq!(shown.len(), 50);
        shown.extend(thread_order(&second));
        assert_eq!(shown, expected, "all 55, by votes then activity, each once");

        // The default order is unchanged, and its old links keep working.
        let (_, latest) = me.get(&app, &list_path(&class)).await;
        let newest_first: Vec<String> = roots.iter().rev().map(|r| r.id.to_string()).collect();
        assert_eq!(thread_order(&latest), newest_first[..50]);
        let old_link = attr_at(&latest, "a[rel=next]", "href").unwrap();
        assert!(!old_link.contains("sort="), "{old_link}");
        let (status, rest) = me.get(&app, &old_link).await;
        assert_eq!(status, 200);
        assert_eq!(thread_order(&rest), newest_first[50..]);
        // A vote on the older page, without our script, comes back to it.
        let (_, rest) = voter.get(&app, &old_link).await;
        let back = attr_at(&rest, "form.row-votes input[name=back]", "value")
            .expect("the older page's vote forms say where to come back");
        assert_eq!(back, old_link);
        let oldest = &roots[0];
        let voted = voter
            .post(
                &app,
                &old_link,
                &format!("/messages/{}/vote", oldest.id),
                &[("vote", "up"), ("back", &back)],
            )
            .await;
        assert_eq!(voted.status().as_u16(), 303);
        assert_eq!(
            voted.headers()["location"].to_str().unwrap(),
            format!("{old_link}#t-{}", oldest.id)
        );

        // A cursor of one order on another is refused plainly, not misread.
        let cursor = old_link.split("before=").nth(1).unwrap();
        let (status, page) = me.get(&app, &format!("{top}&before={cursor}")).await;
        assert_eq!(status, 400);
        assert!(page.contains("This page link is broken"), "{page}");
        // So is one whose time no message can have (PostgreSQL cannot even
        // bind it: about 7500 BC), in either order.
        let ancient = "-300000000000000000_00000000-0000-4000-8000-000000000000";
        for link in [
            format!("{}?before={ancient}", list_path(&class)),
            format!("{top}&before=v0.{ancient}"),
        ] {
            let (status, page) = me.get(&app, &link).await;
            assert_eq!(status, 400, "{link}");
            assert!(page.contains("This page link is broken"), "{page}");
        }
    }
);

// ---------------------------------------------------------------- 2. answers

backend_test!(
    async fn only_the_starter_or_a_moderator_marks_the_answer_and_it_shows_first(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let starter = app.student("strt1x");
        let helper = app.student("hlpr1x");
        let other = app.student("othr1x");
        let moderator = staff(&app, "modr1x", Role::Moderator);
        let stranger = app.student("strngr");
        let class = new_class(&app, "CS 2100", &[&starter, &helper, &other]);
        let question = thread(
            &app,
            &class,
            &starter.user,
            "Which lemma proves part (b)?",
            10,
        );
        let open = thread(&app, &class, &other.user, "Is the exam open book?", 20);
        let first = reply(&app, &helper.user, &question, "Lemma 3, applied twice.");
        let second = reply(&app, &other.user, &question, "I think it is lemma 4.");
        let later = reply(&app, &helper.user, &first, "Thanks, that helped.");

        // Anyone else is refused and nothing changes: a classmate with 403, a stranger with 404.
        let (status, body) = mark(&app, &other, &first, "yes").await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("Only the student who started this thread"));
        let (status, _) = mark(&app, &stranger, &first, "yes").await;
        assert_eq!(status, 404);
        assert_eq!(stored(&app, &question.id).answer_id, None);
        // Only a reply can be an answer.
        let (status, _) = mark(&app, &starter, &question, "yes").await;
        assert_eq!(status, 400);

        let events_before: i64 = chat_events::table
            .filter(chat_events::message_id.eq(&question.id))
            .filter(chat_events::kind.eq("edit"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        let (status, _) = mark(&app, &starter, &second, "yes").await;
        assert_eq!(status, 303);
        assert_eq!(
            stored(&app, &question.id).answer_id,
            Some(second.id.clone())
        );
        // The starter changes it; open pages hear of it as an edit of the question.
        let (status, _) = mark(&app, &starter, &first, "yes").await;
        assert_eq!(status, 303);
        assert_eq!(stored(&app, &question.id).answer_id, Some(first.id.clone()));
        let events_after: i64 = chat_events::table
            .filter(chat_events::message_id.eq(&question.id))
            .filter(chat_events::kind.eq("edit"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(events_after - events_before, 2);

        // The list says "answered" on that thread only.
        let (_, list) = other.get(&app, &list_path(&class)).await;
        assert!(
            text_at(&list, &format!("li#t-{} .thread-meta", question.id))
                .unwrap()
                .contains("answered")
        );
        assert!(!text_at(&list, &format!("li#t-{} .thread-meta", open.id))
            .unwrap()
            .contains("answered"));

        // The thread page shows the answer first, under the question, then the
        // thread in reading order.
        let (_, page) = other.get(&app, &thread_path(&question)).await;
        let doc = Html::parse_document(&page);
        let articles: Vec<String> = doc
            .select(&Selector::parse("ol.thread-messages article.msg").unwrap())
            .filter_map(|a| {
                a.value()
                    .attr("id")
                    .map(|id| id.trim_start_matches("m-").to_string())
            })
            .collect();
        assert_eq!(articles, ids(&[&question, &first, &later, &second]));
        let block = format!("#m-{} .answer-first", question.id);
        let shown = text_at(&page, &block).expect("the answer under the question");
        assert!(
            shown.starts_with("Answer Lemma 3, applied twice."),
            "{shown}"
        );
        assert_eq!(
            attr_at(&page, &format!("{block} a[href^='#m-']"), "href"),
            Some(format!("#m-{}", first.id))
        );
        assert!(text_at(&page, &format!("#m-{} .msg-head", first.id))
            .unwrap()
            .contains("Answer"));
        assert_eq!(
            count(&page, ".mark-answer"),
            0,
            "a classmate sees no answer buttons"
        );
        let (_, page) = starter.get(&app, &thread_path(&question)).await;
        assert_eq!(
            count(&page, ".mark-answer"),
            3,
            "the starter may mark each reply"
        );

        // "Unanswered" lists only the rest.
        let unanswered = format!("{}?sort=unanswered", list_path(&class));
        let (_, list) = other.get(&app, &unanswered).await;
        assert_eq!(thread_order(&list), ids(&[&open]));

        // A moderator may mark too, and unmark; the starter may unmark.
        let (status, _) = mark(&app, &moderator, &second, "yes").await;
        assert_eq!(status, 303);
        assert_eq!(
            stored(&app, &question.id).answer_id,
            Some(second.id.clone())
        );
        // The moderator's mark is in the audit log, against the thread; the
        // starter's own marks are not staff actions and are not logged.
        let logged = |action: AuditAction| -> Vec<(Option<String>, String)> {
            audit_log::table
                .filter(audit_log::action.eq(action.as_str()))
                .select((audit_log::actor_id, audit_log::target_id))
                .load(&mut app.conn())
                .unwrap()
        };
        assert_eq!(
            logged(AuditAction::MarkAnswer),
            [(Some(moderator.user.id.to_string()), question.id.to_string())]
        );
        let (status, _) = mark(&app, &starter, &second, "no").await;
        assert_eq!(status, 303);
        assert_eq!(stored(&app, &question.id).answer_id, None);
        assert!(logged(AuditAction::UnmarkAnswer).is_empty());
        let (_, list) = other.get(&app, &unanswered).await;
        assert_eq!(thread_order(&list), ids(&[&question, &open]));

        // A hidden answer stops counting: not shown first, the thread unanswered
        // again; restored, it counts again.
        mark(&app, &starter, &first, "yes").await;
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &first.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            clock::now(),
        )
        .unwrap();
        let (_, page) = other.get(&app, &thread_path(&question)).await;
        assert_eq!(count(&page, ".answer-first"), 0);
        let (_, list) = other.get(&app, &unanswered).await;
        assert_eq!(thread_order(&list), ids(&[&question, &open]));
        let (_, list) = other.get(&app, &list_path(&class)).await;
        assert!(
            !text_at(&list, &format!("li#t-{} .thread-meta", question.id))
                .unwrap()
                .contains("answered")
        );
        moderation::messages::restore(
            &mut app.conn(),
            &moderator.user.id,
            &first.id,
            None,
            clock::now(),
        )
        .unwrap();
        let (_, list) = other.get(&app, &unanswered).await;
        assert_eq!(thread_order(&list), ids(&[&open]));
    }
);

// ---------------------------------------------------------------- 3. pins

backend_test!(
    async fn a_moderator_outside_the_class_pins_from_the_staff_reading(backend: Backend) {
        // Arrange: a class with two threads; the moderator has not taken it.
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("stdn2x");
        let moderator = staff(&app, "modr2x", Role::Moderator);
        let class = new_class(&app, "CS 2100", &[&student]);
        let roots: Vec<ClassMessage> = (0..2)
            .map(|n| thread(&app, &class, &student.user, &format!("Thread {n}"), 60 - n))
            .collect();
        let staff_read = format!("/admin/classes/{}", class.id);
        let (_, page) = moderator.get(&app, &staff_read).await;
        assert_eq!(count(&page, "form.staff-pin"), 2, "{page}");

        // Act: pin from the staff reading, as its form sends it.
        let action = format!("{}/pin", thread_path(&roots[0]));
        let response = moderator
            .post(&app, &staff_read, &action, &[("back", staff_read.as_str())])
            .await;

        // Assert: pinned, and back on the staff reading at the thread (the
        // thread's own page is closed to someone outside the class).
        assert_eq!(response.status().as_u16(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("{staff_read}#m-{}", roots[0].id));
        assert!(stored(&app, &roots[0].id).pinned_at.is_some());
        let (_, page) = moderator.get(&app, &staff_read).await;
        assert!(page.contains(">Unpin<"), "{page}");
        // Unpinned the same way; a `back` elsewhere leads to the thread.
        let action = format!("{}/unpin", thread_path(&roots[0]));
        let response = moderator
            .post(
                &app,
                &staff_read,
                &action,
                &[("back", "https://evil.example/")],
            )
            .await;
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, thread_path(&roots[0]));
        assert!(stored(&app, &roots[0].id).pinned_at.is_none());
    }
);

backend_test!(
    async fn a_moderator_pins_three_the_fourth_is_refused_each_audited(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("stdn1x");
        let moderator = staff(&app, "modr1x", Role::Moderator);
        let class = new_class(&app, "CS 2100", &[&student, &moderator]);
        let roots: Vec<ClassMessage> = (0..6)
            .map(|n| thread(&app, &class, &student.user, &format!("Thread {n}"), 60 - n))
            .collect();
        let answer = reply(
            &app,
            &moderator.user,
            &roots[1],
            "The syllabus is on the site.",
        );
        mark(&app, &student, &answer, "yes").await;

        // Students do not find the pin routes.
        let (status, _) = pin(&app, &student, &roots[0], "pin").await;
        assert_eq!(status, 404);
        let (status, _) = pin(&app, &student, &roots[0], "unpin").await;
        assert_eq!(status, 404);
        let (_, page) = student.get(&app, &thread_path(&roots[0])).await;
        assert_eq!(count(&page, ".pin-form"), 0);
        let (_, page) = moderator.get(&app, &thread_path(&roots[0])).await;
        assert_eq!(count(&page, ".pin-form"), 1);

        for root in &roots[..3] {
            let (status, body) = pin(&app, &moderator, root, "pin").await;
            assert_eq!(status, 303, "{body}");
        }
        let (status, body) = pin(&app, &moderator, &roots[3], "pin").await;
        assert_eq!(status, 400);
        assert!(
            body.contains("3 threads are pinned already; unpin one first"),
            "{body}"
        );
        assert!(stored(&app, &roots[3].id).pinned_at.is_none());
        assert_eq!(audit_count(&app, AuditAction::Pin), 3);
        // Pinning a pinned thread changes nothing and logs nothing.
        pin(&app, &moderator, &roots[0], "pin").await;
        assert_eq!(audit_count(&app, AuditAction::Pin), 3);

        // Pinned threads head every order, marked, and show once.
        let pinned: Vec<String> = ids(&[&roots[2], &roots[1], &roots[0]]);
        for sort in ["", "?sort=top", "?sort=unanswered"] {
            let (_, list) = student
                .get(&app, &format!("{}{sort}", list_path(&class)))
                .await;
            let order = thread_order(&list);
            assert_eq!(order[..3], pinned[..], "{sort}");
            // The answered thread is pinned: it heads "unanswered" too.
            assert_eq!(order.len(), 6, "{sort}");
            assert_eq!(count(&list, ".thread-row .badge.pinned"), 3, "{sort}");
        }
        // Staff read the class too, pins first, by a statement of their own
        // that Diesel keeps apart from the students' (`db::shaped`): a
        // shape that named both would run one's SQL with the other's binds.
        let (status, staff_read) = moderator
            .get(&app, &format!("/admin/classes/{}", class.id))
            .await;
        assert_eq!(status, 200, "{staff_read}");
        for n in 0..6 {
            assert!(staff_read.contains(&format!("Thread {n}")), "{staff_read}");
        }

        let (status, _) = pin(&app, &moderator, &roots[0], "unpin").await;
        assert_eq!(status, 303);
        assert_eq!(audit_count(&app, AuditAction::Unpin), 1);
        let (status, _) = pin(&app, &moderator, &roots[3], "pin").await;
        assert_eq!(status, 303);
        assert_eq!(audit_count(&app, AuditAction::Pin), 4);
        let entry: (String, String) = audit_log::table
            .filter(audit_log::action.eq("unpin"))
            .select((audit_log::target_id, audit_log::actor_id.assume_not_null()))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(
            entry,
            (roots[0].id.to_string(), moderator.user.id.to_string())
        );
        // A pin is an edit of the thread's first message for open pages.
        let edits: i64 = chat_events::table
            .filter(chat_events::message_id.eq(&roots[3].id))
            .filter(chat_events::kind.eq("edit"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(edits, 1);
    }
);

backend_test!(
    async fn a_hidden_or_removed_thread_leaves_top_and_the_pins(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("stdn2x");
        let reader = app.student("rdr2x");
        let moderator = staff(&app, "modr2x", Role::Moderator);
        let class = new_class(&app, "CS 2100", &[&student, &reader, &moderator]);
        let voted_up = thread(&app, &class, &student.user, "Voted up, then hidden", 30);
        let plain = thread(&app, &class, &student.user, "A plain question", 20);
        let pinned = thread(&app, &class, &student.user, "Pinned, then removed", 10);
        // Voted up, then held under a reply (by an old edit): shown to the class
        // as hidden, which in "Top" (hidden ones gone) would read as held.
        let held = thread(&app, &class, &student.user, "Voted up, then held", 40);
        reply(&app, &reader.user, &held, "A reply under it");
        diesel::update(class_messages::table.find(&held.id))
            .set((
                class_messages::held.eq(true),
                class_messages::vote_count.eq(7),
            ))
            .execute(&mut app.conn())
            .unwrap();
        diesel::update(class_messages::table.find(&voted_up.id))
            .set(class_messages::vote_count.eq(9))
            .execute(&mut app.conn())
            .unwrap();
        let (status, body) = pin(&app, &moderator, &pinned, "pin").await;
        assert_eq!(status, 303, "{body}");
        let act = |id: &MessageId, action: &str| format!("/admin/messages/{id}/{action}");

        // Act: a moderator hides the thread the class voted up, and
        // removes the pinned one.
        for (id, action) in [(&voted_up.id, "hide"), (&pinned.id, "delete")] {
            let r = moderator
                .post(
                    &app,
                    "/admin/flags",
                    &act(id, action),
                    &[("category", "spam")],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303, "{action}");
        }

        // Assert: none of them is in "Top" (the held one neither, to a
        // classmate), and the pin is freed.
        let (_, top) = reader
            .get(&app, &format!("{}?sort=top", list_path(&class)))
            .await;
        assert_eq!(thread_order(&top), ids(&[&plain]), "{top}");
        assert!(stored(&app, &pinned.id).pinned_at.is_none());
        assert_eq!(count(&top, ".thread-row .badge.pinned"), 0);
        // The latest-activity order still lists the hidden one, as hidden.
        let (_, latest) = reader.get(&app, &list_path(&class)).await;
        assert!(thread_order(&latest).contains(&voted_up.id.to_string()));

        // A pin is a moderator's to lift: its author deleting the pinned
        // first message of a thread with replies leaves it pinned, heading
        // "Top" as every order.
        let kept = thread(&app, &class, &student.user, "Syllabus questions", 50);
        reply(&app, &reader.user, &kept, "Where is the syllabus?");
        let (status, body) = pin(&app, &moderator, &kept, "pin").await;
        assert_eq!(status, 303, "{body}");
        let r = student
            .post(
                &app,
                &list_path(&class),
                &format!("/messages/{}/delete", kept.id),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert!(stored(&app, &kept.id).pinned_at.is_some());
        let (_, top) = reader
            .get(&app, &format!("{}?sort=top", list_path(&class)))
            .await;
        assert_eq!(thread_order(&top), ids(&[&kept, &plain]), "{top}");
    }
);

// ---------------------------------------------------------------- 4. live

backend_test!(
    async fn a_reply_hidden_before_the_batch_is_not_new(backend: Backend) {
        // Arrange: a reply goes out as an event, then is hidden before a
        // reader's stream (or reconnect) reads the batch.
        let app = spawn_quiet_app(backend, &[]).await;
        let starter = app.student("strt1x");
        let replier = app.student("rply1x");
        let reader = app.student("rder1x");
        let moderator = staff(&app, "modr1x", Role::Moderator);
        let class = new_class(&app, "CS 2100", &[&starter, &replier, &reader]);
        let question = thread(&app, &class, &starter.user, "Where is the exam?", 5);
        let after = chat::events::latest(&mut app.conn(), &class.id).unwrap();
        let answer = reply(&app, &replier.user, &question, "Somewhere rude.");
        common_grounds::db::write_tx(&mut app.conn(), |tx| {
            chat::events::record(tx, &answer, chat::EventKind::Reply, clock::now())
        })
        .unwrap();
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &answer.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Harassment,
                None,
            )
            .unwrap(),
            clock::now(),
        )
        .unwrap();

        // Act
        let batch = chat::live::load(&mut app.conn(), &class.id, after, 100).unwrap();
        let rules = chat::Rules::new(app.secret_key.as_bytes(), 3);
        let views = batch.views_for(&reader.user.id, after, &rules, clock::now());

        // Assert: the reply's event marks nothing new (a reload shows none).
        let replied = views
            .iter()
            .find(|v| v.kind == chat::EventKind::Reply)
            .expect("the reply's event");
        assert!(!replied.new_for_viewer);
    }
);

backend_test!(
    async fn live_events_show_each_viewer_their_vote_the_answer_and_the_pin(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let starter = app.student("strt1x");
        let voter = app.student("votr1x");
        let moderator = staff(&app, "modr1x", Role::Moderator);
        let class = new_class(&app, "CS 2100", &[&starter, &voter]);
        let question = thread(&app, &class, &starter.user, "Where is the exam?", 5);
        let answer = reply(&app, &voter.user, &question, "Rice Hall 130.");
        let after = chat::events::latest(&mut app.conn(), &class.id).unwrap();
        vote(&app, &voter, &question, "up").await;
        mark(&app, &starter, &answer, "yes").await;
        pin(&app, &moderator, &question, "pin").await;

        let batch = chat::live::load(&mut app.conn(), &class.id, after, 100).unwrap();
        let rules = chat::Rules::new(app.secret_key.as_bytes(), 3);
        for (who, voted) in [(&voter, true), (&starter, false)] {
            let views = batch.views_for(&who.user.id, after, &rules, clock::now());
            assert_eq!(
                views.len(),
                3,
                "the answer (an edit of the question and of the reply it badges) and the pin"
            );
            assert!(
                views.iter().any(|v| v.message_id == answer.id
                    && v.message.as_ref().is_some_and(|m| m.is_answer)),
                "the reply's own event shows it as the answer"
            );
            let last = views.last().unwrap();
            let row = last.thread.as_ref().unwrap();
            assert!(row.answered && row.pinned);
            assert_eq!(row.opening.votes, 1);
            assert_eq!(row.opening.voted_by_me, voted);
            let message = last.message.as_ref().unwrap();
            assert_eq!(message.voted_by_me, voted);
            assert_eq!(message.can_vote, voted, "one's own thread takes no vote");
            let shown = message
                .answer
                .as_ref()
                .expect("the answer under the question");
            assert_eq!(shown.id, answer.id);
            assert_eq!(shown.text, "Rice Hall 130.");
        }
    }
);

// ---------------------------------------------------------------- 5. own data

backend_test!(
    async fn votes_are_in_the_export_and_go_on_erasure_leaving_their_counts(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auth1x");
        let voter = app.student("votr1x");
        let other = app.student("othr1x");
        let class = new_class(&app, "CS 2100", &[&author, &voter, &other]);
        let root = thread(&app, &class, &author.user, "Office hours moved?", 5);
        let answer = reply(&app, &author.user, &root, "Yes, to Thursday.");
        for message in [&root, &answer] {
            assert_eq!(vote(&app, &voter, message, "up").await, 303);
        }
        assert_eq!(vote(&app, &other, &root, "up").await, 303);

        let response = voter
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let json: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let mut exported: Vec<(String, String)> = json["chat_votes"]
            .as_array()
            .expect("chat_votes in the export")
            .iter()
            .map(|v| {
                (
                    v["message_id"].as_str().unwrap().to_string(),
                    v["class_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        exported.sort();
        let mut expected = vec![
            (root.id.to_string(), class.id.to_string()),
            (answer.id.to_string(), class.id.to_string()),
        ];
        expected.sort();
        assert_eq!(exported, expected);
        // Another student's export holds only their own vote.
        let response = other
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(json["chat_votes"].as_array().unwrap().len(), 1);

        common_grounds::ops::student_data::delete_account(
            &mut app.conn(),
            &voter.user,
            clock::now(),
            |_, _| Ok(()),
        )
        .unwrap();
        // The rows go; the counts stay, or their fall would say which
        // messages the vanished account had upvoted.
        assert_eq!(stored(&app, &root.id).vote_count, 2);
        assert_eq!(stored(&app, &answer.id).vote_count, 1);
        let left: i64 = message_votes::table
            .filter(message_votes::user_id.eq(&voter.user.id))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(left, 0);
        assert_eq!(vote_rows(&app, &root.id), 1);
    }
);

// ---------------------------------------------------------------- 6. anonymity

backend_test!(
    async fn list_and_thread_pages_hold_no_identity_or_per_student_count(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("auth1x");
        let voters: Vec<Student> = (1..=3).map(|i| app.student(&format!("votr{i}x"))).collect();
        let reader = app.student("rdrr1x");
        let mut members: Vec<&Student> = voters.iter().collect();
        members.extend([&author, &reader]);
        let class = new_class(&app, "CS 2100", &members);
        let root = thread(&app, &class, &author.user, "Study group tonight?", 5);
        let first = reply(&app, &voters[0].user, &root, "Count me in.");
        for v in &voters[1..] {
            vote(&app, v, &root, "up").await;
            vote(&app, v, &first, "up").await;
        }
        mark(&app, &author, &first, "yes").await;

        let mut pages = Vec::new();
        for path in [
            list_path(&class),
            format!("{}?sort=top", list_path(&class)),
            format!("{}?sort=unanswered", list_path(&class)),
            thread_path(&root),
        ] {
            let (status, html) = reader.get(&app, &path).await;
            assert_eq!(status, 200, "{path}");
            pages.push((path, html));
        }
        for (path, html) in &pages {
            // The reader's own name is in the page's header; nobody else's is anywhere.
            let others = members.iter().filter(|s| s.user.id != reader.user.id);
            for person in others.map(|s| &s.user) {
                for needle in [
                    person.id.as_str(),
                    person.email.as_str(),
                    person.computing_id.as_str(),
                ] {
                    assert!(!html.contains(needle), "{path} names {needle}");
                }
            }
            // Counts are per message only: one vote figure beside each message shown.
            let shown = count(html, "ol.thread-list > li, ol.thread-messages article.msg");
            assert_eq!(
                count(html, ".vote-button, .vote-count"),
                shown,
                "{path}: a vote count per message and no other"
            );
            assert!(!html.to_lowercase().contains("votes cast"), "{path}");
        }
    }
);

// ---------------------------------------------------------------- 7. queries

/// Statements one GET runs (after a first GET).
async fn queries_for(app: &TestApp, who: &Student, path: &str) -> u64 {
    who.get(app, path).await;
    let before = app.query_count();
    let (status, _) = who.get(app, path).await;
    assert_eq!(status, 200, "{path}");
    app.query_count() - before
}

backend_test!(
    async fn pages_run_a_fixed_number_of_queries_with_votes_and_pins(backend: Backend) {
        let mut counts = Vec::new();
        for n in [3usize, 60] {
            let app = spawn_quiet_app(backend, &[]).await;
            let viewer = app.student("vwrr1x");
            let voters: Vec<Student> = (0..3).map(|i| app.student(&format!("votr{i}x"))).collect();
            let mut members: Vec<&Student> = voters.iter().collect();
            members.push(&viewer);
            let class = new_class(&app, "CS 2100", &members);
            let mut moderator = staff(&app, "modr1x", Role::Moderator);
            // `staff` sets the role in the database; the row it returns predates that.
            moderator.user.role = Role::Moderator;
            let mut long = None;
            for t in 0..n {
                let root = thread(
                    &app,
                    &class,
                    &voters[t % 3].user,
                    &format!("Thread {t}"),
                    200 - t as i64,
                );
                let mut last = root.clone();
                for r in 0..n.min(20) {
                    last = reply(
                        &app,
                        &voters[(t + r + 1) % 3].user,
                        &last,
                        &format!("Reply {r}"),
                    );
                    if r % 2 == 0 {
                        chat::votes::upvote(&mut app.conn(), &viewer.user, &last.id, clock::now())
                            .unwrap();
                    }
                }
                chat::votes::upvote(&mut app.conn(), &viewer.user, &root.id, clock::now()).unwrap();
                if t % 2 == 0 {
                    chat::answers::mark(
                        &mut app.conn(),
                        &moderator.user,
                        &last.id,
                        true,
                        clock::now(),
                        |_, _, _| Ok(0),
                    )
                    .unwrap();
                }
                if t < 3 {
                    chat::pins::pin(
                        &mut app.conn(),
                        &moderator.user,
                        &class.id,
                        &root.id,
                        clock::now(),
                        |_, _| Ok(1),
                    )
                    .unwrap();
                }
                long = Some(root);
            }
            let long = long.unwrap();
            let mut per_page = Vec::new();
            for path in [
                list_path(&class),
                format!("{}?sort=top", list_path(&class)),
                format!("{}?sort=unanswered", list_path(&class)),
                thread_path(&long),
            ] {
                per_page.push(queries_for(&app, &viewer, &path).await);
            }
            eprintln!("{backend:?} n={n}: list, top, unanswered, thread ran {per_page:?} queries");
            counts.push(per_page);
        }
        assert_eq!(
            counts[0], counts[1],
            "query counts must not grow with threads, replies, votes, answers or pins"
        );
    }
);

/// On PostgreSQL, a reply its author deletes while the starter marks it as
/// the answer: the mark waits for the class, then finds the reply gone and
/// says so (once, the mark named the removed row: a reference error, a 500).
#[tokio::test]
async fn marking_a_reply_deleted_meanwhile_says_it_is_gone() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let starter = app.student("stm1a");
    let helper = app.student("hlp2b");
    let class = new_class(&app, "CS 2150", &[&starter, &helper]);
    let root = thread(&app, &class, &starter.user, "Is the exam cumulative?", 5);
    let answer = reply(&app, &helper.user, &root, "Yes, all units.");

    // The author's delete, holding the class's chat as a delete does, not yet committed.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('chat-class:{}')); \
             DELETE FROM class_messages WHERE id = '{}'",
            class.id, answer.id
        ))
        .unwrap();
    let release = when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").unwrap();
    });
    let ((status, body), seen) = tokio::join!(mark(&app, &starter, &answer, "yes"), release);
    assert_eq!(seen.unwrap().0, 1, "the mark waited on the delete");
    assert!((400..500).contains(&status), "{status}: {body}");
    assert_eq!(stored(&app, &root.id).answer_id, None);
}

backend_test!(
    async fn a_student_marks_and_unmarks_answers_at_most_thirty_times_an_hour(backend: Backend) {
        // Arrange: a thread of the starter's with one reply.
        let app = spawn_quiet_app(backend, &[]).await;
        let starter = app.student("mk1s");
        let other = app.student("mk2o");
        let class = new_class(&app, "CS 2150", &[&starter, &other]);
        let root = thread(&app, &class, &starter.user, "Where is the exam?", 5);
        let answer = reply(&app, &other.user, &root, "In Rice 130");

        // Act: mark and unmark, over and over; every change is a live event.
        let mut statuses = Vec::new();
        let mut refused = String::new();
        for n in 0..31 {
            let how = if n % 2 == 0 { "yes" } else { "no" };
            let (status, body) = mark(&app, &starter, &answer, how).await;
            statuses.push(status);
            refused = body;
        }

        // Assert: thirty changes, then a refusal that says when; the answer
        // stays as the thirtieth change left it (unmarked).
        assert!(statuses[..30].iter().all(|s| *s == 303), "{statuses:?}");
        assert_eq!(statuses[30], 429);
        assert!(refused.contains("30 times an hour"), "{refused}");
        assert_eq!(stored(&app, &root.id).answer_id, None);
    }
);
