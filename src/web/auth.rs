//! Sign-in pages: ask for a link, confirm a link (GET shows, POST signs in),
//! enter a code, sign out.

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{with_conn, AppError};
use super::guard::{self, MaybeUser};
use super::layout::Layout;
use super::server::AppState;
use crate::accounts::signin::{self, RequestLimits, SignInError};
use crate::accounts::{sessions, CampusEmail};
use crate::clock;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    email: String,
    error: Option<String>,
    domains: String,
}

#[derive(Template)]
#[template(path = "auth/check_email.html")]
struct CheckEmailPage {
    layout: Layout,
    email: String,
    next: String,
}

#[derive(Template)]
#[template(path = "auth/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    token: String,
}

#[derive(Template)]
#[template(path = "auth/refused.html")]
struct RefusedPage {
    layout: Layout,
    title: String,
    message: String,
    email: String,
    show_code_form: bool,
    next: String,
}

fn html(status: StatusCode, body: String, cookie: Option<Cookie<'static>>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    // Pages with per-visitor tokens must not be cached by anything in between.
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    response.body(body)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[get("/login")]
pub async fn show_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = guard::safe_next(query.next.as_deref());
    if user.0.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish());
    }
    let cookie = guard::ensure_pre_session(&req);
    let body = LoginPage {
        layout: Layout::new(&req, None),
        next,
        email: String::new(),
        error: None,
        domains: state.config.allowed_email_domains.join(" or "),
    }
    .render()?;
    Ok(html(StatusCode::OK, body, cookie))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    next: Option<String>,
}

#[post("/login")]
pub async fn request_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    guard::verify_csrf(&req, &form.csrf_token).await?;
    let next = guard::safe_next(form.next.as_deref());
    let email = match CampusEmail::parse(&form.email, &state.config.allowed_email_domains) {
        Ok(email) => email,
        Err(problem) => {
            let shown: String = form.email.chars().take(254).collect();
            let body = LoginPage {
                layout: Layout::new(&req, None),
                next,
                email: shown,
                error: Some(problem.to_string()),
                domains: state.config.allowed_email_domains.join(" or "),
            }
            .render()?;
            return Ok(html(StatusCode::BAD_REQUEST, body, None));
        }
    };
    let limits = RequestLimits {
        emails_per_address_per_hour: state.config.login_emails_per_hour,
        requests_per_ip_per_10_minutes: state.config.login_requests_per_ip,
    };
    let ip = guard::client_ip(&req);
    let base_url = state.config.base_url.clone();
    let address = email.clone();
    // Hash the code on a blocking thread, with no database connection held.
    let prepared = web::block(move || signin::prepare(&address, &base_url))
        .await?
        .map_err(|e| AppError::Internal(e.into()))?;
    let address = email.clone();
    let result = with_conn(&state.pool, move |conn| {
        Ok(signin::request(
            conn,
            &address,
            &prepared,
            &ip,
            limits,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(()) => state.outbox_signal.notify(),
        Err(SignInError::Limited(limited)) => {
            let wait = (limited.retry_at - clock::now()).num_seconds().max(1);
            return Err(AppError::TooManyRequests {
                message: format!(
                    "Too many sign-in emails were asked for. Try again after {} UTC (in about {} minutes). No email was sent.",
                    limited.retry_at.format("%H:%M"),
                    (wait + 59) / 60
                ),
                retry_after_secs: wait,
            });
        }
        Err(other) => return Err(AppError::Internal(other.into())),
    }
    let body = CheckEmailPage {
        layout: Layout::new(&req, None),
        email: email.as_str().to_string(),
        next,
    }
    .render()?;
    Ok(html(StatusCode::OK, body, None))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// Shows a button and changes nothing: mail scanners fetch links.
#[get("/login/confirm")]
pub async fn show_confirm(
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let cookie = guard::ensure_pre_session(&req);
    let token = query.token.clone().unwrap_or_default();
    if token.is_empty() {
        return refused(&req, StatusCode::BAD_REQUEST, link_refusal(), None);
    }
    let body = ConfirmPage {
        layout: Layout::new(&req, None),
        token: token.chars().take(128).collect(),
    }
    .render()?;
    Ok(html(StatusCode::OK, body, cookie))
}

fn link_refusal() -> (String, String) {
    (
        "This sign-in link no longer works".into(),
        "It has expired, was already used, or a newer email replaced it. Links work once, for 15 minutes. Ask for a new one below.".into(),
    )
}

fn refused(
    req: &HttpRequest,
    status: StatusCode,
    (title, message): (String, String),
    code_retry: Option<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let cookie = guard::ensure_pre_session(req);
    let (email, next, show_code_form) = match code_retry {
        Some((email, next)) => (email, next, true),
        None => (String::new(), "/".into(), false),
    };
    let body = RefusedPage {
        layout: Layout::new(req, None),
        title,
        message,
        email,
        show_code_form,
        next,
    }
    .render()?;
    Ok(html(status, body, cookie))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
}

fn signed_in(state: &AppState, token: &str, next: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(guard::session_cookie(token, state.config.is_https()))
        .finish()
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[post("/login/confirm")]
pub async fn confirm_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    guard::verify_csrf(&req, &form.csrf_token).await?;
    let token = form.token.clone();
    let agent = user_agent(&req);
    let result = with_conn(&state.pool, move |conn| {
        Ok(signin::confirm_link(
            conn,
            &token,
            agent.as_deref(),
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(created) => Ok(signed_in(&state, &created.token, "/")),
        Err(SignInError::LinkInvalid) => {
            refused(&req, StatusCode::BAD_REQUEST, link_refusal(), None)
        }
        Err(other) => Err(AppError::Internal(other.into())),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: Option<String>,
}

#[post("/login/code")]
pub async fn confirm_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    guard::verify_csrf(&req, &form.csrf_token).await?;
    let next = guard::safe_next(form.next.as_deref());
    let code_refusal = || {
        (
            "That code did not work".to_string(),
            "The code is wrong, has expired, or was tried too many times (5 tries). Check the newest email, or ask for a new code.".to_string(),
        )
    };
    let email = match CampusEmail::parse(&form.email, &state.config.allowed_email_domains) {
        Ok(email) => email,
        Err(problem) => {
            return refused(
                &req,
                StatusCode::BAD_REQUEST,
                ("That address did not work".into(), problem.to_string()),
                None,
            )
        }
    };
    let code: String = form
        .code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let agent = user_agent(&req);
    let address = email.clone();
    let result = with_conn(&state.pool, move |conn| {
        Ok(signin::confirm_code(
            conn,
            &address,
            &code,
            agent.as_deref(),
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(created) => Ok(signed_in(&state, &created.token, &next)),
        Err(SignInError::CodeInvalid) => refused(
            &req,
            StatusCode::BAD_REQUEST,
            code_refusal(),
            Some((email.as_str().to_string(), next)),
        ),
        Err(other) => Err(AppError::Internal(other.into())),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf_token: String,
}

#[post("/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    let current = guard::verify_csrf(&req, &form.csrf_token).await?;
    if let Some(current) = current {
        with_conn(&state.pool, move |conn| {
            sessions::end(conn, &current.user.id, &current.session.id)?;
            Ok(())
        })
        .await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .cookie(guard::clear_session_cookie(state.config.is_https()))
        .finish())
}
