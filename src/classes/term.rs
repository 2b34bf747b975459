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

/// The term pages show when none is asked for: the configured one, else the
/// newest term present in the catalog.
pub fn default_term(configured: Option<&str>, present: &[Term]) -> Option<Term> {
    configured
        .and_then(Term::parse)
        .or_else(|| present.iter().max().cloned())
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
    fn the_default_is_the_configured_term_else_the_newest() {
        let present = vec![Term::parse("1258").unwrap(), Term::parse("1262").unwrap()];
        assert_eq!(default_term(None, &present).unwrap().code(), "1262");
        assert_eq!(default_term(Some("1258"), &present).unwrap().code(), "1258");
        assert_eq!(default_term(None, &[]), None);
    }
}
