//! What several pages share: the term being looked at (and the picker for it),
//! a section as a card, and the shapes of HTML and redirect responses.

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};

use super::error::AppError;
use super::guard;
use crate::campus_time::meeting_range;
use crate::classes::schedule;
use crate::classes::term::TermList;
use crate::classes::{self, Class, ClassMeeting, Term};
use crate::db::DbConn;

/// How a page picks its term when none is asked for
/// (`classes::term::default_term`): `CURRENT_TERM`, else by the terms' dates
/// on today's campus date (read from memory, and only when needed).
#[derive(Clone)]
pub struct TermDefault {
    config: std::sync::Arc<crate::config::Config>,
    today: chrono::NaiveDate,
}

impl TermDefault {
    /// The default as of `now`.
    pub fn at(config: std::sync::Arc<crate::config::Config>, now: chrono::NaiveDateTime) -> Self {
        let today = config.campus_time.date_of(now);
        TermDefault { config, today }
    }

    /// `CURRENT_TERM`, when set.
    pub fn configured(&self) -> Option<&str> {
        self.config.classes.current_term.as_deref()
    }

    /// Every term's first and last day (held in memory).
    pub fn spans(
        &self,
        conn: &mut DbConn,
        terms: &TermList,
    ) -> diesel::QueryResult<std::sync::Arc<classes::term::SpansByTerm>> {
        terms.spans(conn, &self.config.classes.terms)
    }

    /// The term to show among `present`, the catalog's terms.
    pub fn pick(
        &self,
        conn: &mut DbConn,
        terms: &TermList,
        present: &[Term],
    ) -> diesel::QueryResult<Option<Term>> {
        let spans = match self.configured() {
            // The configured term wins: no need for anyone's dates.
            Some(_) => Default::default(),
            None => terms.spans(conn, &self.config.classes.terms)?,
        };
        Ok(classes::term::default_term(
            self.configured(),
            present,
            &spans,
            self.today,
        ))
    }
}

/// The term a page shows, and every term the catalog holds (for the picker).
pub struct TermChoice {
    pub current: Option<Term>,
    pub all: Vec<Term>,
}

/// One entry of the term picker.
pub struct TermOption {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

impl TermChoice {
    /// `requested` is the page's `?term=`; without it, `default`'s.
    pub fn load(
        conn: &mut DbConn,
        terms: &TermList,
        default: &TermDefault,
        requested: Option<&str>,
    ) -> Result<TermChoice, AppError> {
        let all = terms.get(conn)?.to_vec();
        let configured = default.configured();
        let current = match requested.map(str::trim).filter(|r| !r.is_empty()) {
            None => default.pick(conn, terms, &all)?,
            Some(raw) => {
                let term = Term::parse(raw).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "“{}” is not a term. Terms are written like 1262 (Spring 2026): 1, the year's last two digits, and 1 January, 2 spring, 6 summer or 8 fall.",
                        raw.chars().take(40).collect::<String>()
                    ))
                })?;
                if !all.contains(&term) && configured != Some(term.code()) {
                    return Err(AppError::BadRequest(format!(
                        "The catalog has no classes for {} yet. Pick a term from the list.",
                        term.name()
                    )));
                }
                Some(term)
            }
        };
        Ok(TermChoice { current, all })
    }

    pub fn options(&self) -> Vec<TermOption> {
        let mut all = self.all.clone();
        if let Some(current) = &self.current {
            if !all.contains(current) {
                all.insert(0, current.clone());
            }
        }
        all.into_iter()
            .map(|t| TermOption {
                selected: self.current.as_ref() == Some(&t),
                code: t.code().to_string(),
                name: t.name(),
            })
            .collect()
    }

    pub fn code(&self) -> String {
        self.current
            .as_ref()
            .map(|t| t.code().to_string())
            .unwrap_or_default()
    }

    pub fn name(&self) -> String {
        self.current.as_ref().map(Term::name).unwrap_or_default()
    }
}

/// A weekly meeting as people read it.
pub struct MeetingView {
    pub days: String,
    pub time: String,
    pub place: Option<String>,
    /// The meeting's own dates, as SIS gave them.
    pub dates: Option<crate::classes::term_dates::TermSpan>,
    /// "Jan 14 – Mar 4 only" when those are not the term's (a half-term
    /// course): set by `ClassView::in_term`.
    pub only: Option<String>,
}

