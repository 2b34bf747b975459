//! The student's account: privacy settings (display name, hiding classes from
//! friends) and their signed-in devices, each of which can be ended.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse, Responder};
use askama::Template;

use super::error::{off_the_pool, retry_words, with_conn, AppError};
use super::guard::{self, CurrentUser, SessionForm, SignedInForm, Visitor};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, FlashRedirect};
use crate::accounts::{self, sessions, DisplayName, NameRefused, SessionId};
use crate::campus_time::Stamp;
use crate::clock;
use crate::moderation;
use crate::ops::student_data::{self, DeleteRefused};

struct SessionRow {
    id: String,
    device: String,
    created: Stamp,
    last_used: Stamp,
    current: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    layout: Layout,
    sessions: Vec<SessionRow>,
}

/// A short, readable name for a browser from its User-Agent.
fn describe_device(agent: Option<&str>) -> String {
    let Some(agent) = agent else {
        return "Unknown device".into();
    };
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| agent.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        });
    let system = ["iPhone", "iPad", "Android", "Windows", "Mac OS X", "Linux"]
        .iter()
        .find(|s| agent.contains(*s))
        .map(|s| if *s == "Mac OS X" { "macOS" } else { s });
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => agent.chars().take(60).collect(),
    }
}

#[get("/account/sessions")]
pub async fn show_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let now = clock::now();
    let (current, list) = visitor
        .signed_in(move |conn, current| Ok(sessions::list_for_user(conn, &current.user.id, now)?))
        .await?;
    let campus = state.config.campus_time;
    let rows = list
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == current.session.id,
            id: s.id.to_string(),
            device: describe_device(s.user_agent.as_deref()),
            created: campus.exact(s.created_at),
            last_used: campus.stamp(s.last_used_at, now),
        })
        .collect();
    let body = SessionsPage {
        layout: Layout::new(&req, Some(&current)),
        sessions: rows,
    }
    .render()?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// The form of the session buttons: only a token.
#[derive(serde::Deserialize)]
pub struct SessionsForm {
    #[serde(default)]
    csrf_token: String,
}

impl SessionForm for SessionsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// Without a session there is nothing to end: the form is refused as forged.
    fn when_signed_out(_req: &HttpRequest) -> AppError {
        AppError::Csrf
    }
}

#[post("/account/sessions/{id}/end")]
pub async fn end_session(
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, _): SignedInForm<SessionsForm>,
) -> Result<HttpResponse, AppError> {
    let session_id = SessionId::parse(&path).ok_or(AppError::NotFound)?;
    let ending_this_one = session_id == current.session.id;
    let user_id = current.user.id.clone();
    let ended = with_conn(&state.pool, move |conn| {
        Ok(sessions::end(conn, &user_id, &session_id)?)
    })
    .await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    state.live.access_changed(&current.user.id);
    if ending_this_one {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .cookie(guard::clear_session_cookie(state.config.is_https()))
            .finish());
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/account/sessions"))
        .finish())
}

#[post("/account/sessions/end-others")]
pub async fn end_other_sessions(
    state: web::Data<AppState>,
    SignedInForm(current, _): SignedInForm<SessionsForm>,
) -> Result<HttpResponse, AppError> {
    let user = current.user.id.clone();
    with_conn(&state.pool, move |conn| {
        Ok(sessions::end_others(
            conn,
            &current.user.id,
            &current.session.id,
        )?)
    })
    .await?;
    state.live.access_changed(&user);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/account/sessions"))
        .finish())
}

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    computing_id: String,
    display_name: String,
    /// The name is everyday words only, so class chats never look for it
    /// (`chat::naming`): the page says so, so the student can add a word.
    everyday_name: bool,
    name_changes_per_day: u32,
    /// A moderator removed the name: no new one before this.
    name_locked: Option<Stamp>,
    hide_classes: bool,
    /// The name typed and refused is back in the field, which points at the
    /// refusal (the flash) as its error.
    name_refused: bool,
    /// The deletion was refused for what was typed to confirm it: back in
    /// its field, which points at the refusal the same way.
    confirm_refused: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct AccountQuery {
    /// A refused display name: what was typed (see `save_privacy`).
    display_name: Option<String>,
    /// A refused confirmation of deletion: what was typed (see `delete_account`).
    confirm: Option<String>,
}

