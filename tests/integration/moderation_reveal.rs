//! Issue 21's reveal, user page and staff reading, over HTTP on SQLite and
//! PostgreSQL: a moderator reads a class they never joined (audited), a reveal
//! shows its author only to its requester after a second staff member approves
//! (decline ends it, self-approval is refused, an admin's urgent reveal is on
//! everyone's overview), the user page shows counts and suspensions but no
//! message text, and an expired suspension ends by itself.

use crate::common;
use crate::common::seed;

use chrono::Duration;
use common::*;
use common_grounds::accounts::Role;
use common_grounds::chat::{ClassMessage, MessageId};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{audit_log, class_messages, reveal_requests, users};
use common_grounds::moderation::{self, AuditAction, AuditEntry};
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

/// Audit rows of the reveal steps (opening a class's staff read adds its own).
fn reveal_steps(app: &TestApp) -> i64 {
    audit_log::table
        .filter(audit_log::action.ne(AuditAction::ViewClass.as_str()))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn request_status(app: &TestApp) -> Vec<String> {
    reveal_requests::table
        .select(reveal_requests::status)
        .load(&mut app.conn())
        .unwrap()
}

fn set_name(app: &TestApp, who: &Student, name: &str) {
    diesel::update(users::table.find(&who.user.id))
        .set((
            users::display_name.eq(Some(name)),
            users::name_key.eq(common_grounds::accounts::display_name::name_key(name)),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn message(
    app: &TestApp,
    who: &Student,
    class: &Class,
    pseudonym: &str,
    text: &str,
) -> ClassMessage {
    seed::message(&mut app.conn(), &who.user, class, pseudonym, text, None)
}

fn reply(
    app: &TestApp,
    who: &Student,
    class: &Class,
    pseudonym: &str,
    text: &str,
    to: &ClassMessage,
) -> ClassMessage {
    seed::message(&mut app.conn(), &who.user, class, pseudonym, text, Some(to))
}

/// Where a 303 points.
fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
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

/// Asks to reveal `message`'s author as `who`; returns the request page's path.
async fn ask(app: &TestApp, who: &Student, message: &MessageId, reason: &str) -> String {
    let r = who
        .post(
            app,
            "/admin/flags",
            &format!("/admin/messages/{message}/reveal"),
            &[("reason", reason)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "asking to reveal");
    let to = location(&r);
    assert!(to.starts_with("/admin/reveals/"), "{to}");
    to
}

/// The user page's report counts, as (label, value) pairs.
fn user_counts(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let one = |d: &scraper::ElementRef, tag: &str| -> String {
        d.select(&scraper::Selector::parse(tag).unwrap())
            .next()
            .unwrap()
            .text()
            .collect()
    };
    doc.select(&scraper::Selector::parse(".user-counts div").unwrap())
        .map(|d| (one(&d, "dt"), one(&d, "dd")))
        .collect()
}

/// The user page withholds the report counts and says when they show.
fn assert_counts_withheld(html: &str) {
    assert!(user_counts(html).is_empty(), "counts shown: {html}");
    for label in [
        "Reports received",
        "Messages hidden now",
        "Messages removed",
    ] {
        assert!(!html.contains(label), "{label} shown: {html}");
    }
    assert!(
        html.contains(
            "Report counts show to a staff member once a reveal of one of this \
             person's messages is approved for them (two staff members agree), \
             and count only the messages revealed to them."
        ),
        "{html}"
    );
}

/// Every admin page `who` can open (and the class read), in raw HTML.
async fn every_page(
    app: &TestApp,
    who: &Student,
    class: &Class,
    request: &str,
) -> Vec<(String, String)> {
    let mut pages = Vec::new();
    for path in [
        "/admin".to_string(),
        "/admin/flags".into(),
        "/admin/reveals".into(),
        request.to_string(),
        "/admin/audit".into(),
        "/admin/audit?action=reveal_request".into(),
        "/admin/audit?action=reveal_approve".into(),
        "/admin/suspensions".into(),
        format!("/admin/classes/{}", class.id),
    ] {
        let (status, html) = who.get(app, &path).await;
        assert_eq!(status, 200, "{path}");
        pages.push((path, html));
    }
    pages
}

/// Suspends us3r for a week through the user page's form.
async fn suspend_via_form(app: &TestApp, moderator: &Student, page: &str, reason: &str) {
    let r = moderator
        .post(
            app,
            page,
            "/admin/users/us3r/suspend",
            &[("length", "week"), ("reason", reason)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
}

fn assert_hidden_author(pages: &[(String, String)], author: &Student) {
    for (path, html) in pages {
        for bit in [&author.user.computing_id, &author.user.email] {
            assert!(!html.contains(bit.as_str()), "{path} shows {bit}");
        }
    }
}

// ---------------------------------------------------------------- reading a class as staff

backend_test!(
    async fn a_moderator_reads_a_class_they_never_joined(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au1r");
        let other = app.student("ot2r");
        let outsider = app.student("ou3t");
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &other]);
        let root = message(
            &app,
            &author,
            &class,
            "Violet Heron",
            "When is the midterm?",
        );
        let answer = reply(
            &app,
            &other,
            &class,
            "Amber Finch",
            "Next Tuesday, I think",
            &root,
        );
        reply(
            &app,
            &author,
            &class,
            "Violet Heron",
            "rude words in a reply",
            &answer,
        );
        let held = message(
            &app,
            &other,
            &class,
            "Amber Finch",
            "call me at this number",
        );
        let cumulative = message(
            &app,
            &author,
            &class,
            "Violet Heron",
            "and is the final cumulative?",
        );
        let hidden_one = class_messages::table
            .filter(class_messages::content.eq("rude words in a reply"))
            .select(class_messages::id)
            .first::<MessageId>(&mut app.conn())
            .unwrap();
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &hidden_one,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            clock::now(),
        )
        .unwrap();
        diesel::update(class_messages::table.find(&held.id))
            .set(class_messages::held.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let before = audit_total(&app);

        // A staff member who never joined gets "join first" on the student page...
        let (status, html) = moderator.get(&app, &format!("/classes/{}", class.id)).await;
        assert_eq!(status, 200);
        assert!(html.contains("Join this class first"));
        // ...and reads the chat at the staff page, read only.
        let path = format!("/admin/classes/{}", class.id);
        let (status, html) = moderator.get(&app, &path).await;
        assert_eq!(status, 200, "{html}");
        for text in [
            "When is the midterm?",
            "Next Tuesday, I think",
            "rude words in a reply",
            "call me at this number",
        ] {
            assert!(html.contains(text), "shows {text}");
        }
        assert!(html.contains("Violet Heron") && html.contains("Amber Finch"));
        let doc = scraper::Html::parse_document(&html);
        let badges: Vec<String> = doc
            .select(&scraper::Selector::parse(".staff-thread .badge").unwrap())
            .map(|b| b.text().collect())
            .collect();
        assert!(badges.contains(&"hidden".to_string()), "{badges:?}");
        assert!(badges.contains(&"held".to_string()), "{badges:?}");
        // Each reply says whom it answers, as on the students' page.
        let replying: Vec<String> = doc
            .select(&scraper::Selector::parse(".staff-thread .replying-to").unwrap())
            .map(|p| p.text().collect())
            .collect();
        assert_eq!(
            replying,
            ["replying to Violet Heron", "replying to Amber Finch"],
            "{html}"
        );
        // Each thread's landmark is named apart, two by one pseudonym too.
        let landmarks: Vec<String> = doc
            .select(&scraper::Selector::parse("section.staff-read").unwrap())
            .filter_map(|s| s.value().attr("aria-label").map(str::to_string))
            .collect();
        let distinct: std::collections::HashSet<&String> = landmarks.iter().collect();
        assert_eq!(landmarks.len(), 3, "{landmarks:?}");
        assert_eq!(distinct.len(), 3, "{landmarks:?}");
        // No compose, vote, report or edit forms (only the staff actions,
        // which post to /admin/messages/..., and a thread's pin); no author
        // named.
        let forms: Vec<&str> = doc
            .select(&scraper::Selector::parse("main form").unwrap())
            .filter_map(|f| f.value().attr("action"))
            .collect();
        assert!(!forms.is_empty(), "each message has its staff actions");
        let pin = |a: &str| a.starts_with("/classes/") && a.ends_with("/pin");
        assert!(
            forms
                .iter()
                .all(|a| a.starts_with("/admin/messages/") || pin(a)),
            "{forms:?}"
        );
        let textareas = doc
            .select(&scraper::Selector::parse("main textarea").unwrap())
            .count();
        assert_eq!(textareas, 0, "no compose box: {html}");
        for bit in ["au1r", "ot2r", "virginia.edu"] {
            assert!(!html.contains(bit), "the staff read names {bit}");
        }

        // A link from another site opens nothing and writes nothing: it asks.
        let cross = moderator
            .client
            .get(app.url(&path))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status().as_u16(), 200);
        let asked = cross.text().await.unwrap();
        assert!(asked.contains("Open this class"), "{asked}");
        assert!(asked.contains(&format!("href=\"{path}\"")), "{asked}");
        assert!(!asked.contains("staff-read"), "{asked}");

        // One view_class row, about the class.
        assert_eq!(audit_total(&app), before + 1);
        let rows = audit_rows(&app, AuditAction::ViewClass);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].actor_id.as_ref(), Some(&moderator.user.id));
        assert_eq!(rows[0].target_type, "class");
        assert_eq!(rows[0].target_id, class.id.to_string());
        assert_eq!(rows[0].class_id.as_deref(), Some(class.id.as_str()));
        // The audit log says so in words and links back to the class read.
        let (_, audit) = moderator.get(&app, "/admin/audit?action=view_class").await;
        assert!(
            audit.contains("read a class&#39;s chat") || audit.contains("read a class's chat"),
            "{audit}"
        );
        assert!(audit.contains(&format!("href=\"{path}\"")), "{audit}");
        // The queue's card links there too, not to the student page.
        seed::flag(&mut app.conn(), &outsider.user, &root, "spam");
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        assert!(queue.contains(&format!("href=\"{path}\"")), "{queue}");

        // A student (member or not) still gets 404 at the staff page and "join first" outside.
        assert_eq!(outsider.get(&app, &path).await.0, 404);
        assert_eq!(author.get(&app, &path).await.0, 404);
        let (_, page) = outsider.get(&app, &format!("/classes/{}", class.id)).await;
        assert!(page.contains("Join this class first"));
        assert!(!page.contains("When is the midterm?"));
        // Unknown or malformed classes are 404, and write nothing.
        let total = audit_total(&app);
        for bad in [
            "/admin/classes/00000000-0000-4000-8000-000000000000",
            "/admin/classes/nonsense",
        ] {
            assert_eq!(moderator.get(&app, bad).await.0, 404, "{bad}");
        }
        let (status, _) = moderator.get(&app, &format!("{path}?before=garbage")).await;
        assert_eq!(status, 400);
        assert_eq!(audit_total(&app), total);

        // A post complained of outside the app (nobody reported it here): the
        // moderator hides it from the class page, with a reason, and lands
        // back at the message, where it now offers Restore.
        let (_, page) = moderator.get(&app, &path).await;
        let anchor = format!("id=\"m-{}\"", cumulative.id);
        assert!(page.contains(&anchor), "{page}");
        // The page's own hide form for it: its action and where it comes back.
        let hide_action = format!("/admin/messages/{}/hide", cumulative.id);
        let doc = scraper::Html::parse_document(&page);
        let back_sel =
            scraper::Selector::parse(&format!("form[action='{hide_action}'] input[name=back]"))
                .unwrap();
        let back = doc
            .select(&back_sel)
            .next()
            .and_then(|i| i.value().attr("value"))
            .expect("a hide form for the message")
            .to_string();
        assert_eq!(back, format!("class:{}", class.id));
        let r = moderator
            .post(
                &app,
                &path,
                &hide_action,
                &[("category", "harassment"), ("back", &back)],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(location(&r), format!("{path}#m-{}", cumulative.id));
        let hide = audit_rows(&app, AuditAction::Hide)
            .into_iter()
            .find(|a| a.target_id == cumulative.id.to_string())
            .expect("the hide is audited");
        assert_eq!(hide.category.as_deref(), Some("harassment"));
        assert_eq!(hide.actor_id.as_ref(), Some(&moderator.user.id));
        let (_, after) = moderator.get(&app, &path).await;
        let at = after.find(&anchor).unwrap();
        let item = &after[at..at + after[at..].find("</li>").unwrap()];
        assert!(
            item.contains("badge\">hidden") && item.contains("/restore"),
            "{item}"
        );
    }
);

// ---------------------------------------------------------------- two-person reveal

backend_test!(
    async fn a_reveal_shows_the_author_only_after_a_second_staff_member_approves(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("zq9xk");
        set_name(&app, &author, "Quinn Zed");
        let flagger = app.student("fl4g");
        let asker = staff(&app, "mo1a", Role::Moderator);
        let second = staff(&app, "mo2b", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &flagger]);
        let bad = message(&app, &author, &class, "Violet Heron", "rude words here");
        seed::flag(&mut app.conn(), &flagger.user, &bad, "rude");

        // Bad reasons: refused back to the queue, with the words typed to
        // mend; nothing written, nothing shown.
        for fields in [
            vec![],
            vec![("reason", "short")],
            vec![("reason", "   short    ")],
        ] {
            let (status, body) = asker
                .post_and_follow(
                    &app,
                    "/admin/flags",
                    &format!("/admin/messages/{}/reveal", bad.id),
                    &fields,
                )
                .await;
            assert_eq!(status, 200, "{fields:?}");
            assert!(body.contains("at least 10 characters"), "{body}");
            assert!(body.contains("<h1>Flagged messages</h1>"), "{body}");
            if !fields.is_empty() {
                assert!(body.contains("“short”"), "the words to mend: {body}");
            }
            assert!(!body.contains("zq9xk"));
        }
        assert_eq!(reveal_steps(&app), 0);
        assert!(request_status(&app).is_empty());

        let reason = "Threat reported to the Dean of Students";
        let request = ask(&app, &asker, &bad.id, reason).await;
        assert_eq!(request_status(&app), ["pending"]);
        // Asked again while it waits: led to the waiting request, nothing new.
        let (status, again) = asker
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{}/reveal", bad.id),
                &[("reason", "Asking once more, to be sure")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            again.contains("You already asked to reveal this message"),
            "{again}"
        );
        assert_eq!(request_status(&app), ["pending"], "one request");
        let rows = audit_rows(&app, AuditAction::RevealRequest);
        assert_eq!(rows.len(), 1, "one row for the request");
        assert_eq!(reveal_steps(&app), 1);
        assert_eq!(rows[0].actor_id.as_ref(), Some(&asker.user.id));
        assert_eq!(rows[0].reason.as_deref(), Some(reason));
        assert_eq!(rows[0].class_id.as_deref(), Some(class.id.as_str()));
        assert_eq!(rows[0].target_id, bad.id.to_string());

        // Before approval: no page the requester can open names the author.
        let pages = every_page(&app, &asker, &class, &request).await;
        assert_hidden_author(&pages, &author);
        assert!(pages
            .iter()
            .any(|(_, h)| h.contains("Another staff member must approve")));
        assert!(
            !pages[0].1.contains("reveals-waiting"),
            "nothing waits for the requester"
        );

        // The requester cannot approve their own: refused in words, nothing changes.
        let id = request.trim_start_matches("/admin/reveals/");
        for decision in ["approve", "decline"] {
            let (status, html) = asker
                .post_and_follow(
                    &app,
                    &request,
                    &format!("/admin/reveals/{id}/{decision}"),
                    &[],
                )
                .await;
            assert_eq!(status, 200);
            assert!(
                flash_in(&html).contains("another staff member must approve or decline"),
                "{html}"
            );
        }
        assert_eq!(request_status(&app), ["pending"]);
        assert_eq!(reveal_steps(&app), 1);

        // The second staff member sees it waiting (nav count, list with the reason and the asker).
        let (_, list) = second.get(&app, "/admin/reveals").await;
        assert!(list.contains("reveals-waiting"), "{list}");
        assert!(list.contains(reason) && list.contains("mo1a") && list.contains("rude words here"));
        assert!(list.contains("Violet Heron"));
        let (status, html) = second
            .post_and_follow(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[("note", "Agreed, dean asked")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(flash_in(&html).contains("Approved"), "{html}");
        assert_eq!(request_status(&app), ["approved"]);
        let approvals = audit_rows(&app, AuditAction::RevealApprove);
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].actor_id.as_ref(), Some(&second.user.id));
        assert_eq!(approvals[0].reason.as_deref(), Some("Agreed, dean asked"));
        assert_eq!(reveal_steps(&app), 2);
        // Decided once: a second decision is refused and changes nothing.
        let (_, html) = second
            .post_and_follow(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/decline"),
                &[],
            )
            .await;
        assert!(flash_in(&html).contains("already decided"), "{html}");
        assert_eq!(request_status(&app), ["approved"]);
        assert_eq!(reveal_steps(&app), 2);

        // Only the requester sees the author, on the request's page only.
        let (_, theirs) = second.get(&app, &request).await;
        assert!(!theirs.contains("zq9xk") && !theirs.contains("zq9xk@virginia.edu"));
        let (_, shown) = asker.get(&app, &request).await;
        assert!(shown.contains("zq9xk@virginia.edu"), "{shown}");
        assert!(shown.contains("Quinn Zed"));
        assert!(shown.contains(&format!("href=\"/admin/users/{}\"", author.user.id)));
        let others: Vec<(String, String)> = every_page(&app, &asker, &class, &request)
            .await
            .into_iter()
            .filter(|(path, _)| *path != request)
            .collect();
        assert_hidden_author(&others, &author);
    }
);

backend_test!(
    async fn a_declined_reveal_ends_there(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        // Not all hex digits: the pages carry 64-hex-digit tokens, and the
        // check that no page shows the author's ID would match one by chance.
        let author = app.student("dq1c");
        let asker = staff(&app, "mo1a", Role::Moderator);
        let second = staff(&app, "ad2b", Role::Admin);
        let class = new_class(&app, "CS 2150", &[&author]);
        let bad = message(&app, &author, &class, "Violet Heron", "a borderline joke");
        let request = ask(&app, &asker, &bad.id, "Several students complained").await;
        let id = request.trim_start_matches("/admin/reveals/").to_string();

        let r = second
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/decline"),
                &[("note", "Not serious enough")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(request_status(&app), ["declined"]);
        assert_eq!(audit_rows(&app, AuditAction::RevealDecline).len(), 1);
        assert_eq!(reveal_steps(&app), 2, "request and decline, one row each");
        // Nobody can approve it afterwards, and the requester never sees the author.
        let r = second
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(request_status(&app), ["declined"]);
        assert_eq!(reveal_steps(&app), 2);
        let pages = every_page(&app, &asker, &class, &request).await;
        assert_hidden_author(&pages, &author);
        let (_, page) = asker.get(&app, &request).await;
        assert!(
            page.contains("declined by ad2b") && page.contains("Not serious enough"),
            "{page}"
        );
        // Unknown and malformed requests are 404.
        assert_eq!(
            asker
                .get(&app, "/admin/reveals/00000000-0000-4000-8000-000000000000")
                .await
                .0,
            404
        );
        assert_eq!(asker.get(&app, "/admin/reveals/nope").await.0, 404);
        assert_eq!(
            author.get(&app, &request).await.0,
            404,
            "students never see requests"
        );

        // Asking again is allowed, but whoever decides it next reads that a
        // colleague declined it, and why: no shopping for an approval.
        ask(&app, &asker, &bad.id, "Asking again, more reports came").await;
        let third = staff(&app, "mo3c", Role::Moderator);
        let (_, waiting) = third.get(&app, "/admin/reveals").await;
        let doc = scraper::Html::parse_document(&waiting);
        let sel = scraper::Selector::parse(".reveal-request .earlier-requests li").unwrap();
        let earlier: Vec<String> = doc
            .select(&sel)
            .map(|e| e.text().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(earlier.len(), 1, "{waiting}");
        for words in [
            "mo1a asked",
            "Several students complained",
            "declined by ad2b",
            "Not serious enough",
        ] {
            assert!(earlier[0].contains(words), "{words}: {earlier:?}");
        }
        assert_hidden_author(&[("/admin/reveals".to_string(), waiting)], &author);
    }
);

backend_test!(
    async fn staff_never_decide_on_their_own_messages(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        // A moderator who is also a student in the class writes in its chat.
        let writer = staff(&app, "mw1r", Role::Moderator);
        let other = staff(&app, "mo2d", Role::Moderator);
        let reporter = app.student("rp3t");
        let class = new_class(&app, "CS 2150", &[&writer, &reporter]);
        let reported = message(&app, &writer, &class, "Violet Heron", "rude words here");
        seed::flag(&mut app.conn(), &reporter.user, &reported, "harassment");
        let held = message(&app, &writer, &class, "Violet Heron", "held words here");
        diesel::update(class_messages::table.find(&held.id))
            .set(class_messages::held.eq(true))
            .execute(&mut app.conn())
            .unwrap();
        let before = audit_total(&app);
        let unchanged = |app: &TestApp| {
            let rows: Vec<(bool, bool, bool)> = class_messages::table
                .order(class_messages::content)
                .select((
                    class_messages::hidden,
                    class_messages::deleted,
                    class_messages::held,
                ))
                .load(&mut app.conn())
                .unwrap();
            // "held words here", then "rude words here".
            assert_eq!(rows, [(false, false, true), (false, false, false)]);
        };

        // Act: the writer dismisses, hides, removes or restores their own
        // reported message, and releases their own held one.
        let own = "You wrote this message, so another staff member must decide on it";
        for (action, fields) in [
            ("dismiss", vec![]),
            ("hide", vec![("category", "spam")]),
            ("delete", vec![("category", "spam")]),
            ("restore", vec![]),
        ] {
            let (status, html) = writer
                .post_and_follow(
                    &app,
                    "/admin/flags",
                    &format!("/admin/messages/{}/{action}", reported.id),
                    &fields,
                )
                .await;
            // Assert: refused in words, and nothing changed.
            assert_eq!(status, 200, "{action}");
            assert!(flash_in(&html).contains(own), "{action}: {html}");
        }
        let shown = common_grounds::chat::staff::fingerprint("held words here");
        let (status, html) = writer
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{}/release", held.id),
                &[("shown", &shown)],
            )
            .await;
        assert_eq!(status, 200);
        assert!(flash_in(&html).contains(own), "{html}");
        unchanged(&app);
        assert_eq!(audit_total(&app), before);

        // A colleague asks to reveal who wrote it: the writer cannot decide.
        let request = ask(
            &app,
            &other,
            &reported.id,
            "Harassment complaint from the dean",
        )
        .await;
        let id = request.trim_start_matches("/admin/reveals/");
        for decision in ["approve", "decline"] {
            let (status, html) = writer
                .post_and_follow(
                    &app,
                    &request,
                    &format!("/admin/reveals/{id}/{decision}"),
                    &[],
                )
                .await;
            assert_eq!(status, 200);
            assert!(
                flash_in(&html).contains(
                    "You wrote this message, so another staff member must approve or decline"
                ),
                "{decision}: {html}"
            );
        }
        assert_eq!(request_status(&app), ["pending"]);
        assert_eq!(audit_total(&app), before + 1, "only the request");
        // Nor is it listed as waiting for them.
        let (_, list) = writer.get(&app, "/admin/reveals").await;
        assert!(list.contains("No request is waiting for you."), "{list}");
        assert!(!list.contains("reveals-waiting"), "{list}");

        // Another moderator decides as usual.
        let r = other
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{}/dismiss", reported.id),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(audit_rows(&app, AuditAction::Dismiss).len(), 1);
    }
);

backend_test!(
    async fn a_message_staff_asked_to_reveal_outlives_its_authors_delete(backend: Backend) {
        // With its background jobs: live pages hear of changes through them.
        let app = spawn_app(backend).await;
        let author = app.student("dq2c");
        let asker = staff(&app, "mo1a", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author]);
        let page = format!("/classes/{}", class.id);
        // Nobody reported it: a complaint came from outside the app, and a
        // moderator reading the class asked who wrote it.
        let sent = message(
            &app,
            &author,
            &class,
            "Violet Heron",
            "a threat sent by text",
        );
        let request = ask(&app, &asker, &sent.id, "A complaint from the deans office").await;
        // A classmate has the class open.
        let classmate = app.student("cm3c");
        common_grounds::classes::enroll(
            &mut app.conn(),
            &classmate.user.id,
            &class.id,
            clock::now(),
        )
        .unwrap();
        let mut stream = crate::common::sse::EventStream::open(
            &classmate.client,
            &app.url(&format!("/classes/{}/events", class.id)),
            None,
        )
        .await;

        // Act: the author deletes it (no replies, no reports).
        let r = author
            .post(&app, &page, &format!("/messages/{}/delete", sent.id), &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);

        // Assert: the classmate's open page drops it, as a reload does, as
        // for any message deleted with nothing under it: a "[deleted]" kept
        // in place would tell the class someone is asking who wrote it.
        let frame = stream
            .next_frame(std::time::Duration::from_secs(30))
            .await
            .expect("the delete reaches the open page");
        let data: serde_json::Value = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(data["message"], serde_json::json!(sent.id.to_string()));
        assert!(data["html"].is_null(), "{data}");
        // Nor does the author's export list it, as for any such delete.
        let response = author
            .client
            .get(app.url("/account/export"))
            .send()
            .await
            .unwrap();
        let export = response.text().await.unwrap();
        assert!(!export.contains(sent.id.as_str()), "{export}");

        // Assert: gone from the class, but the request still waits, with the
        // text its author deleted, on every staff member's list.
        let (_, class_page) = author.get(&app, &page).await;
        assert!(
            !class_page.contains("a threat sent by text"),
            "{class_page}"
        );
        assert_eq!(request_status(&app), ["pending"]);
        let (status, html) = asker.get(&app, &request).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("a threat sent by text (deleted by its author)"),
            "{html}"
        );
        let second = staff(&app, "mo2b", Role::Moderator);
        let (_, list) = second.get(&app, "/admin/reveals").await;
        assert!(list.contains("A complaint from the deans office"), "{list}");
    }
);

backend_test!(
    async fn a_reveal_asked_by_someone_no_longer_staff_cannot_be_approved(backend: Backend) {
        // Arrange: a moderator asks, then is made a student again.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("de2c");
        let asker = staff(&app, "mo2a", Role::Moderator);
        let second = staff(&app, "ad3b", Role::Admin);
        let class = new_class(&app, "CS 2150", &[&author]);
        let bad = message(&app, &author, &class, "Violet Heron", "a borderline joke");
        let request = ask(&app, &asker, &bad.id, "Several students complained").await;
        let id = request.trim_start_matches("/admin/reveals/").to_string();
        diesel::update(users::table.find(&asker.user.id))
            .set(users::role.eq("student"))
            .execute(&mut app.conn())
            .unwrap();

        // Act: a second staff member tries to approve it.
        let (_, page) = second
            .post_and_follow(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[],
            )
            .await;

        // Assert: refused in words; still pending, nothing audited.
        assert!(page.contains("no longer staff"), "{}", flash_in(&page));
        assert_eq!(request_status(&app), ["pending"]);
        assert!(audit_rows(&app, AuditAction::RevealApprove).is_empty());
    }
);

backend_test!(
    async fn a_reveal_waiting_past_a_week_can_only_be_declined(backend: Backend) {
        // Arrange: a request asked eight days ago.
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("ex2c");
        let asker = staff(&app, "mo7a", Role::Moderator);
        let second = staff(&app, "ad7b", Role::Admin);
        let class = new_class(&app, "CS 2150", &[&author]);
        let bad = message(&app, &author, &class, "Violet Heron", "a borderline joke");
        let request = ask(&app, &asker, &bad.id, "Several students complained").await;
        let id = request.trim_start_matches("/admin/reveals/").to_string();
        diesel::update(reveal_requests::table)
            .set(reveal_requests::created_at.eq(clock::now() - Duration::days(8)))
            .execute(&mut app.conn())
            .unwrap();

        // The queue says so, and offers only Decline.
        let (_, queue) = second.get(&app, "/admin/reveals").await;
        assert!(queue.contains("Asked more than 7 days ago"), "{queue}");
        assert!(!queue.contains(">Approve</button>"), "{queue}");

        // Act: approving anyway (an old page, a hand-made form).
        let (_, page) = second
            .post_and_follow(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[],
            )
            .await;

        // Assert: refused in words; still pending, nothing audited.
        assert!(
            page.contains("waited more than 7 days"),
            "{}",
            flash_in(&page)
        );
        assert_eq!(request_status(&app), ["pending"]);
        assert!(audit_rows(&app, AuditAction::RevealApprove).is_empty());

        // The one who asked may ask again (the old one waits only for a
        // decline), and the new request can be approved.
        let again = ask(&app, &asker, &bad.id, "Still needed: it happened again").await;
        assert_ne!(again, request);
        let new_id = again.trim_start_matches("/admin/reveals/").to_string();
        let approved = second
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{new_id}/approve"),
                &[],
            )
            .await;
        assert_eq!(approved.status().as_u16(), 303);
        let declined = second
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/decline"),
                &[],
            )
            .await;
        assert_eq!(declined.status().as_u16(), 303);
        let mut statuses = request_status(&app);
        statuses.sort();
        assert_eq!(statuses, ["approved", "declined"]);
    }
);

