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

        // A hidden message with a report is still one entry of the queue.
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
        assert_eq!(badge(&html).map(|b| b.0), Some("3".to_string()));

        // A student sees neither the link nor a count.
        let (_, page) = reporter.get(&app, "/").await;
        assert!(!page.contains(r#"href="/admin""#));
        assert!(!page.contains("data-waiting-reports"));
        assert!(!page.contains("reports waiting"));
    }
);

/// Signs `email` in with an emailed link in a fresh client; where it lands.
async fn land_after_link(app: &TestApp, email: &str) -> String {
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
        assert_eq!(land_after_link(&app, &moderator.user.email).await, "/admin");
        assert_eq!(land_after_link(&app, &admin.user.email).await, "/admin");
        assert_eq!(land_after_link(&app, &student.user.email).await, "/");
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
        for id in [
            thread.id.to_string(),
            rude.id.to_string(),
            class.id.to_string(),
        ] {
            assert!(!html.contains(&id), "the page shows the id {id}");
        }
        // The author is never named, nor their pseudonym's account.
        assert!(!html.contains("au8t"));
        // Each row links to the flags queue.
        let link = scraper::Selector::parse("td[data-label=About] a").unwrap();
        let hrefs: Vec<&str> = doc
            .select(&link)
            .filter_map(|a| a.value().attr("href"))
            .collect();
        assert_eq!(hrefs, ["/admin/flags", "/admin/flags"]);

        // A suspension names the user and links to their search.
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
            html.contains(r#"<a href="/admin/users?q=au8t">au8t</a>"#),
            "{html}"
        );
        assert!(html.contains("restored a message"));
        // The filter lists the actions in words too.
        assert!(html.contains(r#"<option value="lift_suspension">lifted a suspension</option>"#));
    }
);

/// For each cell of every table on the page, whether a word is wider than the
/// cell's content box. Each text node's words are measured with a Range: a
/// Range around one word gives that word's rendered width(s); a word split
/// across lines yields more than one client rect (so it is caught as split),
/// and a word wider than the cell's content box overflows it. Both fail.
const SPLIT_WORDS: &str = r#"
const bad = [];
for (const cell of document.querySelectorAll('main table td, main table th')) {
  const style = getComputedStyle(cell);
  if (style.display === 'none' || cell.offsetParent === null) continue;
  const box = cell.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const re = /\S+/g;
    let m;
    while ((m = re.exec(node.data)) !== null) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const tooWide = rects.some(r => r.left < left - 0.5 || r.right > right + 0.5);
      if (rects.length > 1 || tooWide) bad.push(m[0] + ' in ' + (cell.dataset.label || cell.tagName));
    }
  }
}
return { bad, scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
         cells: document.querySelectorAll('main table td').length };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_fit_phone_and_desktop() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let author = app.student("au1b");
    let reporter = app.student("re1b");
    let mut moderator = staff(&app, "mo1b", Role::Admin);
    moderator.user.role = Role::Admin; // the helper set the column only
    let class = cs2100(&app, &[&author, &reporter]);
    let now = clock::now();
    {
        let thread = message(
            &app,
            &class,
            &author,
            "Does anyone have the notes from Tuesday's lecture on heaps and priority queues?",
        );
        let rude = message(
            &app,
            &class,
            &author,
            "Unnecessarily condescending commentary about classmates",
        );
        seed::flag(
            &mut app.conn(),
            &reporter.user,
            &rude,
            "disrespectful toward classmates",
        );
        let mut conn = app.conn();
        chat::pins::pin(
            &mut conn,
            &moderator.user,
            &class.id,
            &thread.id,
            now,
            |tx, m| moderation::messages::record_pin(tx, &moderator.user.id, m, true, now),
        )
        .unwrap();
        let hidden = message(
            &app,
            &class,
            &author,
            "Another message that was hidden afterwards",
        );
        moderation::messages::hide(
            &mut conn,
            &moderator.user.id,
            &hidden.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Other,
                Some("Off-topic advertisement"),
            )
            .unwrap(),
            now,
        )
        .unwrap();
        insert_run(
            &mut conn,
            &NewSyncRun {
                id: &SyncRunId::new(),
                term: "1262",
                subjects: "CS, MATH, PHYS, APMA, ECE, STS",
                status: "running",
                started_at: now,
            },
        )
        .unwrap();
    }
    let suspended = moderator
        .post(
            &app,
            "/admin/users?q=au1b",
            "/admin/users/au1b/suspend",
            &[
                ("until", "2099-03-08"),
                ("reason", "repeated spam in the class chat"),
            ],
        )
        .await;
    assert_eq!(suspended.status(), 303);

    let pages = [
        "/admin",
        "/admin/flags",
        "/admin/audit",
        "/admin/sis",
        "/admin/users?q=au1b",
    ];
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = browser::open(&driver, &chromium, width, height).await;
        browser::sign_in(&client, &app.address, &moderator.token).await;
        for path in pages {
            client.goto(&app.url(path)).await.unwrap();
            let name = format!("admin{}-{width}", path.replace(['/', '?', '='], "-"));
            let shot = browser::screenshot(&client, &name).await;
            eprintln!("screenshot: {}", shot.display());
            let measured = client.execute(SPLIT_WORDS, vec![]).await.unwrap();
            let scroll = measured["scroll"].as_f64().unwrap();
            let inner = measured["inner"].as_f64().unwrap();
            assert!(
                scroll <= inner,
                "{path} at {width}px scrolls sideways ({scroll} > {inner})"
            );
            let bad = measured["bad"].as_array().unwrap();
            assert!(
                bad.is_empty(),
                "{path} at {width}px splits or overflows words: {bad:?}"
            );
            if path == "/admin/audit" || path == "/admin/sis" {
                assert!(measured["cells"].as_u64().unwrap() > 0, "{path} has rows");
            }
            if let Some(found) = browser::axe_findings(&client).await {
                assert!(found.is_empty(), "{path} at {width}px: {found:?}");
            }
        }
        client.close().await.unwrap();
    }
}
