//! Catalog search: what a student types ("CS 2100", "cs2100", "cs", "machine
//! learning", "Lovelace") and the filters they tick (subject, days, time of
//! day, open seats) turned into one bounded query over a term's sections,
//! ranked so an exact course code comes before title and instructor matches.
//!
//! Days and times are filtered in SQL on the text the SIS sync stores, the
//! same on both backends:
//! - days: SIS day codes ("MoWeFr", "TuTh"); a section passes when one of its
//!   patterns (its row's, or a `class_meetings` row's) names a chosen day and
//!   none names a day that was not chosen (so weekend and "TBA"-only sections
//!   drop out once days are chosen);
//! - time of day: start times as the sync writes them, 24-hour and
//!   zero-padded ("09:30"; SIS's own "09.30.00.000000-05:00" reads the same);
//!   a section passes when one of its patterns starts in the band and none
//!   starts outside it. Morning starts before 12:00, afternoon from 12:00 to
//!   before 17:00, evening from 17:00. A start written otherwise ("9:30",
//!   "TBA") counts as untimed: it neither matches nor excludes.

use diesel::dsl::{case_when, not};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable};

use super::schedule::Day;
use super::{term::Term, Class};
use crate::accounts::UserId;
use crate::db::schema::{class_meetings, classes, user_classes};
use crate::db::{DbConn, MultiBackend};

use crate::db::lower;

/// Sections per page of results.
pub const PER_PAGE: i64 = 25;
/// Pages a search may go to; past that, the student is asked to narrow it.
pub const MAX_PAGES: i64 = 10;
/// Longest query we read: longer than any course title.
pub const MAX_QUERY_CHARS: usize = 100;
const MAX_WORDS: usize = 6;
/// Longest subject code we accept in the filter ("MATH", "CHEM", "USEM").
const MAX_SUBJECT_CHARS: usize = 8;

/// What the student asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// "CS 2100", "cs2100", "CS-2100", "CS 21" (a catalog-number prefix).
    Course { subject: String, catalog: String },
    /// "2100", "21": a catalog number (or its start) in any subject, or a
    /// title's word.
    Catalog(String),
    /// "16601": a section's SIS class number, as SIS and enrollment show it.
    ClassNumber(String),
    /// "cs": a subject, or a word of a title or an instructor's name.
    SubjectOrWord(String),
    /// Words that must each appear in the title or an instructor's name.
    Words(Vec<String>),
}

/// Why a query could not be run, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Type a course such as CS 2100, a class number such as 16601, a subject such as CS, or words from a title.")]
    Empty,
    #[error("That search is too long. Use at most 100 characters, such as CS 2100 or a few title words.")]
    TooLong,
    #[error("Search for a course such as CS 2100, a subject such as CS, or words from a title (letters and digits only).")]
    NothingToSearch,
}

impl Query {
    pub fn parse(raw: &str) -> Result<Query, QueryError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(QueryError::Empty);
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        // "CS 2100-001", "cs2100 001": the course, with the section a student
        // copied from SIS; every section of the course is listed, theirs too.
        if let Some(course) = without_section(text) {
            if let Ok(found @ (Query::Course { .. } | Query::Catalog(_))) = Query::parse(course) {
                return Ok(found);
            }
        }
        // Digits alone: a catalog number (four digits at UVA, or fewer for
        // its start), or a section's five-digit SIS class number.
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(if text.len() == 5 {
                Query::ClassNumber(text.to_string())
            } else if text.len() <= 4 {
                Query::Catalog(text.to_string())
            } else {
                Query::Words(vec![text.to_string()])
            });
        }
        // "CS 2100", "CS-2100": spaces and a hyphen between subject and
        // number are how people write a course, not part of it.
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let letters: String = compact
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let rest = &compact[letters.len()..];
        let is_catalog = !rest.is_empty()
            && rest.len() <= 5
            && rest.chars().next().is_some_and(|c| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_alphanumeric());
        if (2..=4).contains(&letters.len()) && is_catalog {
            return Ok(Query::Course {
                subject: letters.to_ascii_uppercase(),
                catalog: rest.to_ascii_uppercase(),
            });
        }
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .map(str::to_lowercase)
            .collect();
        match words.as_slice() {
            [] => Err(QueryError::NothingToSearch),
            [one]
                if (2..=4).contains(&one.len()) && one.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                Ok(Query::SubjectOrWord(one.clone()))
            }
            _ => Ok(Query::Words(words)),
        }
    }
}

