//! Writing in a class chat: starting a thread or replying, editing within the
//! window, and deleting one's own message.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{answer_refusal, back_href, message_href, rules, see_other, thread_href};
use crate::chat::{self, Deletion, Draft, MessageBody, MessageId};
use crate::classes::ClassId;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{self, SessionForm, SignedInForm};
use crate::web::state::AppState;
use crate::{clock, moderation};

#[derive(Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    parent_id: Option<String>,
}

impl SessionForm for PostForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// A signed-out poster signs in and comes back to the class's chat.
    fn when_signed_out(req: &HttpRequest) -> AppError {
        match ClassId::parse(req.match_info().query("id")) {
            Some(class_id) => AppError::SignInRequired {
                next: format!("/classes/{class_id}"),
            },
            None => AppError::NotFound,
        }
    }
}

/// Starts a thread, or replies to a message of the same class.
#[post("/classes/{id:[0-9a-f-]{36}}/messages")]
pub async fn post_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<PostForm>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let parent_id = match form.parent_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            AppError::BadRequest(
                "The message you replied to is not in this class's chat. Reload the class page and try again.".into(),
            )
        })?),
    };
    let body =
        MessageBody::parse(&form.content).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let author = current.user.clone();
    let (class, parent, domain_rules) = (class_id.clone(), parent_id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        let draft = Draft {
            class_id: &class,
            parent_id: parent.as_ref(),
            body: &body,
        };
        Ok(chat::post(
            conn,
            &author,
            draft,
            &domain_rules,
            clock::now(),
        ))
    })
    .await?;
    match result {
        // A reply lands on its thread, a new thread on its own page.
        Ok(message) => Ok(see_other(message_href(&message))),
        Err(error) => answer_refusal(&req, &current, &rules, error),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    content: String,
}

impl SessionForm for EditForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Replaces the text of the student's own message, within the edit window.
#[post("/messages/{id:[0-9a-f-]{36}}/edit")]
pub async fn edit_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<EditForm>,
) -> Result<HttpResponse, AppError> {
    // A suspended student may read, not rewrite what they said.
    guard::ensure_not_suspended(&current, state.config.campus_time)?;
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let body =
        MessageBody::parse(&form.content).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let rules = rules(&state);
    let (editor, domain_rules) = (current.user.id.clone(), rules.clone());
    let result = with_conn(&state.pool, move |conn| {
        Ok(chat::edit(
            conn,
            &editor,
            &message_id,
            &body,
            &domain_rules,
            clock::now(),
        ))
    })
    .await?;
    match result {
        Ok(message) => Ok(see_other(message_href(&message))),
        Err(error) => answer_refusal(&req, &current, &rules, error),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    /// The thread page the form was on, to come back to.
    #[serde(default)]
    back: Option<String>,
}

impl SessionForm for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Deletes the student's own message (a placeholder stays if it has replies).
#[post("/messages/{id:[0-9a-f-]{36}}/delete")]
pub async fn delete_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let author = current.user.id.clone();
    let id = message_id.clone();
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        Ok(chat::delete(conn, &author, &id, now, |conn, message| {
            moderation::messages::record_author_delete(conn, &author, message, now)
        }))
    })
    .await?;
    match result {
        Ok((class_id, Deletion::Placeholder)) => Ok(see_other(back_href(
            &class_id,
            form.back.as_deref(),
            Some(&message_id),
        ))),
        // A thread deleted whole leaves its page: back to the list.
        Ok((class_id, Deletion::Removed)) => {
            let gone = thread_href(&class_id, &message_id);
            let back = form.back.as_deref().filter(|b| *b != gone);
            Ok(see_other(back_href(&class_id, back, None)))
        }
        Err(error) => answer_refusal(&req, &current, &rules(&state), error),
    }
}
