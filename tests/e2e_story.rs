//! The whole service in real browsers: the release server (see `server.rs`) on
//! a fresh database, classes synced from a loopback SIS server with the sample
//! pages, email delivered to a real SMTP listener on loopback, and headless
//! Chromium windows (each its own profile) for the people of the story:
//!
//! 1. A asks for a sign-in link (by keyboard), opens it from the email, confirms, lands on home;
//! 2. A finds CS 3120 and one more class, sees them on home and in the week;
//! 3. B signs in on a phone with the emailed code, joins CS 3120, asks A to be
//!    friends; A accepts; each sees the other under CS 3120 and on /friends/{id};
//! 4. A starts a thread on CS 3120's thread list; B sees it under a pseudonym,
//!    opens it from the list and replies (by keyboard); A opens it and sees the
//!    reply threaded;
//! 5. B keeps the thread open; A replies in A's window; B's page shows it by
//!    itself (the class's event stream and our script), without a reload;
//! 6. N, in a window with JavaScript turned off, joins CS 2100, posts a
//!    thread, replies, cancels a form and pages through 51 threads;
//! 7. at 375 px and 1280 px the nav is one line or a closed "Menu", and every
//!    nav control and chat action on the list and thread pages is at least
//!    44×44 px, measured in the browser;
//! 8. C, D and E report B's reply on the thread page and it is hidden for
//!    every student; a moderator asks to reveal its author with a reason and restores
//!    it from /admin/flags, and the audit log shows both;
//! 9. B starts to type the question A asked and our script shows A's thread
//!    under the draft ("Maybe already answered", nothing posted); B opens it
//!    and upvotes it; A marks B's reply as the answer (shown first, the list
//!    says answered) and finds it with the class's search, the word marked;
//! 10. A waits on home while B replies to A's thread: A's nav count rises by
//!     one by itself (A's event stream and our script), without a reload; in
//!     a window with JavaScript off, the count shows after a reload; A's inbox
//!     names the replies by pseudonym, opening one lands on it in the thread
//!     and clears the count; the email settings are one link from Account;
//! 11. B reads the week on a phone as a day-by-day agenda; A makes a private
//!     calendar link, sees B's week beside A's with CS 3120 marked shared, and
//!     finds when A and B are both free;
//! 12. A downloads their data and deletes their account; B's replies stay, under
//!     a "[deleted]" parent.
//! 13. C and D report B's two later replies; the moderator signs in and lands on
//!     the admin overview, the nav's Admin link says 2 reports wait, the queue
//!     shows both cards; then every admin page (`browser::ADMIN_PAGES`, with a
//!     current suspension and a failed SIS run) passes the page checks at
//!     375 and 1280 px, no table cell narrower than its longest word.
//!
//! Every step asserts what a person would see. A failing step saves
//! `target/screenshots/e2e-<backend>-step<N>-fail.png` (the window that acted
//! last; the other windows beside it) and fails naming the step. Every page is
//! also checked at 375 px and 1280 px by `pages.rs` (axe-core, sideways
//! scrolling, line length, keyboard focus).
//!
//! `E2E_UPDATE_SCREENSHOTS=1` rewrites the reference screenshots in
//! `docs/screenshots/` from the SQLite run.

// The harness shared with the integration tests, `tests/integration/common/`
// (an inline module maps to its folder, so no `#[path]` is needed).
#[macro_use]
mod integration {
    #[macro_use]
    pub mod common;
}
// The story's own parts, `tests/e2e/`.
mod e2e {
    pub mod pages;
    pub mod server;
}

use e2e::{pages, server};
use integration::common::{self, browser};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::sis_server::SisServer;
use common::smtp::SmtpServer;
use common::{code_in, Backend, TestDb};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use server::{Server, Setup};

const OPTIONS: &str = include_str!("fixtures/sis/options-1262.json");
const CS_PAGES: [&str; 3] = [
    include_str!("fixtures/sis/cs-1262-page1.json"),
    include_str!("fixtures/sis/cs-1262-page2.json"),
    include_str!("fixtures/sis/cs-1262-page3.json"),
];

/// A step that takes longer than this has hung (a missing element, a lost email).
const STEP_LIMIT: Duration = Duration::from_secs(240);
/// How long a person waits for something to appear on a page.
const PATIENCE: Duration = Duration::from_secs(10);

/// Both backends' stories share two CPU cores with everything else: run them
/// one after the other so their timings stay meaningful.
static ONE_STORY_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

backend_test!(
    async fn students_and_a_moderator_get_through_a_term_in_a_real_browser(backend: Backend) {
        let Some((driver, chromium)) = browser::start().await else {
            return;
        };
        let _turn = ONE_STORY_AT_A_TIME.lock().await;
        let started = Instant::now();
        let story = Story::start(backend).await;
        story.run(&driver, &chromium).await;
        let tally = story.checks.tally();
        eprintln!(
            "e2e ({}): the story passed in {:.1}s; {} pages checked at {:?} px: {} axe-core runs, {} layout checks, {} table cells, {} focusable controls; {} minor axe findings",
            story.backend,
            started.elapsed().as_secs_f64(),
            tally.pages.len(),
            pages::WIDTHS,
            tally.axe_runs,
            tally.layout_checks,
            tally.table_cells,
            tally.focus_checked,
            tally.minor_findings.len()
        );
    }
);

/// One person of the story and their browser window.
struct Person {
    name: &'static str,
    /// Whose window this is (the reporters and the moderator share one).
    window_label: &'static str,
    computing_id: String,
    window: Client,
    /// The width they browse at (a phone or a laptop).
    width: u32,
}

impl Person {
    fn email(&self) -> String {
        format!("{}@virginia.edu", self.computing_id)
    }
}

