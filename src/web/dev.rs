//! The development mailbox: the messages the directory mailer wrote, with their
//! links. It shows every sign-in link to whoever opens it, so it exists only in
//! development and only while the server is bound to a loopback address.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::{off_the_pool, AppError};
use super::guard::MaybeUser;
use super::layout::Layout;
use super::state::AppState;
use crate::campus_time::Stamp;
use crate::{clock, mail};

struct MailboxEntry {
    /// When the mailer wrote it (from the file's name), if the name says.
    received: Option<Stamp>,
    to: String,
    subject: String,
    text: String,
    links: Vec<String>,
}

#[derive(Template)]
#[template(path = "dev/mailbox.html")]
struct Mailbox {
    layout: Layout,
    entries: Vec<MailboxEntry>,
}

/// Whether the request names this machine and came straight to it: a page
/// elsewhere that rebinds its own name to 127.0.0.1 sends its own `Host`, and
/// a proxy adds a forwarding header; neither may read sign-in links.
fn asked_locally(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for") {
        return false;
    }
    let Some(host) = headers
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    // Without its port: `127.0.0.1:8080`, `[::1]:8080`, `localhost`.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => name,
        _ => host,
    };
    crate::config::is_loopback_host(name)
}

#[get("/dev/mailbox")]
pub async fn show_mailbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    if !state.config.serves_dev_mailbox() || !state.mailer_is_directory || !asked_locally(&req) {
        return Err(AppError::NotFound);
    }
    let dir = state.config.mail.dir.clone();
    let messages = off_the_pool(move || mail::read_directory(&dir, 50))
        .await?
        .map_err(|e| AppError::Internal(e.into()))?;
    let base = state
        .config
        .server
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let (campus, now) = (state.config.campus_time, clock::now());
    let entries = messages
        .into_iter()
        .map(|(name, email)| MailboxEntry {
            // The directory mailer names each file by its UTC time, to the microsecond.
            received: name
                .get(..15)
                .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S").ok())
                .map(|at| campus.stamp(at, now)),
            links: email
                .text
                .split_whitespace()
                .filter(|w| w.starts_with(&base))
                .map(str::to_string)
                .collect(),
            to: email.to,
            subject: email.subject,
            text: email.text,
        })
        .collect();
    let body = Mailbox {
        layout: Layout::new(&req, user.0.as_ref()),
        entries,
    }
    .render()?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_mailbox);
}
