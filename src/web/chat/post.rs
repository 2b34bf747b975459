//! Writing in a class chat: starting a thread or replying, editing within the
//! window, and deleting one's own message.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::search::{hit_rows, SIMILAR};
use super::{
    answer_refusal, back_href, html, keep_draft_on_failure, message_href, refuse_keeping_draft,
    rules, see_other, thread_href, DraftPlace,
};
use crate::chat::{self, search, Deletion, Draft, MessageBody, MessageId};
use crate::classes::{self, ClassId};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CurrentUser, SessionForm, SignedInForm};
use crate::web::layout::Layout;
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
    /// A reply's thread page, to come back to from a refusal.
    #[serde(default)]
    back: Option<String>,
    /// "1" once the student saw the threads their new one may duplicate (the
    /// preview page's "Post anyway", or our script showing them while typing).
    #[serde(default)]
    confirmed: Option<String>,
    /// "1" once the student was told the draft names a person and chose to
    /// post it anyway, held for review.
    #[serde(default)]
    confirm_naming: Option<String>,
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

/// A class action's address, opened (a reload of the page a refused post
/// or the "Maybe already answered" step answered with, or a link copied
/// from it): the class's chat, where the compose box is, which checks who
/// may read it.
#[get("/classes/{id:[0-9a-f-]{36}}/{action:messages|read|similar|mute|unmute}")]
pub async fn class_action_address(
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path.0).ok_or(AppError::NotFound)?;
    Ok(see_other(format!("/classes/{class_id}")))
}

/// A thread action's address, opened: the thread's page, which checks who
/// may read it.
#[get("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}/{action:read|pin|unpin|follow|unfollow}")]
pub async fn thread_action_address(
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path.0).ok_or(AppError::NotFound)?;
    let thread_id = MessageId::parse(&path.1).ok_or(AppError::NotFound)?;
    Ok(see_other(thread_href(&class_id, &thread_id)))
}

