//! SIS term codes ("strm"): "1" + two-digit year + a season digit. `1262` is
//! Spring 2026, `1268` Fall 2026. Shown to people as they say them.

use std::fmt;

/// A valid term code, such as `1262`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term(String);

/// The season digit and its name, in calendar order.
const SEASONS: [(char, &str); 4] = [
    ('1', "January"),
    ('2', "Spring"),
    ('6', "Summer"),
    ('8', "Fall"),
];

impl Term {
    /// Accepts exactly four digits: `1`, a two-digit year and a known season.
    pub fn parse(raw: &str) -> Option<Term> {
        let raw = raw.trim();
        let bytes = raw.as_bytes();
        let ok = bytes.len() == 4
            && bytes[0] == b'1'
            && bytes.iter().all(u8::is_ascii_digit)
            && SEASONS.iter().any(|(digit, _)| *digit as u8 == bytes[3]);
        ok.then(|| Term(raw.to_string()))
    }

    pub fn code(&self) -> &str {
        &self.0
    }

    /// A spring or fall term (not a January or summer session).
    pub fn is_regular(&self) -> bool {
        matches!(self.0.as_bytes()[3], b'2' | b'8')
    }

    /// "Spring 2026".
    pub fn name(&self) -> String {
        let season = self.0.as_bytes()[3] as char;
        let season = SEASONS
            .iter()
            .find(|(digit, _)| *digit == season)
            .map(|(_, name)| *name)
            .unwrap_or("Term");
        format!("{season} 20{}", &self.0[1..3])
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The term pages show when none is asked for: the configured one
/// (`CURRENT_TERM`); else the earliest spring or fall term present whose dates
/// are known (`spans`) and whose last day of classes is `today` or later: the
/// term in progress, or between terms the next to begin. Next term's catalog
/// is synced mid-semester for registration: the newest term would move every
/// page there while this term's classes still meet. January and summer terms
/// are small sessions most students do not take: a student planning the fall
/// in June lands on the fall, not on an empty summer (the picker shows the
/// summer). Else any such term with dates (only short sessions are left);
/// else (no dates known) the newest term present.
pub fn default_term(
    configured: Option<&str>,
    present: &[Term],
    spans: &SpansByTerm,
    today: chrono::NaiveDate,
) -> Option<Term> {
    configured.and_then(Term::parse).or_else(|| {
        let ahead = || {
            present
                .iter()
                .filter(|t| spans.get(t.code()).is_some_and(|s| s.last_day >= today))
        };
        ahead()
            .filter(|t| t.is_regular())
            .min()
            .or_else(|| ahead().min())
            .or_else(|| present.iter().max())
            .cloned()
    })
}

/// The catalog's terms, newest first, held in memory: every page shows the
/// term list, and it changes only when a SIS sync adds a term, a few times a
/// year. Kept for `TERM_LIST_FOR` and forgotten at once when this process
/// runs a sync; a sync run by another process (cron's `sis-sync`, or another
/// app server on PostgreSQL) shows within that time. A short expiry rather
/// than a notification: it needs nothing from the database (no listener, no
/// version row read per page) and is correct on both backends and with any
/// number of processes, at the price of a new term appearing half a minute
/// late.
///
/// Each term's subjects (the class search's filter) and every term's first and
/// last day (the timetable's and the feed's) are held the same way.
#[derive(Debug)]
pub struct TermList {
    held: std::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<[Term]>)>>,
    subjects: std::sync::Mutex<SubjectsByTerm>,
    spans: std::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<SpansByTerm>)>>,
    keep_for: std::time::Duration,
    /// Bumped by `forget`: a list read while a sync finished is not kept.
    generation: std::sync::atomic::AtomicU64,
}

/// Each term's subjects, with when they were read.
type SubjectsByTerm =
    std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<[String]>)>;

/// Every term's first and last day of classes, by term code.
pub type SpansByTerm = std::collections::HashMap<String, super::term_dates::TermSpan>;

/// How long the term list is kept before it is read again.
pub const TERM_LIST_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for TermList {
    fn default() -> Self {
        TermList::keeping_for(TERM_LIST_FOR)
    }
}

