//! The one-click unsubscribe of RFC 8058: `/notifications/unsubscribe/{user}/{topics}/{sig}`,
//! signed per student and per topic, works without signing in. GET shows what
//! would stop and a button (mail scanners fetch links: a GET changes nothing);
//! POST, with any body (mail programs send `List-Unsubscribe=One-Click`), turns
//! the topics off. The signature is the authentication, so there is no session
//! or CSRF check, and the page shows nothing about the student.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use crate::clock;
use crate::notifications::email::{self, Unsubscribe, UnsubscribeError};
use crate::web::error::{with_conn, AppError};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views;

#[derive(Template)]
#[template(path = "notifications/unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    /// "replies and friend requests".
    what: String,
    /// The form's action: this same URL.
    action: String,
    done: bool,
}

fn verified(state: &AppState, path: &(String, String, String)) -> Result<Unsubscribe, AppError> {
    let (user, topics, sig) = path;
    // Links in mail sent before a key rotation keep working.
    let mut outcome = Err(UnsubscribeError::NotFound);
    for key in state.config.accepted_keys() {
        outcome = email::verify_unsubscribe(key, user, topics, sig);
        if !matches!(outcome, Err(UnsubscribeError::NotFound)) {
            break;
        }
    }
    outcome.map_err(|e| match e {
        UnsubscribeError::Malformed => AppError::BadRequest(e.to_string()),
        UnsubscribeError::NotFound => AppError::NotFound,
    })
}

fn render(
    req: &HttpRequest,
    link: &Unsubscribe,
    action: String,
    done: bool,
) -> Result<HttpResponse, AppError> {
    let body = UnsubscribePage {
        layout: Layout::new(req, None),
        what: email::topics_in_words(&link.topics),
        action,
        done,
    }
    .render()?;
    Ok(views::page(body))
}

#[get("/notifications/unsubscribe/{user}/{topics}/{sig}")]
pub async fn show_unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let link = verified(&state, &path)?;
    render(&req, &link, req.path().to_string(), false)
}

#[post("/notifications/unsubscribe/{user}/{topics}/{sig}")]
pub async fn unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    // The body is not read: RFC 8058's `List-Unsubscribe=One-Click`, our
    // button's empty form and anything else all mean the same.
    let link = verified(&state, &path)?;
    let applied = {
        let link = link.clone();
        with_conn(&state.pool, move |conn| {
            Ok(email::apply_unsubscribe(conn, &link, clock::now())?)
        })
        .await?
    };
    if !applied {
        return Err(AppError::NotFound);
    }
    render(&req, &link, req.path().to_string(), true)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_unsubscribe).service(unsubscribe);
}
