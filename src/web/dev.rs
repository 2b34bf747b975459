//! The development mailbox: the messages the directory mailer wrote, with their
//! links. It shows every sign-in link to whoever opens it, so it exists only in
//! development and only while the server is bound to a loopback address.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::AppError;
use super::guard::MaybeUser;
use super::layout::Layout;
use super::state::AppState;
use crate::mail;

struct MailboxEntry {
    received: String,
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

#[get("/dev/mailbox")]
pub async fn show_mailbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    if !state.config.serves_dev_mailbox() || !state.mailer_is_directory {
        return Err(AppError::NotFound);
    }
    let dir = state.config.mail.dir.clone();
    let messages = web::block(move || mail::read_directory(&dir, 50))
        .await?
        .map_err(|e| AppError::Internal(e.into()))?;
    let base = state
        .config
        .server
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let entries = messages
        .into_iter()
        .map(|(name, email)| MailboxEntry {
            received: name.get(..15).unwrap_or(&name).to_string(),
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
