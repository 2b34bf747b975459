//! Catalog search: what a student types ("CS 2100", "cs2100", "cs", "machine
//! learning") turned into one bounded query over a term's sections.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::{term::Term, Class};
use crate::db::schema::classes;
use crate::db::DbConn;

diesel::define_sql_function!(fn lower(x: Nullable<Text>) -> Nullable<Text>);

/// Sections per page of results.
pub const PER_PAGE: i64 = 25;
/// Pages a search may go to; past that, the student is asked to narrow it.
pub const MAX_PAGES: i64 = 10;
/// Longest query we read: longer than any course title.
pub const MAX_QUERY_CHARS: usize = 100;
const MAX_WORDS: usize = 6;

/// What the student asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// "CS 2100", "cs2100", "CS 21" (a catalog-number prefix).
    Course { subject: String, catalog: String },
    /// "cs": a subject, or a word of a title.
    SubjectOrWord(String),
    /// Words that must all appear in the title.
    Words(Vec<String>),
}

/// Why a query could not be run, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Type a course such as CS 2100, a subject such as CS, or words from a title.")]
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
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
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

/// One page of results.
#[derive(Debug, Clone)]
pub struct Results {
    pub sections: Vec<Class>,
    /// Matches in the term, counted up to the cap.
    pub total: i64,
    pub page: i64,
    pub has_next: bool,
    /// More matched than the pages we show: the student should narrow the search.
    pub capped: bool,
}

/// `%word%` for LIKE, with the wildcard characters of the word itself escaped.
fn contains_pattern(word: &str) -> String {
    format!("%{}%", crate::db::like_escaped(word))
}

fn filtered<'a>(
    term: &'a Term,
    query: &'a Query,
) -> classes::BoxedQuery<'a, crate::db::MultiBackend> {
    let mut q = classes::table
        .filter(classes::term.eq(term.code().to_string()))
        .into_boxed();
    match query {
        Query::Course { subject, catalog } => {
            q = q.filter(classes::subject.eq(subject.clone())).filter(
                classes::catalog_number
                    .like(format!("{catalog}%"))
                    .escape('\\'),
            );
        }
        Query::SubjectOrWord(word) => {
            q = q.filter(
                classes::subject
                    .eq(word.to_ascii_uppercase())
                    .or(lower(classes::title)
                        .like(contains_pattern(word))
                        .escape('\\')),
            );
        }
        Query::Words(words) => {
            for word in words {
                q = q.filter(
                    lower(classes::title)
                        .like(contains_pattern(word))
                        .escape('\\'),
                );
            }
        }
    }
    q
}

/// Runs a query for one page (1-based) of a term's sections, in catalog order.
pub fn run(conn: &mut DbConn, term: &Term, query: &Query, page: i64) -> QueryResult<Results> {
    let page = page.clamp(1, MAX_PAGES);
    let cap = PER_PAGE * MAX_PAGES;
    let total: i64 = filtered(term, query).count().get_result(conn)?;
    let sections = filtered(term, query)
        .order((
            classes::subject,
            classes::catalog_number,
            classes::class_section,
            classes::id,
        ))
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
        .select(Class::as_select())
        .load(conn)?;
    Ok(Results {
        sections,
        total: total.min(cap),
        page,
        has_next: page * PER_PAGE < total.min(cap),
        capped: total > cap,
    })
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
        assert_eq!(contains_pattern("50%_off"), "%50\\%\\_off%");
    }
}
