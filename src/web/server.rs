//! Wiring: `Application::build(config)` connects the database, applies
//! migrations, binds the listener (port 0 works, for tests) and assembles the
//! actix `App`; `run_until_stopped` serves and runs the background workers.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use tokio::sync::watch;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder, TracingLogger};

use super::error::AppError;
use super::state::{AppState, Database};
use super::{
    account, admin, assets, auth, calendar, chat, class_search, classes, dev, friends, health,
    home, metrics, notifications, schedule,
};
use crate::accounts::sessions::Touches;
use crate::config::Config;
use crate::db::{self, Pool, QueryCounter};
use crate::live::Bus;
use crate::mail::worker::{self, OutboxSignal};
use crate::mail::Mailer;
use crate::notifications::email::NotificationMail;
use crate::{clock, ops};

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    database: Arc<Database>,
    queries: QueryCounter,
    mailer: Mailer,
    outbox_signal: OutboxSignal,
    live: Arc<Bus>,
    notification_mail: NotificationMail,
    notification_interval: Duration,
    touches: Arc<Touches>,
    background_jobs: bool,
    /// Set on SIGTERM (`/readyz` reads it), `drain` before the server stops.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    drain: Duration,
}

/// A line start-up prints about what a configuration exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupNotice {
    /// A loud warning (stderr and a WARN log line) rather than plain information.
    pub warning: bool,
    pub text: String,
}

/// What start-up says about the surfaces a configuration exposes, serving on
/// `bound`: a loud warning for development off loopback (no dev mailbox), and
/// who may read `/metrics`.
pub fn startup_notices(config: &Config, bound: std::net::SocketAddr) -> Vec<StartupNotice> {
    let mut notices = Vec::new();
    if !config.is_production() && !config.serves_dev_mailbox() {
        notices.push(StartupNotice {
            warning: true,
            text: format!(
                "WARNING: running in development mode on {bound} with BASE_URL {base}, which \
                 other machines can reach: the dev mailbox is off; for a real deployment set \
                 APP_ENV=production with SECRET_KEY and an https BASE_URL, or bind \
                 127.0.0.1 with an http://127.0.0.1 BASE_URL to develop",
                base = config.server.base_url
            ),
        });
    }
    notices.push(StartupNotice {
        warning: false,
        text: super::metrics::MetricsAccess::of(config)
            .describe()
            .to_string(),
    });
    notices
}

impl Application {
    /// Builds with the mailer the configuration names (SMTP or the dev folder).
    pub fn build(config: Config) -> anyhow::Result<Application> {
        let mailer = Mailer::from_settings(
            config.mail.smtp_url.as_deref(),
            &config.mail.from,
            config.mail.dir.clone(),
        )?;
        Application::build_with(config, mailer)
    }