/// `text` without a trailing three-digit section number after a catalog
/// number ("CS 2100-001" is "CS 2100"), if it has one.
fn without_section(text: &str) -> Option<&str> {
    let (head, section) = text.rsplit_once(|c: char| c == '-' || c.is_whitespace())?;
    let head = head.trim_end_matches(|c: char| c == '-' || c.is_whitespace());
    let section_like = section.len() == 3 && section.bytes().all(|b| b.is_ascii_digit());
    (section_like && head.ends_with(|c: char| c.is_ascii_digit())).then_some(head)
}

/// Time of day, by a section's start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    /// Starts before noon.
    Morning,
    /// Starts at noon or later, before 5 PM.
    Afternoon,
    /// Starts at 5 PM or later.
    Evening,
}

impl TimeOfDay {
    pub const ALL: [TimeOfDay; 3] = [TimeOfDay::Morning, TimeOfDay::Afternoon, TimeOfDay::Evening];

    pub fn parse(raw: &str) -> Option<TimeOfDay> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "morning" => Some(TimeOfDay::Morning),
            "afternoon" => Some(TimeOfDay::Afternoon),
            "evening" => Some(TimeOfDay::Evening),
            _ => None,
        }
    }

    /// The value in a URL and a form.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeOfDay::Morning => "morning",
            TimeOfDay::Afternoon => "afternoon",
            TimeOfDay::Evening => "evening",
        }
    }

    /// How a form names it.
    pub fn label(self) -> &'static str {
        match self {
            TimeOfDay::Morning => "Morning (before noon)",
            TimeOfDay::Afternoon => "Afternoon (noon to 5 PM)",
            TimeOfDay::Evening => "Evening (5 PM or later)",
        }
    }

    /// Start hours `[from, to)` as text: a stored start ("10:00") compares
    /// with them as its hour does.
    fn band(self) -> (&'static str, &'static str) {
        match self {
            TimeOfDay::Morning => ("00", "12"),
            TimeOfDay::Afternoon => ("12", "17"),
            TimeOfDay::Evening => ("17", "24"),
        }
    }
}

/// The value of a day in a URL and a form ("mon").
pub fn day_value(day: Day) -> &'static str {
    match day {
        Day::Mon => "mon",
        Day::Tue => "tue",
        Day::Wed => "wed",
        Day::Thu => "thu",
        Day::Fri => "fri",
        Day::Sat => "sat",
        Day::Sun => "sun",
    }
}

/// A weekday from its form value ("mon", "Mon").
pub fn parse_weekday(raw: &str) -> Option<Day> {
    let raw = raw.trim();
    Day::WEEKDAYS
        .into_iter()
        .find(|d| d.short().eq_ignore_ascii_case(raw))
}

/// How SIS writes a day in a meeting pattern ("MoWeFr").
fn sis_code(day: Day) -> &'static str {
    match day {
        Day::Mon => "Mo",
        Day::Tue => "Tu",
        Day::Wed => "We",
        Day::Thu => "Th",
        Day::Fri => "Fr",
        Day::Sat => "Sa",
        Day::Sun => "Su",
    }
}

const ALL_DAYS: [Day; 7] = [
    Day::Mon,
    Day::Tue,
    Day::Wed,
    Day::Thu,
    Day::Fri,
    Day::Sat,
    Day::Sun,
];

/// What narrows a search besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only this subject ("CS").
    pub subject: Option<String>,
    /// Only sections meeting on these weekdays (and no others); empty is any day.
    pub days: Vec<Day>,
    pub time: Option<TimeOfDay>,
    /// Only sections with a seat open (`enrollment_available > 0`).
    pub open_only: bool,
}

/// A filter value that cannot be read, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("A subject is 2 to 8 letters, such as CS or MATH.")]
    Subject,
    #[error("Days are mon, tue, wed, thu or fri: tick the days the class may meet.")]
    Day,
    #[error("Time of day is morning, afternoon or evening.")]
    Time,
    #[error("Open seats is a checkbox: leave it out or send open=1.")]
    Open,
}

