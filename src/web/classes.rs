//! Joining and leaving a section (the search is in `class_search`).

use actix_web::{get, post, web, Either, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{clash_lines, membership_refusal, with_conn, AppError, Refusal};
use super::guard::{self, CurrentUser, SessionForm, SignedInForm, Visitor};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, FlashRedirect};
use crate::campus_time::CampusTime;
use crate::classes::{self, Class, ClassId, JoinLimits, MembershipError, Term};
use crate::clock;

#[derive(Deserialize)]
pub struct MembershipForm {
    csrf_token: String,
    term: Option<String>,
    next: Option<String>,
    /// "1" once the student saw that the section overlaps another and confirmed.
    confirm_clash: Option<String>,
}

impl SessionForm for MembershipForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Answers a refused join or leave as `error::membership_refusal` chose:
/// an error page, or a flash back on the page the student came from.
fn answer_refusal(
    refused: MembershipError,
    current: &CurrentUser,
    back: &str,
    campus: CampusTime,
) -> Result<FlashRedirect, AppError> {
    let reason = current.user.suspension_reason.clone();
    match membership_refusal(refused, reason, clock::now(), campus) {
        Refusal::Flash(message) => Ok(FlashRedirect::refused(back, message)),
        Refusal::Page { message, .. } => Err(AppError::BadRequest(message)),
        Refusal::Error(error) => Err(error),
    }
}

/// This deployment's limits on joining and leaving.
pub(super) fn join_limits(state: &AppState) -> JoinLimits {
    JoinLimits {
        sections_per_term: state.config.classes.max_sections_per_term,
        changes_per_day: state.config.classes.max_class_changes_per_day,
    }
}

/// Asks before a join that overlaps the student's other sections: names each
/// clash, and offers "Join anyway" (the same form again, confirmed) or Cancel.
#[derive(Template)]
#[template(path = "classes/clash.html")]
struct ClashPage {
    layout: Layout,
    code: String,
    class_id: String,
    clashes: Vec<String>,
    term: String,
    next: String,
}

#[post("/classes/{id}/enroll")]
pub async fn enroll(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<MembershipForm>,
) -> Result<Either<FlashRedirect, HttpResponse>, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let back = guard::safe_next(form.next.as_deref());
    let configured = views::TermDefault::at(state.config.clone(), clock::now());
    let terms = state.terms.clone();
    let shown = form.term.clone();
    let limits = join_limits(&state);
    let clash = match form.confirm_clash.as_deref() {
        Some("1") => classes::Clash::Allow,
        _ => classes::Clash::Refuse,
    };
    let student = current.user.clone();
    let (shown, outcome) = with_conn(&state.pool, move |conn| {
        let shown = match shown.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(raw) => Term::parse(raw).ok_or_else(|| {
                AppError::BadRequest(
                    "The form named a term that does not exist. Go back and search again.".into(),
                )
            })?,
            None => {
                let present = terms.get(conn)?;
                configured
                    .pick(conn, &terms, &present)?
                    .ok_or(AppError::NotFound)?
            }
        };
        let outcome = classes::join(
            conn,
            &student,
            &class_id,
            &shown,
            &limits,
            clash,
            clock::now(),
        );
        Ok((shown, outcome))
    })
    .await?;
    match outcome {
        Ok(class) => Ok(Either::Left(FlashRedirect::done(
            &back,
            format!(
                "You joined {} ({}). It is on your timetable now.",
                class.code(),
                class.class_section.as_deref().unwrap_or("section")
            ),
        ))),
        // Nothing was stored: the page asks, and its button posts again, confirmed.
        Err(MembershipError::Clashes { code, overlaps }) => {
            let body = ClashPage {
                layout: Layout::new(&req, Some(&current)).at("search"),
                clashes: clash_lines(&code, &overlaps),
                code,
                class_id: path.into_inner(),
                term: shown.code().to_string(),
                next: back,
            }
            .render()?;
            Ok(Either::Right(views::page(body)))
        }
        Err(refused) => {
            answer_refusal(refused, &current, &back, state.config.campus_time).map(Either::Left)
        }
    }
}

#[derive(Deserialize)]
pub struct LeaveParams {
    next: Option<String>,
}

/// "Leave CS 2100 (001)?": the page the home page's "Leave class" links to;
/// its button is the POST that leaves.
#[derive(Template)]
#[template(path = "classes/leave.html")]
struct LeavePage {
    layout: Layout,
    class_id: String,
    code: String,
    section: String,
    next: String,
}

#[get("/classes/{id}/leave")]
pub async fn leave_page(
    req: HttpRequest,
    visitor: Visitor,
    path: web::Path<String>,
    params: web::Query<LeaveParams>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound);
    let next = guard::safe_next(params.into_inner().next.as_deref());
    let (current, (class, enrolled)): (_, (Class, bool)) = visitor
        .signed_in(move |conn, current| {
            let class = classes::find(conn, &class_id?)?.ok_or(AppError::NotFound)?;
            let enrolled = classes::is_enrolled(conn, &current.user.id, &class.id)?;
            Ok((class, enrolled))
        })
        .await?;
    if !enrolled {
        let refused = MembershipError::NotJoined { code: class.code() };
        return Err(AppError::BadRequest(format!(
            "{refused} There is nothing to leave; your classes are on My classes."
        )));
    }
    let body = LeavePage {
        layout: Layout::new(&req, Some(&current)).at("home"),
        class_id: class.id.to_string(),
        code: class.code(),
        section: class.class_section.clone().unwrap_or_default(),
        next,
    }
    .render()?;
    Ok(views::page(body))
}

#[post("/classes/{id}/leave")]
pub async fn leave(
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<MembershipForm>,
) -> Result<FlashRedirect, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let back = guard::safe_next(form.next.as_deref());
    let limits = join_limits(&state);
    let student = current.user.clone();
    let outcome = with_conn(&state.pool, move |conn| {
        Ok(classes::leave(
            conn,
            &student,
            &class_id,
            &limits,
            clock::now(),
        ))
    })
    .await?;
    if outcome.is_ok() {
        state.live.access_changed(&current.user.id);
        // Its chat's notices are read now (`notifications::chat::left_class`).
        state.live.unread_changed(&current.user.id);
    }
    match outcome {
        Ok(class) => Ok(FlashRedirect::done(
            &back,
            format!(
                "You left {}. Its chat stays; you can join again later.",
                class.code()
            ),
        )),
        Err(refused) => answer_refusal(refused, &current, &back, state.config.campus_time),
    }
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(enroll).service(leave_page).service(leave);
}
