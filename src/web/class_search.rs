//! Finding a class: the search page (query, filters, friends in each result)
//! and adding several sections at once by their SIS class numbers.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{membership_refusal, with_conn, AppError, Refusal};
use super::guard::{CurrentUser, SessionForm, SignedInForm, Visitor};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, ClassView, TermChoice, TermOption};
use crate::classes::membership::{self, NumberOutcome, PastedNumber};
use crate::classes::schedule::Day;
use crate::classes::search::{self, Filters, Query, TimeOfDay};
use crate::classes::{self, Class, ClassId, MembershipError, Term};
use crate::clock;
use crate::friends;

/// Names shown beside a result's friend count up to this many friends.
const NAMES_SHOWN: usize = 3;

/// What the search form sent, read from the query string (days repeat).
#[derive(Default)]
struct SearchParams {
    q: String,
    term: Option<String>,
    page: Option<String>,
    subject: Option<String>,
    days: Vec<String>,
    time: Option<String>,
    open: Option<String>,
}

impl SearchParams {
    fn read(query_string: &str) -> SearchParams {
        let mut params = SearchParams::default();
        for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "q" => params.q = value,
                "term" => params.term = Some(value),
                "page" => params.page = Some(value),
                "subject" => params.subject = Some(value),
                "day" => params.days.push(value),
                "time" => params.time = Some(value),
                "open" => params.open = Some(value),
                _ => {}
            }
        }
        params
    }
}

struct ResultView {
    class: ClassView,
    joined: bool,
    /// "1 friend: Ana", "5 friends"; None when no friend may be shown.
    friends: Option<String>,
}

struct DayOption {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

struct TimeOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "classes/search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    terms: Vec<TermOption>,
    term_code: String,
    term_name: String,
    error: Option<String>,
    /// The filter that could not be read, for `aria-invalid`.
    filter_error: bool,
    searched: bool,
    results: Vec<ResultView>,
    total: i64,
    page: i64,
    capped: bool,
    prev_href: Option<String>,
    next_href: Option<String>,
    return_to: String,
    subjects: std::sync::Arc<[String]>,
    subject: String,
    /// The chosen subject when the term offers no such subject (kept selected).
    unlisted_subject: Option<String>,
    days: Vec<DayOption>,
    times: Vec<TimeOption>,
    open_only: bool,
}

/// A link to a page of this search, every filter kept.
fn search_href(q: &str, term: &str, filters: &Filters, page: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("q", q).append_pair("term", term);
    if let Some(subject) = &filters.subject {
        query.append_pair("subject", subject);
    }
    for day in &filters.days {
        query.append_pair("day", search::day_value(*day));
    }
    if let Some(time) = filters.time {
        query.append_pair("time", time.as_str());
    }
    if filters.open_only {
        query.append_pair("open", "1");
    }
    query.append_pair("page", &page.to_string());
    format!("/classes/search?{}", query.finish())
}

/// "1 friend: Ana", "3 friends: Ana, Bo, Cy", "7 friends".
fn friends_words(names: &[String]) -> Option<String> {
    let count = match names.len() {
        0 => return None,
        1 => "1 friend".to_string(),
        n => format!("{n} friends"),
    };
    Some(if names.len() <= NAMES_SHOWN {
        format!("{count}: {}", names.join(", "))
    } else {
        count
    })
}

fn day_options(chosen: &[Day]) -> Vec<DayOption> {
    Day::WEEKDAYS
        .into_iter()
        .map(|d| DayOption {
            value: search::day_value(d),
            label: d.short(),
            checked: chosen.contains(&d),
        })
        .collect()
}

fn time_options(chosen: Option<TimeOfDay>) -> Vec<TimeOption> {
    TimeOfDay::ALL
        .into_iter()
        .map(|t| TimeOption {
            value: t.as_str(),
            label: t.label(),
            selected: chosen == Some(t),
        })
        .collect()
}

/// What the search found, with what each result needs on the page.
struct Found {
    results: search::Results,
    meetings: std::collections::HashMap<ClassId, Vec<classes::ClassMeeting>>,
    joined: std::collections::HashSet<ClassId>,
    friends_in: std::collections::HashMap<ClassId, Vec<friends::FriendInClass>>,
}