impl Filters {
    /// Reads the filters from what a form sent; empty values mean "any".
    pub fn parse<'a>(
        subject: Option<&str>,
        days: impl IntoIterator<Item = &'a str>,
        time: Option<&str>,
        open: Option<&str>,
    ) -> Result<Filters, FilterError> {
        let subject = match subject.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s)
                if (2..=MAX_SUBJECT_CHARS).contains(&s.len())
                    && s.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                Some(s.to_ascii_uppercase())
            }
            Some(_) => return Err(FilterError::Subject),
        };
        let mut chosen = Vec::new();
        for raw in days.into_iter().filter(|d| !d.trim().is_empty()) {
            let day = parse_weekday(raw).ok_or(FilterError::Day)?;
            if !chosen.contains(&day) {
                chosen.push(day);
            }
        }
        chosen.sort();
        let time = match time.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(TimeOfDay::parse(t).ok_or(FilterError::Time)?),
        };
        let open_only = match open.map(str::trim).filter(|o| !o.is_empty()) {
            None => false,
            Some("1" | "on" | "true") => true,
            Some(_) => return Err(FilterError::Open),
        };
        Ok(Filters {
            subject,
            days: chosen,
            time,
            open_only,
        })
    }

    /// Whether nothing narrows the search.
    pub fn is_empty(&self) -> bool {
        self.subject.is_none() && self.days.is_empty() && self.time.is_none() && !self.open_only
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Results {
    pub sections: Vec<Class>,
    /// Which of them the student takes.
    pub joined: std::collections::HashSet<super::ClassId>,
    /// Matches in the term, counted up to the cap.
    pub total: i64,
    pub page: i64,
    pub has_next: bool,
    /// More matched than the pages we show: the student should narrow the search.
    pub capped: bool,
}

/// A condition on a section row, boxed so conditions can be combined at run time.
type Cond = Box<dyn BoxableExpression<classes::table, MultiBackend, SqlType = Nullable<Bool>>>;
/// A section's place in the ranking, lower first.
type Rank = Box<dyn BoxableExpression<classes::table, MultiBackend, SqlType = Integer>>;

fn any_of(conds: Vec<Cond>) -> Option<Cond> {
    conds.into_iter().reduce(|a, b| Box::new(a.or(b)))
}

fn all_of(conds: Vec<Cond>) -> Option<Cond> {
    conds.into_iter().reduce(|a, b| Box::new(a.and(b)))
}

/// LIKE patterns for a word that begins `word`: at the start of the text, or
/// after a space ("cs" finds "CS Topics" and "Intro to CSS", not "Physics").
fn word_start_patterns(word: &str) -> [String; 2] {
    let word = crate::db::like_escaped(word);
    [format!("{word}%"), format!("% {word}%")]
}

/// A word of the title begins with `word` (any case).
fn title_has(word: &str) -> Cond {
    let [start, inner] = word_start_patterns(word);
    Box::new(
        lower(classes::title)
            .like(start)
            .escape('\\')
            .or(lower(classes::title).like(inner).escape('\\')),
    )
}

/// A word of an instructor's name, on the section's row or on one of its
/// meetings, begins with `word` (any case).
fn instructor_has(word: &str) -> Cond {
    let [start, inner] = word_start_patterns(word);
    let on_meeting = class_meetings::table
        .filter(
            lower(class_meetings::instructor)
                .like(start.clone())
                .escape('\\')
                .or(lower(class_meetings::instructor)
                    .like(inner.clone())
                    .escape('\\')),
        )
        .select(class_meetings::class_id);
    Box::new(
        lower(classes::instructor)
            .like(start)
            .escape('\\')
            .or(lower(classes::instructor).like(inner).escape('\\'))
            .or(classes::id.eq_any(on_meeting).nullable()),
    )
}

/// The section's rank: an exact subject first (0), then sections whose title
/// holds the words (1), then the rest (instructor matches, 2).
/// None when every match ranks alike (a course code, or filters alone).
fn rank(query: Option<&Query>) -> Option<Rank> {
    match query {
        Some(Query::SubjectOrWord(word)) => Some(Box::new(
            case_when(
                classes::subject.eq(word.to_ascii_uppercase()),
                0.into_sql::<Integer>(),
            )
            .when(title_has(word), 1.into_sql::<Integer>())
            .otherwise(2.into_sql::<Integer>()),
        )),
        Some(Query::Words(words)) => {
            all_of(words.iter().map(|w| title_has(w)).collect()).map(|in_title| -> Rank {
                Box::new(
                    case_when(in_title, 1.into_sql::<Integer>()).otherwise(2.into_sql::<Integer>()),
                )
            })
        }
        Some(Query::Course { .. } | Query::Catalog(_) | Query::ClassNumber(_)) | None => None,
    }
}

fn filtered<'a>(
    term: &'a Term,
    query: Option<&'a Query>,
    filters: &'a Filters,
) -> classes::BoxedQuery<'a, MultiBackend> {
    let mut q = classes::table
        .filter(classes::term.eq(term.code().to_string()))
        .into_boxed();
    match query {
        None => {}
        Some(Query::Course { subject, catalog }) => {
            q = q.filter(classes::subject.eq(subject.clone())).filter(
                classes::catalog_number
                    .like(format!("{}%", crate::db::like_escaped(catalog)))
                    .escape('\\'),
            );
        }
        Some(Query::Catalog(catalog)) => {
            // Or a title's word ("21" finds "21st Century Fiction" too).
            let number: Cond = Box::new(
                classes::catalog_number
                    .like(format!("{}%", crate::db::like_escaped(catalog)))
                    .escape('\\')
                    .nullable(),
            );
            if let Some(any) = any_of(vec![number, title_has(catalog)]) {
                q = q.filter(any);
            }
        }
        Some(Query::ClassNumber(number)) => {
            q = q.filter(classes::sis_class_number.eq(number.clone()));
        }
        Some(Query::SubjectOrWord(word)) => {
            let subject: Cond = Box::new(classes::subject.eq(word.to_ascii_uppercase()).nullable());
            if let Some(any) = any_of(vec![subject, title_has(word), instructor_has(word)]) {
                q = q.filter(any);
            }
        }
        Some(Query::Words(words)) => {
            for word in words {
                if let Some(any) = any_of(vec![title_has(word), instructor_has(word)]) {
                    q = q.filter(any);
                }
            }
        }
    }
    if let Some(subject) = &filters.subject {
        q = q.filter(classes::subject.eq(subject.clone()));
    }
    if filters.open_only {
        q = q.filter(classes::enrollment_available.gt(0));
    }
    if !filters.days.is_empty() {
        q = only_on_days(q, &filters.days);
    }
    if let Some(time) = filters.time {
        q = starting_in(q, time);
    }
    q
}

