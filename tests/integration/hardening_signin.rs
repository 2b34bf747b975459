//! Sign-in that nobody can jam, tried as an attacker would: a flood over its
//! limit costs no hashing, other people's requests never lock a student out of
//! their own mailbox, a code try takes the same work whether or not a code is
//! pending, a planted pre-session token is worth nothing once signed in, and a
//! link asked for elsewhere names the account before it signs in. Each test runs
//! on SQLite and on PostgreSQL.

use crate::common;
use common::*;

use common_grounds::db::schema::{magic_links, sessions};
use diesel::prelude::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

const VICTIM: &str = "victim1@virginia.edu";

/// A client with its own cookie jar that does not follow redirects.
fn browser() -> reqwest::Client {
    client()
}

/// `POST /login` from `client` with the token of its own sign-in form.
async fn ask(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let (_, form) = get_with(app, client, "/login").await;
    let csrf = csrf_in(&form).expect("a token on the sign-in form");
    post_with(
        app,
        client,
        "/login",
        &[("csrf_token", &csrf), ("email", email)],
    )
    .await
}

/// `POST /login/code` from `client` with the token of its own sign-in form.
async fn enter_code(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    code: &str,
) -> reqwest::Response {
    let (_, form) = get_with(app, client, "/login").await;
    let csrf = csrf_in(&form).expect("a token on the sign-in form");
    post_with(
        app,
        client,
        "/login/code",
        &[("csrf_token", &csrf), ("email", email), ("code", code)],
    )
    .await
}

/// Who `client` is signed in as, by the account page.
async fn signed_in_as(app: &TestApp, client: &reqwest::Client) -> Option<String> {
    let (status, html) = get_with(app, client, "/account").await;
    if status != 200 {
        return None;
    }
    let doc = scraper::Html::parse_document(&html);
    let strong = scraper::Selector::parse("main strong").unwrap();
    doc.select(&strong)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

/// The service's count of sign-in code hashes, as `/metrics` shows it.
async fn code_hashes(app: &TestApp) -> u64 {
    let (status, text) = app.get_html("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix("cg_signin_code_hashes_total "))
        .expect("cg_signin_code_hashes_total in /metrics")
        .trim()
        .parse()
        .unwrap()
}

fn set_cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            v[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_string()
        })
}

fn live_sessions(app: &TestApp) -> i64 {
    sessions::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

backend_test!(
    async fn a_flood_over_its_limit_is_refused_without_hashing_a_single_code(backend: Backend) {
        // Arrange: one client uses up its 3 requests per 10 minutes.
        let app = spawn_app_with(
            TestDb::new(backend),
            TestMail::Memory,
            &[("LOGIN_REQUESTS_PER_IP_10MIN", "3")],
        )
        .await;
        let flooder = browser();
        for n in 0..3 {
            let asked = ask(&app, &flooder, &format!("s{n}@virginia.edu")).await;
            assert_eq!(asked.status().as_u16(), 303, "request {n}");
        }
        let hashed_before = code_hashes(&app).await;
        assert!(hashed_before >= 3, "each email hashed its code");
        let (_, form) = get_with(&app, &flooder, "/login").await;
        let csrf = csrf_in(&form).unwrap();

        // Act: 300 more requests, each for a new address.
        let mut statuses = Vec::new();
        for n in 0..300 {
            let email = format!("flood{n}@virginia.edu");
            let response = post_with(
                &app,
                &flooder,
                "/login",
                &[("csrf_token", &csrf), ("email", &email)],
            )
            .await;
            statuses.push(response.status().as_u16());
        }

        // Assert: every answer is 429 and not one code was hashed.
        assert!(statuses.iter().all(|s| *s == 429), "{statuses:?}");
        assert_eq!(code_hashes(&app).await, hashed_before);
        let links: i64 = magic_links::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(links, 3);
    }
);

backend_test!(
    async fn five_strangers_asking_for_a_students_link_cannot_lock_them_out(backend: Backend) {
        // Arrange: the student asks first, then five other clients ask for the same address.
        let app = spawn_app(backend).await;
        let student = browser();
        assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        let first = app.wait_for_emails(1).await.remove(0);
        assert_eq!(first.to, VICTIM);
        for n in 0..5 {
            let stranger = browser();
            let asked = ask(&app, &stranger, VICTIM).await;
            assert_eq!(asked.status().as_u16(), 303, "stranger {n}");
        }
        // The address had five emails in the hour; the sixth request sent nothing.
        app.wait_for_emails(5).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.sent_emails().await.len(), 5);

        // Act: the student asks once more, then uses the first email they got.
        let again = ask(&app, &student, VICTIM).await;
        assert_eq!(again.status().as_u16(), 303);
        let (status, check) = get_with(&app, &student, "/login/check-email").await;
        let token = token_in(&first.text).unwrap();
        let confirmed = press_sign_in(&app, &student, &token, false).await;

        // Assert: the page says a working email went out, and the first link signs in.
        assert_eq!(status, 200);
        assert!(check.contains("sent less than 10 minutes ago"), "{check}");
        assert_eq!(confirmed.status().as_u16(), 303);
        assert_eq!(signed_in_as(&app, &student).await.as_deref(), Some(VICTIM));
        assert_eq!(live_sessions(&app), 1);
    }
);

