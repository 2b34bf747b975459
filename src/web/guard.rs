//! Who is asking: the session cookie and the signed-in user, the staff guard,
//! CSRF tokens bound to the session (or, before sign-in, to a short-lived
//! cookie), safe return paths, and the client's IP.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::{with_conn, with_read_conn, AppError};
use super::state::release_request_conn;
use super::state::AppState;
use crate::accounts::sessions;
use crate::accounts::{Session, User};
use crate::campus_time::CampusTime;
use crate::clock;
use crate::notifications::inbox::NavMarks;

pub const SESSION_COOKIE: &str = "cg_session";
pub const PRE_SESSION_COOKIE: &str = "cg_csrf";

/// A cookie's name as set and read: with the `__Host-` prefix when `BASE_URL` is
/// https, so a sibling subdomain or a plain-http page cannot plant or shadow it.
pub fn cookie_name(base: &str, https: bool) -> String {
    if https {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

fn read_cookie(req: &HttpRequest, base: &str) -> Option<String> {
    let https = state(req).config.is_https();
    req.cookie(&cookie_name(base, https))
        .map(|c| c.value().to_string())
}

/// The signed-in student (or staff member) and their session.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: Session,
    /// Something in one of their classes is new to them (the nav's dot); looked
    /// up with the session, on pages (GET) only.
    pub unread: bool,
    /// Their unread notifications, up to `NAV_COUNT_CAP` (the nav's count);
    /// looked up with the session, on pages (GET) only.
    pub notifications: i64,
    /// For staff only: what the flag queue lists (the Admin link's badge);
    /// looked up on pages (GET) only, 0 for students.
    pub waiting_reports: i64,
    /// For staff only: reveal requests another staff member made, waiting for
    /// a decision (the admin nav's Reveals count); pages (GET) only.
    pub waiting_reveals: i64,
}

impl CurrentUser {
    /// Staff, and not suspended: what the admin pages and staff forms let in.
    /// (A suspended account cannot be made staff; this keeps one made so
    /// before that rule, or by a direct database edit, out as well.)
    pub fn acts_as_staff(&self) -> bool {
        acts_as_staff(&self.user)
    }
}

/// Staff, and not suspended (`CurrentUser::acts_as_staff`).
pub fn acts_as_staff(user: &User) -> bool {
    user.role.is_staff() && user.suspended_at(clock::now()).is_none()
}

/// The nav counts unread notifications up to this; beyond it shows "99+".
pub const NAV_COUNT_CAP: i64 = 100;

/// Looks the session up once per request and caches it in the request's extensions.
pub(super) async fn load_session(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    if let Some(cached) = req.extensions().get::<Option<CurrentUser>>() {
        return Ok(cached.clone());
    }
    let found = match read_cookie(req, SESSION_COOKIE) {
        None => None,
        Some(token) => {
            let state = state(req);
            let page = req.method() == actix_web::http::Method::GET;
            let touches = std::sync::Arc::clone(&state.touches);
            with_conn(&state.pool, move |conn| {
                current_user(conn, &touches, &token, page)
            })
            .await?
        }
    };
    req.extensions_mut().insert(found.clone());
    Ok(found)
}

/// The signed-in user a session token names, with the nav's marks on pages
/// (and, for staff, the admin badges): the session lookup's database work.
fn current_user(
    conn: &mut crate::db::DbConn,
    touches: &sessions::Touches,
    token: &str,
    page: bool,
) -> Result<Option<CurrentUser>, AppError> {
    let Some((session, user, marks)) = look_up(conn, touches, token, clock::now(), page)? else {
        return Ok(None);
    };
    let NavMarks {
        anything_new: unread,
        unread_notifications: notifications,
    } = marks;
    // What the nav's Admin link counts: not shown to staff the admin pages
    // turn away (`acts_as_staff`).
    let (waiting_reports, waiting_reveals) = if page && acts_as_staff(&user) {
        crate::moderation::stats::nav_badges(conn, &user.id)?
    } else {
        (0, 0)
    };
    Ok(Some(CurrentUser {
        user,
        session,
        unread,
        notifications,
        waiting_reports,
        waiting_reveals,
    }))
}

/// The session a cookie token names, its user, and on pages the nav's marks,
/// in one statement (`notifications::inbox::session_with_marks`). A session
/// due to slide its expiry is noted in `touches`, written later in a batch.
fn look_up(
    conn: &mut crate::db::DbConn,
    touches: &sessions::Touches,
    token: &str,
    now: chrono::NaiveDateTime,
    page: bool,
) -> diesel::QueryResult<Option<(Session, User, NavMarks)>> {
    let found = crate::notifications::inbox::session_with_marks(
        conn,
        token,
        now,
        page.then_some(NAV_COUNT_CAP),
    )?;
    let Some((mut session, user, marks)) = found else {
        return Ok(None);
    };
    touches.note(&mut session, now);
    Ok(Some((session, user, marks)))
}

/// The signed-in user this request already looked up (through `CurrentUser`,
/// `MaybeUser` or a CSRF check), without another lookup.
pub fn looked_up_user(req: &HttpRequest) -> Option<CurrentUser> {
    req.extensions()
        .get::<Option<CurrentUser>>()
        .cloned()
        .flatten()
}

pub fn state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered on the App")
        .clone()
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            load_session(&req)
                .await?
                .ok_or_else(|| sign_in_required(&req))
        })
    }
}

