//! Search in a class's chat, and the threads a draft may duplicate: the search
//! page, the "maybe already answered" fragment our script asks for while a
//! student types, and the rows both show. Matched words are marked by the
//! template around text it escapes; every rule lives in `chat::search`.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{answer_refusal, html, rules, thread_href};
use crate::campus_time::Stamp;
use crate::chat::search::{self, Hit, Piece, SearchQuery};
use crate::chat::ChatError;
use crate::classes::{self, ClassId};
use crate::clock;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, SignedInForm, Visitor};
use crate::web::layout::Layout;
use crate::web::state::AppState;

/// The most results a search shows.
const RESULTS: i64 = 20;
/// The most threads "maybe already answered" shows.
pub(super) const SIMILAR: i64 = 5;

/// One message found, as `chat/search.html` and `chat/_similar.html` show it.
pub(super) struct HitRow {
    /// The thread's page, at the message.
    pub(super) href: String,
    pub(super) pseudonym: String,
    pub(super) posted: Stamp,
    pub(super) reply: bool,
    pub(super) pieces: Vec<Piece>,
}

pub(super) fn hit_rows(state: &AppState, hits: Vec<Hit>, now: NaiveDateTime) -> Vec<HitRow> {
    hits.into_iter()
        .map(|h| HitRow {
            href: format!(
                "{}#m-{}",
                thread_href(&h.class_id, &h.thread_id),
                h.message_id
            ),
            pseudonym: h.pseudonym,
            posted: state.config.campus_time.stamp(h.created_at, now),
            reply: h.reply,
            pieces: h.excerpt,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "chat/search.html")]
struct SearchPage {
    layout: Layout,
    class_id: String,
    class_code: String,
    class_title: String,
    /// What the student typed, shown back in the box (escaped).
    query: String,
    /// Why nothing was searched, when the query could not be used.
    problem: Option<String>,
    searched: bool,
    hits: Vec<HitRow>,
    /// More messages match than are shown.
    more: bool,
    /// How many words were searched for (as the search split them: "mid-term"
    /// is two), for "try fewer words".
    words: usize,
}

/// "Maybe already answered": threads a draft may duplicate.
#[derive(Template)]
#[template(path = "chat/_similar.html")]
pub(super) struct SimilarFragment {
    pub(super) similar: Vec<HitRow>,
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
}

/// The class's search page: messages holding every word searched for, best
/// match first, for students who take the class.
#[get("/classes/{id:[0-9a-f-]{36}}/search")]
pub async fn search_class(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, AppError> {
    // Refused only once signed in (inside the job), as the class page is.
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound);
    let raw = params.into_inner().q;
    let parsed = SearchQuery::parse(&raw);
    let query = parsed.clone().ok();
    let (current, (class_id, found, result)) = visitor
        .signed_in(move |conn, current| {
            let class = class_id?;
            let viewer = &current.user.id;
            let Some(found) = classes::find(conn, &class)? else {
                return Ok((class, None, Ok(Vec::new())));
            };
            let result = match query {
                // One more than shown, to know whether there are more.
                Some(query) => search::search(conn, viewer, &class, &query, RESULTS + 1),
                // Nothing to look for: only check the student may search here.
                None => search::ensure_member(conn, viewer, &class).map(|()| Vec::new()),
            };
            Ok((class, Some(found), result))
        })
        .await?;
    let found = found.ok_or(AppError::NotFound)?;
    let mut hits = match result {
        Ok(hits) => hits,
        Err(error @ ChatError::NotEnrolled { .. }) => {
            return answer_refusal(&req, &current, &rules(&state), error)
        }
        Err(error) => return Err(AppError::Internal(error.into())),
    };
    let (status, problem) = match &parsed {
        Ok(_) => (StatusCode::OK, None),
        Err(search::QueryError::Empty) => (StatusCode::OK, Some(parsed_message(&parsed))),
        Err(_) => (StatusCode::BAD_REQUEST, Some(parsed_message(&parsed))),
    };
    let body = SearchPage {
        layout: Layout::new(&req, Some(&current)),
        class_id: class_id.to_string(),
        class_code: found.code(),
        class_title: found.title.clone().unwrap_or_default(),
        query: raw.chars().take(search::MAX_QUERY_CHARS * 2).collect(),
        searched: parsed.is_ok(),
        words: parsed.as_ref().map_or(0, |q| q.terms().len()),
        problem,
        more: {
            let more = hits.len() > RESULTS as usize;
            hits.truncate(RESULTS as usize);
            more
        },
        hits: hit_rows(&state, hits, clock::now()),
    }
    .render()?;
    Ok(html(status, body))
}

fn parsed_message(parsed: &Result<SearchQuery, search::QueryError>) -> String {
    match parsed {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// What our script sends while a student types a new thread: the draft (its
/// first 500 characters) in a POST body, never in the address, where a proxy's
/// access log would keep it beside the student's address and time.
#[derive(Deserialize)]
pub struct SimilarForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    q: String,
}

impl SessionForm for SimilarForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// A fragment has no page to sign in from: nothing to show.
    fn when_signed_out(_req: &HttpRequest) -> AppError {
        AppError::NotFound
    }
}

/// The threads a draft may duplicate, as an HTML fragment for our script
/// (empty when none match). Only for students who take the class.
#[post("/classes/{id:[0-9a-f-]{36}}/similar")]
pub async fn similar_threads(
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<SimilarForm>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let (me, draft) = (current.user.id.clone(), form.q);
    let result = with_conn(&state.pool, move |conn| {
        Ok(search::similar(conn, &me, &class_id, &draft, SIMILAR))
    })
    .await?;
    let hits = match result {
        Ok(hits) => hits,
        // Not a member (or no such class): nothing to show, and nothing learned.
        Err(ChatError::NotEnrolled { .. }) => return Err(AppError::NotFound),
        Err(error) => return Err(AppError::Internal(error.into())),
    };
    let body = SimilarFragment {
        similar: hit_rows(&state, hits, clock::now()),
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}
