//! Wiring: `Application::build(config)` connects the database, applies
//! migrations, binds the listener (port 0 works, for tests) and assembles the
//! actix `App`; `run_until_stopped` serves and runs the background workers.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use tokio::sync::watch;

use super::error::AppError;
use super::{
    account, admin, assets, auth, chat, classes, dev, friends, health, home, metrics, schedule,
};
use crate::accounts::rate_limit::KnownLimits;
use crate::accounts::signin::CodeHashes;
use crate::config::Config;
use crate::db::{self, Pool, QueryCounter};
use crate::mail::worker::{self, OutboxSignal};
use crate::mail::Mailer;
use crate::{clock, ops};

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub outbox_signal: OutboxSignal,
    pub mailer_is_directory: bool,
    pub metrics: Arc<super::metrics::Metrics>,
    pub queries: QueryCounter,
    /// Rate limits this process already saw refused: answered without the database.
    pub known_limits: Arc<KnownLimits>,
    /// Sign-in codes hashed or checked (bcrypt), for `/metrics`.
    pub code_hashes: Arc<CodeHashes>,
}

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    queries: QueryCounter,
    mailer: Mailer,
    outbox_signal: OutboxSignal,
    background_jobs: bool,
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
                "WARNING: running in development mode on {bound}, an address other machines \
                 can reach: the dev mailbox is off; for a real deployment set \
                 APP_ENV=production with SECRET_KEY and an https BASE_URL, or bind \
                 127.0.0.1 to develop"
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

/// The request id, kept in extensions for logs.
#[derive(Clone)]
pub struct RequestId(pub String);

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
        {
            let mut conn = pool.get()?;
            let applied = db::run_migrations(&mut conn)?;
            if !applied.is_empty() {
                tracing::info!(count = applied.len(), "applied migrations");
            }
        }
        let listener = TcpListener::bind(config.server.bind_addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.bind_addr))?;
        let port = listener.local_addr()?.port();
        let outbox_signal = OutboxSignal::default();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            config: Arc::new(config),
            outbox_signal: outbox_signal.clone(),
            mailer_is_directory: mailer.is_directory(),
            metrics: Arc::default(),
            known_limits: Arc::default(),
            code_hashes: Arc::default(),
            queries: queries.clone(),
        });
        let server = serve(listener, state)?;
        Ok(Application {
            port,
            server,
            pool,
            queries,
            mailer,
            outbox_signal,
            background_jobs: true,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Statements run so far on the pool's connections.
    pub fn query_counter(&self) -> QueryCounter {
        self.queries.clone()
    }

    /// Tests that drive the outbox themselves switch the worker off.
    pub fn without_background_jobs(mut self) -> Self {
        self.background_jobs = false;
        self
    }

    /// Serves until SIGTERM/SIGINT: in-flight requests finish, then the outbox
    /// worker stops between messages.
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
            jobs.push(tokio::spawn(hourly_cleanup(self.pool.clone(), stop_rx)));
        }
        let result = self.server.await;
        let _ = stop_tx.send(true);
        for job in jobs {
            let _ = tokio::time::timeout(Duration::from_secs(30), job).await;
        }
        result
    }
}

async fn hourly_cleanup(pool: Pool, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
        let pool = pool.clone();
        let outcome =
            tokio::task::spawn_blocking(move || -> anyhow::Result<ops::cleanup::CleanupReport> {
                let mut conn = pool.get()?;
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

/// Gives each request an id (echoed as `X-Request-Id`) and logs one line per
/// request: method, route pattern (`/friends/{computing_id}`, never the path or
/// its query: paths hold computing ids, queries tokens), status, time.
async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    // The matched pattern, not the path: ids never reach a log line or a label.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let elapsed_ms = elapsed * 1000.0;
    match &result {
        Ok(res) => {
            let status = res.status().as_u16();
            tracing::info!(parent: &span, %method, %route, status, elapsed_ms, "request");
            if let Some(metrics) = metrics {
                metrics.record(method.as_str(), &route, status, elapsed);
            }
        }
        Err(error) => {
            tracing::warn!(parent: &span, %method, %route, %error, elapsed_ms, "request failed")
        }
    }
    result.map(|mut res| {
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("x-request-id"), value);
        }
        res
    })
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
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, _| {
                        AppError::BadRequest(format!(
                            "The form could not be read ({err}). Go back and try again."
                        ))
                        .into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                AppError::BadRequest(format!(
                    "The address has a parameter we cannot read ({err})."
                ))
                .into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .wrap(security_headers(https))
            .wrap(actix_web::middleware::from_fn(clear_shown_flash))
            .wrap(actix_web::middleware::from_fn(log_requests))
            .service(health::healthz)
            .service(health::readyz)
            .service(metrics::metrics)
            .service(assets::app_css)
            .service(assets::schedule_css)
            .service(home::show_home)
            .service(auth::show_login)
            .service(auth::request_link)
            .service(auth::show_check_email)
            .service(auth::show_confirm)
            .service(auth::confirm_link)
            .service(auth::confirm_code)
            .service(auth::logout)
            .service(account::show_account)
            .service(account::save_privacy)
            .service(account::export)
            .service(account::delete_account)
            .service(account::show_sessions)
            .service(account::end_other_sessions)
            .service(account::end_session)
            .configure(|routes| {
                // Not registered at all unless development on loopback: 404 like any unknown page.
                if serves_dev_mailbox {
                    routes.service(dev::show_mailbox);
                }
            })
            // classes, timetable, friends (the search route comes before /classes/{id})
            .service(classes::search_page)
            .service(classes::enroll)
            .service(classes::leave)
            .service(schedule::show_schedule)
            .service(friends::index)
            .service(friends::add)
            .service(friends::show)
            .service(friends::act)
            // admin (moderators and admins; 404 for everyone else)
            .service(admin::overview)
            .service(admin::users)
            .service(admin::change_role)
            .service(admin::suspend)
            .service(admin::lift)
            .service(admin::audit)
            .service(admin::flags)
            .service(admin::reveal)
            .service(admin::message_action)
            .service(admin::sis_page)
            .service(admin::sync_now)
            // chat
            .service(chat::show_class)
            .service(chat::post_message)
            .service(chat::edit_message)
            .service(chat::delete_message)
            .service(chat::flag_message)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
    })
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("SECRET_KEY".into(), "k".repeat(40));
        vars.insert("BASE_URL".into(), "https://cg.example.edu".into());
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
        let quiet = said(&[("BIND_ADDR", "127.0.0.1:8080")]);
        assert!(quiet.iter().all(|(warning, _)| !warning), "{quiet:?}");
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
