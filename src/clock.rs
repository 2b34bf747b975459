//! Time as the service sees it: UTC, truncated to microseconds so a value reads
//! back the same from SQLite (text) and PostgreSQL (microsecond timestamps).

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time, at the precision both databases keep.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Whether a time read from a link or a form could be one of ours (a year
/// from 1970 to 9999). Anything else names no row, and PostgreSQL refuses to
/// bind a time outside its range (4713 BC to 294276 AD), which would fail the
/// page as a 500 instead of saying the link is broken.
pub fn plausible(at: NaiveDateTime) -> bool {
    use chrono::Datelike;
    (1970..=9999).contains(&at.year())
}

/// A fixed instant `seconds` from a moment in 2027, for unit tests of rules
/// that compare times.
#[cfg(test)]
pub(crate) fn fixed(seconds: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
        .expect("in range")
        .naive_utc()
}
