//! Friends: add by computing ID or address, answer requests, remove, block and
//! unblock, the classes shared with one friend and their week beside yours,
//! and the times when you and chosen friends are all free.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::error::{friend_refusal, with_conn, AppError, Refusal};
use super::guard::{self, SessionForm, SignedInForm, Visitor};
use super::home::{RequestRow, TermParam};
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, ClassView, FlashRedirect, TermChoice, TermOption};
use crate::accounts::UserId;
use crate::campus_time::{meeting_range, twelve_hour};
use crate::classes;
use crate::classes::schedule::Day;
use crate::classes::term_dates::TermSpan;
use crate::clock;
use crate::config::ConfiguredTermDates;
use crate::friends::requests::Friend;
use crate::friends::{self, free, requests, weeks, Action, RequestOutcome};

struct FriendRow {
    computing_id: String,
    label: String,
    /// Classes shared this term; none to count when they keep theirs private.
    shared: Option<i64>,
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
    /// What was typed into "Add a friend" and refused: back in the field,
    /// which points at the refusal (the flash) as its error.
    who: String,
    who_refused: bool,
}

#[derive(Deserialize)]
pub struct FriendsQuery {
    term: Option<String>,
    /// A refused "Add a friend": what was typed (see `add`).
    who: Option<String>,
}

/// Back to the friends page with a refusal of what was typed in "Add a
/// friend", the typed text kept for the field.
fn refuse_who(typed: &str, message: impl Into<String>) -> FlashRedirect {
    let typed: String = typed.trim().chars().take(254).collect();
    FlashRedirect::refused_keeping("/friends", "who", &typed, message)
}