backend_test!(
    async fn codes_work_where_asked_and_using_one_voids_the_rest(backend: Backend) {
        // Arrange: three emails for one address, asked for in one browser.
        let app = spawn_app(backend).await;
        let student = browser();
        for _ in 0..3 {
            assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        }
        let emails = app.wait_for_emails(3).await;
        let oldest_code = code_in(&emails[0].text).unwrap();
        let newest_token = token_in(&emails[2].text).unwrap();

        // Act: the oldest email's code, typed in another browser, then in this one.
        let elsewhere = browser();
        let refused = enter_code(&app, &elsewhere, VICTIM, &oldest_code).await;
        let signed = enter_code(&app, &student, VICTIM, &oldest_code).await;

        // Assert: refused elsewhere, signed in here; the newest link died with it.
        assert_eq!(refused.status().as_u16(), 400);
        assert_eq!(signed_in_as(&app, &elsewhere).await, None);
        assert_eq!(signed.status().as_u16(), 303);
        assert_eq!(signed_in_as(&app, &student).await.as_deref(), Some(VICTIM));
        let late = press_sign_in(&app, &student, &newest_token, false).await;
        assert_eq!(late.status().as_u16(), 400);
    }
);

backend_test!(
    async fn a_strangers_wrong_codes_do_not_spend_the_owners_tries(backend: Backend) {
        // Arrange: the student asks for a code; a stranger knows their address.
        let app = spawn_app(backend).await;
        let student = browser();
        assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        let code = code_in(&app.wait_for_emails(1).await[0].text).unwrap();
        let stranger = browser();
        let wrong = if code == "00000000" {
            "11111111"
        } else {
            "00000000"
        };

        // Act: six wrong tries by the stranger, then the owner's right code.
        for n in 0..6 {
            let tried = enter_code(&app, &stranger, VICTIM, wrong).await;
            assert_eq!(tried.status().as_u16(), 400, "try {n}");
        }
        let attempts: Vec<i32> = magic_links::table
            .select(magic_links::code_attempts)
            .load(&mut *app.conn())
            .unwrap();
        let signed = enter_code(&app, &student, VICTIM, &code).await;

        // Assert: no try of the owner's code was spent; the code signs them in.
        assert_eq!(attempts, vec![0]);
        assert_eq!(signed.status().as_u16(), 303);
        assert_eq!(signed_in_as(&app, &student).await.as_deref(), Some(VICTIM));
    }
);

