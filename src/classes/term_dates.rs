//! A term's first and last day of classes (`term_dates`): written by the SIS
//! sync at the end of a term's run (the regular session's dates, the pair most
//! sections carry), read by the calendar feed together with the `TERMS`
//! setting, SIS first. The only writer of `term_dates`.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::term_dates;
use crate::db::DbConn;

/// The first and last day of classes of one term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSpan {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl TermSpan {
    /// "Jan 14 – Mar 4" (and the years, when the span crosses one).
    pub fn label(&self) -> String {
        let format = if self.first_day.year() == self.last_day.year() {
            "%b %-d"
        } else {
            "%b %-d, %Y"
        };
        format!(
            "{} – {}",
            self.first_day.format(format),
            self.last_day.format(format)
        )
    }

    /// Whether `date` is one of its days.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first_day <= date && date <= self.last_day
    }

    /// A span whose last day is not before its first; None otherwise.
    pub fn new(first_day: NaiveDate, last_day: NaiveDate) -> Option<TermSpan> {
        (last_day >= first_day).then_some(TermSpan {
            first_day,
            last_day,
        })
    }
}

/// Counts the (start, end) pairs of a term's sections as a sync fetches them.
#[derive(Debug, Default, Clone)]
pub struct DateTally(HashMap<(NaiveDate, NaiveDate), u32>);

impl DateTally {
    /// Counts one section's dates (a section without both is not counted).
    pub fn add(&mut self, start: Option<NaiveDate>, end: Option<NaiveDate>) {
        if let (Some(start), Some(end)) = (start, end) {
            if let Some(span) = TermSpan::new(start, end) {
                *self.0.entry((span.first_day, span.last_day)).or_default() += 1;
            }
        }
    }

    /// Adds another tally's counts (a subject's, once it was written).
    pub fn merge(&mut self, other: DateTally) {
        for (pair, n) in other.0 {
            *self.0.entry(pair).or_default() += n;
        }
    }

    /// The regular session's dates: the pair most sections carry (ties go to
    /// the longer span, then the earlier start, so the answer does not depend
    /// on the order subjects arrived in).
    pub fn regular_session(&self) -> Option<TermSpan> {
        self.0
            .iter()
            .max_by_key(|((first, last), n)| {
                (**n, (*last - *first).num_days(), std::cmp::Reverse(*first))
            })
            .map(|((first_day, last_day), _)| TermSpan {
                first_day: *first_day,
                last_day: *last_day,
            })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = term_dates)]
struct TermDatesRow<'a> {
    term: &'a str,
    first_day: NaiveDate,
    last_day: NaiveDate,
    updated_at: NaiveDateTime,
}

/// Keeps SIS's dates for a term (replacing what an earlier sync wrote).
pub fn record(
    conn: &mut DbConn,
    term: &str,
    span: TermSpan,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = TermDatesRow {
        term,
        first_day: span.first_day,
        last_day: span.last_day,
        updated_at: now,
    };
    crate::on_each_backend!(conn, |c| diesel::insert_into(term_dates::table)
        .values(&row)
        .on_conflict(term_dates::term)
        .do_update()
        .set(&row)
        .execute(c))?;
    Ok(())
}

/// Every term's dates: SIS's where a sync recorded them, else `TERMS`.
pub fn all(
    conn: &mut DbConn,
    configured: &[crate::config::ConfiguredTermDates],
) -> QueryResult<HashMap<String, TermSpan>> {
    let mut spans: HashMap<String, TermSpan> = configured
        .iter()
        .filter_map(|t| Some((t.term.clone(), TermSpan::new(t.first_day, t.last_day)?)))
        .collect();
    spans.extend(from_sis(conn)?);
    Ok(spans)
}

/// Every term's dates as SIS gave them, by term code.
pub fn from_sis(conn: &mut DbConn) -> QueryResult<HashMap<String, TermSpan>> {
    let rows: Vec<(String, NaiveDate, NaiveDate)> = term_dates::table
        .select((
            term_dates::term,
            term_dates::first_day,
            term_dates::last_day,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(term, first_day, last_day)| {
            (
                term,
                TermSpan {
                    first_day,
                    last_day,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, m, d)
    }

    #[test]
    fn the_regular_session_is_the_pair_most_sections_carry() {
        let mut tally = DateTally::default();
        for _ in 0..3 {
            tally.add(day(1, 14), day(4, 28));
        }
        tally.add(day(1, 14), day(3, 3)); // a first-half session
        tally.add(day(3, 16), day(4, 28)); // a second-half session
        tally.add(None, day(4, 28));
        tally.add(day(5, 1), day(4, 1)); // backwards: ignored
        let span = tally.regular_session().unwrap();
        assert_eq!(
            (Some(span.first_day), Some(span.last_day)),
            (day(1, 14), day(4, 28))
        );
        assert_eq!(DateTally::default().regular_session(), None);
    }
}