struct Story {
    backend: &'static str,
    // Dropped in this order: the server before its database.
    server: Server,
    setup: Setup,
    db: TestDb,
    smtp: SmtpServer,
    _sis: SisServer,
    base: String,
    checks: pages::Checks,
    downloads: PathBuf,
    /// Windows to photograph when a step fails, and who acted last.
    windows: Mutex<Vec<(&'static str, Client)>>,
    last: Mutex<&'static str>,
    /// Emails already read, per address.
    read: Mutex<HashMap<String, usize>>,
    /// When each person last posted in a chat (one post per 5 s per class).
    posted: Mutex<HashMap<String, Instant>>,
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

impl Story {
    /// A fresh database, the catalog synced from the loopback SIS server, and
    /// the release server serving it.
    async fn start(backend: Backend) -> Story {
        let db = TestDb::new(backend);
        let smtp = SmtpServer::start().await;
        let sis = SisServer::start().await;
        sis.set_options_body("1262", OPTIONS);
        sis.set_pages(
            "1262",
            "CS",
            CS_PAGES.iter().map(|p| p.to_string()).collect(),
        );
        let setup = Setup::new(db.url_string(), smtp.port, sis.base_url.clone());
        let operator = setup.clone();
        let synced = tokio::task::spawn_blocking(move || {
            operator.run(&["migrate"]);
            operator.run(&["sis-sync", "--term", "1262"])
        })
        .await
        .unwrap();
        eprintln!("e2e: sis-sync: {}", synced.trim());
        let server = setup.serve().await;
        let downloads = std::env::temp_dir().join(format!(
            "cg-e2e-downloads-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&downloads).unwrap();
        let reference = backend == Backend::Sqlite
            && std::env::var("E2E_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
        Story {
            backend: match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            },
            base: setup.base_url(),
            server,
            setup,
            db,
            smtp,
            _sis: sis,
            checks: pages::Checks::new(reference),
            downloads,
            windows: Mutex::new(Vec::new()),
            last: Mutex::new(""),
            read: Mutex::new(HashMap::new()),
            posted: Mutex::new(HashMap::new()),
        }
    }

    async fn run(&self, driver: &browser::Driver, chromium: &str) {
        let a = self
            .person(driver, chromium, "A", "ab1cd", 1280, true)
            .await;
        let b = self.person(driver, chromium, "B", "xy9z", 375, false).await;
        let others = self
            .person(driver, chromium, "others", "cc3cc", 1280, false)
            .await;

        self.step(1, "A signs in with the emailed link", self.step1(&a))
            .await;
        let cs3120 = self
            .step(2, "A joins CS 3120 and CS 2100", self.step2(&a))
            .await;
        self.step(
            3,
            "B signs in with the code and A and B become friends",
            self.step3(&a, &b),
        )
        .await;
        let chat = self
            .step(
                4,
                "A posts on the thread list, B opens the thread and replies under a pseudonym",
                self.step4(&a, &b, &cs3120),
            )
            .await;
        self.step(
            5,
            "B's open thread page shows A's reply without a reload",
            self.step5(&a, &b, &chat),
        )
        .await;
        let cs2100 = self
            .step(
                6,
                "with JavaScript off, a student posts, replies and pages",
                self.step6(driver, chromium),
            )
            .await;
        self.step(
            7,
            "at 375 and 1280 px the nav fits and every chat action is a 44 px target",
            self.step7(&a, &b, &chat, &cs2100),
        )
        .await;
        self.step(
            8,
            "three reports hide the reply; a moderator asks for a reveal and restores it",
            self.step8(&a, &b, &others, &chat),
        )
        .await;
        self.step(
            9,
            "B is shown A's question while typing the same one and upvotes it; A marks B's reply as the answer and finds it by a word",
            self.step9(&a, &b, &chat),
        )
        .await;
        let later_replies = self
            .step(
                10,
                "B replies to A's thread and A's nav count rises without a reload",
                self.step10(driver, chromium, &a, &b, &chat),
            )
            .await;
        self.step(
            11,
            "B's week is an agenda on a phone; A makes a calendar link, sees B's week and when both are free",
            self.step11(&a, &b),
        )
        .await;
        self.step(
            12,
            "A exports their data and deletes the account",
            self.step12(&a, &b, &chat, later_replies),
        )
        .await;
        self.step(
            13,
            "two messages wait; a moderator lands on the overview, the Admin link counts them, every admin page reads well, and a name chosen to abuse is removed and its wait ended",
            self.step13(&b, &others, &chat),
        )
        .await;

        for p in [a, b, others] {
            let _ = p.window.close().await;
        }
        let _ = std::fs::remove_dir_all(&self.downloads);
        let log = self.server.output();
        assert!(
            !log.contains("ERROR") && !log.contains("panicked"),
            "the server logged errors during the story:\n{log}"
        );
    }

    // ------------------------------------------------------------ the steps

    async fn step1(&self, a: &Person) {
        // Signed out, the home page says what the service is and offers to sign in.
        self.go(a, "/").await;
        self.sees(a, "See who is in your classes.").await;
        self.check(a, "welcome").await;

        // A reaches the email field from the top of the page with Tab and submits with Enter.
        self.click(a, "header a[href='/login']").await;
        self.sees_heading(a, "Sign in").await;
        self.check(a, "sign-in").await;
        self.tab_to(a, "#email", 20).await;
        let typed = format!("{}{}", a.email(), &*Key::Enter);
        a.window
            .active_element()
            .await
            .unwrap()
            .send_keys(&typed)
            .await
            .unwrap();
        self.sees_heading(a, "Check your email").await;
        self.sees(a, &a.email()).await;
        self.check(a, "check-email").await;

        // The email holds a link to this server (BASE_URL), and a code.
        let mail = self.next_email(&a.email()).await;
        let prefix = format!("{}/login/confirm?token=", self.base);
        let start = mail
            .find(&prefix)
            .unwrap_or_else(|| panic!("no sign-in link to {prefix}... in the email:\n{mail}"));
        let link: String = mail[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        assert!(
            code_in(&mail).is_some(),
            "the email also carries a code:\n{mail}"
        );

        // Opening the link changes nothing until A presses the button.
        self.acting(a);
        a.window.goto(&link).await.unwrap();
        self.sees_heading(a, "Sign in to Common Grounds").await;
        self.sees(a, "Press the button to finish signing in").await;
        self.check(a, "confirm-sign-in").await;
        self.click(a, "main form button[type=submit]").await;

        // Home: signed in as A, no classes yet.
        self.wait_path(a, "/").await;
        self.sees_heading(a, "My classes · Spring 2026").await;
        self.signed_in_as(a).await;
        self.sees(a, "You have no classes for Spring 2026 yet")
            .await;
        self.check(a, "home-empty").await;
    }

    /// Returns CS 3120's page path.
    async fn step2(&self, a: &Person) -> String {
        self.nav(a, "/classes/search").await;
        self.sees_heading(a, "Find classes · Spring 2026").await;
        self.search_and_join(a, "CS 3120", "CS 3120 – 001").await;
        self.check(a, "class-search").await;
        self.search_and_join(a, "CS 2100", "CS 2100 – 001").await;

        self.nav(a, "/").await;
        self.sees_heading(a, "My classes · Spring 2026").await;
        let cards = self.texts(a, "main .class-card .class-title").await;
        assert_eq!(
            cards,
            vec!["CS 2100 – 001 Lecture", "CS 3120 – 001 Lecture"],
            "home lists the two classes A joined"
        );
        self.sees(a, "Discrete Mathematics and Theory 1").await;
        self.sees(a, "Data Structures and Algorithms 1").await;
        self.check(a, "home-two-classes").await;
        let cs3120 = self
            .find(
                a,
                &format!("{}//*[contains(@class,'class-title')]/a", card("CS 3120")),
            )
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("CS 3120 links to its page");

        // The week: CS 3120 on Tuesday, Thursday and Friday, CS 2100 Monday, Wednesday, Friday.
        self.nav(a, "/schedule").await;
        self.sees_heading(a, "My week · Spring 2026").await;
        for (day, expected) in [
            ("Mon", vec!["CS 2100"]),
            ("Tue", vec!["CS 3120"]),
            ("Wed", vec!["CS 2100"]),
            ("Thu", vec!["CS 3120"]),
            ("Fri", vec!["CS 2100", "CS 3120"]),
        ] {
            let blocks = self
                .texts(a, &format!("section.tt-day[aria-label={day}] .tt-code"))
                .await;
            assert_eq!(blocks, expected, "{day} in A's week");
        }
        self.check(a, "schedule").await;
        cs3120
    }

    async fn step3(&self, a: &Person, b: &Person) {
        // B, on a phone, first types a personal address: refused, with the reason by the field.
        self.go(b, "/login").await;
        self.fill(b, "#email", &format!("{}@gmail.com", b.computing_id))
            .await;
        self.click(b, "main form button[type=submit]").await;
        self.sees(b, "virginia.edu").await;
        let field = self.find(b, "#email[aria-invalid=true]").await;
        assert_eq!(
            field.attr("aria-describedby").await.unwrap().as_deref(),
            Some("email-error"),
            "the error is tied to the field for screen readers"
        );
        self.find(b, "#email-error[role=alert]").await;
        self.check(b, "sign-in-refused").await;

        // Then signs in with the 8-digit code from the email.
        self.fill(b, "#email", &b.email()).await;
        self.click(b, "main form button[type=submit]").await;
        self.sees_heading(b, "Check your email").await;
        let mail = self.next_email(&b.email()).await;
        let code = code_in(&mail).unwrap_or_else(|| panic!("no code in the email:\n{mail}"));
        self.fill(b, "#code", &code).await;
        self.click(b, "main form button[type=submit]").await;
        self.wait_path(b, "/").await;
        self.sees_heading(b, "My classes · Spring 2026").await;
        self.signed_in_as(b).await;

        // B joins CS 3120 and asks A to be friends.
        self.go(b, "/classes/search").await;
        self.search_and_join(b, "CS 3120", "CS 3120 – 001").await;
        self.nav(b, "/friends").await;
        self.sees_heading(b, "Friends").await;
        self.fill(b, "#who", &a.computing_id).await;
        self.button(b, "//main//form[@action='/friends']", "Send request")
            .await;
        self.sees(b, "Requests you sent").await;
        self.sees(b, &format!("{} · waiting", a.computing_id)).await;
        self.check(b, "friends-request-sent").await;

        // A sees the request on home and accepts it.
        self.go(a, "/").await;
        self.sees(a, "Friend requests").await;
        self.check(a, "home-friend-request").await;
        self.button(
            a,
            &format!("//section[@aria-labelledby='requests-heading']//li[.//strong[normalize-space()='{}']]", b.computing_id),
            // The button's name says whose request: "Accept" is all it shows.
            &format!("Accept {}", b.computing_id),
        )
        .await;
        self.wait_path(a, "/").await;
        self.sees_notice(a).await;
        assert!(
            self.find_all(a, "#requests-heading").await.is_empty(),
            "the request is gone from home once accepted"
        );

        // Each sees the other under CS 3120 on home; A's CS 2100 has no friend in it.
        for (me, friend) in [(b, a), (a, b)] {
            self.go(me, "/").await;
            let line = self
                .text(
                    me,
                    &format!("{}//p[contains(@class,'friends-line')]", card("CS 3120")),
                )
                .await;
            assert_eq!(
                line,
                format!("1 friend: {}", friend.computing_id),
                "{} sees {} under CS 3120 on home",
                me.name,
                friend.name
            );
        }
        let cs2100 = self
            .text(
                a,
                &format!("{}//p[contains(@class,'friends-line')]", card("CS 2100")),
            )
            .await;
        assert_eq!(cs2100, "No friends in this class yet. Add a friend");
        self.check(a, "home").await;

        // The friends list, and the page of the classes they share: A follows
        // the link in the list, B types the address.
        self.nav(a, "/friends").await;
        self.sees(
            a,
            &format!("{} · 1 shared class in Spring 2026", b.computing_id),
        )
        .await;
        self.check(a, "friends").await;
        self.click(a, &format!("main a[href^='/friends/{}']", b.computing_id))
            .await;
        self.go(b, &format!("/friends/{}", a.computing_id)).await;
        for (me, friend) in [(a, b), (b, a)] {
            self.sees_heading(me, &format!("You and {}", friend.computing_id))
                .await;
            let shared = self.texts(me, "main .class-card .class-title").await;
            assert_eq!(
                shared,
                vec!["CS 3120 – 001 Lecture"],
                "{} and {} share CS 3120 only",
                me.name,
                friend.name
            );
        }
        self.check(a, "friend").await;
    }

    /// A posts on the thread list; B opens the thread from the list and
    /// replies by keyboard; A opens it and sees the reply threaded.
    async fn step4(&self, a: &Person, b: &Person, cs3120: &str) -> Chat {
        let question = "Does anyone have notes from Tuesday's lecture on induction?";
        let answer = "Yes: strong induction, the two-coloring proof, and the Fibonacci bound.";

        // A opens the chat from home and starts a thread from the list.
        self.go(a, "/").await;
        self.click(a, &format!("main .card-actions a[href='{cs3120}']"))
            .await;
        self.sees_heading(a, "Discrete Mathematics and Theory 1")
            .await;
        self.sees(a, "No messages yet. Start the first thread.")
            .await;
        assert_eq!(
            self.text(a, "#friends-in-class + p").await,
            b.computing_id,
            "A sees B among the friends in CS 3120"
        );
        self.check(a, "class-chat-empty").await;
        self.fill(a, "#new-message", question).await;
        self.ready_to_post(a).await;
        self.button(a, "//form[contains(@class,'compose')]", "Post")
            .await;
        self.sees(a, question).await;
        self.post_landed(a);

        // Back on the list, A's thread is the one row: its first lines, A's
        // pseudonym marked "you", and nothing new for its own author.
        self.go(a, cs3120).await;
        let rows = self.find_all(a, "ol.thread-list > li.thread-row").await;
        assert_eq!(rows.len(), 1, "one thread on the list");
        let row = &rows[0];
        let row_id = row
            .attr("id")
            .await
            .unwrap()
            .expect("a thread row has an id");
        let shown = row.text().await.unwrap();
        assert!(
            shown.contains(question),
            "the row shows the question: {shown:?}"
        );
        let a_pseudonym = self.text(a, &format!("#{row_id} .pseudonym")).await;
        assert!(
            is_pseudonym(&a_pseudonym),
            "A's thread is signed with a pseudonym, got {a_pseudonym:?}"
        );
        self.find(a, &format!("#{row_id} .badge.you")).await;
        assert!(
            self.find_all(a, &format!("#{row_id} .new-count"))
                .await
                .is_empty(),
            "A's own thread is not new to A: {shown:?}"
        );
        let thread = self
            .find(a, &format!("#{row_id} a.thread-link"))
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("the row links to its thread");
        self.check(a, "class-chat").await;

        // B sees the thread on the list under A's pseudonym, and nothing that names A.
        self.go(b, cs3120).await;
        self.sees(b, question).await;
        assert_eq!(
            self.text(b, "#friends-in-class + p").await,
            a.computing_id,
            "B sees A among the friends in CS 3120 (beside the chat, not in it)"
        );
        let row = self.find(b, &format!("#{row_id}")).await;
        let markup = row.html(false).await.unwrap();
        for secret in [a.email(), a.computing_id.clone()] {
            assert!(
                !markup.contains(&secret),
                "B's view of A's thread must not carry {secret:?}"
            );
        }
        assert_eq!(
            self.text(b, &format!("#{row_id} .pseudonym")).await,
            a_pseudonym,
            "B sees A's thread under A's pseudonym"
        );
        assert!(
            self.find_all(b, &format!("#{row_id} .badge.you"))
                .await
                .is_empty(),
            "A's thread is not marked \"you\" for B"
        );
        let a_id = self.user_id(&a.email());
        for secret in [a.email(), a_id.clone()] {
            assert!(
                !b.window.source().await.unwrap().contains(&secret),
                "no part of B's chat page carries A's email address or account id ({secret})"
            );
        }
        self.check(b, "class-chat-phone").await;

        // B taps the thread's first lines and lands on its page.
        self.click(b, &format!("#{row_id} a.thread-link")).await;
        self.wait_path(b, path_of(&thread)).await;
        self.sees(b, question).await;
        let question_id = self
            .find(b, "section.chat article.msg")
            .await
            .attr("id")
            .await
            .unwrap()
            .expect("a message has an id");
        for secret in [a.email(), a_id] {
            assert!(
                !b.window.source().await.unwrap().contains(&secret),
                "no part of B's thread page carries A's email address or account id ({secret})"
            );
        }

        // B replies using the keyboard only: Reply, type, Tab to the button, Enter.
        self.tab_to(
            b,
            &format!("#{question_id} > .msg-actions > details:first-of-type > summary"),
            60,
        )
        .await;
        assert_eq!(
            b.window
                .active_element()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "Reply"
        );
        pages::press(&b.window, Key::Enter).await;
        pages::press(&b.window, Key::Tab).await;
        let field = b.window.active_element().await.unwrap();
        assert_eq!(
            field.attr("name").await.unwrap().as_deref(),
            Some("content"),
            "Enter on Reply opens the reply box and Tab reaches it"
        );
        field.send_keys(answer).await.unwrap();
        pages::press(&b.window, Key::Tab).await;
        self.ready_to_post(b).await;
        pages::press(&b.window, Key::Enter).await;
        self.sees(b, answer).await;
        self.post_landed(b);
        self.wait_path(b, path_of(&thread)).await;
        self.check(b, "class-thread-phone").await;

        // A opens the thread from the list and sees the reply threaded under
        // the question, under another pseudonym.
        self.go(a, cs3120).await;
        self.click(a, &format!("#{row_id} a.thread-link")).await;
        self.sees(a, answer).await;
        let rows = self.find_all(a, "section.chat article.msg").await;
        assert_eq!(rows.len(), 2, "the question and its reply, in one thread");
        assert_eq!(
            rows[0].attr("id").await.unwrap().as_deref(),
            Some(question_id.as_str())
        );
        let reply = &rows[1];
        let reply_id = reply.attr("id").await.unwrap().unwrap();
        assert!(
            self.indent(a, &question_id, &reply_id).await > 0.0,
            "the reply is indented under the question"
        );
        let reply_text = reply.text().await.unwrap();
        assert!(reply_text.contains(answer), "{reply_text}");
        let b_pseudonym = self.text(a, &format!("#{reply_id} .pseudonym")).await;
        assert!(is_pseudonym(&b_pseudonym) && b_pseudonym != a_pseudonym);
        assert!(
            !reply.html(false).await.unwrap().contains(&b.computing_id),
            "A's view of B's reply does not name B"
        );
        self.check(a, "class-thread").await;
        Chat {
            list: cs3120.to_string(),
            thread,
            row_id,
            question,
            question_id,
            a_pseudonym,
            reply_id,
            reply_text: answer,
            live_text: "Thanks! The Fibonacci bound was the part I missed.",
        }
    }

    /// B keeps the thread open while A replies in A's own window: the reply
    /// appears on B's page by itself, with no reload.
    async fn step5(&self, a: &Person, b: &Person, chat: &Chat) {
        self.go(b, &chat.thread).await;
        self.find(b, &format!("#{}", chat.reply_id)).await;
        b.window
            .execute("window.__noReload = 1;", vec![])
            .await
            .unwrap();

        // A answers B's reply from the thread page.
        let reply_to = format!("#{} > .msg-actions > details:first-of-type", chat.reply_id);
        self.click(a, &format!("{reply_to} > summary")).await;
        self.fill(
            a,
            &format!("{reply_to} textarea[name=content]"),
            chat.live_text,
        )
        .await;
        self.ready_to_post(a).await;
        let posted = Instant::now();
        self.button(a, &format!("//article[@id='{}']", chat.reply_id), "Reply")
            .await;
        self.sees(a, chat.live_text).await;
        self.post_landed(a);
        let live_id = self
            .find(
                a,
                &format!(
                    "//article[contains(@class,'msg')][.//p[contains(., '{}')]]",
                    chat.live_text
                ),
            )
            .await
            .attr("id")
            .await
            .unwrap()
            .expect("a message has an id");

        // B's page, untouched since, shows it within PATIENCE.
        self.acting(b);
        let shown = loop {
            let text = b
                .window
                .execute(
                    "const m = document.getElementById(arguments[0]); return m ? m.innerText : null;",
                    vec![live_id.clone().into()],
                )
                .await
                .unwrap();
            if let Some(text) = text.as_str().filter(|t| t.contains(chat.live_text)) {
                break text.to_string();
            }
            assert!(
                posted.elapsed() < PATIENCE,
                "B's open thread page did not show A's reply #{live_id} within {}s",
                PATIENCE.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let latency = posted.elapsed();
        let marker = b
            .window
            .execute("return window.__noReload === 1;", vec![])
            .await
            .unwrap();
        assert_eq!(
            marker,
            serde_json::Value::Bool(true),
            "B's page was reloaded to show the reply; it should arrive live"
        );
        eprintln!(
            "e2e ({}): A's reply reached B's open thread page in {} ms (press to shown), without a reload",
            self.backend,
            latency.as_millis()
        );

        // What arrived is what a reload would show B: A's pseudonym, not "you",
        // nothing that names A, threaded under B's reply.
        let article = self.find(b, &format!("#{live_id}")).await;
        assert!(
            shown.contains(&chat.a_pseudonym)
                && !article.html(false).await.unwrap().contains(&a.computing_id),
            "the live reply shows A's pseudonym and never A's name: {shown:?}"
        );
        assert!(
            self.find_all(b, &format!("#{live_id} .badge.you"))
                .await
                .is_empty()
                && !article
                    .attr("class")
                    .await
                    .unwrap()
                    .unwrap_or_default()
                    .contains("msg-mine"),
            "A's reply is not marked as B's own"
        );
        assert!(
            self.indent(b, &chat.reply_id, &live_id).await > 0.0,
            "the live reply sits under B's reply"
        );
        self.check(b, "class-thread-live").await;
    }

    /// With JavaScript turned off, the chat works as before: a student joins
    /// CS 2100 from search, posts a thread, replies, cancels a form, and pages
    /// through 51 threads. Returns CS 2100's page path.
    async fn step6(&self, driver: &browser::Driver, chromium: &str) -> String {
        let window = browser::open_without_script(driver, chromium, 375, pages::HEIGHT).await;
        self.windows
            .lock()
            .unwrap()
            .push(("no-script", window.clone()));
        let n = Person {
            name: "N (no JavaScript)",
            window_label: "no-script",
            computing_id: "nj7js".into(),
            window,
            width: 375,
        };

        // Scripts really are off in this window.
        self.acting(&n);
        n.window
            .goto("data:text/html,<p id=probe>off</p><script>document.getElementById('probe').textContent='on'</script>")
            .await
            .unwrap();
        assert_eq!(
            self.text(&n, "#probe").await,
            "off",
            "the no-script window ran a page's script"
        );

        let token = self.session_for(&n.computing_id);
        browser::sign_in(&n.window, &self.base, &token).await;
        self.go(&n, "/").await;
        self.sees_heading(&n, "My classes · Spring 2026").await;
        self.nav(&n, "/classes/search").await;
        self.sees_heading(&n, "Find classes · Spring 2026").await;
        self.search_and_join(&n, "CS 2100", "CS 2100 – 001").await;
        self.nav(&n, "/").await;
        let cs2100 = self
            .find(
                &n,
                &format!("{}//*[contains(@class,'class-title')]/a", card("CS 2100")),
            )
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("CS 2100 links to its page");

        // A classmate's 50 older threads fill the first page of the list.
        let seeded = 50;
        self.seed_threads(&cs2100, seeded);

        // N posts a thread: it lands on top, the list now holds 51.
        let thread_text = "Is anyone else stuck on the pointer lab? (asked with scripts off)";
        self.go(&n, &cs2100).await;
        self.sees(&n, "Seeded thread 50:").await;
        self.fill(&n, "#new-message", thread_text).await;
        self.ready_to_post(&n).await;
        self.button(&n, "//form[contains(@class,'compose')]", "Post")
            .await;
        self.sees(&n, thread_text).await;
        self.post_landed(&n);

        // Paging: "Older threads" shows the oldest seeded thread; "Latest" comes back.
        self.go(&n, &cs2100).await;
        let page1 = self.texts(&n, "ol.thread-list .thread-link").await;
        assert_eq!(page1.len(), 50, "a page lists 50 threads");
        assert!(
            page1[0].contains("pointer lab"),
            "N's new thread is first on the list: {:?}",
            page1[0]
        );
        assert!(
            !page1.iter().any(|t| t.starts_with("Seeded thread 1:")),
            "the oldest thread is not on the first page"
        );
        self.click(&n, "nav.pager a[rel=next]").await;
        self.sees(&n, "Seeded thread 1:").await;
        let page2 = self.texts(&n, "ol.thread-list .thread-link").await;
        assert!(
            page2.len() == 1 && page2[0].starts_with("Seeded thread 1:"),
            "the second page holds the oldest thread only: {page2:?}"
        );
        self.click(&n, "nav.pager a:not([rel=next])").await;
        self.sees(&n, thread_text).await;

        // N opens the thread and replies on its page; the reply is there after the post.
        self.click(
            &n,
            "ol.thread-list > li.thread-row:first-child a.thread-link",
        )
        .await;
        self.sees(&n, thread_text).await;
        let root = self
            .find(&n, "section.chat article.msg")
            .await
            .attr("id")
            .await
            .unwrap()
            .unwrap();
        let reply_form = format!("#{root} > .msg-actions > details:first-of-type");
        self.click(&n, &format!("{reply_form} > summary")).await;
        let reply_text = "Answering my own question: the lab's FAQ covers it.";
        self.fill(
            &n,
            &format!("{reply_form} textarea[name=content]"),
            reply_text,
        )
        .await;
        self.ready_to_post(&n).await;
        self.button(&n, &format!("//article[@id='{root}']"), "Reply")
            .await;
        self.sees(&n, reply_text).await;
        self.post_landed(&n);
        let rows = self.find_all(&n, "section.chat article.msg").await;
        assert_eq!(rows.len(), 2, "N's thread holds the question and the reply");

        // A form opened and cancelled: the page comes back with it closed.
        self.click(&n, &format!("{reply_form} > summary")).await;
        self.find(&n, &format!("{reply_form}[open] a.cancel")).await;
        self.click(&n, &format!("{reply_form} a.cancel")).await;
        self.find(&n, &format!("{reply_form}:not([open])")).await;
        let back = n.window.current_url().await.unwrap();
        assert_eq!(
            back.fragment(),
            Some(root.as_str()),
            "Cancel comes back to the message it was under: {back}"
        );
        eprintln!(
            "e2e ({}): with JavaScript off, N joined CS 2100, posted a thread, replied, cancelled a form and paged through {} threads",
            self.backend,
            seeded + 1
        );
        let _ = n.window.close().await;
        self.windows
            .lock()
            .unwrap()
            .retain(|(who, _)| *who != "no-script");
        cs2100
    }

    /// At 375 px and 1280 px, on the list and on a thread's page: the nav is
    /// one line or a closed menu, and every chat action and nav control is at
    /// least 44×44 px (measured in the browser, forms opened).
    async fn step7(&self, a: &Person, b: &Person, chat: &Chat, cs2100: &str) {
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        let mut measure = |label: &'static str, fits: Vec<pages::Fit>| {
            for fit in &fits {
                eprintln!("e2e ({}): {label} at {fit}", self.backend);
                for (kind, n) in &fit.counts {
                    *total.entry(kind.clone()).or_default() += n;
                }
            }
        };
        self.go(b, &chat.list).await;
        self.find(b, &format!("#{}", chat.row_id)).await;
        self.acting(b);
        measure(
            "class-chat",
            pages::ergonomics(&b.window, "class-chat", b.width).await,
        );
        self.go(b, &chat.thread).await;
        self.find(b, &format!("#{}", chat.reply_id)).await;
        self.acting(b);
        measure(
            "class-thread",
            pages::ergonomics(&b.window, "class-thread", b.width).await,
        );
        // Opening a form moves no action: B taps each action of B's own reply
        // (Reply, Edit, Delete) and of A's question (Reply, Report).
        let mut opened = 0;
        for id in [&chat.reply_id, &chat.question_id] {
            opened += pages::actions_stay_put(
                &b.window,
                "class-thread",
                &format!("#{id} > .msg-actions"),
                b.width,
            )
            .await;
        }
        eprintln!(
            "e2e ({}): {opened} action forms opened by a tap at 375 and 1280 px: none moved an action, each showed below its row and closed on a second tap",
            self.backend
        );
        // With the script, Cancel closes the form in place (without it, Cancel
        // loads the page again: step 6).
        let form = format!("#{} > .msg-actions > details:first-of-type", chat.reply_id);
        b.window
            .execute("window.__noReload = 1;", vec![])
            .await
            .unwrap();
        self.click(b, &format!("{form} > summary")).await;
        self.fill(b, &format!("{form} textarea"), "never mind")
            .await;
        self.click(b, &format!("{form} a.cancel")).await;
        self.find(b, &format!("{form}:not([open])")).await;
        assert_eq!(
            b.window
                .execute("return window.__noReload === 1;", vec![])
                .await
                .unwrap(),
            serde_json::Value::Bool(true),
            "with the script, Cancel closes the form without loading the page again"
        );
        // A's CS 2100 holds 51 threads: the pager, and "Mark all read".
        self.go(a, cs2100).await;
        self.find(a, "nav.pager a[rel=next]").await;
        self.acting(a);
        measure(
            "class-chat-page1",
            pages::ergonomics(&a.window, "class-chat-page1", a.width).await,
        );
        self.check(a, "class-chat-busy").await;
        self.click(a, "nav.pager a[rel=next]").await;
        self.find(a, "nav.pager a:not([rel=next])").await;
        self.acting(a);
        measure(
            "class-chat-page2",
            pages::ergonomics(&a.window, "class-chat-page2", a.width).await,
        );
        for kind in [
            "nav",
            "action",
            "form button",
            "cancel",
            "thread link",
            "pager",
            "mark all read",
        ] {
            assert!(
                total.get(kind).copied().unwrap_or(0) > 0,
                "no {kind:?} was measured on the chat pages ({total:?})"
            );
        }
        eprintln!(
            "e2e ({}): tap targets measured at 375 and 1280 px, all at least {}×{} px: {total:?}",
            self.backend,
            pages::MIN_TARGET,
            pages::MIN_TARGET
        );
    }

    async fn step8(&self, a: &Person, b: &Person, others: &Person, chat: &Chat) {
        let (reply_id, reply_text) = (chat.reply_id.as_str(), chat.reply_text);
        // C, D and E take CS 3120, open the thread from the list and report B's reply.
        for (n, computing_id) in ["cc3cc", "dd4dd", "ee5ee"].into_iter().enumerate() {
            let token = self.session_for(computing_id);
            others.window.delete_all_cookies().await.unwrap();
            browser::sign_in(&others.window, &self.base, &token).await;
            self.go(others, &chat.list).await;
            self.sees(others, "Join this class first.").await;
            if n == 0 {
                self.check(others, "class-join").await;
            }
            self.button(
                others,
                "//section[contains(@class,'chat-locked')]",
                "Join this class",
            )
            .await;
            self.click(others, &format!("#{} a.thread-link", chat.row_id))
                .await;
            self.sees(others, reply_text).await;
            self.click(others, &format!("#{reply_id} details:last-child > summary"))
                .await;
            let summary = self
                .text(others, &format!("#{reply_id} details:last-child > summary"))
                .await;
            assert_eq!(summary, "Report");
            self.fill(
                others,
                &format!("#{reply_id} input[name=reason]"),
                "Off topic and rude",
            )
            .await;
            if n == 0 {
                self.check(others, "class-chat-report").await;
            }
            self.button(others, &format!("//article[@id='{reply_id}']"), "Report")
                .await;
            self.sees(others, "You reported this message.").await;
        }

        // Hidden for every student: the reporters, the question's author, and B.
        self.sees(others, "hidden by moderation").await;
        for p in [a, b] {
            self.go(p, &chat.thread).await;
            let shown = self.text(p, &format!("#{reply_id}")).await;
            assert!(
                shown.contains("hidden by moderation") && !shown.contains(reply_text),
                "{} sees B's reply hidden: {shown:?}",
                p.name
            );
            assert!(!p.window.source().await.unwrap().contains(reply_text));
        }
        self.check(a, "class-chat-hidden").await;

        // The moderator: signs in once, is made a moderator on the command line, signs in again.
        let moderator = Person {
            name: "M",
            window_label: others.window_label,
            computing_id: "mod7m".into(),
            window: others.window.clone(),
            width: others.width,
        };
        others.window.delete_all_cookies().await.unwrap();
        self.sign_in_with_link(&moderator).await;
        let operator = self.setup.clone();
        let granted = tokio::task::spawn_blocking(move || {
            operator.run(&["grant-role", "mod7m", "moderator"])
        })
        .await
        .unwrap();
        assert!(granted.contains("is now moderator"), "{granted}");
        self.sign_in_with_link(&moderator).await;
        self.nav(&moderator, "/admin").await;
        self.sees_heading(&moderator, "Overview").await;
        assert_eq!(
            self.text(
                &moderator,
                "//dt[normalize-space()='Open flags']/following-sibling::dd"
            )
            .await,
            "1"
        );
        self.check(&moderator, "admin-overview").await;
        self.click(&moderator, "nav.admin-nav a[href='/admin/sis']")
            .await;
        self.sees_heading(&moderator, "SIS sync").await;
        let run = self.text(&moderator, "table.audit tbody tr").await;
        assert!(
            run.starts_with("1262") && run.contains("succeeded"),
            "the sync run before the story is listed: {run:?}"
        );
        self.check(&moderator, "admin-sis").await;
        self.click(&moderator, "nav.admin-nav a[href='/admin/users']")
            .await;
        self.fill(&moderator, "#q", &b.computing_id).await;
        self.button(&moderator, "//form[@role='search']", "Find")
            .await;
        self.sees(&moderator, &b.email()).await;
        self.check(&moderator, "admin-users").await;
        self.click(&moderator, "nav.admin-nav a[href='/admin/flags']")
            .await;
        self.sees_heading(&moderator, "Flagged messages").await;
        let card =
            format!("//section[contains(@class,'flagged')][.//p[contains(., '{reply_text}')]]");
        let meta = self
            .text(&moderator, &format!("{card}/p[contains(@class,'meta')]"))
            .await;
        assert!(
            meta.contains("CS 3120") && meta.contains("3 reports"),
            "the queue shows the class and three reports: {meta:?}"
        );
        let badges = self
            .text(
                &moderator,
                &format!("{card}/p[contains(@class,'queue-badges')]"),
            )
            .await;
        assert!(
            badges.contains("Hidden"),
            "the queue says, in words, that it is hidden: {badges:?}"
        );
        self.check(&moderator, "admin-flags").await;

        // Ask to reveal, with a reason, first: restoring marks the reports reviewed,
        // and takes the message (and its reveal form) out of the queue. A second
        // staff member must approve before the author shows (the story has one).
        self.click(
            &moderator,
            &format!(
                "{card}/details[summary[normalize-space()='Ask to reveal the author']]/summary"
            ),
        )
        .await;
        let reason = "Three reports in CS 3120; checking for a pattern";
        self.fill(
            &moderator,
            &format!(
                "{card}/details[summary[normalize-space()='Ask to reveal the author']]//input[@name='reason']"
            ),
            reason,
        )
        .await;
        self.button(&moderator, &card, "Ask to reveal").await;
        self.sees_heading(&moderator, "Reveal request").await;
        self.sees(&moderator, "Another staff member must approve this")
            .await;
        self.check(&moderator, "admin-reveal").await;

        // Restore from the queue.
        self.click(&moderator, "main a[href='/admin/flags']").await;
        self.sees_heading(&moderator, "Flagged messages").await;
        self.button(&moderator, &card, "Restore").await;
        self.sees_notice(&moderator).await;
        self.sees(&moderator, "restored; its reports are kept as reviewed")
            .await;
        self.sees(&moderator, "Nothing here.").await;
        self.check(&moderator, "admin-flags-restored").await;

        // The audit log: the reveal request with its reason, then the restore, both by the moderator.
        self.click(&moderator, "nav.admin-nav a[href='/admin/audit']")
            .await;
        self.sees_heading(&moderator, "Audit log").await;
        // Who, what and why of the two newest entries (columns: when, who, action, target, reason).
        let mut newest = Vec::new();
        for row in self
            .find_all(&moderator, "table.audit tbody tr")
            .await
            .into_iter()
            .take(2)
        {
            let mut cells = Vec::new();
            for cell in row.find_all(Locator::Css("td")).await.unwrap() {
                cells.push(cell.text().await.unwrap());
            }
            newest.push((cells[1].clone(), cells[2].clone(), cells[4].clone()));
        }
        let who = moderator.computing_id.clone();
        assert_eq!(
            newest,
            vec![
                (who.clone(), "restored a message".to_string(), String::new()),
                (
                    who,
                    "asked to reveal a message's author".to_string(),
                    reason.to_string()
                ),
            ],
            "newest first: the restore, then the reveal request with its reason, both by the moderator"
        );
        self.check(&moderator, "admin-audit").await;

        // Students see the reply again.
        self.go(a, &chat.thread).await;
        self.sees(a, reply_text).await;
    }

    async fn step9(&self, a: &Person, b: &Person, chat: &Chat) {
        // B starts to ask what A already asked. While B types, our script
        // shows A's thread under the draft; nothing is posted, and B opens it.
        self.go(b, &chat.list).await;
        let threads_before = self
            .find_all(b, "ol.thread-list > li.thread-row")
            .await
            .len();
        self.fill(
            b,
            "#new-message",
            "Has anyone got notes from the induction lecture?",
        )
        .await;
        let suggestion = format!("#similar-threads a[href^='{}']", chat.thread);
        self.find(b, &suggestion).await;
        self.sees(b, "Maybe already answered:").await;
        let marked = self.texts(b, "#similar-threads mark").await;
        assert!(
            marked
                .iter()
                .any(|m| m.to_lowercase().contains("induction")),
            "the draft's words are marked in the suggestion: {marked:?}"
        );
        self.check(b, "class-chat-similar").await;
        self.click(b, &suggestion).await;
        self.wait_path(b, &chat.thread).await;

        // B upvotes A's question instead: one vote, pressed for B only.
        let vote = format!("#{} > .msg-actions .vote-button", chat.question_id);
        assert!(
            self.text(b, &vote).await.trim().starts_with('0'),
            "no vote yet"
        );
        self.click(b, &vote).await;
        self.wait_path(b, &chat.thread).await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            // The live stream may re-render the message between finding the
            // button and reading it (a stale element): read it again.
            let pressed = self.find(b, &vote).await.attr("aria-pressed").await;
            if matches!(pressed.as_ref().map(|p| p.as_deref()), Ok(Some("true"))) {
                break;
            }
            assert!(Instant::now() < deadline, "B's vote is shown pressed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            self.text(b, &vote).await.trim().starts_with('1'),
            "one vote"
        );
        self.go(b, &chat.list).await;
        assert_eq!(
            self.find_all(b, "ol.thread-list > li.thread-row")
                .await
                .len(),
            threads_before,
            "no thread was posted while B typed"
        );

        // A, who started the thread, marks B's reply as the answer: it shows
        // first under the question, and the list says the thread is answered.
        self.go(a, &chat.thread).await;
        assert!(
            self.find(
                a,
                &format!("#{} > .msg-actions .vote-count", chat.question_id)
            )
            .await
            .text()
            .await
            .unwrap()
            .trim()
            .starts_with('1'),
            "A sees the vote on their own question, and cannot vote on it"
        );
        self.button(
            a,
            &format!("//article[@id='{}']", chat.reply_id),
            "Mark as answer",
        )
        .await;
        self.wait_path(a, &chat.thread).await;
        let first = self
            .text(a, &format!("#{} .answer-first", chat.question_id))
            .await;
        assert!(
            first.contains(chat.reply_text),
            "the answer shows under the question: {first:?}"
        );
        self.check(a, "class-chat-answered").await;
        self.go(a, &chat.list).await;
        let meta = self
            .text(a, &format!("#{} .thread-meta", chat.row_id))
            .await;
        assert!(meta.contains("answered"), "the row says answered: {meta:?}");

        // A finds B's reply by a word from its middle, the word marked.
        self.fill(a, "#chat-search-q", "coloring").await;
        self.button(a, "//form[contains(@class,'chat-search')]", "Search")
            .await;
        self.sees(a, "Fibonacci").await;
        let marked = self.texts(a, "main mark").await;
        assert!(
            marked.iter().any(|m| m.to_lowercase().contains("coloring")),
            "the match is marked: {marked:?}"
        );
        self.check(a, "class-chat-search").await;
    }

    /// A keeps home open while B replies to A's question in B's window: the
    /// count by "Inbox" rises by one by itself. Then, in a window with
    /// JavaScript off, A sees the count of a later reply after a reload.
    /// Returns how many replies B added to the thread.
    async fn step10(
        &self,
        driver: &browser::Driver,
        chromium: &str,
        a: &Person,
        b: &Person,
        chat: &Chat,
    ) -> usize {
        self.go(a, "/").await;
        self.sees_heading(a, "My classes · Spring 2026").await;
        let before = self.nav_count(a).await;
        a.window
            .execute("window.__noReload = 1;", vec![])
            .await
            .unwrap();

        let posted = self
            .reply_to_question(b, chat, "One more thing: the bound is in chapter 5.")
            .await;

        // A's home, untouched since, shows it within PATIENCE, in both badges
        // (the "Inbox" link and the phone's Menu).
        self.acting(a);
        loop {
            let counts = self.nav_counts(a).await;
            if counts.iter().all(|c| *c == Some(before + 1)) && !counts.is_empty() {
                break;
            }
            assert!(
                posted.elapsed() < PATIENCE,
                "A's nav count did not rise from {before} within {}s: {counts:?}",
                PATIENCE.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let latency = posted.elapsed();
        let marker = a
            .window
            .execute("return window.__noReload === 1;", vec![])
            .await
            .unwrap();
        assert_eq!(
            marker,
            serde_json::Value::Bool(true),
            "A's home was reloaded to show the count; it should arrive live"
        );
        eprintln!(
            "e2e ({}): B's reply raised A's nav count from {before} to {} in {} ms (press to shown), without a reload",
            self.backend,
            before + 1,
            latency.as_millis()
        );
        self.check(a, "home-unread-live").await;

        // Without JavaScript: the count is on the page as served, and a later
        // reply shows after a reload, not before.
        let window = browser::open_without_script(driver, chromium, 375, pages::HEIGHT).await;
        self.windows
            .lock()
            .unwrap()
            .push(("no-script", window.clone()));
        let a_without_script = Person {
            name: "A (no JavaScript)",
            window_label: "no-script",
            computing_id: a.computing_id.clone(),
            window,
            width: 375,
        };
        let token = self.session_of(&a.email());
        browser::sign_in(&a_without_script.window, &self.base, &token).await;
        self.go(&a_without_script, "/").await;
        self.signed_in_as(&a_without_script).await;
        assert_eq!(
            self.nav_counts(&a_without_script).await,
            vec![Some(before + 1); 2],
            "the served page shows the count"
        );
        let posted = self
            .reply_to_question(b, chat, "And the exercises are at its end.")
            .await;
        // The script-on window is told; the script-off one waits for a reload.
        while self.nav_counts(a).await != vec![Some(before + 2); 2] {
            assert!(
                posted.elapsed() < PATIENCE,
                "A's home did not show the second reply's count"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            self.nav_counts(&a_without_script).await,
            vec![Some(before + 1); 2],
            "without the script nothing changes until a reload"
        );
        self.go(&a_without_script, "/").await;
        assert_eq!(
            self.nav_counts(&a_without_script).await,
            vec![Some(before + 2); 2],
            "after a reload the count is there"
        );
        let _ = a_without_script.window.close().await;
        self.windows
            .lock()
            .unwrap()
            .retain(|(who, _)| *who != "no-script");

        // The inbox names B's replies by pseudonym only; opening the newest
        // lands on it in the thread and marks the thread's notices read.
        self.nav(a, "/notifications").await;
        self.sees_heading(a, "Inbox").await;
        self.sees(a, "replied to your message in CS 3120").await;
        self.click(a, "main .inbox-item a.inbox-link").await;
        self.sees(a, "And the exercises are at its end.").await;
        let url = a.window.current_url().await.unwrap();
        assert!(
            url.path().contains("/threads/") && url.fragment().is_some_and(|f| f.starts_with("m-")),
            "opening a notification lands on the reply in its thread: {url}"
        );
        // As served, and kept so by the count stream.
        let after = self.nav_count(a).await;
        assert!(
            after <= before,
            "opening the notification marks the thread's notices read: {after} unread, {before} before the replies"
        );
        // The email choices are one link from the account page.
        self.nav(a, "/account").await;
        self.click(a, "main a[href='/account/notifications']").await;
        self.sees_heading(a, "Email notifications").await;
        2
    }

    /// B replies to A's question on the thread page; returns when B pressed Reply.
    async fn reply_to_question(&self, b: &Person, chat: &Chat, text: &str) -> Instant {
        self.go(b, &chat.thread).await;
        let form = format!(
            "#{} > .msg-actions > details:first-of-type",
            chat.question_id
        );
        self.click(b, &format!("{form} > summary")).await;
        self.fill(b, &format!("{form} textarea[name=content]"), text)
            .await;
        self.ready_to_post(b).await;
        let pressed = Instant::now();
        self.click(b, &format!("{form} button[type=submit]")).await;
        self.sees(b, text).await;
        self.post_landed(b);
        pressed
    }

    /// What each of the nav's unread badges shows: its number, or None while
    /// it is hidden.
    async fn nav_counts(&self, p: &Person) -> Vec<Option<i64>> {
        let shown = p
            .window
            .execute(
                "return [...document.querySelectorAll('[data-unread-count]')].map(b => b.hidden ? null : (b.firstChild ? b.firstChild.nodeValue : ''));",
                vec![],
            )
            .await
            .unwrap();
        shown
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| {
                v.as_str().map(|t| {
                    t.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("a badge shows {t:?}"))
                })
            })
            .collect()
    }

    /// The nav's count as a number (0 while the badges are hidden).
    async fn nav_count(&self, p: &Person) -> i64 {
        let counts = self.nav_counts(p).await;
        assert_eq!(counts.len(), 2, "two badges: the Inbox link and the Menu");
        counts[0].unwrap_or(0)
    }

    /// `later_replies`: B's replies to the question after step 5 (step 10's).
    async fn step11(&self, a: &Person, b: &Person) {
        // B, on a phone: the week reads day by day, each meeting with its time.
        self.nav(b, "/schedule").await;
        self.sees_heading(b, "My week · Spring 2026").await;
        let agenda = self.find(b, "section.week-agenda").await;
        assert!(
            agenda.is_displayed().await.unwrap(),
            "at 375 px the week is the agenda"
        );
        let agenda_text = agenda.text().await.unwrap();
        assert!(
            agenda_text.contains("CS 3120") && agenda_text.contains("11:00"),
            "the agenda names B's class and its time:\n{agenda_text}"
        );
        self.check(b, "week-agenda").await;

        // A makes a private calendar link (shown once, as webcal).
        self.go(a, "/account/calendar").await;
        self.sees_heading(a, "Your classes in your calendar").await;
        self.check(a, "calendar-empty").await;
        self.button(a, "//main", "Create my calendar link").await;
        let webcal = self
            .find(a, "main a[href^='webcal://']")
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            webcal.ends_with(".ics"),
            "a webcal link to the feed: {webcal}"
        );
        self.check(a, "calendar-link").await;

        // B's week beside A's, the class they share marked.
        self.go(a, &format!("/friends/{}", b.computing_id)).await;
        self.find(a, "li.week-entry.shared").await;
        self.sees(a, "Shared").await;
        self.check(a, "friend-week").await;

        // When are A and B both free? The friend page's link ticks B.
        self.click(a, "main a[href^='/friends/free']").await;
        self.sees_heading(a, "When are we free?").await;
        self.find(
            a,
            &format!("input[name=friend][value='{}']:checked", b.computing_id),
        )
        .await;
        // The page already shows its answer for B alone, so wait for the
        // page the form loads, not for a heading the old one has.
        self.button_to_new_page(a, "//main//form", "Find free time")
            .await;
        self.find(a, "#all-free-heading").await;
        self.sees(a, "When all of you are free").await;
        self.check(a, "free-time").await;
    }

    async fn step12(&self, a: &Person, b: &Person, chat: &Chat, later_replies: usize) {
        let question = chat.question;
        let reply_text = chat.reply_text;
        self.nav(a, "/account").await;
        self.sees_heading(a, "Account").await;
        self.check(a, "account").await;
        self.click(a, "main a[href='/account/sessions']").await;
        self.sees_heading(a, "Where you are signed in").await;
        self.sees(a, "this device").await;
        self.check(a, "account-sessions").await;
        self.go(a, "/account").await;

        // The export downloads as a file holding A's profile, classes and messages.
        let file = self
            .downloads
            .join(format!("common-grounds-{}.json", a.computing_id));
        self.click(a, "main a[href='/account/export']").await;
        let exported = wait_for_file(&file).await;
        let data: serde_json::Value = serde_json::from_str(&exported)
            .unwrap_or_else(|e| panic!("the export is JSON ({e}):\n{exported}"));
        assert_eq!(data["profile"]["email"], a.email().as_str());
        let text = data.to_string();
        for expected in [
            "CS",
            "3120",
            "2100",
            question,
            chat.live_text,
            b.computing_id.as_str(),
        ] {
            assert!(
                text.contains(expected),
                "the export holds {expected:?}: {text}"
            );
        }

        // Deleting needs the computing ID typed in.
        self.fill(a, "#confirm", &a.computing_id).await;
        self.button(
            a,
            "//section[contains(@class,'danger-zone')]",
            "Delete my account",
        )
        .await;
        self.wait_path(a, "/").await;
        self.sees(a, "Your account and your data were deleted.")
            .await;
        self.sees(a, "See who is in your classes.").await;
        self.check(a, "account-deleted").await;
        self.go(a, "/account").await;
        self.wait_path(a, "/login").await;

        // B's replies survive under a "[deleted]" parent with no author; A's
        // reply to B's first, which nobody answered, is gone.
        self.go(b, &chat.thread).await;
        self.sees(b, reply_text).await;
        let rows = self.find_all(b, "section.chat article.msg").await;
        assert_eq!(
            rows.len(),
            2 + later_replies,
            "the thread keeps the question's place and B's replies"
        );
        let parent = rows[0].text().await.unwrap();
        assert!(
            parent.contains("[deleted]") && !parent.contains(question),
            "the question is a placeholder now: {parent:?}"
        );
        assert!(
            rows[0]
                .find_all(Locator::Css(".msg-head .pseudonym"))
                .await
                .unwrap()
                .is_empty(),
            "a deleted message shows no pseudonym"
        );
        assert_eq!(
            rows[1].attr("id").await.unwrap().as_deref(),
            Some(chat.reply_id.as_str())
        );
        assert_eq!(
            rows[0].attr("id").await.unwrap().as_deref(),
            Some(chat.question_id.as_str()),
            "the question keeps its place"
        );
        assert!(rows[1].text().await.unwrap().contains(reply_text));
        assert!(
            !self.visible_text(b).await.contains(chat.live_text),
            "A's unanswered reply left with A's account"
        );
        self.check(b, "class-chat-deleted-parent").await;

        // And A is no longer B's friend: the old link to A's page says so,
        // with the way to the friends page.
        self.go(b, "/friends").await;
        self.sees(b, "No friends yet.").await;
        self.go(b, &format!("/friends/{}", a.computing_id)).await;
        self.sees_heading(b, "Not a friend (yet)").await;
        self.sees(b, "you are not friends with this computing ID")
            .await;
        self.check(b, "not-found").await;
    }

    async fn step13(&self, b: &Person, others: &Person, chat: &Chat) {
        // B's two replies from step 10: every message of the thread but the
        // question's place and B's first reply.
        self.go(b, &chat.thread).await;
        let mut later = Vec::new();
        for row in self.find_all(b, "section.chat article.msg").await {
            let id = row.attr("id").await.unwrap().unwrap_or_default();
            if id != chat.question_id && id != chat.reply_id {
                later.push(id);
            }
        }
        assert_eq!(later.len(), 2, "B's two later replies: {later:?}");

        // C reports the first, D both: two messages wait, one with two reports.
        let reports = [
            (
                "cc3cc",
                &later[..1],
                "Posting the full solution to the graded problem set before the deadline",
            ),
            (
                "dd4dd",
                &later[..],
                "Copies answers from last year's exam; academic integrity concern",
            ),
        ];
        for (computing_id, ids, reason) in reports {
            let token = self.session_of(&format!("{computing_id}@virginia.edu"));
            others.window.delete_all_cookies().await.unwrap();
            browser::sign_in(&others.window, &self.base, &token).await;
            self.go(others, &chat.thread).await;
            for id in ids {
                self.report(others, id, reason).await;
            }
        }
        let waiting =
            common_grounds::moderation::stats::waiting_reports(&mut self.db.connect()).unwrap();
        assert_eq!(waiting, 2, "two messages wait for a moderator");

        // What the admin pages list besides: a student suspended now (as the
        // Users page would; its form is the admin_people tests' business), and
        // a sync of a term SIS does not know, which fails with SIS's answer.
        let moderator = Person {
            name: "M",
            window_label: others.window_label,
            computing_id: "mod7m".into(),
            window: others.window.clone(),
            width: others.width,
        };
        {
            use common_grounds::accounts::find_by_email;
            use common_grounds::campus_time::CampusTime;
            let mut conn = self.db.connect();
            let actor = find_by_email(&mut conn, &moderator.email())
                .unwrap()
                .expect("the moderator's account")
                .id;
            let now = common_grounds::clock::now();
            common_grounds::moderation::users::suspend_account(
                &mut conn,
                &actor,
                "ee5ee",
                now + chrono::Duration::days(7),
                "Repeated reports in CS 3120 after a warning from the course staff",
                false,
                now,
                CampusTime::default(),
            )
            .unwrap();
        }

        // The moderator signs in with an emailed link and lands on the overview;
        // the nav's Admin link says how many wait, in figures and in words.
        others.window.delete_all_cookies().await.unwrap();
        self.sign_in_with_link(&moderator).await;
        self.wait_path(&moderator, "/admin").await;
        self.sees_heading(&moderator, "Overview").await;
        let badge = moderator
            .window
            .execute(
                "const b = document.querySelector('ul.nav a[href=\"/admin\"] [data-waiting-reports]');
                 return b ? [b.querySelector('[aria-hidden=true]').textContent, b.querySelector('.visually-hidden').textContent] : null;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            badge,
            serde_json::json!(["2", "2 reports waiting"]),
            "the Admin link counts the two waiting messages"
        );

        // The queue shows both cards, the one D and C reported with two reports.
        self.click(&moderator, "nav.admin-nav a[href='/admin/flags']")
            .await;
        self.sees_heading(&moderator, "Flagged messages").await;
        for (id, count) in [
            (&later[0], "2 reports to review"),
            (&later[1], "1 report to review"),
        ] {
            let uuid = id.trim_start_matches("m-");
            let meta = self
                .text(
                    &moderator,
                    &format!(
                        "//section[contains(@class,'flagged')][.//form[contains(@action,'/admin/messages/{uuid}/')]]/p[contains(@class,'meta')]"
                    ),
                )
                .await;
            assert!(
                meta.contains("CS 3120") && meta.contains(count),
                "the card of {id} names its class and {count:?}: {meta:?}"
            );
        }

        // A sync of a term SIS does not have fails, and says why.
        self.click(&moderator, "nav.admin-nav a[href='/admin/sis']")
            .await;
        self.fill(&moderator, "#term", "1268").await;
        // Waits for the answer: opening /admin/sis before the form's POST was
        // sent would cancel it (CI once saw no sync of 1268 at all).
        self.button_to_new_page(
            &moderator,
            "//main//form[@action='/admin/sis/sync']",
            "Sync now",
        )
        .await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.go(&moderator, "/admin/sis").await;
            let newest = self.text(&moderator, "table.audit tbody tr").await;
            if newest.starts_with("1268") && newest.contains("failed") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the sync of 1268 should fail and say so: {newest:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Every admin page, at both widths: axe-core, no sideways scroll, no
        // table cell narrower than its longest word (and the story's other checks).
        let class_id = path_of(&chat.list)
            .trim_start_matches("/classes/")
            .to_string();
        let user_id = self.user_id(&b.email());
        let values = [
            ("computing_id", b.computing_id.as_str()),
            ("user", user_id.as_str()),
            ("class", class_id.as_str()),
        ];
        for page in browser::ADMIN_PAGES {
            let path = browser::fill_page(page, &values);
            self.go(&moderator, &path).await;
            self.find(&moderator, "nav.admin-nav").await;
            self.check(&moderator, &path).await;
        }
        let cells = self.checks.tally().table_cells;
        assert!(cells > 0, "the admin pages' tables were measured");

        // B takes a name chosen to hold classmates' posts; the moderator
        // removes it from B's page, B reads why and waits, and the moderator
        // ends the wait: each new state read well at both widths.
        self.go(b, "/account").await;
        self.fill(b, "#display_name", "Homework Helper").await;
        self.button_to_new_page(b, "//form[@action='/account/privacy']", "Save")
            .await;
        self.sees(b, "Saved.").await;
        self.go(&moderator, &format!("/admin/users/{user_id}"))
            .await;
        self.click(&moderator, "details.remove-name > summary")
            .await;
        self.fill(
            &moderator,
            "#name-reason",
            "A common word of the class, chosen to hold posts",
        )
        .await;
        self.button_to_new_page(
            &moderator,
            "//details[contains(@class,'remove-name')]",
            "Remove the name",
        )
        .await;
        self.sees(&moderator, "display name is removed").await;
        self.check(&moderator, "admin-user-name-removed").await;
        self.go(b, "/account").await;
        self.sees(b, "A moderator removed your display name").await;
        self.check(b, "account-name-removed").await;
        self.button_to_new_page(
            &moderator,
            "//form[contains(@action,'/display-name/end-wait')]",
            "End the wait now",
        )
        .await;
        self.sees(&moderator, "can choose a display name again")
            .await;
    }

    /// `p` reports message `id` (`m-…`) on the thread page open in their window.
    async fn report(&self, p: &Person, id: &str, reason: &str) {
        let form = format!("#{id} details:last-child");
        self.click(p, &format!("{form} > summary")).await;
        self.fill(p, &format!("{form} input[name=reason]"), reason)
            .await;
        self.button(p, &format!("//article[@id='{id}']"), "Report")
            .await;
        // The row itself says so (another row may say it already).
        self.find(
            p,
            &format!("//article[@id='{id}']//p[normalize-space()='You reported this message.']"),
        )
        .await;
    }

    // ------------------------------------------------------------ the runner

    /// Runs one step; on failure saves screenshots and fails naming the step.
    async fn step<T>(&self, n: u32, title: &str, body: impl Future<Output = T>) -> T {
        eprintln!("e2e ({}): step {n}: {title}", self.backend);
        let started = Instant::now();
        let outcome = tokio::time::timeout(STEP_LIMIT, AssertUnwindSafe(body).catch_unwind()).await;
        let failure = match outcome {
            Ok(Ok(value)) => {
                eprintln!(
                    "e2e ({}): step {n} passed in {:.1}s",
                    self.backend,
                    started.elapsed().as_secs_f64()
                );
                return value;
            }
            Ok(Err(payload)) => panic_text(payload),
            Err(_) => format!("it did not finish within {}s", STEP_LIMIT.as_secs()),
        };
        let shots = self.failure_screenshots(n).await;
        panic!(
            "e2e ({}) failed at step {n} ({title}): {failure}\n  screenshot: {}",
            self.backend,
            shots.join("\n  also: ")
        );
    }

    async fn failure_screenshots(&self, n: u32) -> Vec<String> {
        let last = *self.last.lock().unwrap();
        let windows = self.windows.lock().unwrap().clone();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let mut saved = Vec::new();
        // The window that acted last first: its picture is the step's.
        let mut ordered: Vec<_> = windows.iter().filter(|(who, _)| *who == last).collect();
        ordered.extend(windows.iter().filter(|(who, _)| *who != last));
        for (i, (who, window)) in ordered.into_iter().enumerate() {
            let name = if i == 0 {
                format!("e2e-{}-step{n}-fail.png", self.backend)
            } else {
                format!("e2e-{}-step{n}-fail-{who}.png", self.backend)
            };
            // The whole page, so that what went wrong is in the picture wherever it is.
            if let Ok(width) = window.execute("return window.innerWidth;", vec![]).await {
                let width = width.as_u64().unwrap_or(1280) as u32;
                let _ = AssertUnwindSafe(pages::whole_page(window, width))
                    .catch_unwind()
                    .await;
            }
            match window.screenshot().await {
                Ok(png) => {
                    let path = dir.join(name);
                    std::fs::write(&path, png).unwrap();
                    saved.push(format!("{} ({who}'s window)", path.display()));
                }
                Err(e) => saved.push(format!("(no screenshot of {who}'s window: {e})")),
            }
        }
        saved
    }

    // ------------------------------------------------------------ people and their actions

    async fn person(
        &self,
        driver: &browser::Driver,
        chromium: &str,
        name: &'static str,
        computing_id: &str,
        width: u32,
        downloads: bool,
    ) -> Person {
        let window = browser::open_with(
            driver,
            chromium,
            width,
            pages::HEIGHT,
            downloads.then_some(self.downloads.as_path()),
        )
        .await;
        self.windows.lock().unwrap().push((name, window.clone()));
        Person {
            name,
            window_label: name,
            computing_id: computing_id.into(),
            window,
            width,
        }
    }

    fn acting(&self, p: &Person) {
        *self.last.lock().unwrap() = p.window_label;
    }

    /// Follows a link of the top nav, opening the "Menu" first where the
    /// window is narrow enough to fold it, as a person on a phone does.
    async fn nav(&self, p: &Person, href: &str) {
        let menu = self.find(p, "header nav details.nav-menu").await;
        let summary = menu.find(Locator::Css("summary")).await.unwrap();
        if summary.is_displayed().await.unwrap() && menu.attr("open").await.unwrap().is_none() {
            summary.click().await.unwrap();
        }
        self.click(p, &format!("header nav a[href='{href}']")).await;
    }

    /// Waits until `p` may post again (one post per 5 s per class, as the
    /// "Please wait" page would ask), counted from when their last post was
    /// seen on the page (see `post_landed`).
    async fn ready_to_post(&self, p: &Person) {
        let last = self.posted.lock().unwrap().get(&p.computing_id).copied();
        if let Some(last) = last {
            tokio::time::sleep(Duration::from_millis(5200).saturating_sub(last.elapsed())).await;
        }
    }

    /// Notes that `p`'s post has just shown on their page. The server stored
    /// it no later than now, so waiting from here never falls short of the
    /// limit; waiting from the click did, when a slow answer to the first
    /// post ate into the wait before the second.
    fn post_landed(&self, p: &Person) {
        self.posted
            .lock()
            .unwrap()
            .insert(p.computing_id.clone(), Instant::now());
    }

    /// The nav says who is signed in, on its "Sign out" button (folded into
    /// the menu on a phone, so read from the page rather than the screen).
    async fn signed_in_as(&self, p: &Person) {
        let expected = format!("Sign out ({})", p.computing_id);
        self.acting(p);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let label = p
                .window
                .execute(
                    "const b = document.querySelector('header nav form[action=\"/logout\"] button'); return b ? b.textContent.replace(/\\s+/g, ' ').trim() : null;",
                    vec![],
                )
                .await
                .unwrap();
            if label.as_str() == Some(expected.as_str()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} expected the nav to offer {expected:?} on {}, found {label}",
                    p.name,
                    self.where_(p).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How far right of message `parent` message `child` starts, in px: a
    /// reply shows indented under what it answers.
    async fn indent(&self, p: &Person, parent: &str, child: &str) -> f64 {
        p.window
            .execute(
                "const x = (id) => document.getElementById(id).getBoundingClientRect().left; return x(arguments[1]) - x(arguments[0]);",
                vec![parent.into(), child.into()],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap()
    }

    /// `count` threads in the class at `class_path`, by a classmate made in the
    /// database, an hour apart, weeks ago, written through the chat's own
    /// `post` (so its limits, pseudonyms, thread activity and events all hold).
    fn seed_threads(&self, class_path: &str, count: usize) {
        use common_grounds::{chat, classes};
        let class_id = classes::ClassId::parse(path_of(class_path).trim_start_matches("/classes/"))
            .unwrap_or_else(|| panic!("{class_path} is not a class page"));
        let mut conn = self.db.connect();
        let long_ago = common_grounds::clock::now() - chrono::Duration::days(30);
        let author = common::builders::UserBuilder::new("sd2sd")
            .created_at(long_ago)
            .insert(&mut conn);
        classes::enroll(&mut conn, &author.id, &class_id, long_ago).unwrap();
        let rules = chat::Rules::new(server::SECRET_KEY.as_bytes(), 3);
        for n in 1..=count {
            let body =
                chat::MessageBody::parse(&format!("Seeded thread {n}: notes on lecture {n}."))
                    .unwrap();
            let draft = chat::Draft {
                class_id: &class_id,
                parent_id: None,
                body: &body,
            };
            let at = long_ago + chrono::Duration::hours(n as i64);
            chat::post(&mut conn, &author, draft, &rules, at)
                .unwrap_or_else(|e| panic!("seeding thread {n}: {e}"));
        }
    }

    /// A signed-in student made directly in the database, for the reporters:
    /// the sign-in itself is covered by A and B.
    fn session_for(&self, computing_id: &str) -> String {
        use common_grounds::accounts::sessions;
        let mut conn = self.db.connect();
        let now = common_grounds::clock::now();
        let id = common::builders::UserBuilder::new(computing_id)
            .created_at(now)
            .insert(&mut conn)
            .id;
        sessions::create(&mut conn, &id, Some("e2e"), now)
            .unwrap()
            .token
    }

    /// A new session for an existing account (a second browser of theirs).
    fn session_of(&self, email: &str) -> String {
        use common_grounds::accounts::{find_by_email, sessions};
        let mut conn = self.db.connect();
        let user = find_by_email(&mut conn, email)
            .unwrap()
            .unwrap_or_else(|| panic!("no account for {email}"));
        sessions::create(
            &mut conn,
            &user.id,
            Some("e2e"),
            common_grounds::clock::now(),
        )
        .unwrap()
        .token
    }

    /// An account's id, read from the database (pages must never show it).
    fn user_id(&self, email: &str) -> String {
        common_grounds::accounts::find_by_email(&mut self.db.connect(), email)
            .unwrap()
            .unwrap_or_else(|| panic!("no account for {email}"))
            .id
            .to_string()
    }

    async fn sign_in_with_link(&self, p: &Person) {
        self.go(p, "/login").await;
        self.fill(p, "#email", &p.email()).await;
        self.click(p, "main form button[type=submit]").await;
        self.sees_heading(p, "Check your email").await;
        let mail = self.next_email(&p.email()).await;
        let start = mail.find("/login/confirm?token=").expect("a sign-in link");
        let token: String = mail[start + "/login/confirm?token=".len()..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        self.go(p, &format!("/login/confirm?token={token}")).await;
        self.click(p, "main form button[type=submit]").await;
        // Moderators and admins land on the admin overview, students at home.
        let staff = common_grounds::accounts::find_by_email(&mut self.db.connect(), &p.email())
            .unwrap()
            .is_some_and(|u| u.role.is_staff());
        self.wait_path(p, if staff { "/admin" } else { "/" }).await;
        self.signed_in_as(p).await;
    }

    /// The next email to `address` that this story has not read yet, as plain text.
    async fn next_email(&self, address: &str) -> String {
        let seen = *self.read.lock().unwrap().get(address).unwrap_or(&0);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mine: Vec<_> = self
                .smtp
                .received()
                .into_iter()
                .filter(|m| m.to == vec![format!("<{address}>")])
                .collect();
            if let Some(mail) = mine.get(seen) {
                self.read
                    .lock()
                    .unwrap()
                    .insert(address.to_string(), seen + 1);
                return mail.plain_text();
            }
            assert!(
                Instant::now() < deadline,
                "no email reached {address} within 20 s (the SMTP listener has {} messages)",
                self.smtp.received().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn go(&self, p: &Person, path: &str) {
        self.acting(p);
        p.window
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("{} cannot open {path}: {e}", p.name));
    }

    async fn find(&self, p: &Person, selector: &str) -> Element {
        self.acting(p);
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Any error counts as "not yet": a page that is still loading answers oddly.
            let error = match p.window.find(locator(selector)).await {
                Ok(element) => return element,
                Err(e) => e,
            };
            if Instant::now() > deadline {
                panic!(
                    "{} does not see {selector} on {} ({error})",
                    p.name,
                    self.where_(p).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find_all(&self, p: &Person, selector: &str) -> Vec<Element> {
        self.acting(p);
        p.window.find_all(locator(selector)).await.unwrap()
    }

    async fn click(&self, p: &Person, selector: &str) {
        let element = self.find(p, selector).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{} cannot click {selector}: {e}", p.name));
    }

    /// Presses the button labelled `label` inside the element `scope` (XPath).
    async fn button(&self, p: &Person, scope: &str, label: &str) {
        self.click(p, &format!("{scope}//button[normalize-space()='{label}']"))
            .await;
    }

    /// Presses a button whose form loads a page (perhaps the same one) and
    /// waits until the new page is there: marks the old document first, so a
    /// look for an element the two pages share cannot answer from the old one,
    /// nor a key press land on a page that is going away.
    async fn button_to_new_page(&self, p: &Person, scope: &str, label: &str) {
        p.window
            .execute("window.e2eOldPage = true;", vec![])
            .await
            .unwrap();
        self.button(p, scope, label).await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            // An error counts as "not yet": a page that is still loading answers oddly.
            let old = p
                .window
                .execute("return window.e2eOldPage === true;", vec![])
                .await;
            if matches!(old, Ok(serde_json::Value::Bool(false))) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} pressed {label:?} on {} and no new page loaded",
                    p.name,
                    self.where_(p).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, p: &Person, selector: &str, text: &str) {
        let field = self.find(p, selector).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn text(&self, p: &Person, selector: &str) -> String {
        self.find(p, selector).await.text().await.unwrap()
    }

    async fn texts(&self, p: &Person, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.find_all(p, selector).await {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// What a person sees: the page's visible text contains `text` (waiting a little).
    async fn sees(&self, p: &Person, text: &str) {
        self.acting(p);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let shown = self.visible_text(p).await;
            if shown.contains(text) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} expected to see {text:?} on {}; the page says:\n{}",
                    p.name,
                    self.where_(p).await,
                    shown.chars().take(1500).collect::<String>()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sees_heading(&self, p: &Person, heading: &str) {
        self.acting(p);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let h1 = p
                .window
                .execute(
                    "const h = document.querySelector('h1'); return h ? h.innerText.trim() : null;",
                    vec![],
                )
                .await
                .unwrap();
            if h1.as_str() == Some(heading) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} expected the heading {heading:?} on {}, saw {h1}",
                    p.name,
                    self.where_(p).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A green "done" notice (not a red alert) after a form.
    async fn sees_notice(&self, p: &Person) {
        let alerts = self.texts(p, "main .alert").await;
        assert!(alerts.is_empty(), "{} sees an error: {alerts:?}", p.name);
        self.find(p, "main .notice[role=status]").await;
    }

    async fn wait_path(&self, p: &Person, path: &str) {
        self.acting(p);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = p.window.current_url().await.unwrap();
            if url.path() == path {
                return;
            }
            if Instant::now() > deadline {
                panic!("{} expected to be on {path}, is on {url}", p.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn visible_text(&self, p: &Person) -> String {
        p.window
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn where_(&self, p: &Person) -> String {
        match p.window.current_url().await {
            Ok(url) => url.path().to_string(),
            Err(_) => "(an unknown page)".into(),
        }
    }

    /// Presses Tab from the top of the page until `selector` has the focus.
    async fn tab_to(&self, p: &Person, selector: &str, max: usize) {
        self.acting(p);
        pages::focus_top(&p.window).await;
        for _ in 0..max {
            pages::press(&p.window, Key::Tab).await;
            let there = p
                .window
                .execute(
                    "return document.activeElement === document.querySelector(arguments[0]);",
                    vec![selector.into()],
                )
                .await
                .unwrap();
            if there == serde_json::Value::Bool(true) {
                return;
            }
        }
        panic!(
            "{} pressed Tab {max} times on {} without reaching {selector}",
            p.name,
            self.where_(p).await
        );
    }

    async fn check(&self, p: &Person, label: &str) {
        self.acting(p);
        self.checks.page(&p.window, label, p.width).await;
    }

    async fn search_and_join(&self, p: &Person, query: &str, card_heading: &str) {
        self.fill(p, "#q", query).await;
        self.button(p, "//form[@role='search']", "Search").await;
        let card = card(card_heading);
        self.find(p, &card).await;
        // Its name says which class ("Join CS 3120 001"): visible text "Join".
        self.click(
            p,
            &format!("{card}//button[starts-with(normalize-space(),'Join')]"),
        )
        .await;
        self.sees_notice(p).await;
        let badge = self
            .text(
                p,
                &format!("{card}//span[contains(@class,'badge')][not(contains(@class,'neutral'))]"),
            )
            .await;
        assert_eq!(
            badge, "You are in this class",
            "{} joined {card_heading}",
            p.name
        );
    }
}

/// What step 4 leaves for the later steps: CS 3120's thread and its messages.
struct Chat {
    /// CS 3120's page (the thread list) and the thread's own page.
    list: String,
    thread: String,
    /// The thread's row on the list (`t-…`).
    row_id: String,
    question: &'static str,
    question_id: String,
    a_pseudonym: String,
    /// B's reply (`m-…`) and its text.
    reply_id: String,
    reply_text: &'static str,
    /// What A replies to B while B watches (step 5).
    live_text: &'static str,
}

/// A page's path without its fragment or query (links carry `#m-…`).
fn path_of(href: &str) -> &str {
    href.split(['#', '?']).next().unwrap_or(href)
}

/// CSS, or XPath when the selector starts with `/` or `(`.
fn locator(selector: &str) -> Locator<'_> {
    if selector.starts_with('/') || selector.starts_with('(') {
        Locator::XPath(selector)
    } else {
        Locator::Css(selector)
    }
}

/// The class card (on home, in search results, on a friend's page) whose
/// heading starts with `heading`, e.g. "CS 3120" or "CS 2100 – 001".
fn card(heading: &str) -> String {
    format!(
        "//li[contains(@class,'class-card')][.//*[contains(@class,'class-title')][starts-with(normalize-space(), '{heading}')]]"
    )
}

/// A two-word name from our lists ("Violet Heron"), or an older `Anon_` + hex one.
fn is_pseudonym(text: &str) -> bool {
    use common_grounds::chat::pseudonym::{adjectives, nouns};
    let old = text
        .strip_prefix("Anon_")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()));
    let two_words = text
        .trim()
        .split_once(' ')
        .is_some_and(|(a, n)| adjectives().contains(&a) && nouns().contains(&n));
    old || two_words
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the download {} did not arrive", path.display());
}