/// A message action's address, opened (a reload, from the address bar, of the
/// page a refused edit answered with, or a link copied from it): the message
/// on its thread's page, for a student whose page shows it; for anyone else
/// "There is nothing here", as for a message that is not there.
#[get("/messages/{id:[0-9a-f-]{36}}/{action:edit|delete|flag|vote|answer}")]
pub async fn message_action_address(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let message_id = MessageId::parse(&path.0).ok_or(AppError::NotFound)?;
    let viewer = current.user.id.clone();
    let shown = with_conn(&state.pool, move |conn| {
        Ok(chat::shown_to(conn, &viewer, &message_id)?)
    })
    .await?;
    shown
        .map(|message| see_other(message_href(&message)))
        .ok_or(AppError::NotFound)
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
    let rules = rules(&state);
    let place = DraftPlace {
        action: format!("/classes/{class_id}/messages"),
        parent_id: parent_id.as_ref().map(ToString::to_string),
        new_thread: parent_id.is_none(),
        edit: false,
        // A reply comes back to its parent on the thread's page (the list's
        // rows are threads, so an anchor there would find nothing).
        back: match &parent_id {
            Some(parent) => back_href(&class_id, form.back.as_deref(), Some(parent)),
            None => format!("/classes/{class_id}"),
        },
        class_page: Some(format!("/classes/{class_id}")),
    };
    let body = match MessageBody::parse(&form.content) {
        Ok(body) => body,
        Err(problem) => {
            // Refused before "maybe already answered": sent again, it goes
            // through that step like any new thread.
            let place = DraftPlace {
                new_thread: false,
                ..place
            };
            let error = chat::ChatError::Content(problem);
            return refuse_keeping_draft(&req, &current, &rules, error, place, form.content);
        }
    };
    let author = current.user.clone();
    // A new thread first looks for threads that may already answer it; a reply
    // never does, nor a thread the student chose to post anyway.
    let ask_first = parent_id.is_none() && form.confirmed.as_deref() != Some("1");
    let confirm_naming = form.confirm_naming.as_deref() == Some("1");
    let (class, parent, domain_rules) = (class_id.clone(), parent_id.clone(), rules.clone());
    let draft_text = body.as_str().to_string();
    let result = with_conn(&state.pool, move |conn| {
        let now = clock::now();
        if ask_first && author.suspended_at(now).is_none() {
            match search::similar(conn, &author.id, &class, body.as_str(), SIMILAR) {
                Ok(similar) if !similar.is_empty() => {
                    let class_code = classes::find(conn, &class)?
                        .map(|c| c.code())
                        .unwrap_or_default();
                    return Ok(Posting::AskFirst(similar, class_code));
                }
                // No match, or not a member: posting says why itself.
                Ok(_) | Err(chat::ChatError::NotEnrolled { .. }) => {}
                Err(other) => return Err(AppError::Internal(other.into())),
            }
        }
        let draft = Draft {
            class_id: &class,
            parent_id: parent.as_ref(),
            body: &body,
        };
        match chat::post_confirming(conn, &author, draft, confirm_naming, &domain_rules, now) {
            Err(chat::ChatError::NamesSomeone { findings, .. }) => {
                let class_code = classes::find(conn, &class)?
                    .map(|c| c.code())
                    .unwrap_or_default();
                Ok(Posting::NamesSomeone(findings, class_code))
            }
            // Handed on as the job's failure: a statement cut off, or that
            // waited out a lock, answers as one (`with_conn`).
            Err(chat::ChatError::Db(error)) => Err(error.into()),
            posted => Ok(Posting::Done(Box::new(posted))),
        }
    })
    .await;
    let result = match result {
        Ok(result) => result,
        Err(failure) => return keep_draft_on_failure(&req, &current, failure, place, form.content),
    };
    match result {
        Posting::AskFirst(similar, class_code) => {
            let body = AskFirstPage {
                layout: Layout::new(&req, Some(&current)),
                class_id: class_id.to_string(),
                class_code,
                draft: draft_text,
                similar: hit_rows(&state, similar, clock::now()),
            }
            .render()?;
            Ok(html(StatusCode::OK, body))
        }
        Posting::NamesSomeone(findings, class_code) => {
            let body = NameFirstPage {
                layout: Layout::new(&req, Some(&current)),
                class_code,
                findings: findings.to_string(),
                action: place.action,
                parent_id: place.parent_id,
                new_thread: place.new_thread,
                draft: draft_text,
                back: place.back,
                holdable: true,
                edit: false,
            }
            .render()?;
            Ok(html(StatusCode::OK, body))
        }
        // A reply lands on its thread, a new thread on its own page.
        Posting::Done(posted) => match *posted {
            Ok(message) => Ok(see_other(message_href(&message))),
            Err(error) => refuse_keeping_draft(&req, &current, &rules, error, place, form.content),
        },
    }
}

/// What posting a message came to.
enum Posting {
    /// Not posted yet: threads that may already answer it, and the class's code.
    AskFirst(Vec<search::Hit>, String),
    /// Not posted: the draft names a person (what kind, and the class's code).
    NamesSomeone(chat::naming::Findings, String),
    Done(Box<Result<chat::ClassMessage, chat::ChatError>>),
}

/// "Maybe already answered": the draft kept, with the threads it may duplicate.
#[derive(Template)]
#[template(path = "chat/ask_first.html")]
struct AskFirstPage {
    layout: Layout,
    class_id: String,
    class_code: String,
    draft: String,
    similar: Vec<super::search::HitRow>,
}