// Stays whole: parse the query and filters, search, then shape results and paging for one template; no part is used by another page.
#[get("/classes/search")]
pub async fn search_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let params = SearchParams::read(req.query_string());
    let raw_q = params.q.clone();
    // A page out of range is refused once signed in (inside the job): signed
    // out, any link asks to sign in first.
    let page: Result<i64, AppError> = match params.page.as_deref().map(str::trim) {
        None | Some("") => Ok(1),
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|p| (1..=search::MAX_PAGES).contains(p))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "The page must be a number from 1 to {}.",
                    search::MAX_PAGES
                ))
            }),
    };
    let filters = Filters::parse(
        params.subject.as_deref(),
        params.days.iter().map(String::as_str),
        params.time.as_deref(),
        params.open.as_deref(),
    );
    let query = if raw_q.trim().is_empty() {
        None
    } else {
        Some(Query::parse(&raw_q))
    };
    // What to run: text, filters, or both; None when nothing was asked.
    let asked: Option<Result<(Option<Query>, Filters), String>> = match (query, &filters) {
        (_, Err(e)) => Some(Err(e.to_string())),
        (Some(Err(e)), _) => Some(Err(e.to_string())),
        (Some(Ok(q)), Ok(f)) => Some(Ok((Some(q), f.clone()))),
        (None, Ok(f)) if !f.is_empty() => Some(Ok((None, f.clone()))),
        (None, Ok(_)) => None,
    };
    let filter_error = filters.is_err();
    let filters = filters.unwrap_or_default();
    let configured = views::TermDefault::at(state.config.clone(), clock::now());
    let terms = state.terms.clone();
    let term_param = params.term.clone();
    let (current, (page, choice, (subjects, spans), outcome)) = visitor
        .signed_in(move |conn, current| {
            let page = page?;
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, term_param.as_deref())?;
            let subjects = match &choice.current {
                Some(term) => terms.subjects(conn, term)?,
                None => Default::default(),
            };
            // A half-term course says so in the results (dates held in memory).
            let spans = configured.spans(conn, &terms)?;
            let outcome = match (&choice.current, asked) {
                (Some(term), Some(Ok((query, filters)))) => {
                    let mut results =
                        search::run(conn, term, query.as_ref(), &filters, page, &user.id)?;
                    let ids: Vec<ClassId> = results.sections.iter().map(|c| c.id.clone()).collect();
                    let meetings = classes::meetings_by_class(conn, &ids)?;
                    let joined = std::mem::take(&mut results.joined);
                    let friends_in = friends::friends_in_classes(conn, user, &ids)?;
                    Some(Ok(Found {
                        results,
                        meetings,
                        joined,
                        friends_in,
                    }))
                }
                (_, Some(Err(e))) => Some(Err(e)),
                _ => None,
            };
            Ok((page, choice, (subjects, spans), outcome))
        })
        .await?;
    let term_code = choice.code();
    let q: String = raw_q.chars().take(search::MAX_QUERY_CHARS).collect();
    let mut view = SearchPage {
        layout: Layout::new(&req, Some(&current)).at("search"),
        terms: choice.options(),
        term_name: choice.name(),
        error: None,
        filter_error,
        searched: false,
        results: Vec::new(),
        total: 0,
        page,
        capped: false,
        prev_href: None,
        next_href: None,
        return_to: search_href(&q, &term_code, &filters, page),
        subject: filters.subject.clone().unwrap_or_default(),
        unlisted_subject: filters.subject.clone().filter(|s| !subjects.contains(s)),
        subjects,
        days: day_options(&filters.days),
        times: time_options(filters.time),
        open_only: filters.open_only,
        term_code: term_code.clone(),
        q,
    };
    let mut status = StatusCode::OK;
    match outcome {
        None => {}
        Some(Err(e)) => {
            view.error = Some(e);
            status = StatusCode::BAD_REQUEST;
        }
        Some(Ok(found)) => {
            let results = found.results;
            view.searched = true;
            // The page shown (a page past the last shows the last).
            if results.page != view.page {
                view.page = results.page;
                view.return_to = search_href(&view.q, &term_code, &filters, results.page);
            }
            view.total = results.total;
            view.capped = results.capped;
            view.prev_href = (results.page > 1)
                .then(|| search_href(&view.q, &term_code, &filters, results.page - 1));
            view.next_href = results
                .has_next
                .then(|| search_href(&view.q, &term_code, &filters, results.page + 1));
            view.results = results
                .sections
                .iter()
                .map(|c| {
                    let names: Vec<String> = found
                        .friends_in
                        .get(&c.id)
                        .map(|fs| fs.iter().map(|f| f.label()).collect())
                        .unwrap_or_default();
                    ResultView {
                        joined: found.joined.contains(&c.id),
                        friends: friends_words(&names),
                        class: ClassView::new(c, found.meetings.get(&c.id), Vec::new())
                            .in_term(&c.term, &spans),
                    }
                })
                .collect();
        }
    }
    let mut response = views::page(view.render()?);
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
pub struct AddByNumberForm {
    csrf_token: String,
    term: Option<String>,
    numbers: String,
}