/// Sign in, then come back to this page.
fn sign_in_required(req: &HttpRequest) -> AppError {
    AppError::SignInRequired {
        next: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".into(), |p| p.as_str().to_string()),
    }
}

/// The signed-in user if there is one; never redirects.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(load_session(&req).await?)) })
    }
}

/// The visitor of a page whose reads are one database job: the session is
/// looked up in that same job, first, so the request makes one database job
/// (one trip to the blocking pool, or none: `only_reads`) instead of two
/// (`signed_in`, `if_signed_in`). Pages with more than one job, and forms,
/// take `CurrentUser` (or `MaybeUser`) instead.
pub struct Visitor {
    req: HttpRequest,
    /// The page's job only reads, briefly: it may run on the HTTP worker
    /// (`error::with_read_conn`).
    only_reads: bool,
}

impl FromRequest for Visitor {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Visitor {
            req: req.clone(),
            only_reads: false,
        }))
    }
}

impl Visitor {
    /// Says that the page's job only reads, and briefly (no write, nothing
    /// that grows without bound), so it may run on the HTTP worker instead
    /// of a blocking thread (`error::with_read_conn`). For the busiest
    /// pages, whose reads `statement_budget` bounds.
    pub fn only_reads(self) -> Visitor {
        Visitor {
            only_reads: true,
            ..self
        }
    }

    /// Runs the page's reads for the signed-in visitor; signed out, asks them
    /// to sign in (and come back here).
    pub async fn signed_in<T, F>(self, f: F) -> Result<(CurrentUser, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &CurrentUser) -> Result<T, AppError> + Send + 'static,
    {
        let refusal = sign_in_required(&self.req);
        self.if_signed_in(f).await?.ok_or(refusal)
    }

    /// Runs the page's reads if a session is signed in; `None` (and no reads)
    /// for a visitor who is not.
    pub async fn if_signed_in<T, F>(self, f: F) -> Result<Option<(CurrentUser, T)>, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &CurrentUser) -> Result<T, AppError> + Send + 'static,
    {
        let req = self.req;
        let Some(token) = read_cookie(&req, SESSION_COOKIE) else {
            req.extensions_mut().insert(None::<CurrentUser>);
            return Ok(None);
        };
        let state = state(&req);
        let page = req.method() == actix_web::http::Method::GET;
        let touches = std::sync::Arc::clone(&state.touches);
        let job = move |conn: &mut crate::db::DbConn| {
            let Some(current) = current_user(conn, &touches, &token, page)? else {
                return Ok(None);
            };
            let read = f(conn, &current)?;
            Ok(Some((current, read)))
        };
        let read = if self.only_reads {
            with_read_conn(&state.pool, job).await?
        } else {
            with_conn(&state.pool, job).await?
        };
        req.extensions_mut()
            .insert(read.as_ref().map(|(current, _)| current.clone()));
        Ok(read)
    }
}

