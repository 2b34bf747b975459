//! Whether a draft names a person: a classmate's display name, anything shaped
//! like a computing ID, any email address, or a phone number. A post that does
//! is held for a moderator before the class reads it (its author is warned
//! first). The answer says what kind of thing matched, never which classmate:
//! the author must not learn the roster from it.
//!
//! Computing IDs are a deliberate departure from "an enrolled student's ID":
//! every word shaped like one (2–3 letters, a digit, 1–3 letters: `mst3k`,
//! `jd4ab`, `al9x`) counts, enrolled or not, or drafting "jd4ab" would tell a
//! student whether jd4ab takes the class. Display names count only for
//! members of the class (other than the author), as the issue asks, and not
//! for a member who hides their classes: a hold would tell a friend who drafts
//! their name that they take this class, which is what hiding keeps from them.
//!
//! A draft is read as typed and, when it differs, once more as a reader sees
//! it (`readings`): `fgj\u{200B}4ps` is the ID `fgj4ps`, and `F\u{430}tima`
//! (a Cyrillic `a`) is `Fatima`.
//!
//! A display name made only of everyday words ("The", "Will", "Is It", "11:59")
//! is never looked for (`is_everyday_name`): it cannot be told from ordinary
//! writing, so matching it would warn, and hold, nearly every classmate's
//! post, and a hostile student could pick such a name to do exactly that.
//! Everyday words are NLTK's English stop words (the `stop-words` crate): the
//! function words of nearly every sentence, and few names. Numbers count as
//! everyday too. A name with any other word ("Will Turner", "Bo Li", "May")
//! is looked for as before.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use diesel::prelude::*;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::accounts::display_name::{folded, is_invisible, latin_look_alike};
use crate::accounts::email::{has_email, is_computing_id};
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::schema::{user_classes, users};
use crate::db::DbConn;

/// Names with fewer letters than this never match ("Al", "Jo").
pub const MIN_NAME_LETTERS: usize = 3;

/// What kind of personal detail a draft contains, in the words its author reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Naming {
    /// A classmate's display name, or a computing ID (of anyone).
    Classmate,
    Email,
    Phone,
}

impl Naming {
    /// "names a classmate", as in "This names a classmate."
    pub fn words(self) -> &'static str {
        match self {
            Naming::Classmate => "names a classmate",
            Naming::Email => "contains an email address",
            Naming::Phone => "contains a phone number",
        }
    }
}

/// Everything a draft was found to contain, in a fixed order, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    kinds: Vec<Naming>,
    /// The members of the class the draft named by display name, each as a
    /// short hash of the folded name (`roster_keys`): answers that depend on
    /// who takes the class (unlike an ID shape, an address or a phone
    /// number, matched whoever takes it).
    roster: Vec<String>,
    /// The members named, by user id: for moderators only (a held post's
    /// `held_names`), never for the author.
    members: Vec<UserId>,
}

impl Findings {
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn contains(&self, kind: Naming) -> bool {
        self.kinds.contains(&kind)
    }

    /// Each display name matched, as a key that tells the same name apart
    /// from another without holding it (the first 64 bits of the SHA-256 of
    /// the folded name, in hex): a student who keeps writing one classmate's
    /// name is answered about one name, however often.
    pub fn roster_keys(&self) -> &[String] {
        &self.roster
    }

    /// The members whose display names the draft holds, by user id: for
    /// moderators, on the held post; never to be shown to its author.
    pub fn named_members(&self) -> &[UserId] {
        &self.members
    }

    /// Whether the draft holds something besides a name (an address, a
    /// number, an ID shape's `Classmate` aside).
    pub fn beyond_names(&self) -> bool {
        self.kinds.iter().any(|k| *k != Naming::Classmate)
    }

    /// These findings less the roster's answers: what a draft warned for an
    /// address or a number is told. Only for findings with roster keys, whose
    /// `Classmate` then came from the roster alone (`check` looks at the
    /// roster only when no ID shape matched).
    pub fn without_roster(&self) -> Findings {
        Findings {
            kinds: self
                .kinds
                .iter()
                .copied()
                .filter(|k| *k != Naming::Classmate)
                .collect(),
            roster: Vec::new(),
            members: Vec::new(),
        }
    }

