//! A student's classes as a calendar: which terms a feed covers and with what
//! dates (`TermPlan`), the private feed links (`feeds`, owner of
//! `calendar_feeds`), and the iCalendar text (`ics`). Only the student's own
//! sections go in: no friend, classmate or chat data. No actix here.

pub mod feeds;
pub mod ics;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::campus_time::CampusTime;
use crate::classes::term_dates::TermSpan;
use crate::classes::{self, Class, ClassId, ClassMeeting, Term};
use crate::config::ConfiguredTermDates;
use crate::db::DbConn;

/// What a feed needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings<'a> {
    pub campus: CampusTime,
    /// `CURRENT_TERM`, if set.
    pub current_term: Option<&'a str>,
    /// `TERMS`: dates for terms SIS gives none for.
    pub configured: &'a [ConfiguredTermDates],
    /// `TERM_BREAKS`: days without classes, left out of the weekly events.
    pub breaks: &'a [ConfiguredTermDates],
    /// The terms the catalog holds (kept in memory until a sync).
    pub terms: &'a crate::classes::term::TermList,
}

/// One term of a student's calendar: its dates (None when neither SIS nor
/// `TERMS` has them, and then the feed leaves it out) and their sections in it.
#[derive(Debug, Clone)]
pub struct TermPlan {
    pub term: Term,
    pub span: Option<TermSpan>,
    /// Its breaks (`TERM_BREAKS`): no class meets on those days.
    pub breaks: Vec<TermSpan>,
    pub sections: Vec<Class>,
    pub meetings: HashMap<ClassId, Vec<ClassMeeting>>,
}

/// A student's calendar: the current term, and the next one if they have
/// sections there.
#[derive(Debug, Clone, Default)]
pub struct StudentCalendar {
    pub terms: Vec<TermPlan>,
}

impl StudentCalendar {
    /// Terms the student has sections in that have no dates yet.
    pub fn terms_without_dates(&self) -> Vec<&Term> {
        self.terms
            .iter()
            .filter(|t| t.span.is_none() && !t.sections.is_empty())
            .map(|t| &t.term)
            .collect()
    }
}

/// The current term and every later term present, earliest first (the feed
/// shows the first of them in which the student has sections). The current
/// term is `CURRENT_TERM`; else the latest term with dates that has begun by
/// `today` (so syncing next term's catalog mid-semester does not drop the term
/// in progress from every calendar); else, before any dated term begins, the
/// earliest dated one; else the newest term in the catalog.
fn covered_terms(
    current_term: Option<&str>,
    present: &[Term],
    spans: &HashMap<String, TermSpan>,
    today: NaiveDate,
) -> (Option<Term>, Vec<Term>) {
    let dated = || present.iter().filter(|t| spans.contains_key(t.code()));
    let current = current_term.and_then(Term::parse).or_else(|| {
        dated()
            .filter(|t| spans[t.code()].first_day <= today)
            .max()
            .or_else(|| dated().min())
            .or_else(|| present.iter().max())
            .cloned()
    });
    let mut later: Vec<Term> = match &current {
        Some(c) => present.iter().filter(|t| *t > c).cloned().collect(),
        None => Vec::new(),
    };
    later.sort();
    (current, later)
}

/// The student's sections (still offered) and meetings in the terms a feed covers.
pub fn student_calendar(
    conn: &mut DbConn,
    user_id: &UserId,
    settings: &FeedSettings<'_>,
    now: NaiveDateTime,
) -> QueryResult<StudentCalendar> {
    let spans = settings.terms.spans(conn, settings.configured)?;
    let present = settings.terms.get(conn)?;
    let today = settings.campus.date_of(now);
    let (current, later) = covered_terms(settings.current_term, &present, &spans, today);
    let mut calendar = StudentCalendar::default();
    // The terms' sections with their meetings in one statement.
    let codes: Vec<&str> = current.iter().chain(&later).map(|t| t.code()).collect();
    let (taken, mut all_meetings) = classes::of_user_in_terms_with_meetings(conn, user_id, &codes)?;
    let sections_in = |term: &Term| -> Vec<Class> {
        taken
            .iter()
            .filter(|c| c.term == term.code() && c.active)
            .cloned()
            .collect()
    };
    // The current term always; then the first later one the student takes
    // anything in, not only the one right after: with a Summer term in the
    // catalog, Fall's classes were missing from the feed all summer.
    let next = later
        .iter()
        .map(|t| (t.clone(), sections_in(t)))
        .find(|(_, sections)| !sections.is_empty());
    let current = current.map(|t| {
        let sections = sections_in(&t);
        (t, sections)
    });
    for (term, sections) in current.into_iter().chain(next) {
        let meetings = sections
            .iter()
            .filter_map(|c| Some((c.id.clone(), all_meetings.remove(&c.id)?)))
            .collect();
        let breaks = ConfiguredTermDates::spans_of(settings.breaks, term.code());
        calendar.terms.push(TermPlan {
            breaks,
            span: spans.get(term.code()).copied(),
            term,
            sections,
            meetings,
        });
    }
    Ok(calendar)
}

/// The feed behind a token: None for a token that is not (or no longer) a
/// student's link.
pub fn feed_for_token(
    conn: &mut DbConn,
    token: &str,
    settings: &FeedSettings<'_>,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let Some(user_id) = feeds::owner_of(conn, token, now)? else {
        return Ok(None);
    };
    let calendar = student_calendar(conn, &user_id, settings, now)?;
    Ok(Some(ics::write(&calendar, settings.campus)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> TermSpan {
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        TermSpan::new(d(1, 14), d(4, 28)).unwrap()
    }

    #[test]
    fn the_current_term_is_the_configured_else_the_latest_begun_with_dates() {
        let t = |c: &str| Term::parse(c).unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let present = vec![t("1268"), t("1262"), t("1258")];
        let spans: HashMap<String, TermSpan> = [("1262".to_string(), span())].into();
        let march = d(2026, 3, 2);
        assert_eq!(
            covered_terms(None, &present, &spans, march),
            (Some(t("1262")), vec![t("1268")])
        );
        assert_eq!(
            covered_terms(Some("1258"), &present, &spans, march),
            (Some(t("1258")), vec![t("1262"), t("1268")])
        );
        assert_eq!(
            covered_terms(None, &present, &HashMap::new(), march),
            (Some(t("1268")), vec![])
        );
        assert_eq!(covered_terms(None, &[], &spans, march), (None, vec![]));

        // Fall's catalog (with dates) synced in March: Spring is still current.
        let mut both = spans.clone();
        both.insert(
            "1268".to_string(),
            TermSpan::new(d(2026, 8, 25), d(2026, 12, 8)).unwrap(),
        );
        assert_eq!(
            covered_terms(None, &present, &both, march),
            (Some(t("1262")), vec![t("1268")])
        );
        // Once Fall has begun, it is current; before any dated term begins,
        // the earliest dated one is.
        assert_eq!(
            covered_terms(None, &present, &both, d(2026, 8, 25)),
            (Some(t("1268")), vec![])
        );
        assert_eq!(
            covered_terms(None, &present, &both, d(2025, 12, 1)),
            (Some(t("1262")), vec![t("1268")])
        );
    }
}