/// A signed-in moderator or admin. Anyone else gets 404: the admin area is not advertised.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_session(&req).await? {
                Some(current) if current.acts_as_staff() => Ok(Staff(current)),
                _ => Err(AppError::NotFound),
            }
        })
    }
}

/// Middleware for the admin scope: lets a signed-in moderator or admin through
/// and answers everyone else (signed out, student, or a session that failed to
/// load) with the page the error maps to, 404 for all but a database failure.
pub async fn staff_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let refusal = match load_session(req.request()).await {
        Ok(Some(current)) if current.acts_as_staff() => {
            // A form's body is read after this, at the sender's pace: the
            // session is cached in the request, so the connection that looked
            // it up goes back to the pool rather than wait on the upload.
            if req.method() != Method::GET && req.method() != Method::HEAD {
                release_request_conn();
            }
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body);
        }
        Ok(_) => AppError::NotFound,
        Err(error) => error,
    };
    // A response, not an `Err`: the request log and metrics see its status.
    Ok(req
        .into_response(refusal.error_response())
        .map_into_right_body())
}

fn mac(key: &[u8], purpose: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The CSRF token of a signed-in session (by its token's hash). Also used by
/// `bench-sessions`, which hands load tests ready sessions.
pub fn session_csrf_token(key: &[u8], token_hash: &str) -> String {
    mac(key, "csrf-session", token_hash)
}

/// The CSRF token for a visitor not signed in, by their pre-session cookie
/// (`cg_csrf`). Also used by `bench-sessions` for the sign-in load test.
pub fn pre_session_csrf_token(key: &[u8], cookie_value: &str) -> String {
    mac(key, "csrf-pre", cookie_value)
}

/// The CSRF token for forms on this request: bound to the session when signed in,
/// else to the pre-session cookie (which `ensure_pre_session` sets).
pub fn csrf_token(req: &HttpRequest, current: Option<&CurrentUser>) -> String {
    let state = state(req);
    let key = state.config.secret_key.expose();
    match current {
        Some(c) => session_csrf_token(key, &c.session.token_hash),
        None => match pre_session_value(req) {
            Some(value) => pre_session_csrf_token(key, &value),
            None => String::new(),
        },
    }
}

fn pre_session_value(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.extensions().get::<PreSession>() {
        return Some(value.0.clone());
    }
    read_cookie(req, PRE_SESSION_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// SHA-256 of this browser's pre-session cookie: how a sign-in link remembers
/// which browser asked for it.
pub fn pre_session_hash(req: &HttpRequest) -> Option<String> {
    pre_session_value(req).map(|value| sessions::hash_token(&value))
}

#[derive(Clone)]
struct PreSession(String);

/// Makes sure a signed-out visitor has a pre-session cookie; returns it when it
/// must be set on the response.
pub fn ensure_pre_session(req: &HttpRequest) -> Option<Cookie<'static>> {
    if pre_session_value(req).is_some() {
        return None;
    }
    let value = sessions::random_token();
    req.extensions_mut().insert(PreSession(value.clone()));
    Some(pre_session_cookie(value, state(req).config.is_https()))
}

/// A fresh pre-session cookie, set at sign-in so the token a signed-out page
/// carried (which someone may have planted or seen) is worth nothing afterwards.
pub fn rotated_pre_session(https: bool) -> Cookie<'static> {
    pre_session_cookie(sessions::random_token(), https)
}

fn pre_session_cookie(value: String, https: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(PRE_SESSION_COOKIE, https), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(CookieDuration::hours(2))
        .finish()
}

/// Refuses a POST whose `csrf_token` does not match this session's token, or,
/// only where there is no session, this visitor's pre-session token. Once a
/// session exists a pre-session token counts for nothing: a planted `cg_csrf`
/// cookie cannot sign anyone out or end their sessions.
pub async fn verify_csrf(
    req: &HttpRequest,
    submitted: &str,
) -> Result<Option<CurrentUser>, AppError> {
    let current = load_session(req).await?;
    let state = state(req);
    let pre_session = pre_session_value(req);
    let ok = !submitted.is_empty()
        && state.config.accepted_keys().any(|key| {
            let expected = match &current {
                Some(c) => Some(session_csrf_token(key, &c.session.token_hash)),
                // Sign-in forms are rendered before the session exists.
                None => pre_session
                    .as_deref()
                    .map(|value| pre_session_csrf_token(key, value)),
            };
            expected
                .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())))
        });
    if ok {
        Ok(current)
    } else if current.is_none()
        && pre_session.is_none()
        && read_cookie(req, SESSION_COOKIE).is_none()
    {
        // No cookie of ours came back at all (an ended session's cookie is
        // one: that form simply expired).
        Err(AppError::CsrfWithoutCookie)
    } else {
        Err(AppError::Csrf)
    }
}

