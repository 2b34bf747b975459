//! Admin pages that read well (issue 21): the Admin link counts waiting
//! reports, staff land on the overview after signing in, audit rows name the
//! class and the message's first words with a label for the action, and the
//! admin pages pass axe-core and never split a word at 375 or 1280 px.

use crate::common;
use crate::common::browser;
use crate::common::seed;

use common::builders::{ClassBuilder, MessageBuilder};
use common::*;
use common_grounds::accounts::Role;
use common_grounds::chat::{self, ClassMessage};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::moderation;
use common_grounds::sis::{insert_run, NewSyncRun, SyncRunId};

/// CS 2100 section 001 with these students enrolled.
fn cs2100(app: &TestApp, members: &[&Student]) -> Class {
    let mut conn = app.conn();
    let class = ClassBuilder::new("CS 2100", "1262")
        .title("Data Structures and Algorithms 1")
        .section("001")
        .insert(&mut conn);
    for m in members {
        seed::enroll(&mut conn, &m.user, &class);
    }
    class
}

fn message(app: &TestApp, class: &Class, author: &Student, text: &str) -> ClassMessage {
    MessageBuilder::new(&class.id, &author.user.id, "Quiet Otter", text).insert(&mut app.conn())
}

/// The Admin link's badge as the page shows it: (number, spoken label).
fn badge(html: &str) -> Option<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("ul.nav a[href='/admin'] [data-waiting-reports]").unwrap();
    let shown = scraper::Selector::parse("[aria-hidden=true]").unwrap();
    let spoken = scraper::Selector::parse(".visually-hidden").unwrap();
    let el = doc.select(&sel).next()?;
    let text = |s: &scraper::Selector| el.select(s).next().map(|e| e.text().collect::<String>());
    Some((text(&shown)?, text(&spoken)?))
}

