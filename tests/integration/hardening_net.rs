//! Issue 15, the network edge: the client behind a trusted proxy is the
//! rightmost `X-Forwarded-For` hop we did not add ourselves (IPv6 per /64, and a
//! client-sent `Forwarded` header changes nothing); a development server off
//! loopback has no dev mailbox and says so loudly; production keeps `/metrics`
//! off without a token; request logs carry route patterns, not computing ids.

use crate::common;
use crate::common::seed;
use crate::common::served::Served;

use std::sync::Arc;

use common::*;
use common_grounds::friends::FriendshipStatus;

/// Sign-in requests one client may make per 10 minutes in these tests.
const LIMIT: usize = 10;

/// A proxy in front of the test app: the test client's own address (127.0.0.1) is it.
fn behind_a_proxy() -> Vec<(&'static str, String)> {
    vec![
        ("TRUSTED_PROXY", "true".to_string()),
        ("TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1,::1".to_string()),
        ("LOGIN_REQUESTS_PER_IP_10MIN", LIMIT.to_string()),
    ]
}

async fn spawn_behind_a_proxy(backend: Backend) -> TestApp {
    let settings = behind_a_proxy();
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_quiet_app(backend, &extra).await
}

/// `POST /login` for a fresh address with the given proxy headers, the way the
/// form does it (the CSRF token and cookie from `GET /login`). Returns the status.
async fn ask_for_link_via(app: &TestApp, n: usize, headers: &[(&str, String)]) -> u16 {
    let client = client();
    let (status, html) = {
        let response = client.get(app.url("/login")).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    assert_eq!(status, 200, "GET /login");
    let csrf = csrf_in(&html).expect("a CSRF token on /login");
    let email = format!("s{n}@virginia.edu");
    let mut request = client
        .post(app.url("/login"))
        .form(&[("csrf_token", csrf.as_str()), ("email", email.as_str())]);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let status = request.send().await.unwrap().status().as_u16();
    assert!(status < 500, "POST /login #{n} answered {status}");
    status
}

/// An address the client makes up, different for each request.
fn made_up_ipv4(n: usize) -> String {
    format!(
        "{}.{}.{}.{}",
        11 + n % 200,
        rand::random::<u8>(),
        n % 250,
        1 + rand::random::<u8>() % 254
    )
}

backend_test!(
    async fn requests_through_a_trusted_proxy_count_by_the_address_the_proxy_saw(backend: Backend) {
        let app = spawn_behind_a_proxy(backend).await;

        // Arrange / Act: one client behind the proxy sends 40 requests, each with
        // a different made-up address on the left of X-Forwarded-For and in a
        // Forwarded header of its own; the proxy appended 203.0.113.7.
        let mut statuses = Vec::new();
        for n in 0..40 {
            let headers = [
                (
                    "X-Forwarded-For",
                    format!("{}, 203.0.113.7", made_up_ipv4(n)),
                ),
                ("Forwarded", format!("for={}", made_up_ipv4(n + 1000))),
            ];
            statuses.push(ask_for_link_via(&app, n, &headers).await);
        }

        // Assert: they counted as one client, limited after LIMIT requests.
        assert!(
            statuses[..LIMIT].iter().all(|s| *s != 429),
            "the first {LIMIT} are within the limit: {statuses:?}"
        );
        assert!(
            statuses[LIMIT..].iter().all(|s| *s == 429),
            "every request over the limit is refused: {statuses:?}"
        );

        // Another client behind the same proxy is not limited by the first one.
        let other = [("X-Forwarded-For", "6.6.6.6, 203.0.113.8".to_string())];
        assert_ne!(ask_for_link_via(&app, 100, &other).await, 429);
        // Nor is the proxy's own address (a request with no forwarded client).
        assert_ne!(ask_for_link_via(&app, 101, &[]).await, 429);
        // The first client is still limited whatever it writes on the left.
        let again = [
            ("X-Forwarded-For", "203.0.113.8, 203.0.113.7".to_string()),
            ("Forwarded", "for=203.0.113.8".to_string()),
        ];
        assert_eq!(ask_for_link_via(&app, 102, &again).await, 429);
    }
);

backend_test!(
    async fn ipv6_clients_behind_a_trusted_proxy_count_per_slash_64(backend: Backend) {
        let app = spawn_behind_a_proxy(backend).await;
        // Addresses in one /64 that differ in their last 64 bits.
        let in_one_64 = |n: usize| {
            format!(
                "2001:db8:1:2:{:x}:{:x}:{:x}:{:x}",
                n + 1,
                rand::random::<u16>(),
                rand::random::<u16>(),
                n * 7
            )
        };
        let mut statuses = Vec::new();
        for n in 0..(LIMIT + 5) {
            let headers = [(
                "X-Forwarded-For",
                format!("{}, {}", made_up_ipv4(n), in_one_64(n)),
            )];
            statuses.push(ask_for_link_via(&app, n, &headers).await);
        }
        assert!(
            statuses[..LIMIT].iter().all(|s| *s != 429),
            "the first {LIMIT} are within the limit: {statuses:?}"
        );
        assert!(
            statuses[LIMIT..].iter().all(|s| *s == 429),
            "one /64 is one client: {statuses:?}"
        );

        // A neighbouring /64 is a different client.
        let neighbour = [("X-Forwarded-For", "2001:db8:1:3::1".to_string())];
        assert_ne!(ask_for_link_via(&app, 200, &neighbour).await, 429);
        // An IPv4 client written as IPv4-mapped IPv6 is that IPv4 client.
        let v4 = [("X-Forwarded-For", "198.51.100.20".to_string())];
        let mapped = [("X-Forwarded-For", "::ffff:198.51.100.20".to_string())];
        for n in 0..LIMIT {
            let headers = if n % 2 == 0 { &v4 } else { &mapped };
            assert_ne!(ask_for_link_via(&app, 300 + n, headers).await, 429);
        }
        assert_eq!(ask_for_link_via(&app, 399, &mapped).await, 429);
    }
);

backend_test!(
    async fn without_a_trusted_proxy_forwarded_headers_are_ignored(backend: Backend) {
        // TRUSTED_PROXY is on, but the only trusted proxy is elsewhere: the test
        // client (127.0.0.1) is a client, and what it writes in headers is not read.
        let limit = LIMIT.to_string();
        let app = spawn_quiet_app(
            backend,
            &[
                ("TRUSTED_PROXY", "true"),
                ("TRUSTED_PROXIES", "10.0.0.0/8"),
                ("LOGIN_REQUESTS_PER_IP_10MIN", &limit),
            ],
        )
        .await;
        let mut statuses = Vec::new();
        for n in 0..(LIMIT + 3) {
            let headers = [
                ("X-Forwarded-For", made_up_ipv4(n)),
                ("Forwarded", format!("for={}", made_up_ipv4(n + 500))),
            ];
            statuses.push(ask_for_link_via(&app, n, &headers).await);
        }
        assert!(
            statuses[LIMIT..].iter().all(|s| *s == 429),
            "made-up addresses from an untrusted peer do not escape the limit: {statuses:?}"
        );
    }
);

/// A bad `TRUSTED_PROXIES` stops the binary at start with a line naming it.
#[test]
fn a_bad_trusted_proxy_range_stops_the_start_naming_the_variable() {
    let stderr = common::served::refused_start(&[
        ("TRUSTED_PROXY", "true"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/40"),
    ]);
    assert!(
        stderr.contains("TRUSTED_PROXIES") && stderr.contains("10.0.0.0/40"),
        "{stderr}"
    );
}

async fn status_of(url: &str) -> u16 {
    let status = reqwest::get(url).await.unwrap().status().as_u16();
    assert!(status < 500, "{url} answered {status}");
    status
}

backend_test!(
    async fn development_on_0_0_0_0_has_no_dev_mailbox_and_warns(backend: Backend) {
        let db = TestDb::new(backend);
        let mut app = Served::start(Some(db.url_string()), "0.0.0.0", &[]);
        app.ready().await;
        let stderr = app
            .stderr_until("WARNING: running in development mode")
            .await;
        let mailbox = status_of(&app.url("/dev/mailbox")).await;
        let home = status_of(&app.url("/login")).await;
        let (stdout, _) = app.stop();

        assert_eq!(mailbox, 404, "no dev mailbox off loopback");
        assert_eq!(home, 200, "the server itself serves");
        assert!(
            stderr.contains("WARNING: running in development mode on 0.0.0.0:"),
            "a loud warning naming the address at start: {stderr}"
        );
        assert!(
            stdout.contains("metrics open (development)"),
            "start-up says /metrics is open: {stdout}"
        );
    }
);

backend_test!(
    async fn development_on_loopback_serves_the_dev_mailbox(backend: Backend) {
        let db = TestDb::new(backend);
        let mut app = Served::start(Some(db.url_string()), "127.0.0.1", &[]);
        app.ready().await;
        let mailbox = status_of(&app.url("/dev/mailbox")).await;
        let with_header = |name: &'static str, value: &'static str| {
            let url = app.url("/dev/mailbox");
            async move {
                reqwest::Client::new()
                    .get(url)
                    .header(name, value)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        // A page that rebound its own name to 127.0.0.1, and a proxy in front.
        let rebound = with_header("host", "attacker.test").await;
        let proxied = with_header("x-forwarded-for", "198.51.100.7").await;
        let (stdout, stderr) = app.stop();

        assert_eq!(mailbox, 200, "the dev mailbox on loopback");
        assert_eq!(rebound, 404, "not for a foreign Host");
        assert_eq!(proxied, 404, "not through a proxy");
        assert!(
            !stderr.contains("WARNING") && !stdout.contains("WARNING"),
            "no warning on loopback: {stdout}{stderr}"
        );
    }
);

fn production(token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("APP_ENV", "production".to_string()),
        ("BASE_URL", "https://cg.test".to_string()),
        // Nothing here sends mail; production refuses to start without a server.
        ("SMTP_URL", "smtp://127.0.0.1:1".to_string()),
    ];
    if let Some(token) = token {
        settings.push(("METRICS_TOKEN", token.to_string()));
    }
    settings
}

async fn spawn_production(backend: Backend, token: Option<&str>) -> TestApp {
    let settings = production(token);
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_quiet_app(backend, &extra).await
}

backend_test!(
    async fn production_without_a_metrics_token_has_no_metrics(backend: Backend) {
        let app = spawn_production(backend, None).await;
        let response = app.get("/metrics").await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, 404, "{body}");
        assert!(!body.contains("cg_http_requests_total"), "{body}");
        // A bearer token of any kind does not open it either.
        let guessed = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(guessed.status().as_u16(), 404);
    }
);

backend_test!(
    async fn production_with_a_metrics_token_serves_metrics_only_to_its_bearer(backend: Backend) {
        let token = "metrics-token-for-the-scraper-0123456789";
        let app = spawn_production(backend, Some(token)).await;
        let metrics = |bearer: Option<&str>| {
            let mut request = app.client.get(app.url("/metrics"));
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap())
            }
        };
        let (anonymous, body) = metrics(None).await;
        assert_eq!(anonymous, 401, "{body}");
        assert!(!body.contains("cg_http_requests_total"), "{body}");
        let (wrong, _) = metrics(Some("not-the-token")).await;
        assert_eq!(wrong, 401);
        let (right, body) = metrics(Some(token)).await;
        assert_eq!(right, 200, "{body}");
        assert!(body.contains("cg_http_requests_total"), "{body}");
    }
);