    /// Builds with a given mailer (tests pass memory or a loopback SMTP server).
    pub fn build_with(config: Config, mailer: Mailer) -> anyhow::Result<Application> {
        let (pool, queries) = db::connect_counted_pool(
            &config.database.url,
            config.database.pool_max_size,
            config.database.pool_timeout,
        )?;
        let database = Arc::new(Database::new(
            pool.clone(),
            config.database.slow_read,
            reads_on_workers(&config),
        ));
        {
            // Its own connection, not the pool's: a migration waits for its
            // locks as long as it takes, not `db::LOCK_WAIT`.
            let mut conn = db::Manager::new(config.database.url.clone()).establish()?;
            let applied = db::run_migrations(&mut conn)?;
            if !applied.is_empty() {
                tracing::info!(count = applied.len(), "applied migrations");
            }
            let filled = crate::accounts::fill_name_keys(&mut conn)?;
            if filled > 0 {
                tracing::info!(count = filled, "filled name keys");
            }
        }
        let listener = TcpListener::bind(config.server.bind_addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.bind_addr))?;
        let port = listener.local_addr()?.port();
        let outbox_signal = OutboxSignal::default();
        let live = Bus::new(pool.clone(), config.database.url.clone());
        let touches = Arc::new(Touches::default());
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let drain = config.server.shutdown_drain;
        let notification_mail = NotificationMail::from_config(&config);
        let notification_interval =
            Duration::from_secs(u64::from(config.mail.notification_interval_secs));
        let state = web::Data::new(AppState {
            pool: Arc::clone(&database),
            config: Arc::new(config),
            outbox_signal: outbox_signal.clone(),
            mailer_is_directory: mailer.is_directory(),
            metrics: Arc::default(),
            known_limits: Arc::default(),
            code_hashes: Arc::default(),
            queries: queries.clone(),
            live: Arc::clone(&live),
            terms: Arc::default(),
            poster_counts: Arc::default(),
            touches: Arc::clone(&touches),
            stopping: Arc::clone(&stopping),
        });
        let server = serve(listener, state)?;
        Ok(Application {
            port,
            server,
            pool,
            database,
            queries,
            mailer,
            outbox_signal,
            live,
            notification_mail,
            notification_interval,
            touches,
            background_jobs: true,
            stopping,
            drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// This app's database handle: its gate and its pool-waiting gauge.
    pub fn database(&self) -> Arc<Database> {
        Arc::clone(&self.database)
    }

    /// Statements run so far on the pool's connections.
    pub fn query_counter(&self) -> QueryCounter {
        self.queries.clone()
    }

    /// The sessions waiting for their expiry to be written (tests flush it).
    pub fn session_touches(&self) -> Arc<Touches> {
        Arc::clone(&self.touches)
    }

    /// Tests that drive the outbox themselves switch the worker off.
    pub fn without_background_jobs(mut self) -> Self {
        self.background_jobs = false;
        self
    }

    /// Serves until SIGTERM/SIGINT: live streams end first (they never finish
    /// by themselves), in-flight requests finish, then the outbox worker and
    /// the notification email worker stop between messages.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut jobs = Vec::new();
        if self.background_jobs {
            jobs.push(tokio::spawn(worker::run(
                self.pool.clone(),
                self.mailer.clone(),
                self.outbox_signal.clone(),
                stop_rx.clone(),
            )));
            jobs.push(tokio::spawn(crate::notifications::email::run(
                self.pool.clone(),
                self.notification_mail.clone(),
                self.outbox_signal.clone(),
                self.notification_interval,
                stop_rx.clone(),
            )));
            jobs.push(tokio::spawn(hourly_cleanup(
                self.database(),
                stop_rx.clone(),
            )));
            jobs.push(tokio::spawn(write_session_touches(
                self.database(),
                Arc::clone(&self.touches),
                stop_rx.clone(),
            )));
            jobs.push(tokio::spawn(Arc::clone(&self.live).run(stop_rx)));
        }
        // actix's own signal handling is off (see `serve`): its graceful stop
        // would wait its whole timeout for open event streams.
        let signals = tokio::spawn(stop_on_signal(
            self.server.handle(),
            Arc::clone(&self.live),
            Arc::clone(&self.stopping),
            self.drain,
        ));
        let result = self.server.await;
        signals.abort();
        self.live.stop_streams();
        let _ = stop_tx.send(true);
        for job in jobs {
            let _ = tokio::time::timeout(Duration::from_secs(30), job).await;
        }
        result
    }
}

/// On SIGTERM, SIGINT or SIGQUIT: ends the live streams, then stops the server
/// (gracefully on SIGTERM, letting requests in flight finish, as actix would).
/// On SIGTERM, first `/readyz` answers 503 for `drain` while pages are still
/// served: a load balancer takes the server out before it refuses anyone.
async fn stop_on_signal(
    server: actix_web::dev::ServerHandle,
    live: Arc<Bus>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    drain: Duration,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        tracing::error!("cannot listen for stop signals");
        return;
    };
    let graceful = tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => false,
        _ = quit.recv() => false,
    };
    stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    if graceful && !drain.is_zero() {
        tracing::info!(
            drain_secs = drain.as_secs(),
            "stopping: /readyz answers 503 while requests drain"
        );
        // A second signal (an impatient operator) ends the drain.
        tokio::select! {
            _ = tokio::time::sleep(drain) => {}
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = quit.recv() => {}
        }
    }
    tracing::info!(graceful, "stopping");
    live.stop_streams();
    server.stop(graceful).await;
}

/// How often sessions due to slide are written.
const SESSION_TOUCHES_EVERY: Duration = Duration::from_secs(10);