    fn extend(&mut self, other: Findings) {
        for kind in other.kinds {
            self.add(kind);
        }
        for key in other.roster {
            if !self.roster.contains(&key) {
                self.roster.push(key);
            }
        }
        for id in other.members {
            if !self.members.contains(&id) {
                self.members.push(id);
            }
        }
    }

    fn add(&mut self, kind: Naming) {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
            self.kinds.sort();
        }
    }
}

/// "names a classmate and contains a phone number": what the author is told,
/// and what is kept as the held message's reason for moderators.
impl fmt::Display for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.kinds.iter().map(|k| k.words()).collect();
        match words.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            [init @ .., last] => write!(f, "{} and {last}", init.join(", ")),
        }
    }
}

/// Checks a draft against the class's roster: one statement loads the display
/// names of the other members whose `name_key` (the folded first word of the
/// name) is a word of the draft, an indexed read that returns a handful of
/// rows even in a 1,000-member class; the rest is matching in memory on the
/// draft's folded words, by the same rules as before (the key only narrows).
pub fn check(
    conn: &mut DbConn,
    author: &UserId,
    class_id: &ClassId,
    text: &str,
) -> QueryResult<Findings> {
    let readings = readings(text);
    let drafts: Vec<DraftWords> = readings.iter().map(|t| DraftWords::of(t)).collect();
    let mut findings = Findings::default();
    for (text, draft) in readings.iter().zip(&drafts) {
        findings.extend(text_findings(text, draft));
    }
    if findings.contains(Naming::Classmate) || drafts.iter().all(DraftWords::is_empty) {
        return Ok(findings);
    }
    // Only members whose name starts with a word of the draft can be named
    // in it: an indexed look-up of `users.name_key`, then the class test.
    let mut keys: Vec<&str> = drafts
        .iter()
        .flat_map(|d| d.at.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let names: Vec<(UserId, Option<String>)> = users::table
        .filter(users::name_key.eq_any(&keys))
        .filter(users::id.ne(author))
        .filter(users::hide_classes.eq(false))
        .filter(diesel::dsl::exists(
            user_classes::table
                .filter(user_classes::user_id.eq(users::id))
                .filter(user_classes::class_id.eq(class_id)),
        ))
        .select((users::id, users::display_name))
        .load(conn)?;
    let mut scratch = String::new();
    for (id, name) in &names {
        let Some(name) = name else { continue };
        if drafts
            .iter()
            .any(|draft| draft.has_phrase_with(name, &mut scratch))
        {
            findings.add(Naming::Classmate);
            let key = name_key_hash(name);
            if !findings.roster.contains(&key) {
                findings.roster.push(key);
            }
            findings.members.push(id.clone());
        }
    }
    Ok(findings)
}

/// The first 64 bits of the SHA-256 of the folded display name, in hex.
fn name_key_hash(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(folded(name).as_bytes());
    hex::encode(&digest[..8])
}

/// The draft as typed and, when it differs, as a reader sees it: compatibility
/// forms folded (NFKC: full-width `ｆｇｊ４ｐｓ`, no-break spaces), marks dropped
/// (accents, keycaps), invisible characters dropped (zero-width spaces, soft
/// hyphens, word joiners, tags), every other non-ASCII letter or digit read as
/// the Latin one it looks like (UTS #39 skeletons: a Cyrillic `\u{430}` is `a`),
/// and any space or dash as a plain one. Each reading is matched on its own:
/// a zero-width space between two names separates them as typed, and the
/// halves of an ID join in the second reading.
pub fn readings(text: &str) -> Vec<Cow<'_, str>> {
    // ASCII reads as typed (a message holds no control but line breaks and tabs).
    if text.is_ascii() {
        return vec![Cow::Borrowed(text)];
    }
    let read: String = text
        .nfkc()
        .collect::<String>()
        .nfd()
        .filter(|c| {
            c.general_category_group() != GeneralCategoryGroup::Mark
                && (!is_invisible(*c) || c.is_whitespace())
        })
        .map(|c| match c.general_category() {
            _ if c.is_ascii() => c,
            GeneralCategory::SpaceSeparator => ' ',
            GeneralCategory::DashPunctuation => '-',
            _ => latin_look_alike(c),
        })
        .collect();
    if read == text {
        vec![Cow::Borrowed(text)]
    } else {
        vec![Cow::Borrowed(text), Cow::Owned(read)]
    }
}