#[get("/friends")]
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    params: web::Query<FriendsQuery>,
) -> Result<HttpResponse, AppError> {
    let configured = views::TermDefault::at(state.config.clone(), clock::now());
    let terms = state.terms.clone();
    let FriendsQuery {
        term: requested,
        who,
    } = params.into_inner();
    let (current, (choice, overview, counts)) = visitor
        .signed_in(move |conn, current| {
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, requested.as_deref())?;
            let overview = requests::overview(conn, &user.id, clock::now())?;
            let ids: Vec<UserId> = overview.friends.iter().map(|f| f.id.clone()).collect();
            let counts = match &choice.current {
                Some(term) => friends::visibility::shared_counts(conn, user, &ids, term.code())?,
                None => Default::default(),
            };
            Ok((choice, overview, counts))
        })
        .await?;
    let ids = |list: Vec<friends::Person>| list.into_iter().map(|p| p.computing_id).collect();
    let layout = Layout::new(&req, Some(&current)).at("friends");
    // Only beside the refusal it came back with: a bare `?who=` fills nothing.
    let who_refused = layout.flash.as_ref().is_some_and(|f| f.is_error) && who.is_some();
    let body = FriendsPage {
        layout,
        term_code: choice.code(),
        term_name: choice.name(),
        terms: choice.options(),
        friends: overview
            .friends
            .iter()
            .map(|f| FriendRow {
                computing_id: f.person.computing_id.clone(),
                label: f.person.label(),
                shared: (!f.hides_classes).then(|| counts.get(&f.id).copied().unwrap_or(0)),
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
        who: if who_refused {
            who.unwrap_or_default()
        } else {
            String::new()
        },
        who_refused,
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
            Err(message) => return Ok(refuse_who(&form.who, message)),
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
            format!("Request sent to {computing_id}. We email no one who has not signed up: if they are new to Common Grounds, tell them to sign in with their UVA email, and your request will be waiting. It lapses after 60 days without an answer; sent it to the wrong ID? Withdraw it under Requests you sent."),
        ),
        RequestOutcome::NowFriends { computing_id } => (
            false,
            format!("{computing_id} had already asked you: you are friends now."),
        ),
        RequestOutcome::AlreadyFriends { computing_id } => {
            (false, format!("You and {computing_id} are already friends."))
        }
        RequestOutcome::Yourself => {
            return Ok(refuse_who(
                &form.who,
                "That is you. Enter a friend's computing ID.",
            ))
        }
        RequestOutcome::YouBlocked { computing_id } => {
            return Ok(refuse_who(
                &form.who,
                format!("You blocked {computing_id}. Unblock them below before sending a request."),
            ))
        }
        // Suspended since the page checked (a moderator acted meanwhile).
        RequestOutcome::Suspended { until } => {
            return Err(AppError::Suspended {
                until,
                reason: None,
                campus: state.config.campus_time,
            })
        }
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

#[derive(Template)]
#[template(path = "friends/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    computing_id: String,
    /// "Remove …?" rather than "Block …?".
    removing: bool,
}

/// "Block …?" or "Remove …?": what it does, with the button that does it.
/// Neither is undone by a tap (unblocking restores no friendship; a removed
/// friend must be asked again), so the lists link here instead of acting at
/// one tap, as a misplaced thumb on a phone would. The page reads nothing
/// about the computing ID: it looks the same whether or not anyone holds it.
#[get("/friends/{computing_id}/{action:block|remove}")]
pub async fn confirm_block(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (current, ()) = visitor.signed_in(|_, _| Ok(())).await?;
    let (who, action) = path.into_inner();
    let computing_id = requests::parse_who(&who, &state.config.sign_in.allowed_email_domains)
        .map_err(|_| AppError::NotFound)?;
    let body = ConfirmPage {
        layout: Layout::new(&req, Some(&current)).at("friends"),
        computing_id,
        removing: action == "remove",
    }
    .render()?;
    Ok(views::page(body))
}

#[post("/friends/{computing_id}/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    SignedInForm(current, form): SignedInForm<ActionForm>,
) -> Result<FlashRedirect, AppError> {
    let (who, action) = path.into_inner();
    let action = Action::parse(&action).ok_or(AppError::NotFound)?;
    // While suspended, nobody is let in (accepting, unblocking); declining,
    // unfriending and blocking still keep people away (`requests::act`).
    if action.reaches_someone() {
        guard::ensure_not_suspended(&current, state.config.campus_time)?;
    }
    let computing_id = requests::parse_who(&who, &state.config.sign_in.allowed_email_domains)
        .map_err(|_| AppError::NotFound)?;
    let back = guard::safe_next(form.next.as_deref().or(Some("/friends")));
    let domain = state.config.sign_in.allowed_email_domains[0].clone();
    let me = current.user.id.clone();
    let outcome = with_conn(&state.pool, move |conn| {
        Ok(requests::act(
            conn,
            &current.user,
            &computing_id,
            action,
            &domain,
            clock::now(),
        ))
    })
    .await?;
    match outcome {
        Ok(message) => {
            // An answered request's notice is read now
            // (`notifications::friends::request_answered`).
            state.live.unread_changed(&me);
            Ok(FlashRedirect::done(&back, message))
        }
        Err(refused) => match friend_refusal(refused, clock::now(), state.config.campus_time) {
            Refusal::Flash(message) => Ok(FlashRedirect::refused(&back, message)),
            Refusal::Page { message, .. } => Err(AppError::BadRequest(message)),
            Refusal::Error(error) => Err(error),
        },
    }
}

/// One meeting in a side-by-side week, as the page shows it.
struct EntryView {
    class_id: String,
    code: String,
    section: String,
    time: String,
    place: Option<String>,
    /// "Jan 14 – Mar 3 only", for a meeting that runs part of the term.
    only: Option<String>,
    shared: bool,
}

/// A day of the two weeks.
struct DayView {
    day: &'static str,
    mine: Vec<EntryView>,
    theirs: Vec<EntryView>,
}