/// Writes the sessions whose expiry slid, every `SESSION_TOUCHES_EVERY` and
/// once more when the server stops.
async fn write_session_touches(
    database: Arc<Database>,
    touches: Arc<Touches>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(SESSION_TOUCHES_EVERY) => false,
            _ = stop.changed() => true,
        };
        // In batches of `TOUCHES_PER_WRITE`, letting requests run between.
        while touches.pending() > 0 {
            let database = Arc::clone(&database);
            let touches = Arc::clone(&touches);
            let outcome = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut conn = database.connection()?;
                Ok(touches.flush(&mut conn)?)
            })
            .await;
            match outcome {
                Ok(Ok(_)) => tokio::task::yield_now().await,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "writing session expiries failed; will retry");
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "writing session expiries failed");
                    break;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

async fn hourly_cleanup(database: Arc<Database>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
        let database = Arc::clone(&database);
        let outcome =
            tokio::task::spawn_blocking(move || -> anyhow::Result<ops::cleanup::CleanupReport> {
                let mut conn = database.connection()?;
                Ok(ops::cleanup::run(&mut conn, clock::now())?)
            })
            .await;
        match outcome {
            Ok(Ok(report)) => tracing::info!(%report, "hourly cleanup"),
            Ok(Err(error)) => tracing::warn!(%error, "hourly cleanup failed; will try next hour"),
            Err(error) => tracing::error!(%error, "hourly cleanup task failed"),
        }
    }
}

fn security_headers(https: bool) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    if https {
        headers = headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }
    headers
}

/// The root span of each request and its one log line, for `TracingLogger`:
/// the span holds the request id and route pattern (`/friends/{computing_id}`,
/// never the path or its query: paths hold computing ids, queries tokens); the
/// line, when the request ends, method, route, status and time.
pub struct RequestSpan;

/// When `RequestSpan` saw the request start, for the log line's time.
struct Started(Instant);

/// A request's method as a metric label: one of HTTP's own, or "other".
/// actix takes any token as a method, and every label value is a series kept
/// for good: `FOO1`, `FOO2`, … from anyone would grow the store without end.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The matched pattern (`req.match_pattern()`), not the path: ids never reach
/// a log line or a label.
fn route_label(pattern: Option<String>) -> String {
    pattern.unwrap_or_else(|| "unmatched".to_string())
}

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.simple().to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            %request_id,
            route = %route_label(request.match_pattern()),
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        match outcome {
            Ok(res) => {
                let status = res.status().as_u16();
                let elapsed_ms = res
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|started| started.0.elapsed().as_secs_f64() * 1000.0);
                // The same fields as the line before TracingLogger, for log queries.
                let method = res.request().method();
                let route = route_label(res.request().match_pattern());
                tracing::info!(parent: &span, %method, %route, status, elapsed_ms, "request");
            }
            Err(error) => tracing::warn!(parent: &span, %error, "request failed"),
        }
    }
}

/// Echoes the request id `TracingLogger` gave the request as `X-Request-Id`.
async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.simple().to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// HEAD is GET without the body: RFC 9110 has every general-purpose server
/// answer both, and load balancers' health checks, link checkers and calendar
/// apps send it, where actix's `#[get]` routes alone answer 404
/// (actix/actix-web#2702, open). The request goes on as GET; actix-http's codec
/// recorded HEAD when it read the request, so it still sends the headers only.
/// A streamed body (a live event stream) is dropped at once: it never ends, and
/// actix-http would hold the keep-alive connection until it did, so the
/// client's next request on it would hang.
async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let res = next.call(req).await?;
    if head && matches!(res.response().body().size(), BodySize::Stream) {
        return Ok(res.map_body(|_, _| EitherBody::right(BoxBody::new(()))));
    }
    Ok(res.map_into_left_body())
}

/// A page's address typed or linked with a slash at the end ("/friends/"),
/// which no route has: where it leads without the slash, query kept. Only
/// for a GET or HEAD, and never to an address that reads as another host's
/// ("//evil.example/" would leave as "//evil.example").
fn without_trailing_slash(req: &actix_web::HttpRequest) -> Option<String> {
    use actix_web::http::Method;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let path = req.path();
    let trimmed = path.strip_suffix('/')?.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.starts_with("//") || trimmed.contains('\\') {
        return None;
    }
    Some(match req.query_string() {
        "" => trimmed.to_string(),
        query => format!("{trimmed}?{query}"),
    })
}

