//! Time as the service sees it: UTC, truncated to microseconds so a value reads
//! back the same from SQLite (text) and PostgreSQL (microsecond timestamps).

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time, at the precision both databases keep.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A fixed instant `seconds` from a moment in 2027, for unit tests of rules
/// that compare times.
#[cfg(test)]
pub(crate) fn fixed(seconds: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
        .expect("in range")
        .naive_utc()
}