fn day_views(mine: &weeks::Week, theirs: &weeks::Week, term: Option<TermSpan>) -> Vec<DayView> {
    let entries = |list: Vec<weeks::Entry>| {
        list.into_iter()
            .map(|e| EntryView {
                class_id: e.class_id.as_str().to_owned(),
                code: e.code,
                section: e.section.unwrap_or_default(),
                time: meeting_range(u32::from(e.start), u32::from(e.end)),
                place: e.place,
                only: e.dates.map(|own| format!("{} only", own.label())),
                shared: e.shared,
            })
            .collect()
    };
    weeks::side_by_side(mine, theirs, term)
        .into_iter()
        .map(|d| DayView {
            day: d.day.short(),
            mine: entries(d.mine),
            theirs: entries(d.theirs),
        })
        .collect()
}

fn codes(sections: &[&classes::Class]) -> Vec<String> {
    sections.iter().map(|c| c.code()).collect()
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
    /// The two weeks of the shown term, day by day (empty while either hides).
    days: Vec<DayView>,
    my_untimed: Vec<String>,
    their_untimed: Vec<String>,
}

#[get("/friends/{computing_id}")]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let app = state.clone();
    let configured = views::TermDefault::at(state.config.clone(), clock::now());
    let terms = state.terms.clone();
    let requested = params.into_inner().term;
    let (current, (choice, friend, together, spans)) = visitor
        .only_reads()
        .signed_in(move |conn, current| {
            // Checked once signed in, as before: signed out, any address asks to sign in.
            let computing_id =
                requests::parse_who(&path, &app.config.sign_in.allowed_email_domains)
                    .map_err(|_| AppError::NotFound)?;
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, requested.as_deref())?;
            // Said as such: a friend who removed the friendship (or a link
            // from a notice) is not a broken address. Worded alike whether
            // the ID has an account, so the page tells nothing of who does.
            let friend = friends::requests::accepted_friend(conn, &user.id, &computing_id)?
                .ok_or(AppError::Gone {
                    title: "Not a friend (yet)",
                    message: "This page shows a friend's week beside yours, and you are not friends with this computing ID on Common Grounds (or the friendship was removed). Add them from your friends page; their week shows here once they accept.",
                    action: ("/friends", "Go to my friends"),
                })?;
            let together = weeks::with_friend(conn, user, &friend, &choice.code())?;
            let spans = configured.spans(conn, &terms)?;
            Ok((choice, friend, together, spans))
        })
        .await?;
    let weeks::WithFriend {
        weeks,
        shared,
        meetings,
    } = together;
    let term_code = choice.code();
    let (this_term, other_terms): (Vec<_>, Vec<_>) =
        shared.iter().partition(|c| c.term == term_code);
    let label = friends::label(friend.display_name.as_deref(), &friend.computing_id);
    // Their week is there only when the visibility rule counted them.
    let (days, my_untimed, their_untimed) = match weeks.shown.first() {
        Some((_, theirs)) => (
            day_views(&weeks.mine, theirs, spans.get(&term_code).copied()),
            codes(&weeks.mine.untimed()),
            codes(&theirs.untimed()),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let body = FriendPage {
        layout: Layout::new(&req, Some(&current)).at("friends"),
        computing_id: friend.computing_id.clone(),
        label,
        term_name: choice.name(),
        terms: choice.options(),
        this_term: this_term
            .into_iter()
            .map(|c| ClassView::new(c, meetings.get(&c.id), Vec::new()).in_term(&c.term, &spans))
            .collect(),
        other_terms: other_terms
            .into_iter()
            .map(|c| ClassView::new(c, meetings.get(&c.id), Vec::new()).in_term(&c.term, &spans))
            .collect(),
        hidden_by_me: current.user.hide_classes,
        hidden_by_them: friend.hide_classes && !current.user.hide_classes,
        days,
        my_untimed,
        their_untimed,
    }
    .render()?;
    Ok(views::page(body))
}

/// Friends one search may compare at once.
const MOST_FRIENDS_AT_ONCE: usize = 20;

/// `GET /friends/free`'s fields: repeated `friend`, and `from`, `to`, `start`,
/// `end`, `term` (read by hand: checkboxes repeat a name).
struct FreeQuery {
    chosen: Vec<String>,
    window: free::Window,
    term: Option<String>,
    /// The week asked for (any day of it), when half-term classes make weeks differ.
    week: Option<chrono::NaiveDate>,
    /// The form was sent (any of its fields is present), not just opened.
    asked: bool,
    /// What is wrong with its days, hours or week: the form is shown back,
    /// as sent, with these words beside each, and no results.
    refused: Refused,
}

/// What a free-time search asked that cannot be searched, by the part of
/// the form it is in.
#[derive(Default)]
struct Refused {
    days: Vec<String>,
    hours: Vec<String>,
    week: Option<String>,
}

impl Refused {
    fn any(&self) -> bool {
        !self.days.is_empty() || !self.hours.is_empty() || self.week.is_some()
    }
}

impl FreeQuery {
    fn parse(query: &str, allowed_domains: &[String]) -> Result<FreeQuery, AppError> {
        let mut chosen: Vec<String> = Vec::new();
        let (mut from, mut to, mut start, mut end, mut term) = (None, None, None, None, None);
        let mut week = None;
        let mut asked = false;
        let mut refused = Refused::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "friend" => {
                    asked = true;
                    // A malformed id is as unknown as a stranger's: the same words.
                    let id = requests::parse_who(&value, allowed_domains)
                        .map_err(|_| not_a_friend(&value))?;
                    if !chosen.contains(&id) {
                        chosen.push(id);
                    }
                    // Stop reading at once: a long address must not cost more.
                    if chosen.len() > MOST_FRIENDS_AT_ONCE {
                        return Err(AppError::BadRequest(format!(
                            "You picked more than {MOST_FRIENDS_AT_ONCE} friends; compare at most {MOST_FRIENDS_AT_ONCE} at a time. Go back and untick some."
                        )));
                    }
                }
                "from" => (asked, from) = (true, Some(value)),
                "to" => (asked, to) = (true, Some(value)),
                "start" => (asked, start) = (true, Some(value)),
                "end" => (asked, end) = (true, Some(value)),
                "term" => term = Some(value),
                "week" if !value.trim().is_empty() => {
                    asked = true;
                    match chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
                        Ok(day) => week = Some(day),
                        Err(_) => {
                            refused.week = Some(format!(
                                "“{}” is not a week. Pick a week from the list.",
                                value.trim().chars().take(20).collect::<String>()
                            ))
                        }
                    }
                }
                _ => {}
            }
        }
        let (from, to, start, end) = (
            from.as_deref(),
            to.as_deref(),
            start.as_deref(),
            end.as_deref(),
        );
        let (window, faults) = free::Window::read(from, to, start, end);
        for fault in faults {
            match fault.in_days() {
                true => refused.days.push(fault.to_string()),
                false => refused.hours.push(fault.to_string()),
            }
        }
        Ok(FreeQuery {
            chosen,
            window,
            term,
            week,
            asked,
            refused,
        })
    }
}