/// What a draft holds that needs no roster: computing IDs, email addresses,
/// phone numbers.
pub fn text_findings(text: &str, draft: &DraftWords) -> Findings {
    let mut findings = Findings::default();
    if draft.words.iter().any(|w| is_computing_id(w)) {
        findings.add(Naming::Classmate);
    }
    if has_email(text) {
        findings.add(Naming::Email);
    }
    if has_phone(text) {
        findings.add(Naming::Phone);
    }
    findings
}

/// A draft folded into its words once, indexed by word for phrase look-ups.
#[derive(Debug, Default)]
pub struct DraftWords {
    words: Vec<String>,
    at: HashMap<String, Vec<usize>>,
}

impl DraftWords {
    pub fn of(text: &str) -> DraftWords {
        let words = words_of(&folded(text));
        let mut at: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, word) in words.iter().enumerate() {
            at.entry(word.clone()).or_default().push(i);
        }
        DraftWords { words, at }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether `name`'s words appear in the draft, whole and in order. Names of
    /// fewer than `MIN_NAME_LETTERS` letters, or of everyday words only
    /// (`is_everyday`), never do.
    pub fn has_phrase(&self, name: &str) -> bool {
        self.has_phrase_with(name, &mut String::new())
    }

    /// `has_phrase`, folding into `scratch` (reused across a roster, so the
    /// common case, a name whose first word is not in the draft, allocates nothing).
    pub fn has_phrase_with(&self, name: &str, scratch: &mut String) -> bool {
        // Most names share no word with a draft: look the first word up before
        // folding the whole name.
        let first = name
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty());
        let Some(first) = first else {
            return false;
        };
        scratch.clear();
        if first.is_ascii() {
            scratch.extend(first.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            scratch.push_str(&folded(first));
        }
        if !self.at.contains_key(scratch.as_str()) {
            return false;
        }
        let name_words = words_of(&folded(name));
        let letters: usize = name_words.iter().map(|w| w.chars().count()).sum();
        if letters < MIN_NAME_LETTERS || is_everyday(&name_words) {
            return false;
        }
        let Some(starts) = self.at.get(&name_words[0]) else {
            return false;
        };
        starts
            .iter()
            .any(|&i| self.words.get(i..i + name_words.len()) == Some(name_words.as_slice()))
    }
}

/// English's everyday words, folded as drafts are (lower case, no accents):
/// NLTK's English stop words ("the", "is", "will", "don").
static EVERYDAY: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stop_words::get(stop_words::Language::English)
        .iter()
        .map(|w| folded(w))
        .collect()
});

/// Whether a name's folded words are all everyday: each an everyday word or
/// a number ("the", "will", "is it", "11 59").
fn is_everyday(words: &[String]) -> bool {
    !words.is_empty()
        && words
            .iter()
            .all(|w| EVERYDAY.contains(w) || w.chars().all(|c| c.is_numeric()))
}

/// Whether drafts are never checked for this display name because it is made
/// of everyday words (`is_everyday`): what the account page tells a student
/// who has one.
pub fn is_everyday_name(name: &str) -> bool {
    is_everyday(&words_of(&folded(name)))
}

/// The runs of letters and digits of folded text.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A North American phone number: 434-555-0123, (434) 555-0123,
/// 434.555.0123, 4345550123, +1 434 555 0123. Not a class number (16601),
/// a year or a time (10:30): those are too short or broken by other marks.
pub fn has_phone(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).any(|i| {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '+');
        starts_word && phone_at(&chars, i).is_some()
    })
}

