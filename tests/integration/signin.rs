//! Signing in with an emailed link or code, as a student sees it: the email
//! arrives (through a real SMTP server too), links and codes work once, the
//! reply never tells whether an account exists, hostile addresses are refused
//! plainly, forms need their CSRF token, mail survives an outage, responses carry
//! security headers, and sign-in emails are rate limited. Each test runs on
//! SQLite and on PostgreSQL.

use crate::common;
use common::*;

use std::time::{Duration, Instant};

use common_grounds::db::schema::{email_outbox, magic_links, users};
use common_grounds::mail::outbox::OutboxMessage;
use common_grounds::{clock, db};
use diesel::prelude::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use scraper::{Html, Selector};

const STUDENT: &str = "mst3k@virginia.edu";

// ---------------------------------------------------------------- pages

/// The trimmed text of every element matching `css`.
fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

/// The value of `attr` on every element matching `css`.
fn attrs(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr(attr).map(str::to_string))
        .collect()
}

fn has(html: &str, css: &str) -> bool {
    !texts(html, css).is_empty()
}

/// The page's main heading.
fn heading(html: &str) -> String {
    texts(html, "main h1")
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The ids of the sessions listed on /account/sessions (one "Sign out" form each).
fn listed_sessions(html: &str) -> Vec<String> {
    attrs(html, r#"form[action^="/account/sessions/"]"#, "action")
        .into_iter()
        .filter_map(|a| {
            a.strip_prefix("/account/sessions/")
                .and_then(|rest| rest.strip_suffix("/end"))
                .map(str::to_string)
        })
        .collect()
}

/// The id of the session /account/sessions marks as "this device".
fn this_device(html: &str) -> String {
    let doc = Html::parse_document(html);
    let rows = Selector::parse("li.row").unwrap();
    let badge = Selector::parse(".badge").unwrap();
    let row = doc
        .select(&rows)
        .find(|row| {
            row.select(&badge)
                .any(|b| b.text().collect::<String>() == "this device")
        })
        .expect("a row for this device");
    listed_sessions(&row.html()).remove(0)
}

// ---------------------------------------------------------------- clients

/// A client that keeps no cookies: it sends only what a test hands it.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn csrf_with(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let (_, html) = get_with(app, client, path).await;
    csrf_in(&html).unwrap_or_else(|| panic!("no csrf_token on {path}"))
}

/// Opens the sign-in form and asks for an email, as a browser would, following
/// the form's redirect to the check-email page (post/redirect/get).
async fn ask_for_link(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let csrf = csrf_with(app, client, "/login").await;
    let posted = post_with(
        app,
        client,
        "/login",
        &[("csrf_token", &csrf), ("email", email)],
    )
    .await;
    follow_check_email(app, client, posted).await
}

/// After `POST /login`: the check-email page it redirects to, or the refusal itself.
async fn follow_check_email(
    app: &TestApp,
    client: &reqwest::Client,
    posted: reqwest::Response,
) -> reqwest::Response {
    if posted.status().as_u16() != 303 {
        return posted;
    }
    let location = posted.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, "/login/check-email");
    client.get(app.url(&location)).send().await.unwrap()
}

/// The newest email the memory mailer delivered to `to`, once there are `count` in all.
async fn newest_email_to(
    app: &TestApp,
    count: usize,
    to: &str,
) -> common_grounds::mail::OutgoingEmail {
    let sent = app.wait_for_emails(count).await;
    sent.into_iter()
        .rev()
        .find(|e| e.to == to)
        .unwrap_or_else(|| panic!("no email to {to}"))
}

/// Opens the emailed link and presses its button.
async fn confirm_with(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    press_sign_in(app, client, token, false).await
}

/// Presses "Sign in as …" on the page a link asked for from another browser shows.
async fn confirm_account(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
) -> reqwest::Response {
    press_sign_in(app, client, token, true).await
}

/// The status of pressing the emailed link's button.
async fn confirm_status(app: &TestApp, client: &reqwest::Client, token: &str) -> u16 {
    confirm_with(app, client, token).await.status().as_u16()
}

/// Signs `client` in through the emailed link; returns the `Set-Cookie` header
/// that carried the session.
async fn sign_in_with(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    // Count what was queued, not what was delivered: an earlier email may still
    // be on its way and must not be taken for this one.
    let before = rows(app, "email_outbox") as usize;
    assert_eq!(
        ask_for_link(app, client, email).await.status().as_u16(),
        200
    );
    let email_sent = newest_email_to(app, before + 1, email).await;
    let token = token_in(&email_sent.text).expect("token in email");
    let response = confirm_with(app, client, &token).await;
    assert_eq!(response.status().as_u16(), 303, "sign-in should redirect");
    set_cookie(&response, "cg_session").expect("a session cookie")
}

/// Who the front page greets, or None when it shows the visitor's welcome page.
async fn signed_in_as(app: &TestApp, client: &reqwest::Client) -> Option<String> {
    let (status, html) = get_with(app, client, "/").await;
    assert_eq!(status, 200);
    if texts(&html, "nav a").iter().any(|t| t == "Account") {
        let (status, account) = get_with(app, client, "/account").await;
        assert_eq!(status, 200);
        return texts(&account, "main strong").into_iter().next();
    }
    assert!(
        texts(&html, "nav a").iter().any(|t| t == "Sign in"),
        "a signed-out front page offers Sign in"
    );
    None
}

// ---------------------------------------------------------------- cookies

/// The `Set-Cookie` header for cookie `name`, if the response sets it.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_string()
}