backend_test!(
    async fn when_the_hours_emails_have_lapsed_the_owner_gets_a_new_one(backend: Backend) {
        // Arrange: five strangers spend the hour's emails at once.
        let app = spawn_app(backend).await;
        for n in 0..5 {
            assert_eq!(
                ask(&app, &browser(), VICTIM).await.status().as_u16(),
                303,
                "{n}"
            );
        }
        app.wait_for_emails(5).await;
        let student = browser();
        assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        let (_, refused_page) = get_with(&app, &student, "/login/check-email").await;

        // Act: eleven minutes on, their links have under five minutes left;
        // the student asks, signs in with the new email's code, and asks
        // again at once (the new link is used: nothing in the inbox works).
        let now = common_grounds::clock::now();
        let aged = now - chrono::Duration::minutes(11);
        diesel::update(magic_links::table)
            .set((
                magic_links::created_at.eq(aged),
                magic_links::expires_at.eq(now + chrono::Duration::minutes(4)),
            ))
            .execute(&mut *app.conn())
            .unwrap();
        {
            use common_grounds::db::schema::rate_limit_hits;
            diesel::update(rate_limit_hits::table)
                .set(rate_limit_hits::created_at.eq(aged))
                .execute(&mut *app.conn())
                .unwrap();
        }
        assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        let emails = app.wait_for_emails(6).await;
        let code = code_in(&emails[5].text).unwrap();
        let signed = enter_code(&app, &student, VICTIM, &code).await;
        let again = browser();
        let asked_again = ask(&app, &again, VICTIM).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        // Assert: one more email, whose code signed the student in; a
        // request within 10 minutes of it sends nothing, used or not.
        assert!(
            refused_page.contains("sent less than 10 minutes ago"),
            "{refused_page}"
        );
        assert_eq!(signed.status().as_u16(), 303);
        assert_eq!(signed_in_as(&app, &student).await.as_deref(), Some(VICTIM));
        assert_eq!(asked_again.status().as_u16(), 303);
        assert_eq!(app.sent_emails().await.len(), 6);
    }
);