/// Back to the account page with a refusal of what was typed into `field`,
/// kept for the field.
fn refuse_typed(field: &str, typed: &str, message: String) -> FlashRedirect {
    let typed: String = typed.chars().take(120).collect();
    FlashRedirect::refused_keeping("/account", field, &typed, message)
}

#[get("/account")]
pub async fn show_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, AppError> {
    let (now, campus) = (clock::now(), state.config.campus_time);
    let layout = Layout::new(&req, Some(&current)).at("account");
    // Only beside the refusal it came back with, and never over a name a
    // moderator removed (that field is read-only until the wait ends).
    let refused = layout.flash.as_ref().is_some_and(|f| f.is_error);
    let AccountQuery {
        display_name,
        confirm,
    } = query.into_inner();
    let typed = display_name
        .filter(|_| refused)
        .filter(|_| current.user.name_locked_at(now).is_none());
    let confirm_refused = confirm.filter(|_| refused);
    let body = AccountPage {
        layout,
        email: current.user.email.clone(),
        computing_id: current.user.computing_id.clone(),
        name_refused: typed.is_some(),
        display_name: typed
            .unwrap_or_else(|| current.user.display_name.clone().unwrap_or_default()),
        everyday_name: current
            .user
            .display_name
            .as_deref()
            .is_some_and(crate::chat::naming::is_everyday_name),
        name_changes_per_day: accounts::NAME_CHANGES_PER_DAY,
        name_locked: current
            .user
            .name_locked_at(now)
            .map(|until| campus.exact(until)),
        hide_classes: current.user.hide_classes,
        confirm_refused,
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(serde::Deserialize)]
pub struct PrivacyForm {
    csrf_token: String,
    #[serde(default)]
    display_name: String,
    /// A checkbox: present ("on") when ticked, absent otherwise.
    hide_classes: Option<String>,
}

impl SessionForm for PrivacyForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/account/privacy")]
pub async fn save_privacy(
    state: web::Data<AppState>,
    SignedInForm(current, form): SignedInForm<PrivacyForm>,
) -> Result<FlashRedirect, AppError> {
    let hide = form.hide_classes.is_some();
    let now = clock::now();
    let classes = if hide {
        "Your classes are hidden from friends, and theirs from you."
    } else {
        "Friends can see your classes and your week."
    };
    // A suspended student keeps the name they had (a new one could dodge
    // reports), but may still hide their classes from friends.
    if let Some(until) = current.user.suspended_at(now) {
        if hide != current.user.hide_classes {
            let id = current.user.id.clone();
            with_conn(&state.pool, move |conn| {
                Ok(accounts::set_hide_classes(conn, &id, hide, now)?)
            })
            .await?;
        }
        let typed = DisplayName::parse_optional(&form.display_name);
        let stored = current.user.display_name.as_deref();
        if typed.is_ok_and(|name| name.as_ref().map(DisplayName::as_str) == stored) {
            return Ok(FlashRedirect::done("/account", format!("Saved. {classes}")));
        }
        let campus = state.config.campus_time;
        return Ok(refuse_typed(
            "display_name",
            &form.display_name,
            format!(
                "Your display name was not changed: your account is suspended until {}. {classes}",
                campus.exact(until).title
            ),
        ));
    }
    let name = match DisplayName::parse_optional(&form.display_name) {
        Ok(name) => name,
        Err(refused) => {
            // The name is refused; the classes choice still holds, and the
            // message says both (it once said only the first, and dropped it).
            let id = current.user.id.clone();
            with_conn(&state.pool, move |conn| {
                Ok(accounts::set_hide_classes(conn, &id, hide, now)?)
            })
            .await?;
            return Ok(refuse_typed(
                "display_name",
                &form.display_name,
                format!("Your display name was not changed: {refused} {classes}"),
            ));
        }
    };
    let saved = with_conn(&state.pool, move |conn| {
        Ok(accounts::set_privacy(
            conn,
            &current.user.id,
            name.as_ref(),
            hide,
            now,
        )?)
    })
    .await?;
    let campus = state.config.campus_time;
    let refused = match saved {
        Ok(()) => return Ok(FlashRedirect::done("/account", format!("Saved. {classes}"))),
        Err(NameRefused::TooOften { retry_at }) => {
            return Ok(refuse_typed(
                "display_name",
                &form.display_name,
                format!(
                    "Your display name was not changed: you can change it {} times a day, and you have. You can change it again after {}. {classes}",
                    accounts::NAME_CHANGES_PER_DAY,
                    retry_words(retry_at, now, campus)
                ),
            ))
        }
        Err(NameRefused::Removed { until }) => format!(
            "a moderator removed your display name, and you can choose a new one from {} ({})",
            campus.exact(until).label,
            campus.zone_name()
        ),
    };
    Ok(FlashRedirect::refused(
        "/account",
        format!("Your display name was not changed: {refused}. {classes}"),
    ))
}

#[get("/account/export")]
pub async fn export(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // Each download counts against the day's: a link on another site must
    // not spend them.
    if guard::from_another_site(&req) {
        return Ok(FlashRedirect::refused(
            "/account",
            "To download your data, use the button on this page.",
        )
        .respond_to(&req));
    }
    let campus = state.config.campus_time;
    let (current, data) = visitor
        .signed_in(move |conn, current| {
            let now = clock::now();
            if let Err(limited) = student_data::count_export(conn, &current.user, now)? {
                return Err(AppError::TooManyRequests {
                    message: format!(
                        "You can download your data {} times a day, and you have. You can download it again after {}.",
                        student_data::EXPORTS_PER_DAY,
                        retry_words(limited.retry_at, now, campus)
                    ),
                    retry_after_secs: (limited.retry_at - now).num_seconds().max(1),
                });
            }
            Ok(student_data::export(conn, &current.user, now)?)
        })
        .await?;
    // It grows with every message the student wrote: written out with no
    // connection held, off the async workers.
    let body = off_the_pool(move || serde_json::to_string_pretty(&data))
        .await?
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"common-grounds-{}.json\"",
                current.user.computing_id
            ),
        ))
        .body(body))
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    csrf_token: String,
    #[serde(default)]
    confirm: String,
}

