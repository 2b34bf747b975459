//! Sign-in pages: ask for a link (then "check your email", post/redirect/get),
//! confirm a link (GET shows, POST signs in), enter a code, sign out.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{off_the_pool, sign_in_limited, with_conn, AppError};
use super::guard::{self, MaybeUser};
use super::layout::Layout;
use super::state::AppState;
use crate::accounts::signin::{self, Admission, Admitted, RequestLimits, SignInError};
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
    /// No new email went out: this address already had its emails for the hour.
    already_sent: bool,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "auth/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    token: String,
    /// Set when the link was asked for from another browser: the account it signs into.
    account: Option<String>,
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
        layout: Layout::new(&req, guard::looked_up_user(&req).as_ref()),
        next,
        email: String::new(),
        error: None,
        domains: state.config.sign_in.allowed_email_domains.join(" or "),
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
    let email = match CampusEmail::parse(&form.email, &state.config.sign_in.allowed_email_domains) {
        Ok(email) => email,
        Err(problem) => {
            let shown: String = form.email.chars().take(254).collect();
            let body = LoginPage {
                layout: Layout::new(&req, guard::looked_up_user(&req).as_ref()),
                next,
                email: shown,
                error: Some(problem.to_string()),
                domains: state.config.sign_in.allowed_email_domains.join(" or "),
            }
            .render()?;
            return Ok(html(StatusCode::BAD_REQUEST, body, None));
        }
    };
    let limits = request_limits(&state);
    let client = guard::client_ip(&req);
    let bucket = signin::request_bucket(&client);
    // A client this process already refused is answered from memory: a flood
    // costs no connection, no write and no hashing.
    if let Some(limited) = state.known_limits.check(&bucket, clock::now()) {
        return Err(sign_in_limited(
            limited,
            clock::now(),
            state.config.campus_time,
        ));
    }
    let address = email.clone();
    let admission = with_conn(&state.pool, move |conn| {
        Ok(signin::admit(conn, &address, &client, limits, clock::now()))
    })
    .await?;
    let already_sent = match admission {
        Ok(Admission::AlreadySent) => true,
        Ok(Admission::Send(admitted)) => {
            send_link(&state, admitted, &email, guard::pre_session_hash(&req)).await?;
            false
        }
        Err(SignInError::Limited(limited)) => {
            state.known_limits.remember(&bucket, limited, clock::now());
            return Err(sign_in_limited(
                limited,
                clock::now(),
                state.config.campus_time,
            ));
        }
        Err(other) => return Err(unexpected_sign_in_error(&state, other)),
    };
    // Post/redirect/get: Back from the mailbox never resends the form.
    let pending = PendingSignIn {
        email: email.as_str().to_string(),
        next,
        already_sent,
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login/check-email"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(pending.cookie(state.config.is_https()))
        .finish())
}

fn request_limits(state: &AppState) -> RequestLimits {
    RequestLimits {
        emails_per_student_per_hour: state.config.sign_in.emails_per_hour,
        requests_per_ip_per_10_minutes: state.config.sign_in.requests_per_ip,
        code_tries_per_ip_per_10_minutes: state.config.sign_in.code_tries_per_ip,
    }
}

/// Hashes the code with no connection held (`off_the_pool`), then queues the email.
async fn send_link(
    state: &AppState,
    admitted: Admitted,
    email: &CampusEmail,
    requester_hash: Option<String>,
) -> Result<(), AppError> {
    let base_url = state.config.server.base_url.clone();
    let address = email.clone();
    let hashes = state.code_hashes.clone();
    let (admitted, prepared) =
        off_the_pool(move || signin::prepare(admitted, &address, &base_url, &hashes))
            .await?
            .map_err(|e| AppError::Internal(e.into()))?;
    let address = email.clone();
    with_conn(&state.pool, move |conn| {
        Ok(signin::request(
            conn,
            admitted,
            &address,
            &prepared,
            requester_hash.as_deref(),
            clock::now(),
        ))
    })
    .await?
    .map_err(|e| AppError::Internal(e.into()))?;
    state.outbox_signal.notify();
    Ok(())
}

const PENDING_COOKIE: &str = "cg_signin";

/// What the check-email page shows after a request, carried by a short-lived
/// cookie so the address never sits in a URL (history, logs).
struct PendingSignIn {
    email: String,
    next: String,
    already_sent: bool,
}

impl PendingSignIn {
    fn cookie(&self, https: bool) -> Cookie<'static> {
        let value = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("email", &self.email)
            .append_pair("next", &self.next)
            .append_pair("sent", if self.already_sent { "before" } else { "now" })
            .finish();
        Cookie::build(guard::cookie_name(PENDING_COOKIE, https), value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(https)
            .max_age(CookieDuration::minutes(signin::LINK_LIFETIME.num_minutes()))
            .finish()
    }

