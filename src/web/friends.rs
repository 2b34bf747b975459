//! Friends: add by computing ID or address, answer requests, remove, block and
//! unblock, and the classes shared with one friend.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{friend_refusal, with_conn, AppError, Refusal};
use super::guard::{self, CurrentUser, SessionForm, SignedInForm};
use super::home::{RequestRow, TermParam};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, ClassView, FlashRedirect, TermChoice, TermOption};
use crate::accounts::UserId;
use crate::classes::{self, ClassId};
use crate::clock;
use crate::friends::{self, requests, Action, RequestOutcome};

struct FriendRow {
    computing_id: String,
    label: String,
    shared: i64,
}

#[derive(Template)]
#[template(path = "friends/index.html")]
struct FriendsPage {
    layout: Layout,
    term_code: String,
    term_name: String,
    terms: Vec<TermOption>,
    friends: Vec<FriendRow>,
    /// Requests for me, by the requester's name when they set one.
    incoming: Vec<RequestRow>,
    outgoing: Vec<String>,
    blocked: Vec<String>,
    hides_classes: bool,
}

#[get("/friends")]
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let configured = state.config.classes.current_term.clone();
    let user = current.user.clone();
    let requested = params.into_inner().term;
    let (choice, overview, counts) = with_conn(&state.pool, move |conn| {
        let choice = TermChoice::load(conn, configured.as_deref(), requested.as_deref())?;
        let overview = requests::overview(conn, &user.id)?;
        let ids: Vec<UserId> = overview.friends.iter().map(|(id, _)| id.clone()).collect();
        let counts = match &choice.current {
            Some(term) => friends::visibility::shared_counts(conn, &user, &ids, term.code())?,
            None => Default::default(),
        };
        Ok((choice, overview, counts))
    })
    .await?;
    let ids = |list: Vec<friends::Person>| list.into_iter().map(|p| p.computing_id).collect();
    let body = FriendsPage {
        layout: Layout::new(&req, Some(&current)).at("friends"),
        term_code: choice.code(),
        term_name: choice.name(),
        terms: choice.options(),
        friends: overview
            .friends
            .iter()
            .map(|(id, person)| FriendRow {
                computing_id: person.computing_id.clone(),
                label: person.label(),
                shared: counts.get(id).copied().unwrap_or(0),
            })
            .collect(),
        incoming: overview
            .incoming
            .into_iter()
            .map(RequestRow::from)
            .collect(),
        // Only the computing ID the student typed: naming whoever owns it
        // would let anyone look names up by ID (`requests::Person`).
        outgoing: ids(overview.outgoing),
        blocked: ids(overview.blocked),
        hides_classes: current.user.hide_classes,
    }
    .render()?;
    Ok(views::page(body))
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf_token: String,
    who: String,
}

impl SessionForm for AddForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/friends")]
pub async fn add(
    state: web::Data<AppState>,
    SignedInForm(current, form): SignedInForm<AddForm>,
) -> Result<FlashRedirect, AppError> {
    guard::ensure_not_suspended(&current, state.config.campus_time)?;
    let computing_id =
        match requests::parse_who(&form.who, &state.config.sign_in.allowed_email_domains) {
            Ok(id) => id,
            Err(message) => return Ok(FlashRedirect::refused("/friends", message)),
        };
    let domain = state.config.sign_in.allowed_email_domains[0].clone();
    let outcome = with_conn(&state.pool, move |conn| {
        Ok(requests::request(
            conn,
            &current.user,
            &computing_id,
            &domain,
            clock::now(),
        )?)
    })
    .await?;
    let (is_error, message) = match outcome {
        RequestOutcome::Sent { computing_id } => (
            false,
            format!("Request sent to {computing_id}. If they use Common Grounds, they will see it when they sign in; it lapses after 60 days without an answer."),
        ),
        RequestOutcome::NowFriends { computing_id } => (
            false,
            format!("{computing_id} had already asked you: you are friends now."),
        ),
        RequestOutcome::AlreadyFriends { computing_id } => {
            (false, format!("You and {computing_id} are already friends."))
        }
        RequestOutcome::Yourself => (true, "That is you. Enter a friend's computing ID.".into()),
        RequestOutcome::YouBlocked { computing_id } => (
            true,
            format!("You blocked {computing_id}. Unblock them below before sending a request."),
        ),
        RequestOutcome::Limited { retry_at } => {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "You have sent {} friend requests today, the most allowed. You can send more after {}.",
                    requests::REQUESTS_PER_DAY,
                    super::error::retry_words(retry_at, clock::now(), state.config.campus_time)
                ),
                retry_after_secs: (retry_at - clock::now()).num_seconds(),
            })
        }
    };
    Ok(FlashRedirect::new("/friends", is_error, message))
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf_token: String,
    next: Option<String>,
}