/// As `verify_csrf`, for forms only a signed-in student can send: the token must
/// be the one bound to this session (a pre-session token is not enough).
pub async fn verify_session_csrf(
    req: &HttpRequest,
    submitted: &str,
) -> Result<CurrentUser, AppError> {
    let Some(current) = load_session(req).await? else {
        return Err(AppError::SignInRequired { next: "/".into() });
    };
    let state = state(req);
    let matches = |key: &[u8]| {
        let expected = session_csrf_token(key, &current.session.token_hash);
        bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    };
    if !submitted.is_empty() && state.config.accepted_keys().any(matches) {
        Ok(current)
    } else {
        Err(AppError::Csrf)
    }
}

/// A state-changing form: it carries the CSRF token its page was rendered with.
pub trait SessionForm: serde::de::DeserializeOwned + 'static {
    /// The submitted `csrf_token` field.
    fn csrf_token(&self) -> &str;

    /// What a sender without a session gets: by default, sign in and then home.
    fn when_signed_out(_req: &HttpRequest) -> AppError {
        AppError::SignInRequired { next: "/".into() }
    }
}

/// A form that carries nothing but its token (a button: lift, mark read).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

impl SessionForm for CsrfForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// A POSTed form from a signed-in user, handed to the handler only after its
/// token matched the one bound to this session (a pre-session token is not enough).
pub struct SignedInForm<T>(pub CurrentUser, pub T);

impl<T: SessionForm> FromRequest for SignedInForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        // The form is read first (an unreadable one is a 400), then the token checked.
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            let current = match verify_session_csrf(&req, form.csrf_token()).await {
                Err(AppError::SignInRequired { .. }) => Err(T::when_signed_out(&req)),
                other => other,
            }?;
            Ok(SignedInForm(current, form))
        })
    }
}

/// A POSTed form from a moderator or admin, after the session-bound CSRF check.
/// Anyone else gets 404, even for a bad token: students must not learn that
/// the route exists, even from a CSRF refusal.
pub struct StaffForm<T>(pub CurrentUser, pub T);

impl<T: SessionForm> FromRequest for StaffForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            let current = match verify_session_csrf(&req, form.csrf_token()).await {
                Ok(current) if current.acts_as_staff() => current,
                Err(AppError::Csrf) => {
                    return match load_session(&req).await? {
                        Some(c) if c.acts_as_staff() => Err(AppError::Csrf.into()),
                        _ => Err(AppError::NotFound.into()),
                    };
                }
                _ => return Err(AppError::NotFound.into()),
            };
            Ok(StaffForm(current, form))
        })
    }
}

