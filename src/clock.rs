//! Time as the service sees it: UTC, truncated to microseconds so a value reads
//! back the same from SQLite (text) and PostgreSQL (microsecond timestamps).

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time, at the precision both databases keep.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