/// The attributes after the name=value pair, lower-cased.
fn cookie_flags(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

fn assert_session_cookie_flags(set_cookie: &str, secure: bool) {
    let flags = cookie_flags(set_cookie);
    for wanted in ["httponly", "samesite=lax", "path=/"] {
        assert!(
            flags.iter().any(|f| f == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }
    assert_eq!(
        flags.iter().any(|f| f == "secure"),
        secure,
        "Secure flag in {set_cookie}"
    );
}

// ---------------------------------------------------------------- database

fn rows(app: &TestApp, table: &str) -> i64 {
    db::count_rows(&mut app.conn(), table).unwrap()
}

fn unused_links(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    magic_links::table
        .filter(magic_links::used.eq(false))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn code_attempts(app: &TestApp) -> Vec<i32> {
    let mut conn = app.conn();
    magic_links::table
        .select(magic_links::code_attempts)
        .load(&mut *conn)
        .unwrap()
}

fn outbox(app: &TestApp) -> Vec<OutboxMessage> {
    let mut conn = app.conn();
    email_outbox::table
        .select(OutboxMessage::as_select())
        .load(&mut *conn)
        .unwrap()
}

// ================================================================ 1. the real mail path

backend_test!(
    async fn a_student_signs_in_with_the_link_a_real_mail_server_delivered(backend: Backend) {
        // Arrange
        let smtp = smtp::SmtpServer::start().await;
        let app = spawn_app_with(TestDb::new(backend), TestMail::Smtp(smtp.port), &[]).await;

        // Act: ask for a link, typed in capitals.
        let asked = app.post_login("MST3K@Virginia.EDU").await;

        // Assert: the page says to check email, and the mail server got one message.
        assert_eq!(asked.status().as_u16(), 200);
        let check_page = asked.text().await.unwrap();
        assert_eq!(heading(&check_page), "Check your email");
        // Asking again is a form carrying the address, never a link with it
        // (an address in a URL lands in access logs).
        assert_eq!(
            attrs(
                &check_page,
                r#"main form[action="/login"] input[name="email"]"#,
                "value"
            ),
            vec![STUDENT]
        );
        assert!(
            attrs(&check_page, "a", "href")
                .iter()
                .all(|href| !href.contains("mst3k")),
            "{check_page}"
        );
        let received = smtp.wait_for(1, 15).await;
        assert_eq!(received[0].to, vec![format!("<{STUDENT}>")]);
        let text = received[0].plain_text();
        let link_start = text
            .find("http://cg.test/login/confirm?token=")
            .expect("a link in the email");
        let token = token_in(&text[link_start..]).unwrap();
        assert_eq!(token.len(), 64, "the link carries a 256-bit token: {text}");
        assert!(
            code_in(&text).is_some_and(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let (stored, verified): (String, bool) = users::table
            .select((users::email, users::email_verified))
            .first(&mut *app.conn())
            .unwrap();
        assert_eq!(
            (stored.as_str(), verified),
            (STUDENT, false),
            "stored lower-case, unconfirmed"
        );

        // A token no link of ours has (a NUL, a quote) is refused, not echoed.
        for broken in ["%00", "%22%3E", "abc%20def"] {
            let (status, page) = app
                .get_html(&format!("/login/confirm?token={broken}"))
                .await;
            assert_eq!(status, 400, "{broken}");
            assert!(
                !page.contains('\0') && page.contains("no longer works"),
                "{page}"
            );
        }

        // Act: open the link (as a mail scanner or the student would).
        let (status, confirm_page) = app.get_html(&format!("/login/confirm?token={token}")).await;

        // Assert: a button to press, and nothing has happened yet.
        assert_eq!(status, 200);
        assert_eq!(
            attrs(&confirm_page, "main form", "action"),
            vec!["/login/confirm"]
        );
        assert_eq!(signed_in_as(&app, &app.client).await, None);
        let devices = app.get("/account/sessions").await;
        assert_eq!(devices.status().as_u16(), 303);
        let to = devices.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(to.starts_with("/login?next="), "{to}");
        assert!(to.contains("%2Faccount%2Fsessions"), "{to}");
        assert_eq!(rows(&app, "sessions"), 0);
        assert_eq!(unused_links(&app), 1);

        // Act: press the button (the form as the page rendered it).
        let csrf = csrf_in(&confirm_page).unwrap();
        let form_token = attrs(&confirm_page, r#"input[name="token"]"#, "value").remove(0);
        let pressed = app
            .post_form(
                "/login/confirm",
                &[("csrf_token", &csrf), ("token", &form_token)],
            )
            .await;

        // Assert: signed in, on one device.
        assert_eq!(pressed.status().as_u16(), 303);
        assert_eq!(pressed.headers()[LOCATION], "/");
        // Only hashes are stored: a copy of the database signs no one in.
        {
            use common_grounds::accounts::sessions::hash_token;
            use common_grounds::db::schema::sessions;
            let session = cookie_value(&set_cookie(&pressed, "cg_session").unwrap());
            let stored: Vec<String> = sessions::table
                .select(sessions::token_hash)
                .load(&mut *app.conn())
                .unwrap();
            assert_eq!(stored, [hash_token(&session)]);
            assert_ne!(stored[0], session);
            let link: Vec<String> = magic_links::table
                .select(magic_links::token_hash)
                .load(&mut *app.conn())
                .unwrap();
            assert_eq!(link, [hash_token(&token)]);
        }
        assert_eq!(
            signed_in_as(&app, &app.client).await.as_deref(),
            Some(STUDENT)
        );
        let (status, sessions_page) = app.get_html("/account/sessions").await;
        assert_eq!(status, 200);
        assert_eq!(listed_sessions(&sessions_page).len(), 1);
        assert!(texts(&sessions_page, ".badge").contains(&"this device".to_string()));
        let verified: bool = users::table
            .select(users::email_verified)
            .first(&mut *app.conn())
            .unwrap();
        assert!(verified, "confirming the link confirms the address");
    }
);

// ================================================================ 2. links and codes work once

fn assert_link_refused(status: u16, html: &str) {
    assert_eq!(status, 400);
    assert_eq!(heading(html), "This sign-in link no longer works");
    assert!(
        has(html, r#"main form[action="/login"] input[name="email"]"#),
        "the refusal offers a form to ask for a new link"
    );
    let csrf = attrs(
        html,
        r#"main form[action="/login"] input[name="csrf_token"]"#,
        "value",
    );
    assert!(
        csrf.iter().all(|t| !t.is_empty()),
        "the new-link form carries its CSRF token"
    );
}

backend_test!(
    async fn a_link_used_once_cannot_sign_in_again(backend: Backend) {
        // Arrange: a link that has signed in.
        let app = spawn_app(backend).await;
        app.post_login(STUDENT).await;
        let token = token_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
        assert_eq!(confirm_status(&app, &app.client, &token).await, 303);

        // Act: the same link pressed again, here and on another device.
        let again = confirm_with(&app, &app.client, &token).await;
        let again_status = again.status().as_u16();
        let again_page = again.text().await.unwrap();
        let elsewhere = client();
        let other = confirm_with(&app, &elsewhere, &token).await;
        let other_status = other.status().as_u16();
        let other_page = other.text().await.unwrap();

        // Assert: where it signed in, the refusal says so and leads home
        // (asking for a new link there would be no use); elsewhere it offers
        // a new one.
        assert_eq!(again_status, 400);
        assert_eq!(heading(&again_page), "This sign-in link no longer works");
        assert!(
            again_page.contains(&format!(
                "This browser is signed in as <strong>{}</strong> already: <a href=\"/\">go to My classes</a>",
                STUDENT.split('@').next().unwrap()
            )),
            "{again_page}"
        );
        assert!(
            !has(&again_page, r#"main form[action="/login"]"#),
            "{again_page}"
        );
        assert_link_refused(other_status, &other_page);
        assert_eq!(signed_in_as(&app, &elsewhere).await, None);
        assert_eq!(rows(&app, "sessions"), 1);
    }
);

backend_test!(
    async fn an_expired_link_is_refused_and_the_page_gets_a_new_one(backend: Backend) {
        // Arrange: a link whose 15 minutes are over.
        let app = spawn_app(backend).await;
        app.post_login(STUDENT).await;
        let token = token_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
        diesel::update(magic_links::table)
            .set(magic_links::expires_at.eq(clock::now() - chrono::Duration::minutes(1)))
            .execute(&mut *app.conn())
            .unwrap();

        // Act
        let response = confirm_with(&app, &app.client, &token).await;
        let status = response.status().as_u16();
        let page = response.text().await.unwrap();

        // Assert: refused, still signed out.
        assert_link_refused(status, &page);
        assert_eq!(signed_in_as(&app, &app.client).await, None);
        assert_eq!(rows(&app, "sessions"), 0);

        // Act: use the refusal page's form to ask for a new link.
        let csrf = attrs(
            &page,
            r#"main form[action="/login"] input[name="csrf_token"]"#,
            "value",
        )
        .remove(0);
        let asked = app
            .post_form("/login", &[("csrf_token", &csrf), ("email", STUDENT)])
            .await;

        // Assert: the new link signs in.
        assert_eq!(asked.status().as_u16(), 303);
        let fresh = token_in(&newest_email_to(&app, 2, STUDENT).await.text).unwrap();
        assert_eq!(confirm_status(&app, &app.client, &fresh).await, 303);
        assert_eq!(
            signed_in_as(&app, &app.client).await.as_deref(),
            Some(STUDENT)
        );
    }
);

backend_test!(
    async fn every_email_in_the_inbox_works_until_one_of_them_is_used(backend: Backend) {
        // Arrange: two requests, two emails (someone else may have asked for the second).
        let app = spawn_app(backend).await;
        app.post_login(STUDENT).await;
        let first = token_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
        app.post_login(STUDENT).await;
        let second = token_in(&newest_email_to(&app, 2, STUDENT).await.text).unwrap();
        assert_ne!(first, second);

        // Act: the student uses the first email they got.
        let old = confirm_status(&app, &app.client, &first).await;

        // Assert: it signs in; the newer link died with that sign-in.
        assert_eq!(old, 303, "a newer request must not void an older link");
        assert_eq!(
            signed_in_as(&app, &app.client).await.as_deref(),
            Some(STUDENT)
        );
        let elsewhere = client();
        let newer = confirm_with(&app, &elsewhere, &second).await;
        let newer_status = newer.status().as_u16();
        assert_link_refused(newer_status, &newer.text().await.unwrap());
        assert_eq!(rows(&app, "sessions"), 1);
    }
);

backend_test!(
    async fn a_code_signs_in_only_once(backend: Backend) {
        // Arrange: a student on the "check your email" page, with the code.
        let app = spawn_app(backend).await;
        let asked = app.post_login(STUDENT).await;
        let check_page = asked.text().await.unwrap();
        let code = code_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
        let csrf = attrs(
            &check_page,
            r#"form[action="/login/code"] input[name="csrf_token"]"#,
            "value",
        )
        .remove(0);
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("email", STUDENT),
            ("code", code.as_str()),
        ];

        // Act
        let first = app.post_form("/login/code", &fields).await;

        // Assert: signed in.
        assert_eq!(first.status().as_u16(), 303);
        assert_eq!(first.headers()[LOCATION], "/");
        assert_eq!(
            signed_in_as(&app, &app.client).await.as_deref(),
            Some(STUDENT)
        );

        // Act: the same code again, on this device and on another.
        let again = app.post_form("/login/code", &fields).await;
        let again_status = again.status().as_u16();
        let again_page = again.text().await.unwrap();
        let elsewhere = client();
        let other_csrf = csrf_with(&app, &elsewhere, "/login").await;
        let other = post_with(
            &app,
            &elsewhere,
            "/login/code",
            &[
                ("csrf_token", &other_csrf),
                ("email", STUDENT),
                ("code", &code),
            ],
        )
        .await;
        let other_status = other.status().as_u16();
        let other_page = other.text().await.unwrap();

        // Assert: both refused; one session in all. This device is signed in now,
        // so its old sign-in form's token no longer counts (403); elsewhere the code is dead.
        assert_eq!(again_status, 403, "{again_page}");
        assert_eq!(other_status, 400);
        assert_eq!(heading(&other_page), "That code did not work");
        assert!(
            has(&other_page, r#"main form[action="/login"]"#),
            "offers a new email"
        );
        assert_eq!(signed_in_as(&app, &elsewhere).await, None);
        assert_eq!(rows(&app, "sessions"), 1);
    }
);

backend_test!(
    async fn the_sixth_code_attempt_fails_even_with_the_right_code(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;
        app.post_login(STUDENT).await;
        let code = code_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
        let wrong = if code == "11111111" {
            "22222222"
        } else {
            "11111111"
        };
        let csrf = app.csrf_from("/login").await;

        // Act: five wrong codes, then the right one.
        let mut statuses = Vec::new();
        let mut said = Vec::new();
        for _ in 0..5 {
            let response = app
                .post_form(
                    "/login/code",
                    &[("csrf_token", &csrf), ("email", STUDENT), ("code", wrong)],
                )
                .await;
            statuses.push(response.status().as_u16());
            said.push(response.text().await.unwrap());
        }
        let sixth = app
            .post_form(
                "/login/code",
                &[("csrf_token", &csrf), ("email", STUDENT), ("code", &code)],
            )
            .await;
        let sixth_status = sixth.status().as_u16();
        let sixth_page = sixth.text().await.unwrap();

        // Assert
        assert_eq!(statuses, vec![400; 5]);
        // Each wrong try in the browser that asked says how many are left.
        for (page, left) in said.iter().zip([
            "4 tries are left",
            "3 tries are left",
            "2 tries are left",
            "One try is left",
            "that was the last try",
        ]) {
            assert!(page.contains(left), "{left}: {page}");
        }
        assert_eq!(sixth_status, 400);
        // The code is spent: the sixth try has no tries to tell of.
        assert!(sixth_page.contains("tried too many times"), "{sixth_page}");
        assert_eq!(heading(&sixth_page), "That code did not work");
        assert_eq!(signed_in_as(&app, &app.client).await, None);
        assert_eq!(rows(&app, "sessions"), 0);
        assert_eq!(code_attempts(&app), vec![5]);
    }
);

/// PostgreSQL only: tries of one address from several clients are not
/// serialized there (SQLite's immediate transactions run one at a time). Eight
/// clients, each with the right code, all read "tries left" while the code's
/// row is held; meanwhile its fifth try is spent. None may check the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_many_clients_gets_no_try_past_the_fifth() {
    use common_grounds::accounts::signin::{self, CodeHashes, RequestLimits, SignInError};
    use common_grounds::accounts::CampusEmail;
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    app.post_login(STUDENT).await;
    let code = code_in(&newest_email_to(&app, 1, STUDENT).await.text).unwrap();
    // Every client types it as if in the browser that asked for it.
    let requester: Option<String> = {
        use common_grounds::db::schema::magic_links;
        use diesel::prelude::*;
        magic_links::table
            .select(magic_links::requester_hash)
            .first(&mut app.db.connect())
            .unwrap()
    };
    let mut holder = app.db.connect();
    holder
        .batch_execute("BEGIN; SELECT id FROM magic_links FOR UPDATE")
        .unwrap();

    const CLIENTS: usize = 8;
    let tries: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut conn = app.db.connect();
            let code = code.clone();
            let requester = requester.clone();
            std::thread::spawn(move || {
                let email = CampusEmail::parse(STUDENT, &["virginia.edu".to_string()]).unwrap();
                let client = format!("192.0.2.{i}");
                let limits = RequestLimits {
                    emails_per_student_per_hour: 5,
                    requests_per_ip_per_10_minutes: 100,
                    code_tries_per_ip_per_10_minutes: 100,
                };
                let live = signin::count_code_try(
                    &mut conn,
                    &email,
                    requester.as_deref(),
                    &client,
                    limits,
                    clock::now(),
                )?;
                match signin::match_code(&code, live, &CodeHashes::default()) {
                    Some(link) => signin::redeem_code(
                        &mut conn,
                        &link,
                        None,
                        clock::now(),
                        Default::default(),
                    ),
                    None => Err(SignInError::CodeInvalid),
                }
            })
        })
        .collect();
    // Every client has read the code and waits on its row. Four wrong tries
    // came before: this is the fifth, taken as they waited.
    let (seen, ()) = when_waiting(
        &app.db,
        CLIENTS as i64,
        Duration::from_secs(20),
        move || {
            holder
                .batch_execute("UPDATE magic_links SET code_attempts = 5; COMMIT")
                .unwrap();
        },
    )
    .await
    .unwrap();
    assert_eq!(seen, CLIENTS as i64, "clients waiting on the code's row");

    for attempt in tries {
        let outcome = attempt.join().unwrap();
        assert!(
            matches!(outcome, Err(SignInError::CodeInvalid)),
            "the right code after its fifth try: {:?}",
            outcome.err()
        );
    }
    assert_eq!(
        code_attempts(&app),
        vec![5],
        "no try counted past the fifth"
    );
    assert_eq!(rows(&app, "sessions"), 0);
}

// ================================================================ 3. no account oracle

backend_test!(
    async fn asking_for_a_link_looks_the_same_whether_or_not_the_account_exists(backend: Backend) {
        // Arrange: one address that has signed in before; one never seen.
        let app = spawn_app(backend).await;
        let known = "known1@virginia.edu";
        let unknown = "newbie@virginia.edu";
        assert_eq!(known.len(), unknown.len());
        sign_in_with(&app, &client(), known).await;
        let probe = |email: &'static str| {
            let app = &app;
            async move {
                let response = ask_for_link(app, &client(), email).await;
                let status = response.status().as_u16();
                let cookies = set_cookie(&response, "cg_session").is_some()
                    || set_cookie(&response, "cg_csrf").is_some();
                let body = response.text().await.unwrap();
                (
                    status,
                    cookies,
                    without_csrf(&body).replace(email, "ADDRESS"),
                )
            }
        };

        // Act: a stranger asks about each address.
        let (known_status, known_cookies, known_body) = probe(known).await;
        let (unknown_status, unknown_cookies, unknown_body) = probe(unknown).await;

        // Assert: the same status and the same bytes, apart from the typed address and CSRF.
        assert_eq!(known_status, 200);
        assert_eq!(known_status, unknown_status);
        assert_eq!(known_cookies, unknown_cookies);
        assert_eq!(known_body, unknown_body);
        assert_eq!(heading(&known_body), "Check your email");

        // Act: the unknown address again, now that its first request created an
        // unconfirmed account, and once more after it has signed in.
        let (_, _, second_body) = probe(unknown).await;
        sign_in_with(&app, &client(), unknown).await;
        let (after_status, _, after_body) = probe(unknown).await;

        // Assert: still byte-identical, with no masking but the CSRF token.
        assert_eq!(after_status, 200);
        assert_eq!(second_body, unknown_body);
        assert_eq!(after_body, unknown_body);
    }
);

// ================================================================ 4. hostile addresses

backend_test!(
    async fn hostile_addresses_are_refused_plainly_escaped_and_never_emailed(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;
        let long_address = format!("{}@virginia.edu", "a".repeat(286));
        let long_script = "<script>".repeat(38);
        let long_accents = "é".repeat(300);
        let hostile: Vec<&str> = vec![
            "a@b,c@virginia.edu",
            "a@virginia.edu, b@virginia.edu",
            "a@virginia.edu;b@virginia.edu",
            "a@virginia.edu b@virginia.edu",
            "Jane <jd@virginia.edu>",
            "\"Jane Doe\" <jd@virginia.edu>",
            "\"jd\"@virginia.edu",
            "'jd'@virginia.edu",
            "jd@virginia.edu (Jane)",
            "mst3k@virgini\u{430}.edu",
            "mst3k\u{ff20}virginia.edu",
            "\u{ff4d}st3k@virginia.edu",
            &long_address,
            &long_script,
            &long_accents,
            "x@virginia.edu.evil.com",
            "x@evilvirginia.edu",
            "x@gmail.com",
            "x@cs.virginia.edu",
            "x@",
            "@virginia.edu",
            "",
            "   ",
            "\t\r\n",
            "\0",
            "mst3k@virginia.edu\0",
            "mst3k@virginia.edu\r\nBcc: victim@virginia.edu",
            "<script>alert(1)</script>",
            "<script>alert(1)</script>@virginia.edu",
            "\"><script>alert(1)</script>",
            "x@virginia.edu&amp;",
            "mst3k.",
            // An alias of a mailbox is not a computing ID: one account each.
            "jane.doe@virginia.edu",
            "jane_doe@email.virginia.edu",
        ];
        let csrf = app.csrf_from("/login").await;

        for input in hostile {
            // Act
            let response = app
                .post_form("/login", &[("csrf_token", &csrf), ("email", input)])
                .await;
            let status = response.status().as_u16();
            let page = response.text().await.unwrap();

            // Assert: a 4xx with a message that says what is accepted.
            assert!((400..500).contains(&status), "{input:?} got {status}");
            let message = texts(&page, "main .alert").join(" ");
            assert!(
                message.contains("virginia.edu") || message.contains("university"),
                "{input:?}: unclear message {message:?}"
            );
            // The typed text comes back only as text, inside the field.
            // Our own script is the only one a page may load.
            let ours = format!(
                r#"<script src="{}" defer></script>"#,
                common_grounds::web::assets::js_href()
            );
            assert!(
                !page
                    .replace(&ours, "")
                    .to_ascii_lowercase()
                    .contains("<script"),
                "{input:?} came back as markup"
            );
            let shown: String = input.chars().take(254).collect();
            let shown = shown.replace("\r\n", "\n").replace('\0', "\u{fffd}");
            assert_eq!(
                attrs(&page, r#"main input[name="email"]"#, "value"),
                vec![shown],
                "{input:?} is shown back escaped"
            );
        }

        // Assert: nobody was emailed and no account was made.
        assert_eq!(rows(&app, "email_outbox"), 0);
        assert_eq!(rows(&app, "users"), 0);
        assert_eq!(rows(&app, "magic_links"), 0);
        assert!(app.sent_emails().await.is_empty());
    }
);

// ================================================================ 5. CSRF on every form

/// Two signed-in students (A and B), a visitor half way through signing in (V,
/// with a pending link and code), and what each form needs.
struct CsrfScene {
    app: TestApp,
    a: reqwest::Client,
    b: reqwest::Client,
    visitor: reqwest::Client,
    visitor_email: &'static str,
    visitor_token: String,
    visitor_code: String,
    b_session: String,
}

impl CsrfScene {
    async fn new(backend: Backend) -> CsrfScene {
        let app = spawn_app(backend).await;
        let (a, b, visitor) = (client(), client(), client());
        sign_in_with(&app, &a, "aaa1a@virginia.edu").await;
        sign_in_with(&app, &b, "bbb2b@virginia.edu").await;
        let visitor_email = "vvv3v@virginia.edu";
        assert_eq!(
            ask_for_link(&app, &visitor, visitor_email)
                .await
                .status()
                .as_u16(),
            200
        );
        let sent = newest_email_to(&app, 3, visitor_email).await;
        let (_, b_page) = get_with(&app, &b, "/account/sessions").await;
        CsrfScene {
            visitor_token: token_in(&sent.text).unwrap(),
            visitor_code: code_in(&sent.text).unwrap(),
            b_session: listed_sessions(&b_page).remove(0),
            app,
            a,
            b,
            visitor,
            visitor_email,
        }
    }

    /// Every form route with its fields, minus the CSRF token.
    fn forms(&self) -> Vec<(String, Vec<(&'static str, String)>)> {
        vec![
            (
                "/login".into(),
                vec![("email", "new4n@virginia.edu".to_string())],
            ),
            (
                "/login/confirm".into(),
                vec![("token", self.visitor_token.clone())],
            ),
            (
                "/login/code".into(),
                vec![
                    ("email", self.visitor_email.to_string()),
                    ("code", self.visitor_code.clone()),
                ],
            ),
            ("/logout".into(), vec![]),
            (format!("/account/sessions/{}/end", self.b_session), vec![]),
            ("/account/sessions/end-others".into(), vec![]),
        ]
    }

    /// What a refused form must leave as it was.
    fn state(&self) -> (i64, i64, i64, i64, Vec<i32>) {
        (
            rows(&self.app, "sessions"),
            rows(&self.app, "email_outbox"),
            rows(&self.app, "users"),
            unused_links(&self.app),
            code_attempts(&self.app),
        )
    }

    /// Everyone is where they were, and the visitor's link still works.
    async fn assert_nothing_changed(&self, before: (i64, i64, i64, i64, Vec<i32>)) {
        let app = &self.app;
        assert_eq!(self.state(), before);
        assert_eq!(
            signed_in_as(app, &self.a).await.as_deref(),
            Some("aaa1a@virginia.edu")
        );
        assert_eq!(
            signed_in_as(app, &self.b).await.as_deref(),
            Some("bbb2b@virginia.edu")
        );
        assert_eq!(signed_in_as(app, &self.visitor).await, None);
        let confirmed = confirm_with(app, &self.visitor, &self.visitor_token).await;
        assert_eq!(
            confirmed.status().as_u16(),
            303,
            "the untouched link still signs in"
        );
    }
}

backend_test!(
    async fn every_form_refuses_a_post_without_a_csrf_token_and_changes_nothing(backend: Backend) {
        // Arrange
        let scene = CsrfScene::new(backend).await;
        let before = scene.state();
        let cookieless = client();

        for (path, fields) in scene.forms() {
            for (who, sender) in [
                ("visitor", &scene.visitor),
                ("signed in", &scene.b),
                ("no cookies", &cookieless),
            ] {
                for csrf in [None, Some("")] {
                    // Act
                    let mut form: Vec<(&str, &str)> =
                        fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    if let Some(csrf) = csrf {
                        form.push(("csrf_token", csrf));
                    }
                    let response = post_with(&scene.app, sender, &path, &form).await;

                    // Assert
                    let status = response.status().as_u16();
                    assert_eq!(
                        status, 403,
                        "{path} from the {who} client with csrf {csrf:?}"
                    );
                    assert!(
                        set_cookie(&response, "cg_session").is_none(),
                        "{path} touched the session cookie"
                    );
                    // A browser with no cookie at all is told that cookies
                    // are needed to sign in: reloading alone never helps it.
                    let expected = if who == "no cookies"
                        && (path.starts_with("/login") || path == "/logout")
                    {
                        "This form came back without its cookie"
                    } else {
                        "This form has expired"
                    };
                    assert_eq!(
                        heading(&response.text().await.unwrap()),
                        expected,
                        "{path} from the {who} client"
                    );
                }
            }
        }

        // Assert
        scene.assert_nothing_changed(before).await;
    }
);

backend_test!(
    async fn every_form_refuses_another_sessions_csrf_token_and_changes_nothing(backend: Backend) {
        // Arrange: A's token, lifted from A's own page.
        let scene = CsrfScene::new(backend).await;
        let a_token = csrf_with(&scene.app, &scene.a, "/account/sessions").await;
        let b_token = csrf_with(&scene.app, &scene.b, "/account/sessions").await;
        assert_ne!(a_token, b_token);
        let before = scene.state();

        for (path, fields) in scene.forms() {
            for (who, sender) in [("B", &scene.b), ("visitor", &scene.visitor)] {
                // Act
                let mut form: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                form.push(("csrf_token", &a_token));
                let response = post_with(&scene.app, sender, &path, &form).await;

                // Assert
                assert_eq!(
                    response.status().as_u16(),
                    403,
                    "{path} from {who} with A's token"
                );
                assert!(
                    set_cookie(&response, "cg_session").is_none(),
                    "{path} touched the session cookie"
                );
            }
        }

        // Assert
        scene.assert_nothing_changed(before).await;
    }
);

// ================================================================ 6. a mail outage

backend_test!(
    async fn a_sign_in_email_survives_a_mail_server_outage_and_an_app_restart(backend: Backend) {
        // Arrange: the mail server is down.
        let mut smtp = smtp::SmtpServer::start().await;
        let port = smtp.port;
        smtp.stop().await;
        let app = spawn_app_with(TestDb::new(backend), TestMail::Smtp(port), &[]).await;
        let csrf = app.csrf_from("/login").await;

        // Act
        let started = Instant::now();
        let asked = app
            .post_form("/login", &[("csrf_token", &csrf), ("email", STUDENT)])
            .await;
        let took = started.elapsed();

        // Assert: the student is answered at once; the message waits in the outbox.
        assert_eq!(asked.status().as_u16(), 303);
        assert!(took < Duration::from_secs(2), "answered in {took:?}");
        let mut waited = Duration::ZERO;
        let queued = loop {
            let messages = outbox(&app);
            assert_eq!(messages.len(), 1);
            let m = messages.into_iter().next().unwrap();
            if m.attempts >= 1 && m.locked_until.is_none() && m.last_error.is_some() {
                break m;
            }
            assert!(
                waited < Duration::from_secs(10),
                "the worker never tried: {m:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        };
        assert_eq!(queued.status.as_str(), "queued");
        assert_eq!(queued.to_address, STUDENT);
        assert!(smtp.received().is_empty());

        // Act: restart the app on the same database, then bring the mail server back.
        let db = app.stop().await;
        let app = spawn_app_with(db, TestMail::Smtp(port), &[]).await;
        smtp.restart().await;
        // Skip the rest of the backoff the failed try scheduled.
        diesel::update(email_outbox::table)
            .set(email_outbox::next_attempt_at.eq(clock::now()))
            .execute(&mut *app.conn())
            .unwrap();

        // Assert: the email arrives, once, and its link signs in.
        let received = smtp.wait_for(1, 30).await;
        assert_eq!(received[0].to, vec![format!("<{STUDENT}>")]);
        // Its Message-ID is its outbox row's, the same on every try.
        assert!(
            received[0]
                .data
                .contains(&format!("Message-ID: <{}@cg.test>", queued.id)),
            "{}",
            received[0].data
        );
        let text = received[0].plain_text();
        let token = token_in(&text).expect("a link in the email");
        // The restarted test app has a new browser: the link asks which account first.
        let asked_which = confirm_with(&app, &app.client, &token).await;
        assert_eq!(asked_which.status().as_u16(), 200);
        let page = asked_which.text().await.unwrap();
        assert!(page.contains(&format!("Sign in as {STUDENT}")), "{page}");
        assert_eq!(
            confirm_account(&app, &app.client, &token)
                .await
                .status()
                .as_u16(),
            303
        );
        assert_eq!(
            signed_in_as(&app, &app.client).await.as_deref(),
            Some(STUDENT)
        );
        let mut waited = Duration::ZERO;
        while outbox(&app)[0].status.as_str() != "sent" {
            assert!(
                waited < Duration::from_secs(10),
                "never marked sent: {:?}",
                outbox(&app)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        assert_eq!(smtp.received().len(), 1, "delivered exactly once");
    }
);

// ================================================================ 7. headers and cookies

fn assert_security_headers(response: &reqwest::Response, what: &str, https: bool) {
    let h = response.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {what}"))
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        h.get("referrer-policy").map(|v| v.to_str().unwrap()),
        Some("no-referrer"),
        "{what}"
    );
    match h.get("strict-transport-security") {
        Some(hsts) => {
            assert!(https, "{what}: HSTS over plain http");
            let hsts = hsts.to_str().unwrap();
            let max_age: u64 = hsts
                .split(';')
                .find_map(|p| p.trim().strip_prefix("max-age="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!(max_age >= 86_400 * 180, "{what}: {hsts}");
        }
        None => assert!(!https, "{what}: no HSTS over https"),
    }
}

/// A page, an error page and a redirect, from a signed-out visitor.
async fn three_kinds_of_response(app: &TestApp) -> Vec<(&'static str, u16, reqwest::Response)> {
    let plain = bare_client();
    vec![
        (
            "a page",
            200,
            plain.get(app.url("/login")).send().await.unwrap(),
        ),
        (
            "an error page",
            404,
            plain.get(app.url("/no-such-page")).send().await.unwrap(),
        ),
        (
            "a redirect",
            303,
            plain
                .get(app.url("/account/sessions"))
                .send()
                .await
                .unwrap(),
        ),
    ]
}

backend_test!(
    async fn security_headers_are_on_pages_errors_and_redirects(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;

        // Act
        let responses = three_kinds_of_response(&app).await;

        // Assert: all of them, and no HSTS over plain http.
        for (what, status, response) in &responses {
            assert_eq!(response.status().as_u16(), *status, "{what}");
            assert_security_headers(response, what, false);
        }
    }
);

backend_test!(
    async fn over_http_the_cookies_are_http_only_lax_and_not_secure(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;

        // Act
        let login = bare_client().get(app.url("/login")).send().await.unwrap();
        let session = sign_in_with(&app, &app.client, STUDENT).await;

        // Assert: HttpOnly, SameSite=Lax, Path=/, and no Secure (it would never come back).
        let pre_session =
            set_cookie(&login, "cg_csrf").expect("GET /login sets a pre-session cookie");
        assert_session_cookie_flags(&pre_session, false);
        assert_session_cookie_flags(&session, false);
        // The session cookie outlives 30 days of use: the server slides a
        // session's idle limit, up to 90 days from sign-in, and the cookie
        // must not end it sooner.
        assert!(
            cookie_flags(&session).contains(&"max-age=7776000".to_string()),
            "{session}"
        );
    }
);

backend_test!(
    async fn over_https_hsts_is_sent_and_the_cookies_are_secure(backend: Backend) {
        // Arrange: an app that believes it is served over https. The test talks plain
        // http to it, so cookies are handed over by hand (a cookie store would keep
        // Secure cookies to itself).
        let app = spawn_app_with(
            TestDb::new(backend),
            TestMail::Memory,
            &[("BASE_URL", "https://cg.test")],
        )
        .await;
        let plain = bare_client();

        // Act + Assert: the three kinds of response carry HSTS.
        for (what, status, response) in &three_kinds_of_response(&app).await {
            assert_eq!(response.status().as_u16(), *status, "{what}");
            assert_security_headers(response, what, true);
        }

        // Act: sign in by hand.
        let login = plain.get(app.url("/login")).send().await.unwrap();
        let pre_session = set_cookie(&login, "__Host-cg_csrf").expect("a pre-session cookie");
        let cookie = format!("__Host-cg_csrf={}", cookie_value(&pre_session));
        let csrf = csrf_in(&login.text().await.unwrap()).unwrap();
        let asked = plain
            .post(app.url("/login"))
            .header(COOKIE, &cookie)
            .form(&[("csrf_token", csrf.as_str()), ("email", STUDENT)])
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status().as_u16(), 303);
        assert_security_headers(&asked, "the sign-in request's redirect", true);
        let pending = set_cookie(&asked, "__Host-cg_signin").expect("the check-email cookie");
        let check = plain
            .get(app.url("/login/check-email"))
            .header(
                COOKIE,
                format!("{cookie}; __Host-cg_signin={}", cookie_value(&pending)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(check.status().as_u16(), 200);
        assert_security_headers(&check, "the check-email page", true);
        let text = newest_email_to(&app, 1, STUDENT).await.text;
        assert!(
            text.contains("https://cg.test/login/confirm?token="),
            "{text}"
        );
        let token = token_in(&text).unwrap();
        let confirmed = plain
            .post(app.url("/login/confirm"))
            .header(COOKIE, &cookie)
            .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap();

        // Assert: both cookies are Secure, HttpOnly, SameSite=Lax, Path=/, and the session works.
        assert_eq!(confirmed.status().as_u16(), 303);
        assert_security_headers(&confirmed, "the sign-in redirect", true);
        let session = set_cookie(&confirmed, "__Host-cg_session").expect("a session cookie");
        assert_session_cookie_flags(&session, true);
        assert_session_cookie_flags(&pre_session, true);
        let home = plain
            .get(app.url("/"))
            .header(
                COOKIE,
                format!("__Host-cg_session={}", cookie_value(&session)),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            heading(&home).starts_with("My classes"),
            "signed in over https"
        );
    }
);

// ================================================================ 8. rate limit

backend_test!(
    async fn a_sixth_email_in_the_hour_is_not_sent_and_said_to_be_on_its_way(backend: Backend) {
        // Arrange: five emails asked for and sent.
        let app = spawn_app(backend).await;
        for n in 1..=5 {
            assert_eq!(
                app.post_login(STUDENT).await.status().as_u16(),
                200,
                "request {n}"
            );
        }
        app.wait_for_emails(5).await;

        // Act
        let sixth = app.post_login(STUDENT).await;

        // Assert: the check-email page says a link is already on its way; nothing queued or sent.
        assert_eq!(sixth.status().as_u16(), 200);
        let page = sixth.text().await.unwrap();
        assert!(page.contains("sent less than 10 minutes ago"), "{page}");
        assert!(page.contains("no new one was sent"), "{page}");
        assert_eq!(rows(&app, "email_outbox"), 5);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.sent_emails().await.len(), 5);
        assert_eq!(rows(&app, "email_outbox"), 5);

        // Assert: the limit is per address; another student still gets an email.
        assert_eq!(
            app.post_login("other9@virginia.edu")
                .await
                .status()
                .as_u16(),
            200
        );
        assert_eq!(
            app.wait_for_emails(6).await.last().unwrap().to,
            "other9@virginia.edu"
        );
    }
);

// ================================================================ signing out

backend_test!(
    async fn signing_out_ends_the_session_for_good(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;
        let session = sign_in_with(&app, &app.client, STUDENT).await;
        let stolen = format!("cg_session={}", cookie_value(&session));
        let csrf = app.csrf_from("/").await;

        // Act
        let out = app.post_form("/logout", &[("csrf_token", &csrf)]).await;

        // Assert: the browser forgets the cookie, and the cookie itself is dead.
        assert_eq!(out.status().as_u16(), 303);
        assert_eq!(out.headers()[LOCATION], "/login");
        let cleared = set_cookie(&out, "cg_session").expect("the cookie is cleared");
        assert_eq!(cookie_value(&cleared), "");
        assert_eq!(signed_in_as(&app, &app.client).await, None);
        let replay = bare_client();
        let home = replay
            .get(app.url("/"))
            .header(COOKIE, &stolen)
            .send()
            .await
            .unwrap();
        assert_eq!(
            heading(&home.text().await.unwrap()),
            "See who is in your classes."
        );
        let devices = replay
            .get(app.url("/account/sessions"))
            .header(COOKIE, &stolen)
            .send()
            .await
            .unwrap();
        assert_eq!(devices.status().as_u16(), 303);
        assert_eq!(rows(&app, "sessions"), 0);
    }
);

backend_test!(
    async fn signing_out_everywhere_else_keeps_only_this_device(backend: Backend) {
        // Arrange: one student on three devices.
        let app = spawn_app(backend).await;
        let (laptop, phone, tablet) = (client(), client(), client());
        for device in [&laptop, &phone, &tablet] {
            sign_in_with(&app, device, STUDENT).await;
        }
        let (_, page) = get_with(&app, &laptop, "/account/sessions").await;
        assert_eq!(listed_sessions(&page).len(), 3);
        let csrf = csrf_in(&page).unwrap();

        // Act
        let ended = post_with(
            &app,
            &laptop,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;

        // Assert
        assert_eq!(ended.status().as_u16(), 303);
        assert_eq!(ended.headers()[LOCATION], "/account/sessions");
        let (status, page) = get_with(&app, &laptop, "/account/sessions").await;
        assert_eq!(status, 200);
        assert_eq!(listed_sessions(&page).len(), 1);
        assert!(texts(&page, ".badge").contains(&"this device".to_string()));
        assert_eq!(signed_in_as(&app, &laptop).await.as_deref(), Some(STUDENT));
        for other in [&phone, &tablet] {
            assert_eq!(signed_in_as(&app, other).await, None);
            assert_eq!(get_with(&app, other, "/account/sessions").await.0, 303);
        }
        assert_eq!(rows(&app, "sessions"), 1);
    }
);

backend_test!(
    async fn signing_out_one_device_from_the_devices_page_leaves_the_others(backend: Backend) {
        // Arrange: one student on two devices; the laptop's page names the phone's session.
        let app = spawn_app(backend).await;
        let (laptop, phone) = (client(), client());
        sign_in_with(&app, &laptop, STUDENT).await;
        sign_in_with(&app, &phone, STUDENT).await;
        let (_, phone_page) = get_with(&app, &phone, "/account/sessions").await;
        let phone_session = this_device(&phone_page);
        let csrf = csrf_with(&app, &laptop, "/account/sessions").await;

        // Act
        let ended = post_with(
            &app,
            &laptop,
            &format!("/account/sessions/{phone_session}/end"),
            &[("csrf_token", &csrf)],
        )
        .await;

        // Assert
        assert_eq!(ended.status().as_u16(), 303);
        assert_eq!(signed_in_as(&app, &laptop).await.as_deref(), Some(STUDENT));
        assert_eq!(signed_in_as(&app, &phone).await, None);
        assert_eq!(rows(&app, "sessions"), 1);
    }
);

#[tokio::test]
async fn styles_and_script_are_linked_by_version_and_kept_a_year() {
    use common_grounds::web::assets;
    // Arrange
    let app = spawn_app(Backend::Sqlite).await;
    let (status, page) = app.get_html("/login").await;
    assert_eq!(status, 200);

    for (path, linked) in [
        ("/static/app.css", assets::css_href()),
        ("/static/app.js", assets::js_href()),
        ("/static/schedule.css", assets::schedule_css_href()),
    ] {
        // The link names the contents' version.
        let version = linked
            .strip_prefix(&format!("{path}?v="))
            .unwrap_or_else(|| panic!("{linked} is {path} with a version"));
        assert_eq!(version.len(), 12, "{linked}");
        assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{linked}");
        if path != "/static/schedule.css" {
            assert!(
                page.contains(&format!("\"{linked}\"")),
                "{path} linked by version"
            );
        }

        // Act + Assert: that version is kept a year; any other is checked each time.
        for (asked, cache) in [
            (linked.to_string(), "public, max-age=31536000, immutable"),
            (path.to_string(), "no-cache"),
            (format!("{path}?v=000000000000"), "no-cache"),
        ] {
            let response = app.get(&asked).await;
            assert_eq!(response.status().as_u16(), 200, "{asked}");
            assert_eq!(response.headers()["cache-control"], cache, "{asked}");
        }
    }
}

backend_test!(
    async fn an_error_page_shows_who_is_signed_in(backend: Backend) {
        // Arrange
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("err1q");
        let signed_in = |html: &str| {
            html.contains("Sign out")
                && html.contains("err1q")
                && !html.contains(r#"href="/login""#)
        };

        // Act + Assert: no route, a handler's 404 and an expired form all
        // frame their page with the student's own nav.
        let (status, page) = student.get(&app, "/no/such/page").await;
        assert_eq!(status, 404);
        assert!(signed_in(&page), "{page}");
        // It carries the session's token, so no cache may keep it.
        let raw = student
            .client
            .get(app.url("/no/such/page"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            raw.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let (status, page) = student.get(&app, "/friends/nobody9").await;
        assert_eq!(status, 404);
        assert!(signed_in(&page), "{page}");
        let expired = student
            .client
            .post(app.url("/friends"))
            .form(&[("csrf_token", "stale"), ("who", "someone1")])
            .send()
            .await
            .unwrap();
        assert_eq!(expired.status().as_u16(), 403);
        let page = expired.text().await.unwrap();
        assert!(page.contains("This form has expired"), "{page}");
        assert!(signed_in(&page), "{page}");

        // Signed out, the same page offers to sign in.
        let (status, page) = app.get_html("/no/such/page").await;
        assert_eq!(status, 404);
        assert!(
            page.contains(r#"href="/login""#) && !page.contains("Sign out"),
            "{page}"
        );
    }
);

/// A queued row of the outbox, as `enqueue` writes it, due `due_ago` ago;
/// `unsubscribe` says it is not sign-in mail.
fn queue_mail(
    app: &TestApp,
    to: &str,
    unsubscribe: Option<&str>,
    queued_ago: chrono::Duration,
    due_ago: chrono::Duration,
) -> String {
    let now = clock::now();
    let email = common_grounds::mail::OutgoingEmail {
        to: to.into(),
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
        unsubscribe: unsubscribe.map(str::to_string),
        outbox_id: None,
    };
    let id = db::write_tx(&mut app.conn(), |tx| {
        common_grounds::mail::outbox::enqueue(tx, &email, now - queued_ago)
    })
    .unwrap();
    diesel::update(email_outbox::table.find(&id))
        .set(email_outbox::next_attempt_at.eq(now - due_ago))
        .execute(&mut *app.conn())
        .unwrap();
    id.to_string()
}

backend_test!(
    async fn sign_in_mail_goes_before_a_digest_rush(backend: Backend) {
        use chrono::Duration as Ago;
        use common_grounds::mail::outbox;
        // Arrange: three digests due since the digest hour, then a sign-in email.
        let app = spawn_quiet_app(backend, &[]).await;
        let digests: Vec<String> = (0..3)
            .map(|i| {
                queue_mail(
                    &app,
                    &format!("d{i}x@virginia.edu"),
                    Some("http://cg.test/unsubscribe/x"),
                    Ago::minutes(10),
                    Ago::minutes(10 - i),
                )
            })
            .collect();
        let sign_in = queue_mail(&app, STUDENT, None, Ago::seconds(5), Ago::seconds(5));

        // Act + Assert: the sign-in email first, then the digests as they fell due.
        let mut claimed = Vec::new();
        while let Some(m) = outbox::claim_next(&mut app.conn(), clock::now()).unwrap() {
            claimed.push(m.id.to_string());
        }
        let mut expected = vec![sign_in];
        expected.extend(digests);
        assert_eq!(claimed, expected);
    }
);

backend_test!(
    async fn a_worker_past_its_lease_records_nothing_over_the_next_one(backend: Backend) {
        use chrono::Duration as Ago;
        use common_grounds::mail::outbox;
        // Arrange: one worker claims a message, then stalls past its lease; a
        // second worker takes the message over and delivers it.
        let app = spawn_quiet_app(backend, &[]).await;
        let id = queue_mail(
            &app,
            "slow1x@virginia.edu",
            Some("http://cg.test/unsubscribe/x"),
            Ago::minutes(1),
            Ago::minutes(1),
        );
        let now = clock::now();
        let first = outbox::claim_next(&mut app.conn(), now).unwrap().unwrap();
        let later = now + outbox::LEASE + Ago::seconds(1);
        let second = outbox::claim_next(&mut app.conn(), later).unwrap().unwrap();

        // Act: while the second sends, the first's send finally fails and it
        // records that; a third worker looks for due mail; the second
        // delivers; the first's stale 'sent' comes last.
        let late_failure =
            outbox::mark_failed_try(&mut app.conn(), &first, "timed out", false, later).unwrap();
        let third = outbox::claim_next(&mut app.conn(), later + Ago::seconds(30)).unwrap();
        let delivered = outbox::mark_sent(&mut app.conn(), &second, later).unwrap();
        let late_delivery = outbox::mark_sent(&mut app.conn(), &first, later).unwrap();

        // Assert: the stale worker changed nothing, so nobody else took the
        // message while the second had it; it stays sent.
        assert_eq!(
            (first.id.to_string(), second.id.to_string()),
            (id.clone(), id.clone())
        );
        assert!(
            third.is_none(),
            "sent twice at once: {:?}",
            third.map(|m| m.id)
        );
        assert_eq!((late_failure, delivered, late_delivery), (0, 1, 0));
        let status: String = email_outbox::table
            .find(&id)
            .select(email_outbox::status)
            .first(&mut *app.conn())
            .unwrap();
        assert_eq!(status, "sent");
        let again = outbox::claim_next(&mut app.conn(), later + Ago::hours(2)).unwrap();
        assert!(again.is_none(), "claimed again: {:?}", again.map(|m| m.id));
    }
);

backend_test!(
    async fn a_sign_in_email_that_expired_unsent_is_given_up_not_sent(backend: Backend) {
        use chrono::Duration as Ago;
        // Arrange: a sign-in email queued 16 minutes ago (its link lasts 15),
        // and one queued now.
        let app = spawn_app(backend).await;
        let stale = queue_mail(
            &app,
            "late1x@virginia.edu",
            None,
            Ago::minutes(16),
            Ago::zero(),
        );
        queue_mail(&app, "new1x@virginia.edu", None, Ago::zero(), Ago::zero());

        // Act: the worker runs.
        let sent = app.wait_for_emails(1).await;

        // Assert: only the fresh one went; the stale one failed for good, at once.
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "new1x@virginia.edu");
        let mut waited = Duration::ZERO;
        loop {
            let rows = outbox(&app);
            let row = rows.iter().find(|m| m.id.to_string() == stale).unwrap();
            if row.status.as_str() == "failed" {
                assert_eq!(row.attempts, 1);
                assert!(
                    row.last_error
                        .as_deref()
                        .unwrap_or_default()
                        .contains("expired"),
                    "{row:?}"
                );
                break;
            }
            assert!(waited < Duration::from_secs(10), "never given up: {row:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        assert!(app
            .sent_emails()
            .await
            .iter()
            .all(|m| m.to != "late1x@virginia.edu"));
    }
);

backend_test!(
    async fn a_mailbox_refused_for_good_is_not_tried_twenty_times(backend: Backend) {
        // Arrange: a mail server that has no such mailbox.
        let smtp = smtp::SmtpServer::start().await;
        let app = spawn_app_with(TestDb::new(backend), TestMail::Smtp(smtp.port), &[]).await;

        // Act
        let asked = app.post_login("nosuchbox1@virginia.edu").await;
        assert_eq!(asked.status().as_u16(), 200);

        // Assert: given up after the one try, with the server's words kept.
        let mut waited = Duration::ZERO;
        let row = loop {
            let rows = outbox(&app);
            assert_eq!(rows.len(), 1);
            let row = rows.into_iter().next().unwrap();
            if row.status.as_str() != "queued" {
                break row;
            }
            assert!(waited < Duration::from_secs(10), "still queued: {row:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        };
        assert_eq!(row.status.as_str(), "failed");
        assert_eq!(row.attempts, 1);
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("No such mailbox"),
            "{row:?}"
        );
        assert!(smtp.received().is_empty());
    }
);

backend_test!(
    async fn a_relay_that_refuses_us_is_tried_again(backend: Backend) {
        // Arrange: a relay that refuses to relay (554 5.7.1): about us, not
        // the student.
        let smtp = smtp::SmtpServer::start().await;
        let app = spawn_app_with(TestDb::new(backend), TestMail::Smtp(smtp.port), &[]).await;

        // Act
        let asked = app.post_login("relaydenied1@virginia.edu").await;
        assert_eq!(asked.status().as_u16(), 200);

        // Assert: tried, refused, and queued again for later, not given up.
        let mut waited = Duration::ZERO;
        let row = loop {
            let rows = outbox(&app);
            assert_eq!(rows.len(), 1);
            let row = rows.into_iter().next().unwrap();
            if row.attempts >= 1 && row.last_error.is_some() && row.locked_until.is_none() {
                break row;
            }
            assert!(waited < Duration::from_secs(10), "never tried: {row:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        };
        assert_eq!(row.status.as_str(), "queued", "{row:?}");
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("Relay access denied"),
            "{row:?}"
        );
        assert!(row.next_attempt_at > row.created_at, "{row:?}");
    }
);

backend_test!(
    async fn mail_is_given_up_by_age_not_by_tries(backend: Backend) {
        use common_grounds::mail::{outbox, OutgoingEmail};
        let db = TestDb::with_schema(backend);
        let mut conn = db.connect();
        let now = clock::now();
        let email = OutgoingEmail {
            to: "mst3k@virginia.edu".into(),
            subject: "Your Common Grounds digest: 2 new".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            unsubscribe: Some("https://cg.test/unsubscribe/x".into()),
            outbox_id: None,
        };
        // Two messages the relay has answered "try later" thirty times.
        for hours in [47, 49] {
            let queued = now - chrono::Duration::hours(hours);
            let id = db::write_tx(&mut conn, |tx| outbox::enqueue(tx, &email, queued)).unwrap();
            diesel::update(email_outbox::table.find(&id))
                .set(email_outbox::attempts.eq(30))
                .execute(&mut conn)
                .unwrap();
        }
        while let Some(message) = outbox::claim_next(&mut conn, now).unwrap() {
            outbox::mark_failed_try(&mut conn, &message, "421 try later", false, now).unwrap();
        }
        let mut rows: Vec<(chrono::NaiveDateTime, String)> = email_outbox::table
            .select((email_outbox::created_at, email_outbox::status))
            .load(&mut conn)
            .unwrap();
        rows.sort();
        let statuses: Vec<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
        // The older than two days is given up; the younger is tried again.
        assert_eq!(statuses, ["failed", "queued"]);
    }
);

backend_test!(
    async fn a_student_keeps_at_most_twenty_sessions(backend: Backend) {
        use common_grounds::accounts::sessions as student_sessions;
        // Arrange: a student with twenty sessions, the oldest used longest ago.
        let app = spawn_app(backend).await;
        app.sign_in(STUDENT).await;
        let user = common_grounds::accounts::find_by_computing_id(&mut app.conn(), "mst3k")
            .unwrap()
            .unwrap();
        let now = clock::now();
        for n in 0..19 {
            let made = student_sessions::create(
                &mut app.conn(),
                &user.id,
                Some("another device"),
                now - chrono::Duration::hours(40 - n),
            )
            .unwrap();
            assert_eq!(made.session.user_id, user.id);
        }
        let oldest: String = common_grounds::db::schema::sessions::table
            .filter(common_grounds::db::schema::sessions::user_id.eq(&user.id))
            .order(common_grounds::db::schema::sessions::last_used_at.asc())
            .select(common_grounds::db::schema::sessions::id)
            .first(&mut app.conn())
            .unwrap();

        // Act: one more sign-in.
        let other = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let (_, form) = get_with(&app, &other, "/login").await;
        let csrf = csrf_in(&form).unwrap();
        let asked = post_with(
            &app,
            &other,
            "/login",
            &[("csrf_token", &csrf), ("email", STUDENT)],
        )
        .await;
        assert_eq!(asked.status().as_u16(), 303);
        let token = token_in(&newest_email_to(&app, 2, STUDENT).await.text).unwrap();
        let signed = press_sign_in(&app, &other, &token, false).await;

        // Assert: still twenty; the one used longest ago is the one that went.
        assert_eq!(signed.status().as_u16(), 303);
        let ids: Vec<String> = common_grounds::db::schema::sessions::table
            .filter(common_grounds::db::schema::sessions::user_id.eq(&user.id))
            .select(common_grounds::db::schema::sessions::id)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(ids.len(), 20);
        assert!(!ids.contains(&oldest));
    }
);

// A form sent with the cookie of a session since ended (signed out in
// another tab, expired) simply expired: cookies are not blocked.
backend_test!(
    async fn an_ended_sessions_form_reads_as_expired_not_as_cookies_blocked(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let response = client()
            .post(app.url("/logout"))
            .header(COOKIE, format!("cg_session={}", "a".repeat(64)))
            .form(&[("csrf_token", "stale")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403);
        assert_eq!(
            heading(&response.text().await.unwrap()),
            "This form has expired"
        );
    }
);