backend_test!(
    async fn a_code_try_does_the_same_work_whether_or_not_a_code_is_pending(backend: Backend) {
        // Arrange: one address with a live code (asked for in the victim's
        // browser), one without. The attacker's browser tries both: a code
        // asked for elsewhere is never tried (nor its tries told), so
        // neither the work nor the words say one is waiting.
        let app = spawn_app_with(
            TestDb::new(backend),
            TestMail::Memory,
            &[("LOGIN_CODE_TRIES_PER_IP_10MIN", "4")],
        )
        .await;
        let attacker = browser();
        let victim = browser();
        assert_eq!(ask(&app, &victim, VICTIM).await.status().as_u16(), 303);
        app.wait_for_emails(1).await;
        let (_, form) = get_with(&app, &attacker, "/login").await;
        let csrf = csrf_in(&form).unwrap();
        let try_code = |email: &'static str| {
            let csrf = csrf.clone();
            let attacker = attacker.clone();
            let url = app.url("/login/code");
            async move {
                attacker
                    .post(url)
                    .form(&[
                        ("csrf_token", csrf.as_str()),
                        ("email", email),
                        ("code", "12345678"),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };

        // Act + Assert: a wrong code for each costs exactly one hash check, and reads the same.
        let before = code_hashes(&app).await;
        let pending = try_code(VICTIM).await;
        let after_pending = code_hashes(&app).await;
        let none = try_code("nobody9@virginia.edu").await;
        let after_none = code_hashes(&app).await;
        assert_eq!(pending.status().as_u16(), 400);
        assert_eq!(none.status().as_u16(), 400);
        assert_eq!(after_pending - before, 1);
        assert_eq!(after_none - after_pending, 1);
        let pending_page = pending.text().await.unwrap();
        let none_page = none.text().await.unwrap();
        assert_eq!(
            pending_page.replace(VICTIM, "X"),
            none_page.replace("nobody9@virginia.edu", "X")
        );
        assert!(!pending_page.contains("tries are left"), "{pending_page}");

        // Act + Assert: the client's tries are limited too, before any hashing.
        assert_eq!(try_code(VICTIM).await.status().as_u16(), 400);
        assert_eq!(try_code(VICTIM).await.status().as_u16(), 400);
        let hashed = code_hashes(&app).await;
        for _ in 0..20 {
            assert_eq!(try_code(VICTIM).await.status().as_u16(), 429);
        }
        assert_eq!(code_hashes(&app).await, hashed);
    }
);

backend_test!(
    async fn checking_a_code_holds_no_connection_so_pages_answer_meanwhile(backend: Backend) {
        // Arrange: one pooled connection, and twelve live codes for one
        // address, so a wrong try checks twelve hashes (a second or so).
        const CODES: u64 = 12;
        let app = spawn_app_with(
            TestDb::new(backend),
            TestMail::Memory,
            &[
                ("DATABASE_POOL_SIZE", "1"),
                ("DATABASE_POOL_TIMEOUT_MS", "30000"),
                ("LOGIN_EMAILS_PER_HOUR", "12"),
            ],
        )
        .await;
        let student = browser();
        for _ in 0..CODES {
            assert_eq!(ask(&app, &student, VICTIM).await.status().as_u16(), 303);
        }
        app.wait_for_emails(CODES as usize).await;
        // Typed where they were asked for (a code is tried only there).
        let attacker = student.clone();
        let (_, form) = get_with(&app, &attacker, "/login").await;
        let csrf = csrf_in(&form).unwrap();
        let before = code_hashes(&app).await;

        // Act: a wrong code; meanwhile `/metrics`, which reads the database
        // on the one connection, is asked again and again.
        let url = app.url("/login/code");
        let wrong = tokio::spawn(async move {
            attacker
                .post(url)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("email", VICTIM),
                    ("code", "12345678"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        let mut seen = Vec::new();
        while !wrong.is_finished() {
            seen.push(code_hashes(&app).await - before);
        }

        // Assert: the database answered while the hashes were being checked.
        // A try that held the connection through them would let `/metrics`
        // in only once all twelve were done.
        assert_eq!(wrong.await.unwrap(), 400);
        assert_eq!(code_hashes(&app).await - before, CODES);
        assert!(
            seen.iter().any(|&n| n > 0 && n < CODES),
            "a page answered while the code was being checked: {seen:?}"
        );
    }
);

backend_test!(
    async fn a_planted_pre_session_token_cannot_sign_out_or_end_sessions(backend: Backend) {
        // Arrange: a signed-in student on two devices, and a pre-session cookie the
        // attacker chose, with the token a sign-in form shows for it.
        let app = spawn_app(backend).await;
        let laptop = app.student("mst3k");
        let _phone = app.client_with_session(
            &common_grounds::accounts::sessions::create(
                &mut app.conn(),
                &laptop.user.id,
                Some("phone"),
                common_grounds::clock::now(),
            )
            .unwrap()
            .token,
        );
        let planted = "ab".repeat(32);
        let attacker = reqwest::Client::new();
        let form = attacker
            .get(app.url("/login"))
            .header(COOKIE, format!("cg_csrf={planted}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_in(&form).unwrap();
        assert_eq!(live_sessions(&app), 2);

        // Act: the signed-in browser carries the planted cookie and the attacker's token.
        let cookie = format!("cg_session={}; cg_csrf={planted}", laptop.token);
        let mut statuses = Vec::new();
        for path in ["/logout", "/account/sessions/end-others"] {
            let response = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(app.url(path))
                .header(COOKIE, &cookie)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }

        // Assert: both refused, nothing ended, still signed in.
        assert_eq!(statuses, vec![403, 403]);
        assert_eq!(live_sessions(&app), 2);
        let (status, _) = laptop.get(&app, "/account").await;
        assert_eq!(status, 200);
    }
);

backend_test!(
    async fn a_link_from_another_browser_names_the_account_first(backend: Backend) {
        // Arrange: the attacker asks for a link to their own account and sends it to a victim.
        let app = spawn_app(backend).await;
        let attacker = browser();
        assert_eq!(
            ask(&app, &attacker, "attacker7@virginia.edu")
                .await
                .status()
                .as_u16(),
            303
        );
        let token = token_in(&app.wait_for_emails(1).await[0].text).unwrap();
        let victim = browser();

        // Act: the victim presses the link's button.
        let pressed = press_sign_in(&app, &victim, &token, false).await;
        let status = pressed.status().as_u16();
        let html = pressed.text().await.unwrap();

        // Assert: not signed in; the page names the account and asks again.
        assert_eq!(status, 200);
        assert!(
            html.contains("Sign in as attacker7@virginia.edu"),
            "the page names the account: {html}"
        );
        assert_eq!(signed_in_as(&app, &victim).await, None);
        assert_eq!(live_sessions(&app), 0);

        // Act + Assert: only an explicit second press signs in (the link still works).
        let confirmed = press_sign_in(&app, &victim, &token, true).await;
        assert_eq!(confirmed.status().as_u16(), 303);
        assert_eq!(
            signed_in_as(&app, &victim).await.as_deref(),
            Some("attacker7@virginia.edu")
        );
    }
);

backend_test!(
    async fn the_asking_browser_signs_in_at_once_with_a_fresh_csrf_cookie(backend: Backend) {
        // Arrange
        let app = spawn_app(backend).await;
        let student = browser();
        let login = student.get(app.url("/login")).send().await.unwrap();
        let before = set_cookie_value(&login, "cg_csrf").expect("a pre-session cookie");
        let csrf = csrf_in(&login.text().await.unwrap()).unwrap();
        let asked = post_with(
            &app,
            &student,
            "/login",
            &[("csrf_token", &csrf), ("email", "hoo1a")],
        )
        .await;
        assert_eq!(asked.status().as_u16(), 303);
        assert_eq!(asked.headers()[LOCATION], "/login/check-email");
        let email = app.wait_for_emails(1).await.remove(0);

        // Act
        let confirmed = press_sign_in(&app, &student, &token_in(&email.text).unwrap(), false).await;

        // Assert: a bare computing ID meant hoo1a@virginia.edu; the old pre-session
        // cookie was replaced; the subject never carries the code.
        assert_eq!(email.to, "hoo1a@virginia.edu");
        let code = code_in(&email.text).unwrap();
        assert!(!email.subject.contains(&code), "{}", email.subject);
        assert!(!email.subject.chars().any(|c| c.is_ascii_digit()));
        assert_eq!(confirmed.status().as_u16(), 303);
        let after = set_cookie_value(&confirmed, "cg_csrf").expect("a new pre-session cookie");
        assert_ne!(after, before);
        assert_eq!(
            signed_in_as(&app, &student).await.as_deref(),
            Some("hoo1a@virginia.edu")
        );
    }
);

backend_test!(
    async fn check_email_reads_the_same_for_known_and_unknown_addresses(backend: Backend) {
        // Arrange: one address has an account, one does not.
        let app = spawn_app(backend).await;
        app.student("known1");
        let known = browser();
        let unknown = browser();

        // Act: each asks, and follows the redirect (Back would GET, never re-POST).
        let a = ask(&app, &known, "known1@virginia.edu").await;
        let b = ask(&app, &unknown, "unknown1@virginia.edu").await;
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
        let (sa, page_a) = get_with(&app, &known, "/login/check-email").await;
        let (sb, page_b) = get_with(&app, &unknown, "/login/check-email").await;

        // Assert: the same page but for the address (and the form's token).
        assert_eq!((sa, sb), (200, 200));
        let strip = |html: &str, email: &str| {
            let token = csrf_in(html).unwrap();
            html.replace(email, "ADDRESS").replace(&token, "TOKEN")
        };
        assert_eq!(
            strip(&page_a, "known1@virginia.edu"),
            strip(&page_b, "unknown1@virginia.edu")
        );
        assert!(page_a.contains("Check your email"));
        // Without a pending request the page sends you to the form.
        let (status, _) = get_with(&app, &browser(), "/login/check-email").await;
        assert_eq!(status, 303);
    }
);

// With two allowed domains, one computing ID is one person: friends find each
// other by it, and a friend request to a newcomer makes their account at the
// first domain.
backend_test!(
    async fn one_computing_id_signs_in_at_either_allowed_domain_to_one_account(backend: Backend) {
        // Arrange: two allowed domains; a student signed in at the first, and
        // a friend request waiting for a newcomer nobody has seen yet.
        let domains = [("ALLOWED_EMAIL_DOMAINS", "virginia.edu,example.edu")];
        let app = spawn_app_with(TestDb::with_schema(backend), TestMail::Memory, &domains).await;
        app.sign_in("mst3k@virginia.edu").await;
        let friend = app.student("fr1end");
        let added = friend
            .post(&app, "/friends", "/friends", &[("who", "hoo1a")])
            .await;
        assert_eq!(added.status().as_u16(), 303);

        // Act: each signs in at the second domain, one by link, one by code.
        let laptop = browser();
        let asked = ask(&app, &laptop, "mst3k@example.edu").await;
        assert_eq!(asked.status().as_u16(), 303, "no 500 for the second domain");
        let newcomer = browser();
        let asked = ask(&app, &newcomer, "hoo1a@example.edu").await;
        assert_eq!(asked.status().as_u16(), 303);
        let emails = app.wait_for_emails(3).await;
        assert_eq!(
            emails[1].to, "mst3k@example.edu",
            "the link goes where it was asked for"
        );
        assert_eq!(emails[2].to, "hoo1a@example.edu");
        let token = token_in(&emails[1].text).unwrap();
        let by_link = press_sign_in(&app, &laptop, &token, false).await;
        let (_, form) = get_with(&app, &newcomer, "/login").await;
        let code = code_in(&emails[2].text).unwrap();
        let by_code = post_with(
            &app,
            &newcomer,
            "/login/code",
            &[
                ("csrf_token", &csrf_in(&form).unwrap()),
                ("email", "hoo1a@example.edu"),
                ("code", &code),
            ],
        )
        .await;

        // Assert: each is in the one account of their computing ID, and the
        // newcomer finds the request that waited for them.
        assert_eq!(by_link.status().as_u16(), 303);
        assert_eq!(by_code.status().as_u16(), 303);
        assert_eq!(
            signed_in_as(&app, &laptop).await.as_deref(),
            Some("mst3k@virginia.edu")
        );
        // At the address they asked at, not the one the request made the
        // account at before they came.
        assert_eq!(
            signed_in_as(&app, &newcomer).await.as_deref(),
            Some("hoo1a@example.edu")
        );
        let accounts: i64 = common_grounds::db::schema::users::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(accounts, 3);
        let (status, requests) = get_with(&app, &newcomer, "/friends").await;
        assert_eq!(status, 200);
        assert!(requests.contains("fr1end"), "{requests}");
    }
);

backend_test!(
    async fn erasing_an_account_forgets_its_sign_in_emails_at_every_domain(backend: Backend) {
        // Arrange: a student who asked for sign-in emails at both allowed
        // domains (each address has its rate-limit bucket), and a classmate.
        let domains = [("ALLOWED_EMAIL_DOMAINS", "virginia.edu,example.edu")];
        let app = spawn_app_with(TestDb::with_schema(backend), TestMail::Memory, &domains).await;
        app.sign_in("mst3k@virginia.edu").await;
        let other = browser();
        assert_eq!(
            ask(&app, &other, "mst3k@example.edu")
                .await
                .status()
                .as_u16(),
            303
        );
        assert_eq!(
            ask(&app, &other, "hoo1a@example.edu")
                .await
                .status()
                .as_u16(),
            303
        );
        let buckets = |app: &TestApp| -> Vec<String> {
            use common_grounds::db::schema::rate_limit_hits;
            rate_limit_hits::table
                .select(rate_limit_hits::bucket)
                .filter(rate_limit_hits::bucket.like("login-email:%"))
                .load(&mut *app.conn())
                .unwrap()
        };
        assert_eq!(buckets(&app).len(), 3, "{:?}", buckets(&app));

        // Act: the student deletes their account.
        let csrf = app.csrf_from("/account").await;
        let deleted = app
            .post_form(
                "/account/delete",
                &[("csrf_token", &csrf), ("confirm", "mst3k")],
            )
            .await;

        // Assert: no bucket names the student; the classmate's stays.
        assert_eq!(deleted.status().as_u16(), 303);
        assert_eq!(buckets(&app), vec!["login-email:hoo1a"]);
    }
);

backend_test!(
    async fn the_hourly_sign_in_emails_are_counted_for_all_domains_together(backend: Backend) {
        // Arrange: five clients each ask for a link at the first domain.
        let domains = [("ALLOWED_EMAIL_DOMAINS", "virginia.edu,example.edu")];
        let app = spawn_app_with(TestDb::with_schema(backend), TestMail::Memory, &domains).await;
        for n in 0..5 {
            let asked = ask(&app, &browser(), "mst3k@virginia.edu").await;
            assert_eq!(asked.status().as_u16(), 303, "request {n}");
        }
        let emails = app.wait_for_emails(5).await;

        // Act: the student asks at the second domain.
        let student = browser();
        let asked = ask(&app, &student, "mst3k@example.edu").await;
        let (_, check) = get_with(&app, &student, "/login/check-email").await;

        // Assert: no sixth email; the page says one still works, and the
        // oldest email's link signs the student in (after confirming the
        // account, since another browser asked for it).
        assert_eq!(asked.status().as_u16(), 303);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.sent_emails().await.len(), 5);
        assert!(check.contains("sent less than 10 minutes ago"), "{check}");
        let token = token_in(&emails[0].text).unwrap();
        let entered = press_sign_in(&app, &student, &token, true).await;
        assert_eq!(entered.status().as_u16(), 303);
        assert_eq!(
            signed_in_as(&app, &student).await.as_deref(),
            Some("mst3k@virginia.edu")
        );
    }
);

/// PostgreSQL: two sign-in links of one account used at once (the link on a
/// laptop, another on a phone) while the account's row is busy. Each took
/// its own link, waited for the account, then for the other's link (voided
/// at sign-in): a deadlock, and one of them answered 503.
#[tokio::test]
async fn two_links_of_one_account_used_at_once_do_not_deadlock() {
    use common_grounds::accounts::{sessions as session_tokens, signin};
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::with_schema(Backend::Postgres);
    let mut conn = db.connect();
    let user = common::builders::UserBuilder::new("two2l").insert(&mut conn);
    let now = common_grounds::clock::now();
    let tokens = ["a".repeat(64), "b".repeat(64)];
    for (i, token) in tokens.iter().enumerate() {
        diesel::insert_into(magic_links::table)
            .values((
                magic_links::id.eq(format!("link-{i}")),
                magic_links::user_id.eq(&user.id),
                magic_links::token_hash.eq(session_tokens::hash_token(token)),
                magic_links::code_hash.eq("unused"),
                magic_links::code_attempts.eq(0),
                magic_links::expires_at.eq(now + chrono::Duration::minutes(10)),
                magic_links::used.eq(false),
                magic_links::created_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let mut busy = db.connect();
    busy.batch_execute(&format!(
        "BEGIN; SELECT id FROM users WHERE id = '{}' FOR UPDATE",
        user.id
    ))
    .unwrap();
    let use_link = |token: String| {
        let mut c = db.connect();
        tokio::task::spawn_blocking(move || {
            let campus = common_grounds::campus_time::CampusTime::default();
            signin::confirm_link(&mut c, &token, None, true, None, now, campus)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    let (one, two) = (use_link(tokens[0].clone()), use_link(tokens[1].clone()));
    let started = std::time::Instant::now();
    let waiting = |conn: &mut common_grounds::db::DbConn| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_stat_activity \
              WHERE wait_event_type = 'Lock' AND datname = current_database())",
        ))
        .get_result(conn)
        .unwrap()
    };
    while waiting(&mut conn) < 2 && started.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(waiting(&mut conn), 2, "both sign-ins wait on the account");
    busy.batch_execute("COMMIT").unwrap();

    let mut results = vec![one.await.unwrap(), two.await.unwrap()];
    results.sort();
    assert_eq!(
        results,
        vec![
            Ok(()),
            Err("this sign-in link has expired or was already used".to_string()),
        ],
        "one signs in, the other finds its link voided"
    );
}

// A block of a computing ID no one used yet makes its account at the first
// allowed domain; its student, signing up at another, must not find that
// address on their account (it would tell them someone had).
backend_test!(
    async fn an_account_takes_the_address_its_student_first_signs_in_at(backend: Backend) {
        let domains = [("ALLOWED_EMAIL_DOMAINS", "virginia.edu,example.edu")];
        let app = spawn_app_with(TestDb::with_schema(backend), TestMail::Memory, &domains).await;
        let blocker = app.student("blk9a");
        let blocked = blocker
            .post(&app, "/friends", "/friends/ghost9/block", &[])
            .await;
        assert_eq!(blocked.status().as_u16(), 303);
        let stored_email = || -> String {
            common_grounds::db::schema::users::table
                .filter(common_grounds::db::schema::users::computing_id.eq("ghost9"))
                .select(common_grounds::db::schema::users::email)
                .first(&mut *app.conn())
                .unwrap()
        };
        // The block made the account, at the first allowed domain.
        assert_eq!(stored_email(), "ghost9@virginia.edu");

        app.sign_in("ghost9@example.edu").await;

        assert_eq!(stored_email(), "ghost9@example.edu");
        let (_, account) = app.get_html("/account").await;
        assert!(!account.contains("ghost9@virginia.edu"), "{account}");
    }
);
