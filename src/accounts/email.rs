//! Campus addresses: the only way in. Parsed once into `CampusEmail`, so the rest
//! of the code never sees an address that was not checked.

/// A single, normalized address in an allowed domain, with its computing ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampusEmail {
    address: String,
    computing_id: String,
}

/// Why an address was refused, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your university email address.")]
    Empty,
    #[error("That address is too long. Enter your own university address, like mst3k@{0}.")]
    TooLong(String),
    #[error("Enter just one address, like mst3k@{0}, without a name, quotes or a list.")]
    NotSingle(String),
    #[error("That does not look like an email address. Enter one like mst3k@{0}.")]
    Malformed(String),
    #[error("Only {0} addresses can sign in. Use your university address.")]
    OtherDomain(String),
    #[error("Use the address made of your computing ID, like mst3k@{0}. Common Grounds knows each student by computing ID, so an alias such as jane.doe@{0} does not work here.")]
    NotComputingId(String),
}

/// What Common Grounds takes as a computing ID, in an address or alone: 2 to
/// 16 letters and digits, starting with a letter. The one rule for signing
/// in and for naming a friend, so every account can be named (`/friends/{id}`)
/// and a student has one account, not one per alias of their mailbox.
pub fn is_login_id(word: &str) -> bool {
    (2..=16).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphanumeric())
        && word.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// A UVA computing ID's shape: 2–3 letters, one digit, 1–3 letters (`mst3k`,
/// `al9x`, as in the SIS samples).
pub fn is_computing_id(word: &str) -> bool {
    let b = word.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if !(2..=3).contains(&lead) || b.get(lead).is_none_or(|c| !c.is_ascii_digit()) {
        return false;
    }
    let tail = &b[lead + 1..];
    (1..=3).contains(&tail.len()) && tail.iter().all(u8::is_ascii_lowercase)
}

/// Any email address: `local@domain.tld`.
pub fn has_email(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let local = |c: &char| c.is_alphanumeric() || "._%+-".contains(*c);
    let domain = |c: &char| c.is_alphanumeric() || ".-".contains(*c);
    chars.iter().enumerate().any(|(i, c)| {
        if *c != '@' || i == 0 || !local(&chars[i - 1]) {
            return false;
        }
        let host: String = chars[i + 1..].iter().take_while(|c| domain(c)).collect();
        let host = host.trim_end_matches(['.', '-']);
        match host.rsplit_once('.') {
            Some((name, tld)) => {
                !name.is_empty() && tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)
            }
            None => false,
        }
    })
}

const MAX_LEN: usize = 254;
const MAX_LOCAL: usize = 64;