fn not_a_friend(raw: &str) -> AppError {
    AppError::BadRequest(format!(
        "“{}” is not one of your friends. Pick friends from the list on the free-time page.",
        raw.trim().chars().take(40).collect::<String>()
    ))
}

/// A friend to tick.
struct FriendChoice {
    computing_id: String,
    label: String,
    checked: bool,
}

/// An entry of a day or hour list.
struct PickOption {
    value: String,
    name: String,
    selected: bool,
}

/// One free stretch as the page shows it.
struct SlotView {
    time: String,
    length: String,
    /// Who is busy then (the "all but one" list).
    busy: Option<String>,
}

/// The free stretches of one day.
struct DaySlots {
    day: &'static str,
    slots: Vec<SlotView>,
}

/// What a search found, for the people it counted.
struct FreeResults {
    counted: Vec<String>,
    /// "Ana has no classes with set times in Spring 2026", for each counted
    /// who has none: counted as free all week, which should not pass unsaid.
    no_classes: Vec<String>,
    all_free: Vec<DaySlots>,
    /// None when fewer than three are counted ("all but one" would be "one of you").
    all_but_one: Option<Vec<DaySlots>>,
}

#[derive(Template)]
#[template(path = "friends/free.html")]
struct FreePage {
    layout: Layout,
    friends: Vec<FriendChoice>,
    terms: Vec<TermOption>,
    term_code: String,
    days_from: Vec<PickOption>,
    days_to: Vec<PickOption>,
    hours_start: Vec<PickOption>,
    hours_end: Vec<PickOption>,
    /// The form was sent without a friend ticked.
    none_chosen: bool,
    /// What is wrong with the days, hours or week asked (then no results).
    refused: Refused,
    private: Vec<String>,
    withheld: Vec<String>,
    results: Option<FreeResults>,
    window_words: String,
    /// The weeks of the term, when half-term classes make them differ.
    weeks: Vec<PickOption>,
    /// "the week of Mar 16", or empty.
    week_words: String,
}