backend_test!(
    async fn an_urgent_reveal_is_an_admins_alone_and_on_everyones_overview(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("ur9g");
        let admin = staff(&app, "ad1m", Role::Admin);
        let moderator = staff(&app, "mo2d", Role::Moderator);
        let class = new_class(&app, "PHYS 1425", &[&author]);
        let bad = message(
            &app,
            &author,
            &class,
            "Violet Heron",
            "a threat against the class",
        );
        let path = format!("/admin/messages/{}/reveal", bad.id);
        let reason = "Imminent threat: police asked at 2am";

        // A moderator's form has no urgent box, and forcing one is refused.
        seed::flag(&mut app.conn(), &admin.user, &bad, "threat");
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        assert!(!queue.contains("name=\"urgent\""));
        let (_, queue) = admin.get(&app, "/admin/flags").await;
        assert!(queue.contains("name=\"urgent\""));
        let r = moderator
            .post(
                &app,
                "/admin/flags",
                &path,
                &[("reason", reason), ("urgent", "1")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 400);
        assert!(r.text().await.unwrap().contains("Only an admin"));
        assert!(request_status(&app).is_empty());
        assert_eq!(reveal_steps(&app), 0);

        // The admin reveals alone: approved at once, one reveal_urgent row.
        let r = admin
            .post(
                &app,
                "/admin/flags",
                &path,
                &[("reason", reason), ("urgent", "1")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        let request = location(&r);
        assert_eq!(request_status(&app), ["approved"]);
        assert_eq!(audit_rows(&app, AuditAction::RevealUrgent).len(), 1);
        assert!(audit_rows(&app, AuditAction::RevealRequest).is_empty());
        assert_eq!(reveal_steps(&app), 1);
        let (_, shown) = admin.get(&app, &request).await;
        assert!(shown.contains("ur9g@virginia.edu"), "{shown}");
        // Nothing waits for the moderator: it is decided.
        let (_, list) = moderator.get(&app, "/admin/reveals").await;
        assert!(!list.contains("reveals-waiting"));

        // Every staff member's overview lists it: who, when, which class, why; never the author.
        let (_, overview) = moderator.get(&app, "/admin").await;
        let doc = scraper::Html::parse_document(&overview);
        let listed: String = doc
            .select(&scraper::Selector::parse(".urgent-reveals").unwrap())
            .map(|e| e.text().collect::<String>())
            .collect();
        assert!(listed.contains("ad1m"), "{listed}");
        assert!(listed.contains("PHYS 1425"), "{listed}");
        assert!(listed.contains(reason), "{listed}");
        assert!(
            !overview.contains("ur9g"),
            "the overview does not name the author"
        );
        let pages = every_page(&app, &moderator, &class, &request).await;
        assert_hidden_author(&pages, &author);

        // Older than 30 days: off the overview.
        diesel::update(reveal_requests::table)
            .set(reveal_requests::created_at.eq(clock::now() - Duration::days(31)))
            .execute(&mut app.conn())
            .unwrap();
        let (_, overview) = moderator.get(&app, "/admin").await;
        assert!(!overview.contains(reason));
    }
);

backend_test!(
    async fn the_only_staff_member_is_told_a_reveal_needs_a_second(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("on1y");
        let flagger = app.student("fl2g");
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author, &flagger]);
        let bad = message(&app, &author, &class, "Violet Heron", "something reported");
        seed::flag(&mut app.conn(), &flagger.user, &bad, "rude");
        let words = "You are the only staff member: a reveal needs a second one; an admin can mark it urgent";
        for path in ["/admin/reveals", "/admin/flags"] {
            let (_, html) = moderator.get(&app, path).await;
            assert!(html.contains(words), "{path}: {html}");
        }
        // With a second one, the note is gone.
        staff(&app, "mo2d", Role::Moderator);
        for path in ["/admin/reveals", "/admin/flags"] {
            let (_, html) = moderator.get(&app, path).await;
            assert!(!html.contains(words), "{path}");
        }
    }
);

backend_test!(
    async fn an_erased_author_is_said_to_be_deleted(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("er4s");
        let asker = staff(&app, "mo1a", Role::Moderator);
        let second = staff(&app, "mo2b", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&author]);
        let bad = message(&app, &author, &class, "Violet Heron", "posted then erased");
        let request = ask(&app, &asker, &bad.id, "Reported as harassment twice").await;
        // The author's account is erased: their messages keep no owner.
        diesel::update(class_messages::table.find(&bad.id))
            .set(class_messages::user_id.eq(None::<String>))
            .execute(&mut app.conn())
            .unwrap();
        let id = request.trim_start_matches("/admin/reveals/");
        second
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[],
            )
            .await;
        let (_, page) = asker.get(&app, &request).await;
        assert!(
            page.contains("The author&#39;s account has been deleted")
                || page.contains("The author's account has been deleted"),
            "{page}"
        );
        assert!(!page.contains("er4s"));
    }
);