impl SessionForm for ActionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[post("/friends/{computing_id}/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    SignedInForm(current, form): SignedInForm<ActionForm>,
) -> Result<FlashRedirect, AppError> {
    // Read-only while suspended: no accepting, removing, blocking or unblocking either.
    guard::ensure_not_suspended(&current, state.config.campus_time)?;
    let (who, action) = path.into_inner();
    let action = Action::parse(&action).ok_or(AppError::NotFound)?;
    let computing_id = requests::parse_who(&who, &state.config.sign_in.allowed_email_domains)
        .map_err(|_| AppError::NotFound)?;
    let back = guard::safe_next(form.next.as_deref().or(Some("/friends")));
    let outcome = with_conn(&state.pool, move |conn| {
        Ok(requests::act(
            conn,
            &current.user,
            &computing_id,
            action,
            clock::now(),
        ))
    })
    .await?;
    match outcome {
        Ok(message) => Ok(FlashRedirect::done(&back, message)),
        Err(refused) => match friend_refusal(refused) {
            Refusal::Flash(message) => Ok(FlashRedirect::refused(&back, message)),
            Refusal::Page { message, .. } => Err(AppError::BadRequest(message)),
            Refusal::Error(error) => Err(error),
        },
    }
}

#[derive(Template)]
#[template(path = "friends/show.html")]
struct FriendPage {
    layout: Layout,
    computing_id: String,
    label: String,
    term_name: String,
    terms: Vec<TermOption>,
    this_term: Vec<ClassView>,
    other_terms: Vec<ClassView>,
    hidden_by_me: bool,
    hidden_by_them: bool,
}

#[get("/friends/{computing_id}")]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let computing_id = requests::parse_who(&path, &state.config.sign_in.allowed_email_domains)
        .map_err(|_| AppError::NotFound)?;
    let configured = state.config.classes.current_term.clone();
    let user = current.user.clone();
    let requested = params.into_inner().term;
    let (choice, friend, shared, meetings) = with_conn(&state.pool, move |conn| {
        let choice = TermChoice::load(conn, configured.as_deref(), requested.as_deref())?;
        let friend = friends::requests::accepted_friend(conn, &user.id, &computing_id)?
            .ok_or(AppError::NotFound)?;
        let shared = friends::shared_classes(conn, &user, &friend)?;
        let ids: Vec<ClassId> = shared.iter().map(|c| c.id.clone()).collect();
        let meetings = classes::meetings_by_class(conn, &ids)?;
        Ok((choice, friend, shared, meetings))
    })
    .await?;
    let term_code = choice.code();
    let (this_term, other_terms): (Vec<_>, Vec<_>) =
        shared.iter().partition(|c| c.term == term_code);
    let label = friends::label(friend.display_name.as_deref(), &friend.computing_id);
    let body = FriendPage {
        layout: Layout::new(&req, Some(&current)).at("friends"),
        computing_id: friend.computing_id.clone(),
        label,
        term_name: choice.name(),
        terms: choice.options(),
        this_term: this_term
            .into_iter()
            .map(|c| ClassView::new(c, meetings.get(&c.id), Vec::new()))
            .collect(),
        other_terms: other_terms
            .into_iter()
            .map(|c| ClassView::new(c, meetings.get(&c.id), Vec::new()))
            .collect(),
        hidden_by_me: current.user.hide_classes,
        hidden_by_them: friend.hide_classes && !current.user.hide_classes,
    }
    .render()?;
    Ok(views::page(body))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index).service(add).service(show).service(act);
}
