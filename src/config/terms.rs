//! `TERMS`: each term's first and last day of classes, for terms SIS gives no
//! dates for (`TERMS=1262:2026-01-14..2026-04-28,1268:2026-08-25..2026-12-08`).
//! SIS's dates win where both exist; the calendar feed reads both.
//! `TERM_BREAKS`: the days a term holds no classes (spring break, reading
//! days, Thanksgiving), which SIS does not give: the feed leaves them out.

use chrono::NaiveDate;

use super::{invalid, ConfigError, Source};
use crate::classes::term_dates::TermSpan;

/// One term's dates as the operator wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredTermDates {
    /// A SIS term code, e.g. `1262`.
    pub term: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl ConfiguredTermDates {
    /// The spans `configured` gives `term` (its breaks, when these are
    /// `TERM_BREAKS`).
    pub fn spans_of(configured: &[ConfiguredTermDates], term: &str) -> Vec<TermSpan> {
        configured
            .iter()
            .filter(|b| b.term == term)
            .filter_map(|b| TermSpan::new(b.first_day, b.last_day))
            .collect()
    }
}

const EXAMPLE: &str = "for example TERMS=1262:2026-01-14..2026-04-28,1268:2026-08-25..2026-12-08";

/// Reads `TERMS`; unset means none.
pub fn from_source(src: &dyn Source) -> Result<Vec<ConfiguredTermDates>, ConfigError> {
    match src.get("TERMS") {
        None => Ok(Vec::new()),
        Some(raw) => {
            parse(&raw).map_err(|problem| invalid("TERMS", format!("{problem}; {EXAMPLE}")))
        }
    }
}

const BREAKS_EXAMPLE: &str =
    "for example TERM_BREAKS=1262:2026-03-07..2026-03-15,1268:2026-11-25..2026-11-29";

/// Reads `TERM_BREAKS` (a term may have several); unset means none.
pub fn breaks_from_source(src: &dyn Source) -> Result<Vec<ConfiguredTermDates>, ConfigError> {
    match src.get("TERM_BREAKS") {
        None => Ok(Vec::new()),
        Some(raw) => parse_entries(&raw, true)
            .map_err(|problem| invalid("TERM_BREAKS", format!("{problem}; {BREAKS_EXAMPLE}"))),
    }
}

/// `term:first..last` entries separated by commas, each term once.
pub fn parse(raw: &str) -> Result<Vec<ConfiguredTermDates>, String> {
    parse_entries(raw, false)
}

/// `term:first..last` entries separated by commas; `repeats`: a term may
/// have several.
fn parse_entries(raw: &str, repeats: bool) -> Result<Vec<ConfiguredTermDates>, String> {
    let mut terms: Vec<ConfiguredTermDates> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (term, span) = entry
            .split_once(':')
            .ok_or_else(|| format!("'{entry}' has no ':' between the term and its dates"))?;
        let term = term.trim();
        let b = term.as_bytes();
        let valid_term = b.len() == 4
            && b[0] == b'1'
            && b.iter().all(u8::is_ascii_digit)
            && matches!(b[3], b'1' | b'2' | b'6' | b'8');
        if !valid_term {
            return Err(format!(
                "'{term}' is not a SIS term code (1 + two-digit year + season 1, 2, 6 or 8)"
            ));
        }
        let (first, last) = span
            .split_once("..")
            .ok_or_else(|| format!("the dates of {term} are not written first..last"))?;
        let day = |text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("'{}' (term {term}) is not a date YYYY-MM-DD", text.trim()))
        };
        let (first_day, last_day) = (day(first)?, day(last)?);
        if last_day < first_day {
            return Err(format!(
                "term {term} ends ({last_day}) before it starts ({first_day})"
            ));
        }
        if !repeats && terms.iter().any(|t| t.term == term) {
            return Err(format!("term {term} is listed twice"));
        }
        terms.push(ConfiguredTermDates {
            term: term.to_string(),
            first_day,
            last_day,
        });
    }
    if terms.is_empty() {
        return Err("it lists no term".into());
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_each_terms_first_and_last_day() {
        let terms = parse("1262:2026-01-14..2026-04-28, 1268:2026-08-25..2026-12-08").unwrap();
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[1].term, "1268");
        assert_eq!(
            terms[1].first_day,
            NaiveDate::from_ymd_opt(2026, 8, 25).unwrap()
        );
        assert_eq!(
            terms[1].last_day,
            NaiveDate::from_ymd_opt(2026, 12, 8).unwrap()
        );
    }

    #[test]
    fn a_bad_terms_value_fails_config_naming_the_variable_and_the_problem() {
        for (bad, says) in [
            ("1262=2026-01-14..2026-04-28", "no ':'"),
            (
                "spring:2026-01-14..2026-04-28",
                "'spring' is not a SIS term code",
            ),
            ("1262:2026-01-14", "not written first..last"),
            (
                "1262:2026-01-14..2026-13-28",
                "'2026-13-28' (term 1262) is not a date",
            ),
            (
                "1262:2026-04-28..2026-01-14",
                "ends (2026-01-14) before it starts",
            ),
            (
                "1262:2026-01-14..2026-04-28,1262:2026-01-15..2026-04-28",
                "listed twice",
            ),
        ] {
            let src: HashMap<String, String> = [("TERMS".to_string(), bad.to_string())].into();
            let message = from_source(&src).unwrap_err().to_string();
            assert!(message.starts_with("TERMS is invalid: "), "{message}");
            assert!(message.contains(says), "{bad}: {message}");
            assert!(message.contains("for example TERMS="), "{message}");
        }
        let unset: HashMap<String, String> = HashMap::new();
        assert!(from_source(&unset).unwrap().is_empty());
    }

    #[test]
    fn breaks_are_read_several_to_a_term_and_a_bad_one_is_named() {
        let src: HashMap<String, String> = [(
            "TERM_BREAKS".to_string(),
            "1268:2026-10-03..2026-10-06, 1268:2026-11-25..2026-11-29".to_string(),
        )]
        .into();
        let breaks = breaks_from_source(&src).unwrap();
        assert_eq!(breaks.len(), 2);
        assert_eq!(
            breaks[1].first_day,
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        );
        let bad: HashMap<String, String> = [(
            "TERM_BREAKS".to_string(),
            "1268:2026-11-29..2026-11-25".to_string(),
        )]
        .into();
        let message = breaks_from_source(&bad).unwrap_err().to_string();
        assert!(message.starts_with("TERM_BREAKS is invalid: "), "{message}");
        assert!(message.contains("for example TERM_BREAKS="), "{message}");
        assert!(breaks_from_source(&HashMap::<String, String>::new())
            .unwrap()
            .is_empty());
    }
}
