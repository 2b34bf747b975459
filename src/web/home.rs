//! The front page: a welcome for visitors; for a signed-in student, their
//! classes this term with the friends in each, and requests waiting for them.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::AppError;
use super::guard::Visitor;
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, ClassView, TermChoice, TermOption};
use crate::chat;
use crate::classes;
use crate::friends;

#[derive(Template)]
#[template(path = "home/welcome.html")]
struct Welcome {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "home/show.html")]
struct Home {
    layout: Layout,
    terms: Vec<TermOption>,
    term_code: String,
    term_name: String,
    classes: Vec<ClassView>,
    /// "CS 2100 and CS 3120 overlap on Tue Thu 11:00 AM", and how many more.
    clashes: Vec<String>,
    more_clashes: usize,
    requests: Vec<RequestRow>,
    hides_classes: bool,
    return_to: String,
}

/// A friend request waiting for the student: who asked, as "Jane Doe (jd4ab)"
/// (`label`), and the computing ID the answer forms name.
pub struct RequestRow {
    pub computing_id: String,
    pub label: String,
}

impl From<friends::Person> for RequestRow {
    fn from(person: friends::Person) -> Self {
        RequestRow {
            label: person.label(),
            computing_id: person.computing_id,
        }
    }
}

#[derive(Deserialize)]
pub struct TermParam {
    pub term: Option<String>,
}

#[get("/")]
pub async fn show_home(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let configured = views::TermDefault::at(state.config.clone(), crate::clock::now());
    let terms = state.terms.clone();
    let requested = params.into_inner().term;
    let read = visitor
        .only_reads()
        .if_signed_in(move |conn, current| {
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, requested.as_deref())?;
            let (mine, meetings) = match &choice.current {
                Some(term) => classes::of_user_with_meetings(conn, &user.id, term.code())?,
                None => Default::default(),
            };
            let (friends_in, requests) = friends::visibility::friends_in_term_and_requests(
                conn,
                user,
                choice.current.as_ref().map(|t| t.code()),
                crate::clock::now(),
            )?;
            let unread = match &choice.current {
                Some(term) => {
                    chat::reads::unread_in(conn, &user.id, term.code(), crate::clock::now())?
                }
                None => Default::default(),
            };
            // The terms' dates (held in memory): a half-term course says so.
            let spans = configured.spans(conn, &terms)?;
            Ok((
                choice,
                mine,
                meetings,
                friends_in,
                requests,
                (unread, spans),
            ))
        })
        .await?;
    let Some((current, (choice, mine, meetings, friends_in, requests, (unread, spans)))) = read
    else {
        let body = Welcome {
            layout: Layout::new(&req, None),
        }
        .render()?;
        return Ok(views::page(body));
    };
    let term_code = choice.code();
    let (clashes, more_clashes) =
        super::schedule::clash_lines(&mine, &classes::week::of_classes(&mine, &meetings));
    let mut layout = Layout::new(&req, Some(&current)).at("home");
    layout.unread |= !unread.is_empty();
    let body = Home {
        layout,
        terms: choice.options(),
        term_name: choice.name(),
        classes: mine
            .iter()
            .map(|c| {
                let names = friends_in
                    .get(&c.id)
                    .map(|list| list.iter().map(|f| f.label()).collect())
                    .unwrap_or_default();
                let mut view =
                    ClassView::new(c, meetings.get(&c.id), names).in_term(&c.term, &spans);
                view.unread = unread.get(&c.id).copied().unwrap_or(0);
                view
            })
            .collect(),
        clashes,
        more_clashes,
        requests: requests.into_iter().map(RequestRow::from).collect(),
        hides_classes: current.user.hide_classes,
        return_to: views::with_term("/", &term_code),
        term_code,
    }
    .render()?;
    Ok(views::page(body))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_home);
}