/// `%Mo%`: a meeting pattern naming `day`.
fn naming(day: Day) -> String {
    format!("%{}%", sis_code(day))
}

/// Sections with a pattern (their row's or a meeting's) naming one of the
/// `chosen` days and none naming another day.
fn only_on_days<'a>(
    q: classes::BoxedQuery<'a, MultiBackend>,
    chosen: &[Day],
) -> classes::BoxedQuery<'a, MultiBackend> {
    let others: Vec<Day> = ALL_DAYS
        .into_iter()
        .filter(|d| !chosen.contains(d))
        .collect();
    // A boxed condition may hold a subquery, but not a boxed one (Diesel's
    // MultiBackend renders through each backend): one subquery per day.
    let on_chosen: Vec<Cond> = chosen
        .iter()
        .flat_map(|d| -> [Cond; 2] {
            [
                Box::new(classes::days.like(naming(*d))),
                Box::new(
                    classes::id
                        .eq_any(
                            class_meetings::table
                                .filter(class_meetings::days.like(naming(*d)))
                                .select(class_meetings::class_id),
                        )
                        .nullable(),
                ),
            ]
        })
        .collect();
    let mut q = q;
    if let Some(cond) = any_of(on_chosen) {
        q = q.filter(cond);
    }
    let row_on_other = any_of(
        others
            .iter()
            .map(|d| -> Cond { Box::new(classes::days.like(naming(*d))) })
            .collect(),
    );
    if let Some(cond) = row_on_other {
        q = q.filter(classes::days.is_null().or(not(cond)));
    }
    for day in others {
        q = q.filter(
            classes::id.ne_all(
                class_meetings::table
                    .filter(class_meetings::days.like(naming(day)))
                    .select(class_meetings::class_id),
            ),
        );
    }
    q
}