/// "1 hr 30 min", "45 min", "2 hr".
fn length_words(minutes: u16) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} hr"),
        (h, m) => format!("{h} hr {m} min"),
    }
}

fn by_day(window: &free::Window, slots: Vec<(free::Slot, Option<String>)>) -> Vec<DaySlots> {
    window
        .days()
        .into_iter()
        .map(|day| DaySlots {
            day: day.short(),
            slots: slots
                .iter()
                .filter(|(s, _)| s.day == day)
                .map(|(s, busy)| SlotView {
                    time: meeting_range(u32::from(s.start), u32::from(s.end)),
                    length: length_words(s.minutes()),
                    busy: busy.clone(),
                })
                .collect(),
        })
        .collect()
}

fn day_options(selected: Day) -> Vec<PickOption> {
    free::WEEK
        .into_iter()
        .map(|d| PickOption {
            value: d.short().to_string(),
            name: d.short().to_string(),
            selected: d == selected,
        })
        .collect()
}

fn hour_options(hours: std::ops::RangeInclusive<u16>, selected: u16) -> Vec<PickOption> {
    hours
        .map(|h| PickOption {
            value: h.to_string(),
            name: if h == 24 {
                "Midnight".to_string()
            } else {
                twelve_hour(u32::from(h) * 60)
            },
            selected: h * 60 == selected,
        })
        .collect()
}