impl CampusEmail {
    /// Parses what a person typed. `allowed` holds lower-case domains; an address at
    /// `email.<domain>` is the same mailbox as `<domain>` and is stored as the latter.
    /// A bare computing ID (`mst3k`) means that ID at the first allowed domain.
    pub fn parse(raw: &str, allowed: &[String]) -> Result<CampusEmail, EmailError> {
        let example = allowed
            .first()
            .cloned()
            .unwrap_or_else(|| "virginia.edu".into());
        let domains = allowed.join(" or ");
        let text = raw.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.len() > MAX_LEN {
            return Err(EmailError::TooLong(example));
        }
        if text.chars().any(|c| {
            matches!(
                c,
                ',' | ';' | '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']' | '\\'
            ) || c.is_whitespace()
        }) || text.matches('@').count() > 1
        {
            return Err(EmailError::NotSingle(example));
        }
        // Unicode look-alikes (Cyrillic 'а', full-width '＠') never reach the domain check.
        if !text.is_ascii() || text.chars().any(|c| c.is_ascii_control()) {
            return Err(EmailError::Malformed(example));
        }
        let mut lower = text.to_ascii_lowercase();
        if !lower.contains('@') {
            lower = format!("{lower}@{example}");
        }
        let Some((local, domain)) = lower.split_once('@') else {
            return Err(EmailError::Malformed(example));
        };
        let local_ok = !local.is_empty()
            && local.len() <= MAX_LOCAL
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(EmailError::Malformed(example));
        }
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let canonical = allowed
            .iter()
            .find(|d| domain == d.as_str() || domain.strip_prefix("email.") == Some(d.as_str()));
        match canonical {
            Some(_) if !is_login_id(local) => Err(EmailError::NotComputingId(example)),
            Some(d) => Ok(CampusEmail {
                address: format!("{local}@{d}"),
                computing_id: local.to_string(),
            }),
            None => Err(EmailError::OtherDomain(domains)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The local part: a UVA computing ID such as `mst3k`.
    pub fn computing_id(&self) -> &str {
        &self.computing_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uva() -> Vec<String> {
        vec!["virginia.edu".to_string()]
    }

    #[test]
    fn a_plain_campus_address_is_accepted_and_lower_cased() {
        let e = CampusEmail::parse("  MST3K@Virginia.EDU ", &uva()).unwrap();
        assert_eq!(e.as_str(), "mst3k@virginia.edu");
        assert_eq!(e.computing_id(), "mst3k");
    }

    #[test]
    fn a_bare_computing_id_means_the_first_allowed_domain() {
        let e = CampusEmail::parse(" HOO1A ", &uva()).unwrap();
        assert_eq!(e.as_str(), "hoo1a@virginia.edu");
        assert_eq!(e.computing_id(), "hoo1a");
        let two = vec!["virginia.edu".to_string(), "example.edu".to_string()];
        assert_eq!(
            CampusEmail::parse("hoo1a", &two).unwrap().as_str(),
            "hoo1a@virginia.edu"
        );
        for hostile in ["hoo1a.", ".hoo1a", "ho..o1a", "hoo1a+x"] {
            assert!(CampusEmail::parse(hostile, &uva()).is_err(), "{hostile}");
        }
    }

    #[test]
    fn an_alias_is_refused_with_words_that_say_why() {
        for alias in [
            "jane.doe@virginia.edu",
            "jane_doe@virginia.edu",
            "jane-doe@virginia.edu",
            "1abc@virginia.edu",
            "a@virginia.edu",
            "abcdefghijklmnopq@virginia.edu",
        ] {
            let refused = CampusEmail::parse(alias, &uva()).unwrap_err();
            assert_eq!(
                refused,
                EmailError::NotComputingId("virginia.edu".into()),
                "{alias}"
            );
            assert!(refused.to_string().contains("computing ID"), "{refused}");
        }
        // Another school's address is refused for its domain, whatever its shape.
        assert!(matches!(
            CampusEmail::parse("jane.doe@gmail.com", &uva()),
            Err(EmailError::OtherDomain(_))
        ));
    }

    #[test]
    fn the_email_subdomain_is_the_same_person() {
        let e = CampusEmail::parse("mst3k@email.virginia.edu", &uva()).unwrap();
        assert_eq!(e.as_str(), "mst3k@virginia.edu");
    }

    #[test]
    fn look_alikes_lists_and_other_domains_are_refused() {
        let hostile = [
            "",
            "   ",
            "mst3k@virginia.edu.evil.com",
            "a@b,c@virginia.edu",
            "a@b.com, c@virginia.edu",
            "Jane <mst3k@virginia.edu>",
            "\"mst3k\"@virginia.edu",
            "mst3k@virginia.edu; x@virginia.edu",
            "mst3k@virginiа.edu",
            "mst3k＠virginia.edu",
            "mst3k@cs.virginia.edu",
            "mst3k@evilvirginia.edu",
            "mst3k+tag@virginia.edu",
            "@virginia.edu",
            "mst3k@",
            ".mst3k@virginia.edu",
            "ms..t3k@virginia.edu",
            "mst3k@virginia.edu\0",
            "mst3k@gmail.com",
        ];
        for input in hostile {
            assert!(
                CampusEmail::parse(input, &uva()).is_err(),
                "accepted {input:?}"
            );
        }
        let long = format!("{}@virginia.edu", "a".repeat(300));
        assert!(matches!(
            CampusEmail::parse(&long, &uva()),
            Err(EmailError::TooLong(_))
        ));
    }

    #[test]
    fn every_refusal_says_what_is_accepted() {
        for input in ["x@gmail.com", "a@b,c@virginia.edu", "no.", ""] {
            let message = CampusEmail::parse(input, &uva()).unwrap_err().to_string();
            assert!(
                message.contains("virginia.edu") || message.contains("university"),
                "{message}"
            );
        }
    }
}