/// Counts each answered request for `/metrics`: method, route pattern, status
/// and time.
async fn count_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let method = method_label(req.method());
    let route = route_label(req.match_pattern());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let elapsed = started.elapsed().as_secs_f64();
        metrics.record(method, &route, res.status().as_u16(), elapsed);
    }
    Ok(res)
}

/// A flash message is shown once: the first page (not a redirect) that carries
/// it also removes it.
async fn clear_shown_flash(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.config.is_https());
    let name = super::guard::cookie_name(super::guard::FLASH_COOKIE, https);
    let had_flash = req.cookie(&name).is_some();
    let mut res = next.call(req).await?;
    if had_flash && !res.status().is_redirection() {
        let mut removal = actix_web::cookie::Cookie::build(name, "")
            .path("/")
            .secure(https)
            .finish();
        removal.make_removal();
        res.response_mut().add_cookie(&removal).ok();
    }
    Ok(res)
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let https = state.config.is_https();
    let serves_dev_mailbox = state.config.serves_dev_mailbox();
    // As the database was built (`Application::new`): decided once.
    let workers = http_workers(state.pool.max_size(), state.pool.reads_may_run_on_workers());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, _| form_refused(&err).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                tracing::debug!(error = %err, "query refused");
                AppError::BadRequest(
                    "The address has a part we cannot read: a number, date or choice that is not one this page knows. Check the link, or go back to the page it came from."
                        .into(),
                )
                .into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            // Innermost, so the log and the metrics still see HEAD.
            .wrap(actix_web::middleware::from_fn(head_as_get))
            // Inside the request's connection scope: it may read the session.
            .wrap(actix_web::middleware::from_fn(
                super::error::error_pages_show_the_viewer,
            ))
            .wrap(actix_web::middleware::from_fn(
                super::state::one_connection_per_request,
            ))
            .wrap(security_headers(https))
            .wrap(actix_web::middleware::from_fn(clear_shown_flash))
            .wrap(actix_web::middleware::from_fn(count_request))
            .wrap(actix_web::middleware::from_fn(echo_request_id))
            .wrap(TracingLogger::<RequestSpan>::new())
            .configure(health::routes)
            .service(metrics::metrics)
            .configure(assets::routes)
            .configure(home::routes)
            .configure(auth::routes)
            .configure(account::routes)
            .configure(calendar::routes)
            .configure(|routes| {
                // Not registered at all unless development on loopback: 404 like any unknown page.
                if serves_dev_mailbox {
                    dev::routes(routes);
                }
            })
            // classes, timetable, friends (the search routes come before /classes/{id})
            .configure(class_search::routes)
            .configure(classes::routes)
            .configure(schedule::routes)
            .configure(friends::routes)
            // admin (moderators and admins; 404 for everyone else)
            .configure(admin::routes)
            .configure(chat::routes)
            .configure(notifications::routes)
            .default_service(web::to(|req: actix_web::HttpRequest| async move {
                match without_trailing_slash(&req) {
                    Some(to) => Ok(actix_web::HttpResponse::MovedPermanently()
                        .insert_header((actix_web::http::header::LOCATION, to))
                        .finish()),
                    None => Err::<actix_web::HttpResponse, _>(AppError::NotFound),
                }
            }))
    })
    .shutdown_timeout(30)
    .disable_signals()
    // A client that closes its end is gone: without this, a closed tab's event
    // stream (and its place in the session's limit) stays until a keep-alive
    // write fails, up to 20 s later. Browsers do not half-close HTTP/1.1.
    .h1_allow_half_closed(false)
    .workers(workers)
    // actix gives each worker 512 / cores blocking threads; keep the total
    // at 512, as it was with one worker a core.
    .worker_max_blocking_threads((512 / workers).max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

/// Whether the busiest pages' reads may run on the HTTP worker
/// (`error::with_read_conn`): on PostgreSQL, whose reads mostly wait on the
/// network, handing each to a blocking thread and back cost more than the
/// wait. Not on SQLite, whose reads are this process's own CPU work: there,
/// A/B runs on the scale campus made home slower on the worker (1,857 and
/// 1,945 req/s on the blocking pool, 1,724 and 1,641 on the worker; the
/// friend page gained 10 to 15%), and SQLite is the single-process backend,
/// where the blocking pool already keeps the cores busy.
pub fn reads_on_workers(config: &Config) -> bool {
    config.database.url.is_postgres()
}

/// The HTTP workers a server runs. Where the busiest pages read on the
/// worker and wait for it (`reads_on_workers`), at most one read a pooled
/// connection: one worker a connection keeps the database as busy as the
/// blocking pool kept it, and one more a core means some workers are never
/// held by reads, whatever those wait for (a migration's lock, a network
/// that stopped answering). `DATABASE_POOL_SIZE` is at most 400, and actix
/// allows 512 workers. Elsewhere, actix's own default: one a core.
pub fn http_workers(pool_max_size: u32, reads_on_workers: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if !reads_on_workers {
        return cores;
    }
    (pool_max_size as usize + cores).min(512)
}

/// A form the extractor could not read, in words for the person who sent it
/// (serde's own words, such as "missing field `csrf_token`", go to the debug
/// log): too large, not a web form, or missing a field or holding a value of
/// the wrong kind, which a page of ours never sends unless it is stale.
fn form_refused(err: &actix_web::error::UrlencodedError) -> AppError {
    use actix_web::error::UrlencodedError as E;
    tracing::debug!(error = %err, "form refused");
    AppError::BadRequest(match err {
        E::Overflow { .. } => {
            "The form is too large to send (over 64 kB). Shorten what you typed and try again."
                .into()
        }
        E::ContentType => {
            "This was not sent as a web form. Go back, reload the page and try again.".into()
        }
        _ => "The form is missing a field, or a field holds a value of the wrong kind: the page may be out of date. Go back, reload it and try again."
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("SECRET_KEY".into(), "k".repeat(40));
        vars.insert("BASE_URL".into(), "https://cg.example.edu".into());
        vars.insert("SMTP_URL".into(), "smtp://mail.example.edu:587".into());
        for (k, v) in pairs {
            vars.insert(k.to_string(), v.to_string());
        }
        Config::from_source(&vars).expect("config")
    }

    fn said(pairs: &[(&str, &str)]) -> Vec<(bool, String)> {
        let config = config(pairs);
        startup_notices(&config, config.server.bind_addr)
            .into_iter()
            .map(|n| (n.warning, n.text))
            .collect()
    }

    #[test]
    fn development_off_loopback_warns_loudly_and_naming_the_address() {
        let notices = said(&[("BIND_ADDR", "0.0.0.0:8080")]);
        assert!(notices.iter().any(|(warning, text)| *warning
            && text.starts_with("WARNING: running in development mode on 0.0.0.0:8080")));
        let quiet = said(&[
            ("BIND_ADDR", "127.0.0.1:8080"),
            ("BASE_URL", "http://127.0.0.1:8080"),
        ]);
        assert!(quiet.iter().all(|(warning, _)| !warning), "{quiet:?}");
        // On loopback behind a proxy with a public address: loud too.
        let proxied = said(&[("BIND_ADDR", "127.0.0.1:8080")]);
        assert!(
            proxied.iter().any(|(warning, text)| *warning
                && text.contains("with BASE_URL https://cg.example.edu/")),
            "{proxied:?}"
        );
        let production = said(&[("APP_ENV", "production"), ("BIND_ADDR", "0.0.0.0:8080")]);
        assert!(
            production.iter().all(|(warning, _)| !warning),
            "{production:?}"
        );
    }

    #[test]
    fn start_up_says_who_may_read_metrics() {
        let text = |pairs: &[(&str, &str)]| -> Vec<String> {
            said(pairs).into_iter().map(|(_, text)| text).collect()
        };
        assert!(text(&[])
            .iter()
            .any(|t| t.starts_with("metrics open (development)")));
        assert!(text(&[("APP_ENV", "production")])
            .iter()
            .any(|t| t.starts_with("metrics off: set METRICS_TOKEN")));
        assert!(
            text(&[("APP_ENV", "production"), ("METRICS_TOKEN", "t0ken")])
                .iter()
                .any(|t| t == "metrics: /metrics requires a bearer token")
        );
    }
}