    fn from_request(req: &HttpRequest, state: &AppState) -> Option<PendingSignIn> {
        let name = guard::cookie_name(PENDING_COOKIE, state.config.is_https());
        let cookie = req.cookie(&name)?;
        let mut email = None;
        let mut next = None;
        let mut already_sent = false;
        for (key, value) in url::form_urlencoded::parse(cookie.value().as_bytes()) {
            match key.as_ref() {
                "email" => email = Some(value.into_owned()),
                "next" => next = Some(value.into_owned()),
                "sent" => already_sent = value == "before",
                _ => {}
            }
        }
        // Re-checked: a cookie is the visitor's to edit.
        let email =
            CampusEmail::parse(&email?, &state.config.sign_in.allowed_email_domains).ok()?;
        Some(PendingSignIn {
            email: email.as_str().to_string(),
            next: guard::safe_next(next.as_deref()),
            already_sent,
        })
    }
}

/// "Check your email": reads the same whether or not the address has an account.
#[get("/login/check-email")]
pub async fn show_check_email(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = PendingSignIn::from_request(&req, &state) else {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish());
    };
    let cookie = guard::ensure_pre_session(&req);
    let body = CheckEmailPage {
        layout: Layout::new(&req, guard::looked_up_user(&req).as_ref()),
        email: pending.email,
        next: pending.next,
        already_sent: pending.already_sent,
        minutes: signin::LINK_LIFETIME.num_minutes(),
    }
    .render()?;
    Ok(html(StatusCode::OK, body, cookie))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// Shows a button and changes nothing: mail scanners fetch links.
#[get("/login/confirm")]
pub async fn show_confirm(
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let cookie = match user.0 {
        Some(_) => None,
        None => guard::ensure_pre_session(&req),
    };
    let token = query.token.clone().unwrap_or_default();
    // A token is letters and digits (`random_token`): anything else (a NUL,
    // a link broken by a mail client) is no link of ours, and is not echoed.
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return refused(&req, StatusCode::BAD_REQUEST, link_refusal(), None);
    }
    let body = ConfirmPage {
        layout: Layout::new(&req, guard::looked_up_user(&req).as_ref()),
        token: token.chars().take(128).collect(),
        account: None,
    }
    .render()?;
    Ok(html(StatusCode::OK, body, cookie))
}