impl SessionForm for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/account/delete")]
pub async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedInForm(current, form): SignedInForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let secure = state.config.is_https();
    if form.confirm.trim().to_ascii_lowercase() != current.user.computing_id {
        return Ok(refuse_typed(
            "confirm",
            &form.confirm,
            format!(
                "Nothing was deleted. To delete your account, type your computing ID ({}) in the box.",
                current.user.computing_id
            ),
        )
        .respond_to(&req));
    }
    let user = current.user.clone();
    let deleted = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        Ok(student_data::delete_account(
            conn,
            &user,
            now,
            |tx, user| {
                moderation::record_erasure(tx, &user.id, Some("At the student's own request."), now)
            },
        ))
    })
    .await?;
    match deleted {
        Ok(_) => {}
        Err(DeleteRefused::Db(e)) => return Err(e.into()),
        Err(refused) => {
            return Ok(FlashRedirect::refused("/account", refused.to_string()).respond_to(&req))
        }
    }
    state.live.access_changed(&current.user.id);
    // No counts: how many messages one account had is a per-student figure.
    tracing::info!("account deleted at its owner's request");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .cookie(guard::clear_session_cookie(secure))
        .cookie(guard::flash_cookie(
            false,
            "Your account and your data were deleted. Messages others replied to remain as [deleted], with no author.",
            secure,
        ))
        .finish())
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_account)
        .service(save_privacy)
        .service(export)
        .service(delete_account)
        .service(show_sessions)
        .service(end_other_sessions)
        .service(end_session);
}
