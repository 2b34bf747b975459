//! The test harness: a fresh database per test on each backend, the real app on
//! port 0, a cookie-keeping client, and a real SMTP listener on loopback.
#![allow(dead_code)]

pub mod browser;
pub mod builders;
pub mod plans;
pub mod proxy;
pub mod seed;
pub mod served;
pub mod sis_server;
pub mod smtp;
pub mod sse;
pub mod template;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common_grounds::config::{Config, DatabaseUrl};
use common_grounds::db::{self, DbConn, Pool};
use common_grounds::mail::{Mailer, OutgoingEmail};
use common_grounds::web::Application;
use diesel::prelude::*;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares one test body run once per backend:
/// `backend_test!(async fn a_thing_works(backend: Backend) { ... });`
#[macro_export]
macro_rules! backend_test {
    (async fn $name:ident($b:ident : Backend) $body:block) => {
        mod $name {
            use super::*;

            async fn __body($b: Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                __body(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_admin_url().is_none() {
                    return;
                }
                __body(Backend::Postgres).await
            }
        }
    };
}

/// The PostgreSQL server to make test databases on. Unset outside CI means the
/// PostgreSQL half is skipped (with a line saying so); in CI it must be set.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(url) => {
            // Before the harness's first PostgreSQL connection, which would
            // otherwise initialize OpenSSL with its crash-prone exit handler.
            common_grounds::db::init_libpq_tls();
            Some(url)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI")
        }
        None => {
            eprintln!("skipping the PostgreSQL run: set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres");
            None
        }
    }
}

/// A database that exists for one test and is removed when the test ends,
/// whether it passed or not.
pub struct TestDb {
    pub backend: Backend,
    pub url: DatabaseUrl,
    dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// An empty database (no migrations applied), for tests of migrating.
    pub fn new(backend: Backend) -> TestDb {
        TestDb::fresh(backend, false)
    }

    /// A database with every migration applied, copied from the run's
    /// migrated template (see `template`): still this test's own.
    pub fn with_schema(backend: Backend) -> TestDb {
        TestDb::fresh(backend, true)
    }