fn link_refusal() -> (String, String) {
    (
        "This sign-in link no longer works".into(),
        "It has expired or was already used (signing in with one link or code voids the others). Links work once, for 15 minutes. Ask for a new one below.".into(),
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
        layout: Layout::new(req, guard::looked_up_user(req).as_ref()),
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
    /// "yes" once the person saw which account a link from elsewhere signs into.
    #[serde(default)]
    confirm_account: String,
}

/// Starts the session: its cookie, a fresh pre-session cookie (the old one's
/// token dies here), and the check-email cookie removed.
fn signed_in(state: &AppState, created: &sessions::NewlyCreated, next: &str) -> HttpResponse {
    // Starting a session may have ended the student's oldest (the most they
    // keep): their streams end now in this process, as on others by NOTIFY.
    state.live.access_changed(&created.session.user_id);
    let token = created.token.as_str();
    let https = state.config.is_https();
    let mut pending = Cookie::build(guard::cookie_name(PENDING_COOKIE, https), "")
        .path("/")
        .secure(https)
        .finish();
    pending.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(guard::session_cookie(token, https))
        .cookie(guard::rotated_pre_session(https))
        .cookie(pending)
        .finish()
}

/// Where a new session lands: an explicit `next` is kept; otherwise
/// moderators and admins land on the admin overview, students on home.
fn landing(
    conn: &mut crate::db::DbConn,
    created: &sessions::NewlyCreated,
    next: &str,
) -> diesel::QueryResult<String> {
    if next != "/" {
        return Ok(next.to_string());
    }
    let staff = crate::accounts::find(conn, &created.session.user_id)?
        .is_some_and(|u| guard::acts_as_staff(&u));
    Ok(if staff { "/admin".into() } else { "/".into() })
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
    let requester = guard::pre_session_hash(&req);
    let account_confirmed = form.confirm_account == "yes";
    // In the browser that asked for the link, the page it was on (a
    // notification email's link, say) is waiting in the pending cookie, as
    // for a code; in another browser there is none, and the landing is home.
    let next = PendingSignIn::from_request(&req, &state)
        .map(|pending| pending.next)
        .unwrap_or_else(|| "/".to_string());
    let campus = state.config.campus_time;
    let result = with_conn(&state.pool, move |conn| {
        let result = signin::confirm_link(
            conn,
            &token,
            requester.as_deref(),
            account_confirmed,
            agent.as_deref(),
            clock::now(),
            campus,
        );
        Ok(match result {
            Ok(created) => Ok((landing(conn, &created, &next)?, created)),
            Err(e) => Err(e),
        })
    })
    .await?;
    match result {
        Ok((to, created)) => Ok(signed_in(&state, &created, &to)),
        Err(SignInError::ConfirmAccount { email }) => {
            let body = ConfirmPage {
                layout: Layout::new(&req, guard::looked_up_user(&req).as_ref()),
                token: form.token.chars().take(128).collect(),
                account: Some(email),
            }
            .render()?;
            Ok(html(StatusCode::OK, body, None))
        }
        Err(SignInError::LinkInvalid) => {
            refused(&req, StatusCode::BAD_REQUEST, link_refusal(), None)
        }
        Err(other) => Err(unexpected_sign_in_error(&state, other)),
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

/// The code form's address, opened (a reload, from the address bar, of the
/// page a wrong code answered with): the page to type a code on again, or
/// to ask for a sign-in email when none is waiting in this browser.
#[get("/login/code")]
pub async fn code_address() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login/check-email"))
        .finish()
}

#[post("/login/code")]
pub async fn confirm_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    guard::verify_csrf(&req, &form.csrf_token).await?;
    let next = guard::safe_next(form.next.as_deref());
    // `left`: the tries the codes asked for in this browser still have,
    // when there were any to try (only this browser's own codes are
    // counted, so saying so tells a stranger nothing).
    let code_refusal = |left: Option<i32>| {
        let message = match left {
            Some(0) => "The code is not right, and that was the last try for the codes sent to this browser. Use the link in the newest email, or ask for a new code.".to_string(),
            Some(1) => "The code is not right. One try is left before the code stops working: check the newest email (an older email's code may have been replaced), or use its link.".to_string(),
            Some(n) => format!("The code is not right. {n} tries are left. Check it against the newest email, or use its link."),
            None => "The code is wrong, has expired, or was tried too many times (5 tries), or it was asked for in another browser: type a code in the browser where you asked for it. Check the newest email, use its link, or ask for a new code.".to_string(),
        };
        ("That code did not work".to_string(), message)
    };
    let email = match CampusEmail::parse(&form.email, &state.config.sign_in.allowed_email_domains) {
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
    let client = guard::client_ip(&req);
    let bucket = signin::code_bucket(&client);
    if let Some(limited) = state.known_limits.check(&bucket, clock::now()) {
        return Err(sign_in_limited(
            limited,
            clock::now(),
            state.config.campus_time,
        ));
    }
    let limits = request_limits(&state);
    let address = email.clone();
    let requester = guard::pre_session_hash(&req);
    let counted = with_conn(&state.pool, move |conn| {
        Ok(signin::count_code_try(
            conn,
            &address,
            requester.as_deref(),
            &client,
            limits,
            clock::now(),
        ))
    })
    .await?;
    let hashes = state.code_hashes.clone();
    let mut left = None;
    let matched = match counted {
        Ok(live) => {
            left = signin::tries_left(&live);
            Ok(off_the_pool(move || signin::match_code(&code, live, &hashes)).await?)
        }
        Err(refused) => Err(refused),
    };
    let wanted = next.clone();
    let campus = state.config.campus_time;
    let result = match matched {
        Ok(Some(link)) => {
            with_conn(&state.pool, move |conn| {
                let redeemed =
                    signin::redeem_code(conn, &link, agent.as_deref(), clock::now(), campus);
                Ok(match redeemed {
                    Ok(created) => Ok((landing(conn, &created, &wanted)?, created)),
                    Err(e) => Err(e),
                })
            })
            .await?
        }
        Ok(None) => Err(SignInError::CodeInvalid),
        Err(refused) => Err(refused),
    };
    match result {
        Ok((to, created)) => Ok(signed_in(&state, &created, &to)),
        Err(SignInError::Limited(limited)) => {
            state.known_limits.remember(&bucket, limited, clock::now());
            Err(sign_in_limited(
                limited,
                clock::now(),
                state.config.campus_time,
            ))
        }
        Err(SignInError::CodeInvalid) => refused(
            &req,
            StatusCode::BAD_REQUEST,
            code_refusal(left),
            Some((email.as_str().to_string(), next)),
        ),
        Err(other) => Err(unexpected_sign_in_error(&state, other)),
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
        let user = current.user.id.clone();
        with_conn(&state.pool, move |conn| {
            sessions::end(conn, &current.user.id, &current.session.id)?;
            Ok(())
        })
        .await?;
        state.live.access_changed(&user);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .cookie(guard::clear_session_cookie(state.config.is_https()))
        .finish())
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_login)
        .service(request_link)
        .service(show_check_email)
        .service(show_confirm)
        .service(confirm_link)
        .service(confirm_code)
        .service(code_address)
        .service(logout);
}

/// What a sign-in step answers for an error it has no page of its own for.
/// Each refusal a student can meet still reads as one (429 with its time,
/// 400 in words), never a 500; only our own failures (hashing, rendering,
/// the database) are. Every variant is named: a new refusal will not
/// compile until it has an answer here.
fn unexpected_sign_in_error(state: &AppState, error: SignInError) -> AppError {
    match error {
        SignInError::Limited(limited) => {
            sign_in_limited(limited, clock::now(), state.config.campus_time)
        }
        SignInError::LinkInvalid
        | SignInError::CodeInvalid
        | SignInError::ConfirmAccount { .. } => AppError::BadRequest(format!(
            "That did not work: {error}. Go back to the sign-in page and ask for a new email."
        )),
        SignInError::Hash(_) | SignInError::Render(_) | SignInError::Db(_) => {
            AppError::Internal(error.into())
        }
    }
}