// ---------------------------------------------------------------- the user page

backend_test!(
    async fn the_user_page_shows_counts_and_suspensions_but_no_message_text(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("us3r");
        set_name(&app, &student, "Uma Sterling");
        let reporters = [app.student("re1a"), app.student("re2b")];
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let one = new_class(&app, "CS 2150", &[&student, &reporters[0], &reporters[1]]);
        let two = new_class(&app, "MATH 3351", &[&student]);
        let hidden = message(&app, &student, &one, "Violet Heron", "first secret text");
        let removed = message(&app, &student, &one, "Violet Heron", "second secret text");
        let third = message(&app, &student, &two, "Amber Finch", "third secret text");
        for r in &reporters {
            seed::flag(&mut app.conn(), &r.user, &hidden, "rude");
        }
        seed::flag(&mut app.conn(), &reporters[0].user, &removed, "spam");
        let now = clock::now();
        moderation::messages::hide(
            &mut app.conn(),
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
        moderation::messages::delete(
            &mut app.conn(),
            &moderator.user.id,
            &removed.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now,
        )
        .unwrap();

        // Suspended, lifted, suspended again: through the existing forms.
        let page = format!("/admin/users/{}", student.user.id);
        suspend_via_form(&app, &moderator, &page, "First warning for spamming").await;
        let r = moderator
            .post(&app, &page, "/admin/users/us3r/lift", &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);
        suspend_via_form(&app, &moderator, &page, "Second time: repeated harassment").await;

        let (status, html) = moderator.get(&app, &page).await;
        assert_eq!(status, 200, "{html}");
        for bit in ["us3r", "us3r@virginia.edu", "Uma Sterling", "student"] {
            assert!(html.contains(bit), "shows {bit}");
        }
        // Without a reveal of their own, no counts: "hidden now" going up
        // after a hide would name the author without a second staff member.
        assert_counts_withheld(&html);
        let doc = scraper::Html::parse_document(&html);
        let current: String = doc
            .select(&scraper::Selector::parse(".current-suspension").unwrap())
            .map(|e| e.text().collect::<String>())
            .collect();
        assert!(
            current.contains("Second time: repeated harassment"),
            "{current}"
        );
        let history: Vec<String> = doc
            .select(&scraper::Selector::parse(".suspension-history li").unwrap())
            .map(|e| e.text().collect::<String>())
            .collect();
        assert_eq!(history.len(), 3, "{history:?}");
        assert!(history[0].contains("suspended a user") && history[0].contains("Second time"));
        assert!(history[1].contains("lifted a suspension"));
        assert!(history[2].contains("First warning for spamming"));
        // Counts only: no message of theirs, no pseudonym, no class of theirs.
        for text in [
            "first secret text",
            "second secret text",
            "third secret text",
            "Violet Heron",
            "Amber Finch",
            "MATH 3351",
        ] {
            assert!(!html.contains(text), "the user page shows {text}");
        }
        // While suspended: the lift form, and the suspend form only as the
        // change of the running one (replace); admins also get the role form.
        assert!(html.contains("/admin/users/us3r/lift"));
        let suspend_forms: Vec<String> = doc
            .select(&scraper::Selector::parse("form[action='/admin/users/us3r/suspend']").unwrap())
            .map(|f| f.html())
            .collect();
        assert_eq!(suspend_forms.len(), 1, "{suspend_forms:?}");
        let replacing = doc
            .select(
                &scraper::Selector::parse(
                    "form[action='/admin/users/us3r/suspend'] input[name=replace][value='1']",
                )
                .unwrap(),
            )
            .count();
        assert_eq!(replacing, 1, "{suspend_forms:?}");
        assert!(!html.contains("/admin/users/us3r/role"));
        let admin = staff(&app, "ad1m", Role::Admin);
        let (_, as_admin) = admin.get(&app, &page).await;
        assert!(as_admin.contains("/admin/users/us3r/role"));

        assert_counts_withheld(&as_admin);

        // A pending request tells nothing yet; once a second staff member
        // approves it, its requester (only) sees the exact counts.
        let request = ask(&app, &moderator, &third.id, "Checking a pattern of spam").await;
        assert_counts_withheld(&moderator.get(&app, &page).await.1);
        let id = request.trim_start_matches("/admin/reveals/");
        let r = admin
            .post(
                &app,
                "/admin/reveals",
                &format!("/admin/reveals/{id}/approve"),
                &[],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(request_status(&app), ["approved"]);
        let counted = |reports: &str, hidden: &str, removed: &str| {
            vec![
                ("Reports received".to_string(), reports.to_string()),
                ("Messages hidden now".to_string(), hidden.to_string()),
                ("Messages removed".to_string(), removed.to_string()),
            ]
        };
        // Of the revealed message only (never reported, hidden or removed),
        // not of their other two, one hidden and one removed.
        let (_, html) = moderator.get(&app, &page).await;
        assert_eq!(user_counts(&html), counted("0", "0", "0"), "{html}");
        assert!(
            html.contains("Of the message of theirs revealed to you"),
            "{html}"
        );
        // The oracle stays shut: hiding another of their messages, one not
        // revealed to this moderator, changes nothing here ...
        let fourth = message(&app, &student, &two, "Amber Finch", "fourth secret text");
        let spam = || {
            common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap()
        };
        moderation::messages::hide(&mut app.conn(), &admin.user.id, &fourth.id, &spam(), now)
            .unwrap();
        assert_eq!(
            user_counts(&moderator.get(&app, &page).await.1),
            counted("0", "0", "0")
        );
        // ... while hiding the revealed one counts.
        moderation::messages::hide(&mut app.conn(), &admin.user.id, &third.id, &spam(), now)
            .unwrap();
        assert_eq!(
            user_counts(&moderator.get(&app, &page).await.1),
            counted("0", "1", "0")
        );
        assert_counts_withheld(&admin.get(&app, &page).await.1);
        // An admin who revealed one of their messages alone (urgent) sees them too.
        let urgent = staff(&app, "ad3u", Role::Admin);
        assert_counts_withheld(&urgent.get(&app, &page).await.1);
        let r = urgent
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{}/reveal", hidden.id),
                &[("reason", "Threat of harm, no time"), ("urgent", "1")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        // Twice reported and hidden: the message the admin revealed.
        assert_eq!(
            user_counts(&urgent.get(&app, &page).await.1),
            counted("2", "1", "0")
        );

        // Linked from search, the suspensions list and the audit log.
        let link = format!("href=\"{page}\"");
        for path in [
            "/admin/users?q=Sterling",
            "/admin/suspensions",
            "/admin/audit?action=suspend",
        ] {
            let (_, html) = moderator.get(&app, path).await;
            assert!(html.contains(&link), "{path}: {html}");
        }
        // Unknown, malformed, or asked by a student: 404.
        assert_eq!(
            moderator
                .get(&app, "/admin/users/00000000-0000-4000-8000-000000000000")
                .await
                .0,
            404
        );
        assert_eq!(moderator.get(&app, "/admin/users/us3r%20x").await.0, 404);
        assert_eq!(reporters[0].get(&app, &page).await.0, 404);
    }
);

// ---------------------------------------------------------------- suspension expiry

backend_test!(
    async fn an_expired_suspension_lets_the_student_post_again(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("ex1p");
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let class = new_class(&app, "CS 2150", &[&student]);
        let page = format!("/admin/users/{}", student.user.id);
        let r = moderator
            .post(
                &app,
                &page,
                "/admin/users/ex1p/suspend",
                &[("length", "day"), ("reason", "Cooling off for a day")],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        // Suspending ended their sessions; a new one is refused while it runs.
        let user = users::table
            .find(&student.user.id)
            .select(common_grounds::accounts::User::as_select())
            .first(&mut app.conn())
            .unwrap();
        let session = common_grounds::accounts::sessions::create(
            &mut app.conn(),
            &user.id,
            Some("test"),
            clock::now(),
        )
        .unwrap();
        let again = Student {
            user: user.clone(),
            client: app.client_with_session(&session.token),
            token: session.token,
        };
        let chat = format!("/classes/{}", class.id);
        let post = format!("/classes/{}/messages", class.id);
        let r = again
            .post(&app, &chat, &post, &[("content", "while suspended")])
            .await;
        assert_eq!(r.status().as_u16(), 403);

        // A day passes (its end is now behind us); no staff member does anything.
        let audit_before = audit_total(&app);
        diesel::update(users::table.find(&student.user.id))
            .set(users::suspended_until.eq(Some(clock::now() - Duration::seconds(1))))
            .execute(&mut app.conn())
            .unwrap();
        let r = again
            .post(&app, &chat, &post, &[("content", "back after a day")])
            .await;
        assert_eq!(r.status().as_u16(), 303, "posting again");
        let texts: Vec<String> = class_messages::table
            .filter(class_messages::user_id.eq(&student.user.id))
            .select(class_messages::content)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(texts, ["back after a day"]);
        assert_eq!(audit_total(&app), audit_before, "no staff action");
        // The user page and the list agree: not suspended now, one past suspension.
        let (_, html) = moderator.get(&app, &page).await;
        assert!(html.contains("Not suspended."), "{html}");
        assert!(html.contains("Cooling off for a day"));
        let (_, list) = moderator.get(&app, "/admin/suspensions").await;
        assert!(!list.contains("ex1p"));
    }
);

// ---------------------------------------------------------------- in a browser

/// Sideways scrolling, and elements whose text overflows their box.
const OVERFLOW: &str = r#"
const bad = [...document.querySelectorAll('main *')]
  .filter(e => e.children.length === 0 && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0)
  .map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 40));
return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, bad };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveal_user_and_class_pages_fit_phone_and_desktop() {
    let Some((driver, chromium)) = common::browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let author = app.student("au1b");
    set_name(&app, &author, "Bartholomew Featherstonehaugh");
    let reporter = app.student("re1b");
    let admin = staff(&app, "ad1b", Role::Admin);
    let moderator = staff(&app, "mo2b", Role::Moderator);
    let class = new_class(&app, "CS 2100", &[&author, &reporter]);
    let root = message(
        &app,
        &author,
        &class,
        "Violet Heron",
        "Does anyone have the notes from Tuesday's lecture on heaps and priority queues?",
    );
    let rude = reply(
        &app,
        &reporter,
        &class,
        "Amber Finch",
        "Unnecessarily condescending commentary about classmates",
        &root,
    );
    seed::flag(&mut app.conn(), &author.user, &rude, "disrespectful");
    let pending = ask(
        &app,
        &moderator,
        &rude.id,
        "Reported as disrespectful twice this week",
    )
    .await;
    let r = admin
        .post(
            &app,
            "/admin/flags",
            &format!("/admin/messages/{}/reveal", root.id),
            &[
                ("reason", "Urgent: a safety concern raised by the dean"),
                ("urgent", "1"),
            ],
        )
        .await;
    let urgent = location(&r);
    let pages = [
        "/admin".to_string(),
        "/admin/reveals".into(),
        pending,
        urgent,
        format!("/admin/users/{}", author.user.id),
        format!("/admin/classes/{}", class.id),
    ];
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = common::browser::open(&driver, &chromium, width, height).await;
        common::browser::sign_in(&client, &app.address, &admin.token).await;
        for path in &pages {
            client.goto(&app.url(path)).await.unwrap();
            let measured = client.execute(OVERFLOW, vec![]).await.unwrap();
            let scroll = measured["scroll"].as_f64().unwrap();
            let inner = measured["inner"].as_f64().unwrap();
            assert!(
                scroll <= inner,
                "{path} at {width}px scrolls sideways ({scroll} > {inner})"
            );
            let bad = measured["bad"].as_array().unwrap();
            assert!(bad.is_empty(), "{path} at {width}px overflows: {bad:?}");
            if let Some(found) = common::browser::axe_findings(&client).await {
                assert!(found.is_empty(), "{path} at {width}px: {found:?}");
            }
        }
        client.close().await.unwrap();
    }
}
