//! Reporting a classmate's message; enough distinct reports hide it.

use actix_web::{post, web, HttpRequest, HttpResponse, Responder};
use serde::Deserialize;

use super::{answer, back_href, rules, see_other};
use crate::chat::{self, FlagReason, MessageId};
use crate::classes::ClassId;
use crate::clock;
use crate::web::error::{chat_refusal, with_conn, AppError, Refusal};
use crate::web::guard::{self, SessionForm, SignedInForm};
use crate::web::state::AppState;
use crate::web::views::FlashRedirect;

#[derive(Deserialize)]
pub struct FlagForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: Option<String>,
    /// The thread page the form was on, to come back to.
    #[serde(default)]
    back: Option<String>,
}

impl SessionForm for FlagForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Reports a classmate's message; enough distinct reports hide it.
#[post("/messages/{id:[0-9a-f-]{36}}/flag")]
pub async fn flag_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<FlagForm>,
) -> Result<HttpResponse, AppError> {
    guard::ensure_not_suspended(&current, state.config.campus_time)?;
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let reason = FlagReason::parse(form.reason.as_deref())
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let (flagger, id, domain_rules) = (current.user.id.clone(), message_id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        Ok(chat::flag_and_record(
            conn,
            &flagger,
            &id,
            &reason,
            &domain_rules,
            clock::now(),
            crate::moderation::messages::record_hide_by_reports,
        ))
    })
    .await?;
    match result {
        Ok((class_id, _)) => Ok(see_other(back_href(
            &class_id,
            form.back.as_deref(),
            Some(&message_id),
        ))),
        Err(error) => {
            // A refusal a student can act on (the day's reports used, the
            // message hidden or removed meanwhile) is said on the thread they
            // were reading, at the message, not on a page with no way back.
            let campus = state.config.campus_time;
            // At the message on a thread's page, at its row on the list: a
            // class's chat page, as every chat form goes back to
            // (`back_href`), never a page of another kind a `back` names.
            let back = form.back.as_deref().and_then(|b| {
                let class = b.strip_prefix("/classes/")?.split(['/', '?', '#']).next()?;
                let class_id = ClassId::parse(class)?;
                Some(back_href(&class_id, Some(b), Some(&message_id)))
            });
            match (back, chat_refusal(error, &rules, clock::now(), campus)) {
                (
                    Some(back),
                    Refusal::Error(
                        AppError::BadRequest(message) | AppError::TooManyRequests { message, .. },
                    ),
                ) => Ok(
                    FlashRedirect::refused(&back, format!("Not reported: {message}"))
                        .respond_to(&req),
                ),
                (_, refusal) => answer(&req, &current, refusal),
            }
        }
    }
}