impl SessionForm for AddByNumberForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// One line of the add-by-number result.
struct NumberLine {
    text: String,
    joined: bool,
    /// The section to join anyway after a clash.
    clash_class_id: Option<String>,
}

#[derive(Template)]
#[template(path = "classes/added.html")]
struct AddedPage {
    layout: Layout,
    term_code: String,
    term_name: String,
    lines: Vec<NumberLine>,
    back: String,
}

/// "CS 2100 (001)".
fn code_and_section(class: &Class) -> String {
    format!(
        "{} ({})",
        class.code(),
        class.class_section.as_deref().unwrap_or("section")
    )
}

/// A section joined from the pasted list: its course, component and how it
/// is said ("STAT 1068 (002)").
struct JoinedHere {
    code: String,
    component: Option<String>,
    said: String,
}

fn line_for(
    number: &str,
    outcome: NumberOutcome,
    joined_here: &[JoinedHere],
    term: &Term,
    current: &CurrentUser,
    state: &AppState,
) -> NumberLine {
    let said = |text: String| NumberLine {
        text,
        joined: false,
        clash_class_id: None,
    };
    match outcome {
        NumberOutcome::Unknown => {
            said(format!("{number}: no such class number in {}", term.name()))
        }
        NumberOutcome::Joined(class) => NumberLine {
            text: format!("{number}: joined {}", code_and_section(&class)),
            joined: true,
            clash_class_id: None,
        },
        NumberOutcome::NotTried(class) => said(format!(
            "{number}: {} not added; Common Grounds was too busy. Paste this number again.",
            code_and_section(&class)
        )),
        NumberOutcome::Refused(class, MembershipError::Clashes { overlaps, .. }) => {
            let text = format!(
                "{number}: {} overlaps {}; not added",
                code_and_section(&class),
                overlaps.join(" and ")
            );
            // Another section of the same course and kind was joined from the
            // list: "Add anyway" would only be refused (one section of each).
            match joined_here
                .iter()
                .find(|j| j.code == class.code() && j.component == class.component)
            {
                Some(instead) => said(format!(
                    "{text} (you joined {} from this list instead)",
                    instead.said
                )),
                None => NumberLine {
                    text,
                    joined: false,
                    clash_class_id: Some(class.id.to_string()),
                },
            }
        }
        NumberOutcome::Refused(class, MembershipError::AlreadyJoined { .. }) => said(format!(
            "{number}: you are already in {}",
            code_and_section(&class)
        )),
        NumberOutcome::Refused(_, refused) => {
            let fallback = refused.to_string();
            let words = match membership_refusal(
                refused,
                current.user.suspension_reason.clone(),
                clock::now(),
                state.config.campus_time,
            ) {
                Refusal::Flash(message) | Refusal::Page { message, .. } => message,
                Refusal::Error(AppError::TooManyRequests { message, .. }) => message,
                Refusal::Error(_) => fallback,
            };
            said(format!("{number}: {words}"))
        }
    }
}