backend_test!(
    async fn admin_badge_counts(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au1th");
        let reporter = app.student("re2p");
        let moderator = staff(&app, "mo3d", Role::Moderator);
        let class = cs2100(&app, &[&author, &reporter]);

        // Nothing waiting: the link shows no badge.
        let (status, home) = moderator.get(&app, "/").await;
        assert_eq!(status, 200);
        assert!(
            home.contains(r#"href="/admin""#),
            "staff see the Admin link"
        );
        assert_eq!(badge(&home), None, "no badge with nothing waiting");

        let texts = ["first bad one", "second bad one", "third bad one"];
        let flagged: Vec<ClassMessage> = texts
            .iter()
            .map(|t| message(&app, &class, &author, t))
            .collect();
        message(&app, &class, &author, "an unreported message");
        for m in &flagged {
            seed::flag(
                &mut app.conn(),
                &reporter.user,
                m,
                "off topic for this class",
            );
        }
        // Two reports on one message still make one waiting report.
        let other = app.student("ot4h");
        seed::enroll(&mut app.conn(), &other.user, &class);
        seed::flag(
            &mut app.conn(),
            &other.user,
            &flagged[0],
            "also off topic here",
        );

        for path in ["/", "/admin", "/friends"] {
            let (_, html) = moderator.get(&app, path).await;
            assert_eq!(
                badge(&html),
                Some(("3".to_string(), "3 reports waiting".to_string())),
                "{path}"
            );
        }
        // The queue's own figure agrees (the overview reads the same count).
        assert_eq!(
            moderation::stats::waiting_reports(&mut app.conn()).unwrap(),
            3
        );

        // A moderator's hide is their decision: the message leaves the
        // count (it is in the Hidden tab), and its report is reviewed.
        let now = clock::now();
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &flagged[1].id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now,
        )
        .unwrap();
        let (_, html) = moderator.get(&app, "/").await;
        assert_eq!(badge(&html).map(|b| b.0), Some("2".to_string()));

        // A student sees neither the link nor a count.
        let (_, page) = reporter.get(&app, "/").await;
        assert!(!page.contains(r#"href="/admin""#));
        assert!(!page.contains("data-waiting-reports"));
        assert!(!page.contains("reports waiting"));
    }
);

/// Signs `email` in with an emailed link in a fresh client, asking from the
/// sign-in form with `next` (as a page that sent a visitor to sign in does);
/// where it lands.
async fn land_after_link(app: &TestApp, email: &str, next: Option<&str>) -> String {
    let before = app.sent_emails().await.len();
    let client = client();
    let (_, login) = get_with(app, &client, "/login").await;
    let csrf = csrf_in(&login).unwrap();
    let mut fields = vec![("csrf_token", csrf.as_str()), ("email", email)];
    if let Some(next) = next {
        fields.push(("next", next));
    }
    let r = post_with(app, &client, "/login", &fields).await;
    assert_eq!(r.status().as_u16(), 303);
    let emails = app.wait_for_emails(before + 1).await;
    let token = token_in(&emails.last().unwrap().text).unwrap();
    let r = press_sign_in(app, &client, &token, false).await;
    assert_eq!(r.status().as_u16(), 303, "signed in");
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Signs `email` in with the emailed code in a fresh client, posting `next`
/// as the form does (None: no next field at all); where it lands.
async fn land_after_code(app: &TestApp, email: &str, next: Option<&str>) -> String {
    let before = app.sent_emails().await.len();
    let client = client();
    let (_, login) = get_with(app, &client, "/login").await;
    let csrf = csrf_in(&login).unwrap();
    let r = post_with(
        app,
        &client,
        "/login",
        &[("csrf_token", &csrf), ("email", email)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let emails = app.wait_for_emails(before + 1).await;
    let code = code_in(&emails.last().unwrap().text).unwrap();
    let (_, check) = get_with(app, &client, "/login/check-email").await;
    let csrf = csrf_in(&check).unwrap();
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("email", email),
        ("code", &code),
    ];
    if let Some(next) = next {
        fields.push(("next", next));
    }
    let r = post_with(app, &client, "/login/code", &fields).await;
    assert_eq!(r.status().as_u16(), 303, "signed in");
    r.headers()["location"].to_str().unwrap().to_string()
}

backend_test!(
    async fn staff_land_on_admin(backend: Backend) {
        let app = spawn_app(backend).await;
        let moderator = staff(&app, "mo5d", Role::Moderator);
        let admin = staff(&app, "ad6m", Role::Admin);
        let student = app.student("st7u");
        assert_eq!(
            land_after_link(&app, &moderator.user.email, None).await,
            "/admin"
        );
        assert_eq!(
            land_after_link(&app, &admin.user.email, None).await,
            "/admin"
        );
        assert_eq!(land_after_link(&app, &student.user.email, None).await, "/");
        // The page a student was sent to sign in from, by link as by code.
        assert_eq!(
            land_after_link(&app, &student.user.email, Some("/notifications")).await,
            "/notifications"
        );
        // With a code: an explicit next is kept, the form's default "/" is not.
        let email = &moderator.user.email;
        assert_eq!(land_after_code(&app, email, Some("/")).await, "/admin");
        assert_eq!(land_after_code(&app, email, None).await, "/admin");
        assert_eq!(
            land_after_code(&app, email, Some("/friends")).await,
            "/friends"
        );
        let email = &student.user.email;
        assert_eq!(land_after_code(&app, email, None).await, "/");
    }
);

backend_test!(
    async fn audit_rows_read_well(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let author = app.student("au8t");
        let mut moderator = staff(&app, "mo9d", Role::Moderator);
        moderator.user.role = Role::Moderator; // the helper set the column only
        let class = cs2100(&app, &[&author]);
        let thread = message(
            &app,
            &class,
            &author,
            "Is the midterm open book this year or closed book like last term?",
        );
        let rude = message(&app, &class, &author, "<b>rude</b> words & more words here");
        let now = clock::now();
        chat::pins::pin(
            &mut app.conn(),
            &moderator.user,
            &class.id,
            &thread.id,
            now,
            |tx, m| moderation::messages::record_pin(tx, &moderator.user.id, m, true, now),
        )
        .unwrap();
        moderation::messages::hide(
            &mut app.conn(),
            &moderator.user.id,
            &rude.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            now + chrono::Duration::seconds(1),
        )
        .unwrap();

        let (status, html) = moderator.get(&app, "/admin/audit").await;
        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&html);
        let tr = scraper::Selector::parse("table.audit tbody tr").unwrap();
        let td = scraper::Selector::parse("td").unwrap();
        let rows: Vec<Vec<String>> = doc
            .select(&tr)
            .map(|r| {
                r.select(&td)
                    .map(|c| c.text().collect::<String>())
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        // Newest first: the hide, then the pin. Columns: when, who, action, about.
        assert_eq!(rows[0][1], "mo9d");
        assert_eq!(rows[0][2], "hid a message");
        assert_eq!(
            rows[0][3],
            "CS 2100 (001) “<b>rude</b> words & more words here”"
        );
        assert_eq!(rows[1][2], "pinned a thread");
        assert_eq!(
            rows[1][3],
            "CS 2100 (001) “Is the midterm open book this year or…”"
        );
        // The text is escaped, never markup; no UUID of the message or class shows.
        assert!(!html.contains("<b>rude"), "{html}");
        // (The class's id is only in the link to its staff read, never as text.)
        let shown: String = doc
            .select(&tr)
            .map(|r| r.text().collect::<String>())
            .collect();
        for id in [thread.id.to_string(), rude.id.to_string()] {
            assert!(!html.contains(&id), "the page shows the id {id}");
        }
        assert!(!shown.contains(&class.id.to_string()), "{shown}");
        // The author is never named, nor their pseudonym's account.
        assert!(!html.contains("au8t"));
        // Each row links to its class as staff read it (not to the student page).
        let link = scraper::Selector::parse("td[data-label=About] a").unwrap();
        let hrefs: Vec<&str> = doc
            .select(&link)
            .filter_map(|a| a.value().attr("href"))
            .collect();
        let class_read = format!("/admin/classes/{}", class.id);
        assert_eq!(hrefs, [class_read.as_str(), class_read.as_str()]);

        // A suspension names the user and links to their user page.
        let suspended = moderator
            .post(
                &app,
                "/admin/users?q=au8t",
                "/admin/users/au8t/suspend",
                &[
                    ("until", "2099-03-08"),
                    ("reason", "repeated spam in the class chat"),
                ],
            )
            .await;
        assert_eq!(suspended.status(), 303);
        let before = app.query_count();
        moderator.get(&app, "/admin/audit").await;
        let three_rows = app.query_count() - before;
        // Six more message rows: the page's statements stay the same.
        for i in 0..3 {
            let m = message(&app, &class, &author, &format!("another message {i}"));
            moderation::messages::hide(
                &mut app.conn(),
                &moderator.user.id,
                &m.id,
                &common_grounds::moderation::messages::Reason::new(
                    common_grounds::moderation::ReasonCategory::Spam,
                    None,
                )
                .unwrap(),
                now,
            )
            .unwrap();
            moderation::messages::restore(&mut app.conn(), &moderator.user.id, &m.id, None, now)
                .unwrap();
        }
        let before = app.query_count();
        let (_, html) = moderator.get(&app, "/admin/audit").await;
        assert_eq!(
            app.query_count() - before,
            three_rows,
            "one lookup per kind"
        );
        assert!(html.contains("suspended a user"), "{html}");
        assert!(
            html.contains(&format!(
                r#"<a href="/admin/users/{}">au8t</a>"#,
                author.user.id
            )),
            "{html}"
        );
        assert!(html.contains("restored a message"));
        // The filter lists the actions in words too.
        assert!(html.contains(r#"<option value="lift_suspension">lifted a suspension</option>"#));
    }
);

/// A page built to break the rule, both ways: in a fixed narrow table, a
/// header whose word runs out of its cell, and a cell that splits its word.
const SQUEEZED: &str = "data:text/html,<!doctype html><html lang=en><title>t</title><main><table style='table-layout:fixed;width:120px'><tr><th>Terminology</th><td style='overflow-wrap:anywhere'>Acknowledgement</td></tr></table></main>";

/// The data an admin sees on a busy day, as long as it gets: long course
/// codes and titles, long computing IDs and names, long report reasons, the
/// audit log with every kind of action (several times over), current
/// suspensions, and SIS runs that failed with their errors. Returns the values
/// `ADMIN_PAGES` needs.
pub(crate) fn busy_day(app: &TestApp, admin: &Student) -> Vec<(&'static str, String)> {
    use common_grounds::campus_time::CampusTime;
    use common_grounds::db;
    use common_grounds::moderation::{AuditAction, AuditId, NewAuditEntry};
    use common_grounds::sis::{finish_run, SyncRunChanges};

    let author = app.student("zzq8wkx");
    let reporters: Vec<Student> = ["hjk4mnp", "qrs7tuv", "wxy2abc"]
        .iter()
        .map(|id| app.student(id))
        .collect();
    let mut conn = app.conn();
    let long = ClassBuilder::new("APMA 3080", "1262")
        .title("Linear Algebra and Its Applications in Engineering Computation")
        .section("002")
        .insert(&mut conn);
    let topics = ClassBuilder::new("ENGR 1624", "1262")
        .title("Introduction to Engineering: Interdisciplinary Design Studio")
        .section("101")
        .insert(&mut conn);
    for class in [&long, &topics] {
        seed::enroll(&mut conn, &author.user, class);
        for r in &reporters {
            seed::enroll(&mut conn, &r.user, class);
        }
    }
    let now = clock::now();
    let texts = [
        "Honestly the teaching assistants in this section are incompetent and everybody knows it",
        "Selling my solutions to problem sets four through nine, message me for prices",
        "Characteristically uncharitable, unsubstantiated accusations about a classmate by name",
        "Here is the internationalization homework, copy it before the deadline tonight",
    ];
    let reasons = [
        "Harassment of the teaching staff, repeated after a warning last week",
        "Academic integrity: offering to sell graded solutions to current students",
        "Names a classmate and accuses them of plagiarism without any evidence",
    ];
    let mut messages = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let class = if n % 2 == 0 { &long } else { &topics };
        let m =
            MessageBuilder::new(&class.id, &author.user.id, "Quiet Otter", text).insert(&mut conn);
        for (r, reason) in reporters.iter().zip(reasons).take(n + 1) {
            seed::flag(&mut conn, &r.user, &m, reason);
        }
        messages.push(m);
    }
    moderation::messages::hide(
        &mut conn,
        &admin.user.id,
        &messages[3].id,
        &moderation::messages::Reason::new(
            moderation::ReasonCategory::AcademicIntegrity,
            Some("Academic integrity: a full solution posted before the deadline"),
        )
        .unwrap(),
        now,
    )
    .unwrap();

    // Two students suspended now, with the reasons they were shown.
    let campus = CampusTime::default();
    for (who, days, reason) in [
        (
            "zzq8wkx",
            7,
            "Repeatedly posting graded homework solutions in the class chat after two warnings",
        ),
        (
            "qrs7tuv",
            30,
            "Harassment of a classmate in direct replies; see the reports from APMA 3080",
        ),
    ] {
        moderation::users::suspend_account(
            &mut conn,
            &admin.user.id,
            who,
            now + chrono::Duration::days(days),
            reason,
            false,
            now,
            campus,
        )
        .unwrap();
    }

    // Every kind of action, three times over, about what such actions are about.
    for round in 0..3i64 {
        for (n, action) in AuditAction::ALL.iter().enumerate() {
            let message = &messages[n % messages.len()];
            let (target_type, target_id, class_id, details) = match action {
                AuditAction::Suspend | AuditAction::LiftSuspension | AuditAction::RoleChange => (
                    "user",
                    reporters[n % 3].user.id.to_string(),
                    None,
                    Some("student → moderator".to_string()),
                ),
                AuditAction::SyncStarted => ("term", "1262".to_string(), None, None),
                AuditAction::ViewClass => (
                    "class",
                    long.id.to_string(),
                    Some(long.id.to_string()),
                    None,
                ),
                _ => (
                    "message",
                    message.id.to_string(),
                    Some(message.class_id.to_string()),
                    Some(format!("Quiet Otter in class {}", message.class_id)),
                ),
            };
            let id = AuditId::new();
            let at = now - chrono::Duration::minutes(round * 60 + n as i64);
            db::write_tx(&mut conn, |tx| {
                moderation::record(
                    tx,
                    &NewAuditEntry {
                        id: &id,
                        actor_id: Some(&admin.user.id),
                        action: action.as_str(),
                        target_type,
                        target_id: &target_id,
                        reason: Some(reasons[n % reasons.len()]),
                        details: details.as_deref(),
                        created_at: at,
                        class_id: class_id.as_deref(),
                        category: Some("academic_integrity"),
                    },
                )
            })
            .unwrap();
        }
    }

    // SIS runs: one running, one that succeeded, two that failed with their errors.
    let runs: [(&str, &str, Option<&str>); 4] = [
        ("running", "CS, MATH, PHYS, APMA, ECE, STS, ENGR, CHEM, BIOL, ECON", None),
        ("succeeded", "CS, MATH, PHYS, APMA, ECE, STS, ENGR, CHEM, BIOL, ECON", None),
        ("failed", "APMA, ENGR", Some("SIS answered a page that is not JSON (<!DOCTYPE html><html><head><title>Scheduled maintenance</title>) (4 tries)")),
        ("failed", "CS", Some("cannot reach SIS: error sending request: connection refused by the remote host (4 tries)")),
    ];
    for (n, (status, subjects, error)) in runs.into_iter().enumerate() {
        let id = SyncRunId::new();
        let started = now - chrono::Duration::hours(6 * n as i64);
        insert_run(
            &mut conn,
            &NewSyncRun {
                id: &id,
                term: "1262",
                subjects,
                status: "running",
                started_at: started,
            },
        )
        .unwrap();
        if status != "running" {
            finish_run(
                &mut conn,
                &id,
                &SyncRunChanges {
                    status: Some(status),
                    subjects: None,
                    sections_added: Some(1234),
                    sections_changed: Some(56),
                    sections_unchanged: Some(10987),
                    sections_deactivated: Some(3),
                    sections_missing: Some(2),
                    pages_fetched: Some(412),
                    retries: Some(7),
                    error: Some(error),
                    finished_at: Some(Some(started + chrono::Duration::seconds(2345))),
                },
            )
            .unwrap();
        }
    }

    vec![
        ("computing_id", "zzq8wkx".to_string()),
        ("user", author.user.id.to_string()),
        ("class", long.id.to_string()),
    ]
}

backend_test!(
    async fn every_admin_page_keeps_words_whole_at_phone_and_laptop_widths(backend: Backend) {
        let Some((driver, chromium)) = browser::start().await else {
            return;
        };
        let app = spawn_quiet_app(backend, &[]).await;
        let admin = staff(&app, "adm9nxq", Role::Admin);
        let values = busy_day(&app, &admin);
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let client = browser::open(&driver, &chromium, 1280, 900).await;
        // The check itself sees a squeezed word (so a pass below means something).
        client.goto(SQUEEZED).await.unwrap();
        let squeezed = browser::cells_fit_words(&client).await.faults.join("\n");
        for word in ["Terminology", "Acknowledgement", "split across lines"] {
            assert!(
                squeezed.contains(word),
                "the check missed {word}: {squeezed}"
            );
        }

        browser::sign_in(&client, &app.address, &admin.token).await;
        for width in [375u32, 1280] {
            client.set_window_size(width, 900).await.unwrap();
            for page in browser::ADMIN_PAGES {
                let path = browser::fill_page(page, &values);
                client.goto(&app.url(&path)).await.unwrap();
                let title = client.title().await.unwrap();
                assert!(
                    !title.starts_with("Sign in"),
                    "{path}: the admin is signed in ({title})"
                );
                let name = format!("admin{}-{width}", path.replace(['/', '?', '='], "-"));
                eprintln!(
                    "screenshot: {}",
                    browser::screenshot(&client, &name).await.display()
                );
                let cells = browser::admin_page_reads_well(&client, &path, width).await;
                if path == "/admin/audit" || path == "/admin/sis" {
                    assert!(
                        cells > 20,
                        "{path} at {width}px shows its rows ({cells} cells)"
                    );
                }
                if path == "/admin/audit" {
                    // Every kind of action is on the page, each in its own words.
                    let labels = client
                        .execute(
                            "return [...new Set([...document.querySelectorAll('td[data-label=Action]')].map(td => td.textContent))];",
                            vec![],
                        )
                        .await
                        .unwrap();
                    let labels = labels.as_array().unwrap();
                    assert_eq!(
                        labels.len(),
                        moderation::AuditAction::ALL.len(),
                        "{path}: one label per kind of action: {labels:?}"
                    );
                }
            }
        }
        client.close().await.unwrap();
    }
);

backend_test!(
    async fn a_person_named_with_a_control_character_is_nobody_not_an_error(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo3d", Role::Moderator);
        app.student("ab1c");
        // PostgreSQL refuses to bind a NUL; the filter finds no one instead.
        let (status, page) = moderator.get(&app, "/admin/audit?actor=ab1c%00x").await;
        assert_eq!(status, 200, "{page}");
        let (status, page) = moderator.get(&app, "/admin/audit?actor=ab1c%01").await;
        assert_eq!(status, 200, "{page}");
        let lifted = moderator
            .post(
                &app,
                "/admin/users?q=ab1c",
                "/admin/users/ab1c%00x/lift",
                &[],
            )
            .await;
        let status = lifted.status().as_u16();
        assert!((400..500).contains(&status), "lift on a NUL name: {status}");
    }
);
