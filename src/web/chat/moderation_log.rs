//! A class's public moderation log page: what moderators hid, removed or
//! restored in the class, by pseudonym and reason category, for the students
//! who take it (and staff). It shows nothing `moderation::public_log` does not
//! hand it: no moderator, no moderator's words, no author.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use super::{answer_refusal, html, rules};
use crate::campus_time::Stamp;
use crate::classes::ClassId;
use crate::clock;
use crate::moderation::public_log;
use crate::web::error::AppError;
use crate::web::guard::Visitor;
use crate::web::layout::Layout;
use crate::web::state::AppState;

/// How many entries the page lists: the newest.
const LOG_LIMIT: i64 = 100;

struct LogLine {
    when: Stamp,
    pseudonym: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "chat/moderation_log.html")]
struct ModerationLogPage {
    layout: Layout,
    class_id: String,
    code: String,
    lines: Vec<LogLine>,
    limit: i64,
}

#[get("/classes/{id}/moderation")]
pub async fn show_moderation_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound);
    let (current, result) = visitor
        .signed_in(move |conn, current| {
            Ok(public_log::for_class(
                conn,
                &current.user.id,
                current.acts_as_staff(),
                &class_id?,
                LOG_LIMIT,
            ))
        })
        .await?;
    let (class, entries) = match result {
        Ok(found) => found,
        Err(error) => return answer_refusal(&req, &current, &rules(&state), error),
    };
    let now = clock::now();
    let campus = state.config.campus_time;
    let body = ModerationLogPage {
        layout: Layout::new(&req, Some(&current)),
        class_id: class.id.to_string(),
        code: class.code(),
        lines: entries
            .iter()
            .map(|e| LogLine {
                when: campus.stamp(e.at, now),
                pseudonym: e.pseudonym.clone(),
                summary: e.summary(),
            })
            .collect(),
        limit: LOG_LIMIT,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}