/// The end of a phone number starting at `i`, if one does.
fn phone_at(chars: &[char], mut i: usize) -> Option<usize> {
    // Up to three separators between groups: "434 - 555 - 0123".
    let sep = |chars: &[char], i: &mut usize| {
        let start = *i;
        while *i - start < 3 && chars.get(*i).is_some_and(|c| matches!(c, ' ' | '-' | '.')) {
            *i += 1;
        }
    };
    let digits = |chars: &[char], i: &mut usize, n: usize| -> Option<String> {
        let run: String = chars.get(*i..*i + n)?.iter().collect();
        run.chars().all(|c| c.is_ascii_digit()).then(|| {
            *i += n;
            run
        })
    };
    // A country code: "+1" and a separator, or "1-".
    if chars.get(i) == Some(&'+') {
        if chars.get(i + 1) != Some(&'1') {
            return None;
        }
        i += 2;
        sep(chars, &mut i);
    } else if chars.get(i) == Some(&'1')
        && chars
            .get(i + 1)
            .is_some_and(|c| matches!(c, '-' | ' ' | '.'))
    {
        i += 2;
    }
    let area = if chars.get(i) == Some(&'(') {
        i += 1;
        let area = digits(chars, &mut i, 3)?;
        if chars.get(i) != Some(&')') {
            return None;
        }
        i += 1;
        sep(chars, &mut i);
        area
    } else {
        let area = digits(chars, &mut i, 3)?;
        sep(chars, &mut i);
        area
    };
    let exchange = digits(chars, &mut i, 3)?;
    sep(chars, &mut i);
    digits(chars, &mut i, 4)?;
    // NANP: neither the area code nor the exchange starts with 0 or 1.
    let plausible = |part: &str| part.starts_with(|c: char| ('2'..='9').contains(&c));
    let ends_word = chars.get(i).is_none_or(|c| !(c.is_alphanumeric()));
    (plausible(&area) && plausible(&exchange) && ends_word).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(draft: &str, name: &str) -> bool {
        DraftWords::of(draft).has_phrase(name)
    }

    #[test]
    fn a_display_name_matches_as_whole_words_in_any_case_and_accent() {
        assert!(names("ask ÁNGELA about it", "angela"));
        assert!(names("ask angela about it", "Ángela"));
        assert!(names("Was that Ángela Ruiz, in lab?", "Angela Ruiz"));
        assert!(
            !names("Was that Ángela, in lab?", "Angela Ruiz"),
            "the whole name, not a part"
        );
        assert!(!names("Ruiz Angela", "Angela Ruiz"), "in order");
        assert!(!names("angelas notes", "Angela"), "whole words");
        assert!(!names("I also think so", "Al"));
        assert!(
            !names("Al said so", "Al"),
            "shorter than 3 letters never matches"
        );
        assert!(names("Bo Li did it", "Bo Li"), "3 letters or more in all");
        assert!(names("Bob Li did it", "Bob Li"));
    }

    #[test]
    fn a_name_of_everyday_words_only_is_never_looked_for() {
        assert!(!names("is the problem set due?", "The"));
        assert!(!names("THE END", "the"));
        assert!(!names("I will go", "Will"));
        assert!(!names("so is it due friday?", "Is It"));
        assert!(!names("what to do now", "To Do"));
        assert!(!names("due at 11:59 tonight", "11:59"));
        assert!(!names("the 2 of us", "The 2"));
        // Any other word makes the name a name.
        assert!(names("did Will Turner go?", "Will Turner"));
        assert!(names("Will Li did it", "Will Li"));
        assert!(names("Bo Li did it", "Bo Li"));
        assert!(names("Bill Young said so", "Bill Young"));
        assert!(names("is the grace period over?", "Grace"));
        assert!(names("Agent 47 is here", "Agent 47"));
        assert!(is_everyday_name("The"));
        assert!(is_everyday_name("will  IT"));
        assert!(is_everyday_name("I Am 2"));
        assert!(!is_everyday_name("Will Turner"));
        assert!(!is_everyday_name("May"));
        assert!(!is_everyday_name("Ángela"));
    }

    #[test]
    fn computing_id_shapes_are_recognised() {
        for id in ["mst3k", "jd4ab", "al9x", "abc1def"] {
            assert!(is_computing_id(id), "{id}");
        }
        for word in [
            "16601", "2026", "cs2150", "h2o", "abcd1e", "ab12c", "ab1cdef", "mst3",
        ] {
            assert!(!is_computing_id(word), "{word}");
        }
        let draft = DraftWords::of("ping JD4AB about the lab");
        assert!(text_findings("ping JD4AB about the lab", &draft).contains(Naming::Classmate));
    }

    #[test]
    fn email_addresses_are_found_anywhere() {
        assert!(has_email("write to jd4ab@virginia.edu today"));
        assert!(has_email("or someone@gmail.com."));
        assert!(!has_email("meet @ 5 in the lab"));
        assert!(!has_email("@channel"));
        assert!(!has_email("a@b"));
    }

    #[test]
    fn phone_numbers_in_common_forms_are_found() {
        for text in [
            "call 434-555-0123",
            "(434) 555-0123 anytime",
            "434.555.0123",
            "4345550123",
            "+1 434 555 0123",
            "1-434-555-0123",
            "434 - 555 - 0123",
            "434  555  0123",
        ] {
            assert!(has_phone(text), "{text}");
        }
        for text in [
            "class 16601 and 16602",
            "in 2026",
            "at 10:30",
            "ISBN 9780134685991",
            "section 001 234 5678",
            "434-555-01234",
            "a434-555-0123",
        ] {
            assert!(!has_phone(text), "{text}");
        }
    }

    /// What `check` finds without the roster, over both readings.
    fn found(text: &str) -> Findings {
        let mut findings = Findings::default();
        for read in readings(text) {
            findings.extend(text_findings(&read, &DraftWords::of(&read)));
        }
        findings
    }

    /// Whether either reading of `text` holds `name`.
    fn names_read(text: &str, name: &str) -> bool {
        readings(text)
            .iter()
            .any(|read| DraftWords::of(read).has_phrase(name))
    }

    #[test]
    fn invisible_characters_and_look_alike_letters_hide_nothing() {
        for text in [
            "ask fgj\u{200B}4ps",
            "ask fgj\u{2060}4ps",
            "ask fgj4\u{00AD}ps",
            "ask fgj\u{E0041}4ps",
            "ask \u{FF46}\u{FF47}\u{FF4A}\u{FF14}\u{FF50}\u{FF53}",
            "ask \u{455}\u{435}4\u{430}\u{440}",
        ] {
            assert!(found(text).contains(Naming::Classmate), "{text:?}");
        }
        for text in [
            "call 434\u{200B}555\u{200B}0199",
            "call 434\u{A0}555\u{2013}0199",
            "call 4\u{20E3}3\u{20E3}4\u{20E3}5\u{20E3}5\u{20E3}5\u{20E3}0\u{20E3}1\u{20E3}9\u{20E3}9\u{20E3}",
            "call (434)  555-0199",
        ] {
            assert!(found(text).contains(Naming::Phone), "{text:?}");
        }
        assert!(found("rhb\u{2060}4p@virginia\u{200B}.edu").contains(Naming::Email));
        for text in [
            "was that F\u{0430}tima Garcia?",
            "was that F\u{200B}atima Garcia?",
            "was that F\u{251}tima Garcia?",
            "was that Fat\u{131}ma Garcia?",
        ] {
            assert!(names_read(text, "Fatima Garcia"), "{text:?}");
        }
        assert!(
            names_read("\u{406}van said", "Ivan"),
            "a Cyrillic capital I"
        );
        // A zero-width space between two names still separates them.
        assert!(names_read("Elena\u{200B}Jackson said", "Elena Jackson"));
        // The readings do not run into each other.
        assert!(!names_read(
            "Garcia\u{200B} and then ask Fatima",
            "Fatima Garcia"
        ));
        // Plain text is read once.
        assert_eq!(readings("when is the midterm?").len(), 1);
    }

    #[test]
    fn findings_read_as_words_for_the_author() {
        let mut findings = Findings::default();
        assert_eq!(findings.to_string(), "");
        findings.add(Naming::Phone);
        findings.add(Naming::Classmate);
        findings.add(Naming::Phone);
        assert_eq!(
            findings.to_string(),
            "names a classmate and contains a phone number"
        );
    }
}