/// This deployment's limits on joining and leaving.
/// The class-number box's `maxlength`.
const MAX_PASTE_CHARS: usize = 500;

/// The class-number form's address, opened (a reload, from the address bar,
/// of the page its answer was): the search page, where the form is.
#[get("/classes/add-by-number")]
pub async fn add_by_number_address() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/classes/search"))
        .finish()
}

#[post("/classes/add-by-number")]
pub async fn add_by_number(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedInForm(current, form): SignedInForm<AddByNumberForm>,
) -> Result<HttpResponse, AppError> {
    // The box takes 500 characters; a longer body did not come from it, and
    // would cost a line (and a comparison with every other piece) per word.
    if form.numbers.chars().count() > MAX_PASTE_CHARS {
        return Err(AppError::BadRequest(format!(
            "Paste at most {MAX_PASTE_CHARS} characters of class numbers at once, such as 16601 16602, 17003."
        )));
    }
    let pieces = membership::parse_numbers(&form.numbers);
    if pieces.is_empty() {
        return Err(AppError::BadRequest(
            "Paste one or more class numbers, such as 16601 16602, 17003.".into(),
        ));
    }
    let numbers: Vec<String> = pieces
        .iter()
        .filter_map(|p| match p {
            PastedNumber::Number(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let configured = views::TermDefault::at(state.config.clone(), clock::now());
    let terms = state.terms.clone();
    let shown = form.term.clone();
    let limits = super::classes::join_limits(&state);
    let student = current.user.clone();
    let (term, mut outcomes) = with_conn(&state.pool, move |conn| {
        let term = match shown.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
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
        let outcomes =
            membership::join_by_numbers(conn, &student, &term, &numbers, &limits, clock::now())?;
        Ok((term, outcomes))
    })
    .await?;
    // A suspended student changes nothing: say so once, as a join would.
    let suspended = outcomes.iter().position(|(_, o)| {
        matches!(
            o,
            NumberOutcome::Refused(_, MembershipError::Suspended { .. })
        )
    });
    if let Some(at) = suspended {
        if let (_, NumberOutcome::Refused(_, refused)) = outcomes.swap_remove(at) {
            let reason = current.user.suspension_reason.clone();
            if let Refusal::Error(error) =
                membership_refusal(refused, reason, clock::now(), state.config.campus_time)
            {
                return Err(error);
            }
        }
    }
    let joined_here: Vec<JoinedHere> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            NumberOutcome::Joined(class) => Some(JoinedHere {
                code: class.code(),
                component: class.component.clone(),
                said: code_and_section(class),
            }),
            _ => None,
        })
        .collect();
    let mut outcomes = outcomes.into_iter();
    let lines: Vec<NumberLine> = pieces
        .into_iter()
        .map(|piece| match piece {
            PastedNumber::Number(_) => match outcomes.next() {
                Some((number, outcome)) => {
                    line_for(&number, outcome, &joined_here, &term, &current, &state)
                }
                None => NumberLine {
                    text: "A number was not tried.".into(),
                    joined: false,
                    clash_class_id: None,
                },
            },
            PastedNumber::NotANumber(text) => NumberLine {
                text: format!("{text}: not a class number (class numbers are digits only, up to 9, usually five such as 16601); not tried"),
                joined: false,
                clash_class_id: None,
            },
            PastedNumber::TooMany(number) => NumberLine {
                text: format!(
                    "{number}: not tried; paste at most {} class numbers at once",
                    membership::MAX_NUMBERS_AT_ONCE
                ),
                joined: false,
                clash_class_id: None,
            },
        })
        .collect();
    let term_code = term.code().to_string();
    let view = AddedPage {
        layout: Layout::new(&req, Some(&current)).at("search"),
        back: format!("/classes/search?term={term_code}"),
        term_name: term.name(),
        term_code,
        lines,
    };
    Ok(views::page(view.render()?))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search_page)
        .service(add_by_number)
        .service(add_by_number_address);
}