impl TermList {
    pub fn keeping_for(keep_for: std::time::Duration) -> TermList {
        TermList {
            held: std::sync::Mutex::new(None),
            subjects: std::sync::Mutex::new(SubjectsByTerm::new()),
            spans: std::sync::Mutex::new(None),
            keep_for,
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The terms present in the catalog, newest first: from memory when read
    /// within `keep_for`, else from the database (one statement).
    pub fn get(&self, conn: &mut crate::db::DbConn) -> diesel::QueryResult<std::sync::Arc<[Term]>> {
        let now = std::time::Instant::now();
        if let Some((read_at, terms)) = self.held().as_ref() {
            if now.duration_since(*read_at) < self.keep_for {
                return Ok(terms.clone());
            }
        }
        let generation = self.generation();
        let terms: std::sync::Arc<[Term]> = super::terms_present(conn)?.into();
        let mut held = self.held();
        if generation == self.generation() {
            *held = Some((now, terms.clone()));
        }
        Ok(terms)
    }

    /// The subjects a term offers, in order: from memory when read within
    /// `keep_for`, else from the database (one statement).
    pub fn subjects(
        &self,
        conn: &mut crate::db::DbConn,
        term: &Term,
    ) -> diesel::QueryResult<std::sync::Arc<[String]>> {
        let now = std::time::Instant::now();
        if let Some((read_at, subjects)) = self.held_subjects().get(term.code()) {
            if now.duration_since(*read_at) < self.keep_for {
                return Ok(subjects.clone());
            }
        }
        let generation = self.generation();
        let subjects: std::sync::Arc<[String]> = super::search::subjects(conn, term)?.into();
        let mut held = self.held_subjects();
        if generation == self.generation() {
            held.insert(term.code().to_string(), (now, subjects.clone()));
        }
        Ok(subjects)
    }

    /// Every term's first and last day (`term_dates::all`: SIS's, else
    /// `TERMS`): from memory when read within `keep_for`, else from the
    /// database (one statement).
    pub fn spans(
        &self,
        conn: &mut crate::db::DbConn,
        configured: &[crate::config::ConfiguredTermDates],
    ) -> diesel::QueryResult<std::sync::Arc<SpansByTerm>> {
        let now = std::time::Instant::now();
        if let Some((read_at, spans)) = self.held_spans().as_ref() {
            if now.duration_since(*read_at) < self.keep_for {
                return Ok(spans.clone());
            }
        }
        let generation = self.generation();
        let spans = std::sync::Arc::new(super::term_dates::all(conn, configured)?);
        let mut held = self.held_spans();
        if generation == self.generation() {
            *held = Some((now, spans.clone()));
        }
        Ok(spans)
    }

    /// Drops the held lists, so the next page reads them again (after a sync).
    pub fn forget(&self) {
        let mut held = self.held();
        let mut subjects = self.held_subjects();
        let mut spans = self.held_spans();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *held = None;
        subjects.clear();
        *spans = None;
    }

    fn held_spans(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, std::sync::Arc<SpansByTerm>)>> {
        // A panic while holding this lock left nothing half-written.
        self.spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn held_subjects(&self) -> std::sync::MutexGuard<'_, SubjectsByTerm> {
        // A panic while holding this lock left nothing half-written.
        self.subjects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn held(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, std::sync::Arc<[Term]>)>> {
        // A panic while holding this lock left nothing half-written.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_terms_as_people_say_them() {
        assert_eq!(Term::parse("1262").unwrap().name(), "Spring 2026");
        assert_eq!(Term::parse("1268").unwrap().name(), "Fall 2026");
        assert_eq!(Term::parse("1266").unwrap().name(), "Summer 2026");
        assert_eq!(Term::parse("1271").unwrap().name(), "January 2027");
    }

    #[test]
    fn refuses_what_is_not_a_term() {
        for bad in [
            "",
            "126",
            "12622",
            "2262",
            "1263",
            "12a2",
            "1262'--",
            "１２６２",
        ] {
            assert!(Term::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_default_is_the_configured_term_else_the_one_in_progress() {
        use crate::classes::term_dates::TermSpan;
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let present: Vec<Term> = ["1262", "1266", "1268"]
            .into_iter()
            .map(|t| Term::parse(t).unwrap())
            .collect();
        let none = SpansByTerm::new();
        // No dates known: the newest; a configured term always.
        assert_eq!(
            default_term(None, &present, &none, day(3, 20))
                .unwrap()
                .code(),
            "1268"
        );
        assert_eq!(
            default_term(Some("1262"), &present, &none, day(9, 1))
                .unwrap()
                .code(),
            "1262"
        );
        assert_eq!(default_term(None, &[], &none, day(3, 20)), None);
        // Spring in progress with Summer and Fall synced for registration: Spring.
        let spans: SpansByTerm = [
            ("1262", day(1, 14), day(4, 28)),
            ("1266", day(5, 18), day(8, 7)),
            ("1268", day(8, 25), day(12, 8)),
        ]
        .into_iter()
        .map(|(t, first, last)| (t.to_string(), TermSpan::new(first, last).unwrap()))
        .collect();
        let on = |m, d| default_term(None, &present, &spans, day(m, d)).unwrap();
        assert_eq!(on(1, 10).code(), "1262", "before Spring begins");
        assert_eq!(on(3, 20).code(), "1262");
        assert_eq!(on(4, 28).code(), "1262", "its last day");
        // Then Fall, the next regular term, through the summer session.
        assert_eq!(on(4, 29).code(), "1268");
        assert_eq!(on(6, 15).code(), "1268");
        assert_eq!(on(10, 1).code(), "1268");
        // After every known term: the newest.
        assert_eq!(on(12, 20).code(), "1268");
        // Only a summer session ahead: that one.
        let summer_only: SpansByTerm = [("1266".to_string(), spans["1266"])].into();
        assert_eq!(
            default_term(None, &present, &summer_only, day(6, 1))
                .unwrap()
                .code(),
            "1266"
        );
    }
}