backend_test!(
    async fn json_request_logs_of_a_friend_page_hold_no_computing_id(backend: Backend) {
        let db = TestDb::new(backend);
        let mut app = Served::start(
            Some(db.url_string()),
            "127.0.0.1",
            &[
                ("LOG_FORMAT", "json"),
                ("RUST_LOG", "debug,common_grounds=debug"),
            ],
        );
        app.ready().await;

        // A student and their friend, made in the database the app serves.
        let friend_id = "qzx7vk";
        let (session, friend) = {
            let mut conn = db.connect();
            let me = seed::user(&mut conn, "mew2lg");
            let friend = seed::user(&mut conn, friend_id);
            seed::friendship(&mut conn, &me, &friend, FriendshipStatus::Accepted);
            let session = common_grounds::accounts::sessions::create(
                &mut conn,
                &me.id,
                Some("test"),
                common_grounds::clock::now(),
            )
            .unwrap();
            (session.token, friend)
        };
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let base: url::Url = app.url("").parse().unwrap();
        jar.add_cookie_str(&format!("cg_session={session}; Path=/"), &base);
        let browser = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // The friend's page, with the id in the path and in a query; an unknown
        // page under it; and the page signed out (a redirect to sign in).
        let page = browser
            .get(app.url(&format!("/friends/{friend_id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(&friend.computing_id), "the page names them");
        for path in [
            format!("/friends/{friend_id}?term=1262&who={friend_id}"),
            format!("/friends/{friend_id}/nothing/here"),
        ] {
            let status = browser
                .get(app.url(&path))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!(status < 500, "{path}: {status}");
        }
        assert!(status_of(&app.url(&format!("/friends/{friend_id}"))).await < 500);
        let (stdout, stderr) = app.stop();
        let output = format!("{stdout}{stderr}");

        let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(r#""route":"/friends/{computing_id}""#)
                    && l.contains(r#""status":200"#)),
            "the friend page's request is logged by its route: {output}"
        );
        for line in &lines {
            assert!(
                !line.contains(friend_id),
                "a computing id from a path is in the log: {line}"
            );
        }
    }
);

backend_test!(
    async fn a_form_that_cannot_be_read_is_refused_in_words(backend: Backend) {
        // Arrange: a signed-in student and their account page's token.
        let app = spawn_app(backend).await;
        app.sign_in("mst3k@virginia.edu").await;
        let csrf = app.csrf_from("/account").await;
        let url = format!("{}/account/privacy", app.address);
        let send = |content_type: &'static str, body: String| {
            app.client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body)
                .send()
        };
        let form = "application/x-www-form-urlencoded";

        // Act: a field twice, JSON, and 70 kB.
        let twice = send(form, format!("csrf_token={csrf}&csrf_token={csrf}"))
            .await
            .unwrap();
        let json = send("application/json", format!("{{\"csrf_token\":\"{csrf}\"}}"))
            .await
            .unwrap();
        let huge = send(
            form,
            format!("csrf_token={csrf}&display_name={}", "a".repeat(70_000)),
        )
        .await
        .unwrap();

        // Assert: each a 400 whose words say what to do, not serde's.
        for (response, words) in [
            (twice, "the page may be out of date"),
            (json, "not sent as a web form"),
            (huge, "too large to send"),
        ] {
            assert_eq!(response.status().as_u16(), 400, "{words}");
            let page = response.text().await.unwrap();
            assert!(page.contains(words), "{words}: {page}");
            assert!(
                !page.contains("field `") && !page.contains("error:"),
                "{page}"
            );
        }
    }
);

backend_test!(
    async fn a_staff_form_sent_slowly_holds_no_connection(backend: Backend) {
        use tokio::io::AsyncWriteExt;
        // Arrange: one pooled connection.
        let app = spawn_quiet_app(
            backend,
            &[
                ("DATABASE_POOL_SIZE", "1"),
                ("DATABASE_POOL_TIMEOUT_MS", "30000"),
            ],
        )
        .await;
        let moderator = staff(&app, "mod1x", common_grounds::accounts::Role::Moderator);
        let before = app.query_count();

        // Act: a moderator's form whose body stops halfway, as on a slow
        // network (or sent slowly on purpose): the admin scope has looked the
        // session up before the body is read.
        let mut upload = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        let head = format!(
            "POST /admin/sis/sync HTTP/1.1\r\nHost: cg.test\r\nCookie: cg_session={}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ncsrf_token=",
            moderator.token
        );
        upload.write_all(head.as_bytes()).await.unwrap();
        let looked_up = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while app.query_count() == before {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(looked_up.is_ok(), "the session was never looked up");

        // Assert: the one connection is free for everyone else meanwhile.
        let metrics =
            tokio::time::timeout(std::time::Duration::from_secs(10), app.get("/metrics")).await;
        let metrics = metrics.expect("/metrics waited on the upload's connection");
        assert_eq!(metrics.status().as_u16(), 200);
        let text = metrics.text().await.unwrap();
        assert!(text.contains("cg_db_up 1"), "{text}");
        drop(upload);
    }
);

backend_test!(
    async fn an_address_with_a_slash_too_many_leads_to_its_page_and_nowhere_else(b: Backend) {
        // Arrange: a signed-in student, and a client that does not follow redirects.
        let app = spawn_quiet_app(b, &[]).await;
        let me = app.student("sl1a");
        let opened = |path: &'static str| {
            let request = me.client.get(app.url(path)).send();
            async move {
                let r = request.await.unwrap();
                let to = r
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                (r.status().as_u16(), to)
            }
        };

        // Act and assert: "/friends/" is "/friends", its query kept.
        assert_eq!(opened("/friends/").await, (301, Some("/friends".into())));
        let week = Some("/schedule?term=1262".to_string());
        assert_eq!(opened("/schedule/?term=1262").await, (301, week));
        assert_eq!(opened("/account//").await, (301, Some("/account".into())));
        // Never to another host's address, nor to nothing.
        assert_eq!(opened("//evil.example/").await.0, 404);
        assert_eq!(
            opened("/%2F%2Fevil.example/").await.1,
            Some("/%2F%2Fevil.example".into())
        );
        assert_eq!(opened("/nothing-here").await.0, 404);
        let encoded = Some("/%5Cevil.example".to_string());
        assert_eq!(opened("/%5Cevil.example/").await.1, encoded);
        // A form's POST is not sent elsewhere.
        let posted = me.client.post(app.url("/friends/")).send().await.unwrap();
        assert_eq!(posted.status().as_u16(), 404);
    }
);