/// Sections with a timed pattern (their row's or a meeting's) starting in
/// `time`'s band and none starting outside it. A start is timed when its text
/// begins with two digits and a separator ("10:00", "10.00.00.000000-05:00"),
/// so the hour compares as text the same way on both backends.
fn starting_in<'a>(
    q: classes::BoxedQuery<'a, MultiBackend>,
    time: TimeOfDay,
) -> classes::BoxedQuery<'a, MultiBackend> {
    let (from, to) = time.band();
    let row_timed = classes::start_time
        .like("__:%")
        .or(classes::start_time.like("__.%"));
    let meeting_timed = || {
        class_meetings::start_time
            .like("__:%")
            .or(class_meetings::start_time.like("__.%"))
    };
    let meeting_in = class_meetings::table
        .filter(meeting_timed())
        .filter(class_meetings::start_time.ge(from))
        .filter(class_meetings::start_time.lt(to))
        .select(class_meetings::class_id);
    let meeting_out = class_meetings::table
        .filter(meeting_timed())
        .filter(
            class_meetings::start_time
                .lt(from)
                .or(class_meetings::start_time.ge(to)),
        )
        .select(class_meetings::class_id);
    q.filter(
        row_timed
            .and(classes::start_time.ge(from))
            .and(classes::start_time.lt(to))
            .or(classes::id.eq_any(meeting_in).nullable()),
    )
    .filter(classes::start_time.is_null().or(not(
        row_timed.and(classes::start_time.lt(from).or(classes::start_time.ge(to))),
    )))
    .filter(classes::id.ne_all(meeting_out))
}

/// Runs a query (or filters alone, when `query` is None) for one page
/// (1-based) of a term's sections: an exact subject first, then title
/// matches, then the rest, each in catalog order, with which of them
/// `viewer` takes. One statement: the page carries the count of all matches
/// (a window count) and the viewer's enrollment in each. Only a page past
/// the last (an old link, fewer matches now) costs two more: the count, and
/// the last page, which it shows instead.
pub fn run(
    conn: &mut DbConn,
    term: &Term,
    query: Option<&Query>,
    filters: &Filters,
    page: i64,
    viewer: &UserId,
) -> QueryResult<Results> {
    let cap = PER_PAGE * MAX_PAGES;
    let mut page = page.clamp(1, MAX_PAGES);
    let mut rows = page_of(conn, term, query, filters, page, viewer)?;
    let total = match rows.first() {
        Some((_, _, total)) => *total,
        None if page > 1 => {
            let total: i64 = filtered(term, query, filters).count().get_result(conn)?;
            page = ((total.min(cap) + PER_PAGE - 1) / PER_PAGE).max(1);
            rows = page_of(conn, term, query, filters, page, viewer)?;
            total
        }
        None => 0,
    };
    let joined = rows
        .iter()
        .filter(|(_, taken, _)| *taken)
        .map(|(c, _, _)| c.id.clone())
        .collect();
    Ok(Results {
        sections: rows.into_iter().map(|(c, _, _)| c).collect(),
        joined,
        total: total.min(cap),
        page,
        has_next: page * PER_PAGE < total.min(cap),
        capped: total > cap,
    })
}

/// One page of matches in rank order: each section, whether `viewer` takes
/// it, and how many sections match in all.
fn page_of(
    conn: &mut DbConn,
    term: &Term,
    query: Option<&Query>,
    filters: &Filters,
    page: i64,
    viewer: &UserId,
) -> QueryResult<Vec<(Class, bool, i64)>> {
    let mut ranked = filtered(term, query, filters);
    if let Some(rank) = rank(query) {
        ranked = ranked.order(rank.asc());
    }
    ranked
        .then_order_by((
            classes::subject,
            classes::catalog_number,
            classes::class_section,
            classes::id,
        ))
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
        .select((
            Class::as_select(),
            diesel::dsl::exists(
                user_classes::table
                    .filter(user_classes::user_id.eq(viewer.clone()))
                    .filter(user_classes::class_id.eq(classes::id)),
            ),
            diesel::dsl::count(classes::id).over(),
        ))
        .load(conn)
}