    fn fresh(backend: Backend, with_schema: bool) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("cg-test-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join("test.db");
                if with_schema {
                    std::fs::copy(template::sqlite(), &file).unwrap();
                }
                TestDb {
                    backend,
                    url: DatabaseUrl::Sqlite(file),
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url().expect("TEST_DATABASE_URL");
                let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
                let create = if with_schema {
                    format!(
                        "CREATE DATABASE {name} TEMPLATE {}",
                        template::postgres(&admin)
                    )
                } else {
                    format!("CREATE DATABASE {name}")
                };
                let mut conn =
                    PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(create).execute(&mut conn).unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                TestDb {
                    backend,
                    url: DatabaseUrl::Postgres(url.to_string()),
                    dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    /// Another handle on the same database that does not drop it (for a second
    /// URL to it, such as through a proxy); the original still cleans up.
    pub fn borrowed(other: &TestDb) -> TestDb {
        TestDb {
            backend: other.backend,
            url: other.url.clone(),
            dir: None,
            pg: None,
        }
    }

    /// A direct connection (migrations not applied).
    pub fn connect(&self) -> DbConn {
        db::Manager::new(self.url.clone()).establish().unwrap()
    }

    /// A direct connection with the schema in place.
    pub fn migrated(&self) -> DbConn {
        let mut conn = self.connect();
        db::run_migrations(&mut conn).unwrap();
        conn
    }

    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// Settings for a test app: port 0, a throwaway data folder, a fixed secret.
pub fn test_config(db: &TestDb, extra: &[(&str, &str)]) -> Config {
    let data = std::env::temp_dir().join(format!("cg-data-{}", uuid::Uuid::new_v4().simple()));
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db.url_string()),
        ("BIND_ADDR", "127.0.0.1:0".to_string()),
        ("BASE_URL", "http://cg.test".to_string()),
        (
            "SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789".to_string(),
        ),
        ("DATA_DIR", data.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_source(&vars).expect("test config")
}

/// How a test app sends email.
pub enum TestMail {
    Memory,
    Smtp(u16),
}

/// A running app for one test.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub pool: Pool,
    pub outbox: Option<Arc<Mutex<Vec<OutgoingEmail>>>>,
    pub queries: common_grounds::db::QueryCounter,
    /// Sessions whose expiry is due to slide, waiting to be written.
    pub touches: std::sync::Arc<common_grounds::accounts::sessions::Touches>,
    pub secret_key: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts the app on a fresh database with email kept in memory.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(TestDb::with_schema(backend), TestMail::Memory, &[]).await
}

pub async fn spawn_app_with(db: TestDb, mail: TestMail, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_opts(db, mail, extra, true).await
}

/// An app with no background jobs (no outbox worker, no cleanup): nothing but
/// requests touches the database, so query counts are exact. Sign in with
/// `student`, which needs no email.
pub async fn spawn_quiet_app(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_opts(TestDb::with_schema(backend), TestMail::Memory, extra, false).await
}

pub async fn spawn_app_opts(
    db: TestDb,
    mail: TestMail,
    extra: &[(&str, &str)],
    background_jobs: bool,
) -> TestApp {
    let config = test_config(&db, extra);
    let secret_key = String::from_utf8(config.secret_key.expose().to_vec()).unwrap();
    let (mailer, outbox) = match mail {
        TestMail::Memory => {
            let (mailer, store) = Mailer::memory();
            (mailer, Some(store))
        }
        TestMail::Smtp(port) => (
            Mailer::smtp(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                "Common Grounds <no-reply@cg.test>",
            )
            .unwrap(),
            None,
        ),
    };
    let mut app = Application::build_with(config, mailer).expect("app builds");
    if !background_jobs {
        app = app.without_background_jobs();
    }
    let port = app.port();
    let pool = app.pool().clone();
    let queries = app.query_counter();
    let touches = app.session_touches();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: client(),
        db,
        pool,
        outbox,
        queries,
        touches,
        secret_key,
        server,
    }
}

impl TestApp {
    /// Stops the server and hands back the database (to start another app on it).
    pub async fn stop(self) -> TestDb {
        self.server.abort();
        let _ = self.server.await;
        self.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_html(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the first form on a page.
    pub async fn csrf_from(&self, path: &str) -> String {
        let (_, html) = self.get_html(path).await;
        csrf_in(&html).unwrap_or_else(|| panic!("no csrf_token on {path}"))
    }

    /// Asks for a sign-in email the way the login form does, and follows its
    /// redirect to the check-email page (a refusal is returned as it is).
    pub async fn post_login(&self, email: &str) -> reqwest::Response {
        let csrf = self.csrf_from("/login").await;
        let posted = self
            .post_form("/login", &[("csrf_token", &csrf), ("email", email)])
            .await;
        if posted.status().as_u16() != 303 {
            return posted;
        }
        let location = posted.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, "/login/check-email", "POST /login redirects");
        self.get(&location).await
    }

    /// Emails captured by the memory mailer so far.
    pub async fn sent_emails(&self) -> Vec<OutgoingEmail> {
        self.outbox
            .as_ref()
            .expect("memory mailer")
            .lock()
            .unwrap()
            .clone()
    }

    /// Waits until the outbox worker has delivered `n` emails to memory.
    pub async fn wait_for_emails(&self, n: usize) -> Vec<OutgoingEmail> {
        for _ in 0..200 {
            let sent = self.sent_emails().await;
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "expected {n} emails, got {}",
            self.sent_emails().await.len()
        );
    }

    /// Signs in end to end through the link and returns the email address.
    pub async fn sign_in(&self, email: &str) {
        // Count only once nothing is in flight, so the email taken below is this one.
        for _ in 0..200 {
            let (queued, _) = common_grounds::mail::outbox::counts(&mut self.conn()).unwrap();
            if queued == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let before = self.sent_emails().await.len();
        assert_eq!(self.post_login(email).await.status().as_u16(), 200);
        let emails = self.wait_for_emails(before + 1).await;
        let token = token_in(&emails.last().unwrap().text).expect("token in email");
        let csrf = self
            .csrf_from(&format!("/login/confirm?token={token}"))
            .await;
        let response = self
            .post_form(
                "/login/confirm",
                &[("csrf_token", &csrf), ("token", &token)],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303, "sign-in should redirect");
    }

    pub fn conn(&self) -> common_grounds::db::PooledConn {
        self.pool.get().unwrap()
    }

    /// A confirmed student with a live session, made directly in the database
    /// (no email), and a client that carries their session cookie.
    pub fn student(&self, computing_id: &str) -> Student {
        let mut conn = self.conn();
        let now = common_grounds::clock::now();
        let user = builders::UserBuilder::new(computing_id)
            .created_at(now)
            .insert(&mut conn);
        let session =
            common_grounds::accounts::sessions::create(&mut conn, &user.id, Some("test"), now)
                .unwrap();
        Student {
            user,
            client: self.client_with_session(&session.token),
            token: session.token,
        }
    }

    /// A client whose cookie jar holds the given session token.
    pub fn client_with_session(&self, token: &str) -> reqwest::Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url: url::Url = self.address.parse().unwrap();
        jar.add_cookie_str(&format!("cg_session={token}; Path=/"), &url);
        reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Statements run on the app's pool so far.
    pub fn query_count(&self) -> u64 {
        self.queries.get()
    }
}

/// A signed-in student for tests: their row and a client with their session.
pub struct Student {
    pub user: common_grounds::accounts::User,
    pub client: reqwest::Client,
    /// The session cookie's value (for a browser).
    pub token: String,
}

impl Student {
    pub async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let response = self.client.get(app.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Loads `page`, takes its CSRF token, and posts `fields` (plus the token) to `path`.
    pub async fn post(
        &self,
        app: &TestApp,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, html) = self.get(app, page).await;
        let csrf = csrf_in(&html).unwrap_or_else(|| panic!("no csrf_token on {page}"));
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        all.extend_from_slice(fields);
        self.client
            .post(app.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// Posts, then follows the redirect (one hop) and returns the page it lands on.
    pub async fn post_and_follow(
        &self,
        app: &TestApp,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let response = self.post(app, page, path, fields).await;
        let status = response.status().as_u16();
        if status != 303 {
            return (status, response.text().await.unwrap());
        }
        let location = response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        self.get(app, &location).await
    }
}

/// GET `path` with a given client (its own cookies): the status and the body.
pub async fn get_with(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POST a form to `path` with a given client (its own cookies).
pub async fn post_with(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Presses the button on an emailed link's page, as `client`.
pub async fn press_sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    account_confirmed: bool,
) -> reqwest::Response {
    let (_, shown) = get_with(app, client, &format!("/login/confirm?token={token}")).await;
    let csrf = csrf_in(&shown).expect("a token on the confirm page");
    let mut fields = vec![("csrf_token", csrf.as_str()), ("token", token)];
    if account_confirmed {
        fields.push(("confirm_account", "yes"));
    }
    post_with(app, client, "/login/confirm", &fields).await
}

/// A student whose role column is set directly (a role change through the
/// domain would end the session this helper just made).
pub fn staff(app: &TestApp, computing_id: &str, role: common_grounds::accounts::Role) -> Student {
    let s = app.student(computing_id);
    diesel::update(common_grounds::db::schema::users::table.find(&s.user.id))
        .set(common_grounds::db::schema::users::role.eq(role.as_str()))
        .execute(&mut app.conn())
        .unwrap();
    s
}

/// PostgreSQL races, made exact: once `waiters` sessions of the test's
/// database wait on a lock (or after `patience`), runs `then`, which commits
/// or releases what another connection holds. Returns how many were seen
/// waiting (a test asserts it, so a race that did not happen fails), and
/// what `then` returned.
pub fn when_waiting<T: Send + 'static>(
    db: &TestDb,
    waiters: i64,
    patience: std::time::Duration,
    then: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<(i64, T)> {
    let mut watcher = db.connect();
    tokio::task::spawn_blocking(move || {
        let mut waiting = || -> i64 {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT count(*) FROM pg_stat_activity \
                  WHERE wait_event_type = 'Lock' AND datname = current_database())",
            ))
            .get_result(&mut watcher)
            .unwrap()
        };
        let started = std::time::Instant::now();
        let mut seen = waiting();
        while seen < waiters && started.elapsed() < patience {
            std::thread::sleep(std::time::Duration::from_millis(20));
            seen = waiting();
        }
        (seen, then())
    })
}

/// A Spring 2026 class with the given code and these students enrolled.
pub fn new_class(
    app: &TestApp,
    code: &str,
    members: &[&Student],
) -> common_grounds::classes::Class {
    let mut conn = app.conn();
    let class = seed::class(&mut conn, code, "1262");
    for m in members {
        seed::enroll(&mut conn, &m.user, &class);
    }
    class
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}

/// A page with its `csrf_token` value replaced, so pages for two visitors compare.
pub fn without_csrf(html: &str) -> String {
    match csrf_in(html) {
        Some(token) => html.replace(&token, "CSRF"),
        None => html.to_string(),
    }
}

/// The sign-in token in an email body.
pub fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + "token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect(),
    )
}

/// The 8-digit code in an email body.
pub fn code_in(text: &str) -> Option<String> {
    let marker = "where you asked to sign in: ";
    let start = text.find(marker)? + marker.len();
    Some(text[start..start + 8].to_string())
}

/// Everything a student sees of a class chat from one page of its thread list
/// (`list_path`, such as `/classes/{id}` or an older page): that page, then
/// each thread page it links to (`/classes/{id}/threads/{thread}`), in the
/// list's order, as one string of HTML. Messages, replies and their actions
/// are on the thread pages only. Opening a thread marks it read, as it does for
/// the student.
pub async fn chat_as_seen(app: &TestApp, client: &reqwest::Client, list_path: &str) -> String {
    let (status, list) = get_with(app, client, list_path).await;
    assert_eq!(status, 200, "GET {list_path}");
    let mut seen = list.clone();
    for href in thread_links(&list) {
        let (status, thread) = get_with(app, client, &href).await;
        assert_eq!(status, 200, "GET {href}, linked from {list_path}");
        seen.push('\n');
        seen.push_str(&thread);
    }
    seen
}

/// The thread pages a page links to (`/classes/{id}/threads/{thread}`), each
/// once, in page order, without any `#fragment`.
pub fn thread_links(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("a[href]").unwrap();
    let mut links: Vec<String> = Vec::new();
    for a in doc.select(&sel) {
        let href = a.value().attr("href").unwrap_or_default();
        let href = href.split('#').next().unwrap_or_default();
        let is_thread = href
            .strip_prefix("/classes/")
            .and_then(|rest| rest.split_once("/threads/"))
            .is_some_and(|(class, thread)| {
                uuid::Uuid::parse_str(class).is_ok() && uuid::Uuid::parse_str(thread).is_ok()
            });
        if is_thread && !links.iter().any(|l| l == href) {
            links.push(href.to_string());
        }
    }
    links
}