#[get("/friends/free")]
pub async fn free_time(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    // A malformed query is refused once signed in (inside the job): signed
    // out, any link asks to sign in first.
    let query = FreeQuery::parse(
        req.query_string(),
        &state.config.sign_in.allowed_email_domains,
    );
    let now = clock::now();
    let today = state.config.campus_time.date_of(now);
    let configured = views::TermDefault::at(state.config.clone(), now);
    let terms = state.terms.clone();
    let app = state.clone();
    let (current, (query, choice, overview, weeks, span)) = visitor
        .signed_in(move |conn, current| {
            let query = query?;
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, query.term.as_deref())?;
            let overview = requests::overview(conn, &user.id, now)?;
            let weeks = if query.chosen.is_empty() {
                weeks::Weeks::default()
            } else {
                weeks::load(conn, user, &query.chosen, &choice.code())?
            };
            if let Some(stranger) = weeks.not_friends.first() {
                return Err(not_a_friend(stranger));
            }
            // The term's dates (held in memory), for the weeks to pick from.
            let span = match &choice.current {
                Some(term) if !weeks.shown.is_empty() => terms
                    .spans(conn, &app.config.classes.terms)?
                    .get(term.code())
                    .copied(),
                _ => None,
            };
            Ok((query, choice, overview, weeks, span))
        })
        .await?;

    let mut window = query.window;
    // Half-term classes, or a term's days without classes, make one week
    // differ from another: then the search is of one week, the asked one,
    // else this one, else the term's first.
    let everyone = || {
        std::iter::once(&weeks.mine)
            .chain(weeks.shown.iter().map(|(_, w)| w))
            .flat_map(|w| w.meetings.iter())
    };
    let breaks = choice.current.as_ref().map_or_else(Vec::new, |shown| {
        ConfiguredTermDates::spans_of(&state.config.classes.breaks, shown.code())
    });
    let week_options: Vec<PickOption> =
        match free::term_weeks(everyone, span, &breaks, query.week, today) {
            Some(term) => {
                window.week = Some(term.chosen);
                term.weeks
                    .iter()
                    .map(|w| PickOption {
                        value: w.format("%Y-%m-%d").to_string(),
                        name: format!("Week of {}", w.format("%b %-d")),
                        selected: *w == term.chosen,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
    // The week matters only when weeks differ: else a week that does not
    // read (an old link's) is no fault, as every week is the same.
    let mut refused = query.refused;
    if week_options.is_empty() {
        refused.week = None;
    }
    // A refused form is shown back with no results: they would be of a
    // window or a week other than the one asked.
    let results = (!weeks.shown.is_empty() && !refused.any()).then(|| {
        let mut names = vec!["you".to_string()];
        names.extend(weeks.shown.iter().map(|(f, _)| f.label()));
        let mut all = vec![weeks.mine.meetings.clone()];
        all.extend(weeks.shown.iter().map(|(_, w)| w.meetings.clone()));
        let found = free::find(&all, &window, &breaks);
        let term = match choice.name() {
            name if name.is_empty() => "this term".to_string(),
            name => name,
        };
        // The viewer is first: told apart by place, not by a name ("you"
        // is a computing ID someone may hold).
        let no_classes = names
            .iter()
            .zip(&all)
            .enumerate()
            .filter(|(_, (_, meetings))| meetings.is_empty())
            .map(|(at, (name, _))| {
                if at == 0 {
                    format!("You have no classes with set times in {term}, so you count as free all week.")
                } else {
                    format!("{name} has no classes with set times in {term}, so they count as free all week.")
                }
            })
            .collect();
        FreeResults {
            no_classes,
            all_free: by_day(
                &window,
                found.all_free.into_iter().map(|s| (s, None)).collect(),
            ),
            all_but_one: (names.len() >= 3).then(|| {
                by_day(
                    &window,
                    found
                        .all_but_one
                        .into_iter()
                        .map(|a| (a.slot, Some(names[a.busy].clone())))
                        .collect(),
                )
                .into_iter()
                .filter(|d| !d.slots.is_empty())
                .collect()
            }),
            counted: names,
        }
    });
    let page = FreePage {
        layout: Layout::new(&req, Some(&current)).at("friends"),
        friends: overview
            .friends
            .iter()
            .map(|Friend { person: p, .. }| FriendChoice {
                checked: query.chosen.contains(&p.computing_id),
                computing_id: p.computing_id.clone(),
                label: p.label(),
            })
            .collect(),
        terms: choice.options(),
        term_code: choice.code(),
        days_from: day_options(window.from),
        days_to: day_options(window.to),
        hours_start: hour_options(0..=23, window.start),
        hours_end: hour_options(1..=24, window.end),
        week_words: window
            .week
            .map(|w| format!("the week of {}", w.format("%b %-d")))
            .unwrap_or_default(),
        weeks: week_options,
        none_chosen: query.asked && query.chosen.is_empty(),
        refused,
        private: weeks.private.iter().map(|f| f.label()).collect(),
        withheld: weeks.withheld_by_viewer.iter().map(|f| f.label()).collect(),
        results,
        window_words: format!(
            "{}, {}–{}",
            if window.from == window.to {
                window.from.short().to_string()
            } else {
                format!("{}–{}", window.from.short(), window.to.short())
            },
            twelve_hour(u32::from(window.start)),
            twelve_hour(u32::from(window.end))
        ),
    };
    let mut response = views::page(page.render()?);
    if page.refused.any() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // `free_time` before `show`: "/friends/free" is not a computing ID.
    cfg.service(index)
        .service(add)
        .service(free_time)
        .service(show)
        .service(confirm_block)
        .service(act);
}