/// The subjects a term offers, in order, for the subject filter. One statement.
pub fn subjects(conn: &mut DbConn, term: &Term) -> QueryResult<Vec<String>> {
    classes::table
        .filter(classes::term.eq(term.code().to_string()))
        .select(classes::subject)
        .distinct()
        .order(classes::subject)
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_codes_are_read_however_they_are_typed() {
        for typed in ["CS 2100", "cs2100", "cs 2100", "  Cs   2100 "] {
            assert_eq!(
                Query::parse(typed).unwrap(),
                Query::Course {
                    subject: "CS".into(),
                    catalog: "2100".into()
                },
                "{typed}"
            );
        }
        assert_eq!(
            Query::parse("math 33").unwrap(),
            Query::Course {
                subject: "MATH".into(),
                catalog: "33".into()
            }
        );
        // With the section copied from SIS: the course.
        for typed in ["CS 2100-001", "cs2100 001", "CS 2100 - 001"] {
            assert_eq!(
                Query::parse(typed).unwrap(),
                Query::Course {
                    subject: "CS".into(),
                    catalog: "2100".into()
                },
                "{typed}"
            );
        }
        assert_eq!(
            Query::parse("CS-2100").unwrap(),
            Query::Course {
                subject: "CS".into(),
                catalog: "2100".into()
            }
        );
        // Digits alone: a catalog number in any subject, or a class number.
        assert_eq!(
            Query::parse(" 2100 ").unwrap(),
            Query::Catalog("2100".into())
        );
        assert_eq!(
            Query::parse("2100-001").unwrap(),
            Query::Catalog("2100".into())
        );
        assert_eq!(
            Query::parse("16601").unwrap(),
            Query::ClassNumber("16601".into())
        );
        // A three-digit catalog prefix is not a section.
        assert_eq!(
            Query::parse("CS 210").unwrap(),
            Query::Course {
                subject: "CS".into(),
                catalog: "210".into()
            }
        );
    }

    #[test]
    fn subjects_and_title_words() {
        assert_eq!(
            Query::parse("cs").unwrap(),
            Query::SubjectOrWord("cs".into())
        );
        assert_eq!(
            Query::parse("Data Structures").unwrap(),
            Query::Words(vec!["data".into(), "structures".into()])
        );
        assert_eq!(
            Query::parse("'; DROP TABLE classes; --").unwrap(),
            Query::Words(vec!["drop".into(), "table".into(), "classes".into()])
        );
    }

    #[test]
    fn refuses_what_cannot_be_searched() {
        assert_eq!(Query::parse("   "), Err(QueryError::Empty));
        assert_eq!(Query::parse(&"a".repeat(10_000)), Err(QueryError::TooLong));
        assert_eq!(Query::parse("%%% <>"), Err(QueryError::NothingToSearch));
    }

    #[test]
    fn like_wildcards_in_words_are_escaped() {
        assert_eq!(
            word_start_patterns("50%_off"),
            ["50\\%\\_off%".to_string(), "% 50\\%\\_off%".to_string()]
        );
    }

    #[test]
    fn filters_are_read_from_form_values() {
        let read = Filters::parse(
            Some(" cs "),
            ["wed", "Mon", "", "mon"],
            Some("evening"),
            Some("1"),
        )
        .unwrap();
        assert_eq!(
            read,
            Filters {
                subject: Some("CS".into()),
                days: vec![Day::Mon, Day::Wed],
                time: Some(TimeOfDay::Evening),
                open_only: true,
            }
        );
        let none = Filters::parse(Some(""), [], Some(""), None).unwrap();
        assert!(none.is_empty());
        for t in TimeOfDay::ALL {
            assert_eq!(TimeOfDay::parse(t.as_str()), Some(t));
        }
        for d in Day::WEEKDAYS {
            assert_eq!(parse_weekday(day_value(d)), Some(d));
        }
    }

    #[test]
    fn bad_filter_values_are_refused_in_words() {
        let subject = |s| Filters::parse(Some(s), [], None, None);
        assert_eq!(subject("C$"), Err(FilterError::Subject));
        assert_eq!(subject("C"), Err(FilterError::Subject));
        assert_eq!(subject("ABCDEFGHI"), Err(FilterError::Subject));
        assert_eq!(
            Filters::parse(None, ["sat"], None, None),
            Err(FilterError::Day)
        );
        assert_eq!(
            Filters::parse(None, [], Some("noon"), None),
            Err(FilterError::Time)
        );
        assert_eq!(
            Filters::parse(None, [], None, Some("yes")),
            Err(FilterError::Open)
        );
    }
}