/// Refuses a suspended student (they may read, not post, flag or send requests).
/// The end is shown in `campus` time.
pub fn ensure_not_suspended(current: &CurrentUser, campus: CampusTime) -> Result<(), AppError> {
    match current.user.suspended_at(clock::now()) {
        Some(until) => Err(AppError::Suspended {
            until,
            reason: current.user.suspension_reason.clone(),
            campus,
        }),
        None => Ok(()),
    }
}

pub const FLASH_COOKIE: &str = "cg_flash";

/// A one-time message shown on the next page after a form redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub is_error: bool,
    pub text: String,
}

/// The cookie that carries a flash to the next page (cleared once shown).
pub fn flash_cookie(is_error: bool, text: &str, secure: bool) -> Cookie<'static> {
    let text: String = text.chars().take(400).collect();
    // Hex, not URL encoding: actix percent-decodes cookie values as it reads
    // them, so a second decode turned "U+2060" into "U 2060".
    let value = format!(
        "{}{}",
        if is_error { "e:" } else { "k:" },
        hex::encode(text.as_bytes())
    );
    Cookie::build(cookie_name(FLASH_COOKIE, secure), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::minutes(5))
        .finish()
}

/// The flash this request carries, if any.
pub fn flash(req: &HttpRequest) -> Option<Flash> {
    let cookie = read_cookie(req, FLASH_COOKIE)?;
    let value = cookie.as_str();
    let (is_error, encoded) = match value.split_at_checked(2)? {
        ("e:", rest) => (true, rest),
        ("k:", rest) => (false, rest),
        _ => return None,
    };
    let text = String::from_utf8(hex::decode(encoded).ok()?).ok()?;
    let text: String = text.chars().filter(|c| !c.is_control()).take(400).collect();
    (!text.is_empty()).then_some(Flash { is_error, text })
}

/// The session cookie for a new session token. It lives as long as a session
/// can (`ABSOLUTE_LIFETIME`): the server ends a session idle for 30 days, and
/// slides that on use, which a cookie set once at sign-in cannot; a cookie
/// of 30 days signed a daily user out on day 30 however active they were.
pub fn session_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(SESSION_COOKIE, secure), token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(
            sessions::ABSOLUTE_LIFETIME.num_seconds(),
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", secure);
    cookie.make_removal();
    cookie
}

/// Whether the browser says another site sent this request (`Sec-Fetch-Site`):
/// for a GET that counts or records something in the student's name, which a
/// link elsewhere must not be able to do. A link typed, bookmarked or
/// followed on our own pages is not; a browser that sends no such header is
/// taken at its word.
pub fn from_another_site(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| matches!(site, "cross-site" | "same-site"))
}

/// The longest path `safe_next` lets through, in bytes.
pub const LONGEST_NEXT: usize = 512;

/// A return path we are willing to redirect to: local, absolute-path only.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= LONGEST_NEXT
                && !path.chars().any(|c| c.is_control() || c == '\\')
                && !path.starts_with("/login") =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The client a request comes from, as the one key every per-client limit and
/// log uses: the socket's peer, or with `TRUSTED_PROXY` the rightmost
/// `X-Forwarded-For` hop that is not in `TRUSTED_PROXIES` (IPv6 per /64).
pub fn client_ip(req: &HttpRequest) -> String {
    let state = state(req);
    let config = &state.config;
    let trusted = config
        .server
        .trusted_proxy
        .then_some(config.server.trusted_proxies.as_slice());
    // A value that is not text is kept as an unreadable hop, which stops the walk.
    let forwarded_for: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|value| value.to_str().unwrap_or(""))
        .collect();
    super::client_addr::client_key(req.peer_addr().map(|a| a.ip()), &forwarded_for, trusted)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_return_paths() {
        assert_eq!(safe_next(Some("/friends")), "/friends");
        assert_eq!(safe_next(Some("/classes/x?q=1")), "/classes/x?q=1");
        for hostile in [
            "//evil.com",
            "https://evil.com",
            "/\\evil.com",
            "evil",
            "/login",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