/// A section as the pages show it.
pub struct ClassView {
    pub id: String,
    pub code: String,
    pub section: String,
    pub component: String,
    pub title: String,
    pub instructors: String,
    pub meetings: Vec<MeetingView>,
    pub seats: Option<String>,
    /// Its SIS class number ("16601"), which "Add several classes at once"
    /// takes.
    pub number: Option<String>,
    pub active: bool,
    pub term_name: String,
    pub friends: Vec<String>,
    /// Chat messages new to the viewer (home's cards).
    pub unread: i64,
}

fn component_name(raw: &str) -> String {
    match raw.trim().to_ascii_uppercase().as_str() {
        "LEC" => "Lecture".into(),
        "LAB" => "Laboratory".into(),
        "DIS" => "Discussion".into(),
        "SEM" => "Seminar".into(),
        "IND" => "Independent study".into(),
        "STO" => "Studio".into(),
        "CLN" => "Clinical".into(),
        "PRA" => "Practicum".into(),
        "WKS" => "Workshop".into(),
        "DRL" => "Drill".into(),
        "" => "Section".into(),
        other => other.to_string(),
    }
}

/// "Mon Wed Fri", "10:00–10:50", "Rice Hall 130"; TBA and "***" become plain words.
pub fn meeting_view(
    days: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    place: Option<&str>,
) -> MeetingView {
    let parsed_days = days.map(schedule::parse_days).unwrap_or_default();
    let days = if parsed_days.is_empty() {
        "Days to be announced".to_string()
    } else {
        parsed_days
            .iter()
            .map(|d| d.short())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let time = match (
        start.and_then(schedule::parse_time),
        end.and_then(schedule::parse_time),
    ) {
        (Some(s), Some(e)) => meeting_range(u32::from(s), u32::from(e)),
        _ => "Time to be announced".to_string(),
    };
    let place = crate::classes::week::place(place);
    MeetingView {
        days,
        time,
        place,
        dates: None,
        only: None,
    }
}

impl ClassView {
    pub fn new(
        class: &Class,
        meetings: Option<&Vec<ClassMeeting>>,
        friends: Vec<String>,
    ) -> ClassView {
        let meetings: Vec<MeetingView> = match meetings.filter(|m| !m.is_empty()) {
            Some(list) => list
                .iter()
                .map(|m| MeetingView {
                    dates: m.first_day.zip(m.last_day).and_then(|(first, last)| {
                        crate::classes::term_dates::TermSpan::new(first, last)
                    }),
                    ..meeting_view(
                        m.days.as_deref(),
                        m.start_time.as_deref(),
                        m.end_time.as_deref(),
                        m.location.as_deref(),
                    )
                })
                .collect(),
            None if class.days.is_some() || class.start_time.is_some() => vec![meeting_view(
                class.days.as_deref(),
                class.start_time.as_deref(),
                class.end_time.as_deref(),
                class.location.as_deref(),
            )],
            None => Vec::new(),
        };
        let seats = match (class.enrollment_available, class.class_capacity) {
            (Some(open), Some(cap)) => Some(format!("{} of {} seats open", open.max(0), cap)),
            (None, Some(cap)) => Some(format!("{cap} seats")),
            _ => None,
        };
        ClassView {
            id: class.id.as_str().to_owned(),
            code: class.code(),
            section: class.class_section.clone().unwrap_or_default(),
            component: component_name(class.component.as_deref().unwrap_or("")),
            title: class.title.clone().unwrap_or_default(),
            instructors: class
                .instructor
                .clone()
                .filter(|i| !i.trim().is_empty() && i.trim() != "-")
                .unwrap_or_else(|| "Instructor to be announced".into()),
            meetings,
            seats,
            number: class
                .sis_class_number
                .clone()
                .filter(|n| !n.trim().is_empty()),
            active: class.active,
            term_name: Term::parse(&class.term)
                .map(|t| t.name())
                .unwrap_or_else(|| class.term.clone()),
            friends,
            unread: 0,
        }
    }

    /// Notes each meeting whose dates are not its term's (`spans`, by term
    /// code): a half-term course says "Jan 14 – Mar 4 only", as the week does.
    pub fn in_term(mut self, term: &str, spans: &classes::term::SpansByTerm) -> ClassView {
        let span = spans.get(term).copied();
        for m in &mut self.meetings {
            m.only = m
                .dates
                .filter(|own| span.is_some_and(|term| *own != term))
                .map(|own| format!("{} only", own.label()));
        }
        self
    }

    /// Home's mark for the chat link: "3 new", "99+ new" once the count
    /// reaches the cap `chat::reads::unread_in` counts to, or nothing.
    pub fn unread_label(&self) -> Option<String> {
        let cap = crate::chat::reads::COUNT_UP_TO;
        match self.unread {
            n if n >= cap => Some(format!("{}+ new", cap - 1)),
            n if n > 0 => Some(format!("{n} new")),
            _ => None,
        }
    }
}

/// A rendered page. Pages carry per-visitor tokens, so nothing may cache them.
pub fn page(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// After a form: a redirect back to a page that shows a one-time message
/// (the cookie's name and `Secure` flag follow `BASE_URL`).
#[derive(Debug, Clone)]
pub struct FlashRedirect {
    to: String,
    flash: guard::Flash,
}

impl FlashRedirect {
    /// Back to `to`, saying what was done.
    pub fn done(to: &str, text: impl Into<String>) -> FlashRedirect {
        FlashRedirect::new(to, false, text)
    }

    /// Back to `to`, saying why nothing was done.
    pub fn refused(to: &str, text: impl Into<String>) -> FlashRedirect {
        FlashRedirect::new(to, true, text)
    }

    /// Back to `to`, saying why nothing was done, with what was typed into
    /// its `field` in the query, so the page puts it back in the field and
    /// marks it as in error (the page shows it only beside this refusal).
    /// What no field should hold back is left out: controls and the
    /// invisible characters a name is refused for (`is_invisible`), so the
    /// student sees what they typed. The rest is cut short where the address
    /// would grow past what a redirect keeps (`guard::safe_next`), so the
    /// refusal still lands on `to`.
    pub fn refused_keeping(
        to: &str,
        field: &str,
        typed: &str,
        text: impl Into<String>,
    ) -> FlashRedirect {
        let mut kept: String = typed
            .chars()
            .filter(|c| !crate::accounts::display_name::is_invisible(*c))
            .collect();
        loop {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(field, &kept)
                .finish();
            let path = format!("{to}?{query}");
            if path.len() <= guard::LONGEST_NEXT || kept.pop().is_none() {
                return FlashRedirect::refused(&path, text);
            }
        }
    }

    /// Back to `to` with a message that is an error or not.
    pub fn new(to: &str, is_error: bool, text: impl Into<String>) -> FlashRedirect {
        FlashRedirect {
            to: to.to_string(),
            flash: guard::Flash {
                is_error,
                text: text.into(),
            },
        }
    }
}

impl Responder for FlashRedirect {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let secure = guard::state(req).config.is_https();
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, guard::safe_next(Some(&self.to))))
            .cookie(guard::flash_cookie(
                self.flash.is_error,
                &self.flash.text,
                secure,
            ))
            .finish()
    }
}

/// `/path?term=1262` (or just `/path` without a term).
pub fn with_term(path: &str, term: &str) -> String {
    if term.is_empty() {
        path.to_string()
    } else {
        format!("{path}?term={term}")
    }
}

/// A "Mark all read" form: its page says when it was made (`seen`), and
/// only what came by then is marked; what came since stays new, unseen.
#[derive(serde::Deserialize)]
pub struct SeenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    seen: Option<String>,
}

/// How a page writes `seen` into its form.
const SEEN_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl SeenForm {
    /// `now`, as the page's form carries it.
    pub fn stamp(now: chrono::NaiveDateTime) -> String {
        now.format(SEEN_FORMAT).to_string()
    }

    /// When the page was made; None for a form without it (a page taking
    /// rows live empties it: it is current), which marks all.
    pub fn seen(&self) -> Option<chrono::NaiveDateTime> {
        self.seen
            .as_deref()
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, SEEN_FORMAT).ok())
    }
}

impl guard::SessionForm for SeenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