/// "This names a classmate": the draft kept, nothing stored, and the choice to
/// post it held for review (where it can be) or go back.
#[derive(Template)]
#[template(path = "chat/name_first.html")]
struct NameFirstPage {
    layout: Layout,
    class_code: String,
    /// What the draft contains, in words ("names a classmate"), never whom.
    findings: String,
    /// Where "Post anyway" sends the draft again.
    action: String,
    parent_id: Option<String>,
    /// A new thread: its "maybe already answered" step is behind it.
    new_thread: bool,
    draft: String,
    back: String,
    /// Sending it again with the confirmation stores it held. Not for an
    /// edit of a message the class has read: that page offers only to take
    /// the name out.
    holdable: bool,
    /// An edit of the student's own message, not a new post.
    edit: bool,
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    content: String,
    /// "1" once the student chose to save text that names a person, held.
    #[serde(default)]
    confirm_naming: Option<String>,
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
    // A suspended student may read, not rewrite what they said: the edit
    // refuses it (`ChatError::Suspended`), keeping the draft.
    let message_id = MessageId::parse(&path).ok_or(AppError::NotFound)?;
    let parsed = MessageBody::parse(&form.content);
    let rules = rules(&state);
    let (editor, domain_rules) = (current.user.id.clone(), rules.clone());
    let confirm_naming = form.confirm_naming.as_deref() == Some("1");
    let id = message_id.clone();
    let result = with_conn(&state.pool, move |conn| {
        let edited = match &parsed {
            Ok(body) => chat::edit_confirming(
                conn,
                &editor,
                &id,
                body,
                confirm_naming,
                &domain_rules,
                clock::now(),
            ),
            Err(problem) => Err(chat::ChatError::Content(problem.clone())),
        };
        // Handed on as the job's failure, as for a post.
        if let Err(chat::ChatError::Db(error)) = edited {
            return Err(error.into());
        }
        // A refusal that keeps the draft needs the message's place: only for
        // the editor's own message (others' refusals say nothing of it).
        let place = match &edited {
            Err(_) => match chat::find(conn, &id)? {
                Some(m) if m.user_id.as_ref() == Some(&editor) => {
                    let code = classes::find(conn, &m.class_id)?
                        .map(|c| c.code())
                        .unwrap_or_default();
                    Some((message_href(&m), code, m.class_id))
                }
                _ => None,
            },
            _ => None,
        };
        Ok((edited, place, parsed.ok().map(|b| b.as_str().to_string())))
    })
    .await;
    let result = match result {
        Ok(result) => result,
        Err(failure) => {
            // Where the message is, unread: its action's address leads there
            // (`message_action_address`).
            let place = DraftPlace::edit(&message_id, format!("/messages/{message_id}/edit"), None);
            return keep_draft_on_failure(&req, &current, failure, place, form.content);
        }
    };
    match result {
        (Ok(message), _, _) => Ok(see_other(message_href(&message))),
        (
            Err(chat::ChatError::NamesSomeone { findings, holdable }),
            Some((back, class_code, _)),
            draft,
        ) => {
            let body = NameFirstPage {
                layout: Layout::new(&req, Some(&current)),
                class_code,
                findings: findings.to_string(),
                action: format!("/messages/{message_id}/edit"),
                parent_id: None,
                new_thread: false,
                draft: draft.unwrap_or(form.content),
                back,
                holdable,
                edit: true,
            }
            .render()?;
            Ok(html(StatusCode::OK, body))
        }
        (Err(error), Some((back, _, class_id)), _) => {
            // The student's own message, not found: they left its class
            // (`visible_message`), so the page offers to join it again.
            let error = match error {
                chat::ChatError::MessageNotFound => chat::ChatError::NotEnrolled {
                    class_id: class_id.clone(),
                },
                other => other,
            };
            let place = DraftPlace::edit(&message_id, back, Some(format!("/classes/{class_id}")));
            refuse_keeping_draft(&req, &current, &rules, error, place, form.content)
        }
        // Deleted for good in another tab (or someone else's held message,
        // which is answered alike): the draft is kept, with nowhere to go back.
        (Err(error @ chat::ChatError::MessageNotFound), None, _) => {
            let place = DraftPlace::edit(&message_id, "/".into(), None);
            refuse_keeping_draft(&req, &current, &rules, error, place, form.content)
        }
        (Err(error), None, _) => answer_refusal(&req, &current, &rules, error),
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
