//! The name a student shows to accepted friends, next to their computing ID.
//! A name that could pass for someone else's is refused here, with a reason
//! the student can act on; the Unicode rules come from the unicode-rs crates
//! (UTS #39 for scripts, the Unicode Character Database for categories).

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::{
    GeneralSecurityProfile, MixedScript, RestrictionLevel, RestrictionLevelDetection,
};

/// `text` lowered with its accents taken off (NFD, then combining marks
/// dropped): "ÁNGELA" and "angela" fold alike. The one fold of names: people
/// search (`moderation::users`) and the classmate-naming check (`chat::naming`)
/// both use it, so a name found by one is found by the other.
pub fn folded(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// What `users.name_key` holds for a display name: its first folded word (runs
/// of letters and digits, as `chat::naming` splits a draft), or None when it
/// has none. Only a pre-filter: the naming check still matches the whole name.
pub fn name_key(name: &str) -> Option<String> {
    folded(name)
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .map(str::to_string)
}

/// Longest display name, in characters (after normalizing).
pub const DISPLAY_NAME_MAX: usize = 60;

/// Most combining marks (accents) one letter may carry.
pub const MAX_STACKED_MARKS: usize = 4;

/// Why a display name was refused, in words the student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Nothing but spaces.
    #[error("Type a display name, or leave the box empty for none.")]
    Empty,
    #[error("A display name can be at most 60 characters; yours has {0}.")]
    TooLong(usize),
    /// No letter or digit that shows (Hangul fillers, Braille blanks, zero-width spaces).
    #[error("A display name needs at least one letter or digit that shows: yours would look blank to your friends.")]
    NothingVisible,
    /// A control, format (Unicode category Cf), default-ignorable, private-use
    /// or unassigned character anywhere in the name.
    #[error("A display name cannot contain invisible, formatting or text-direction characters (yours has {}): they can make one name pass for another. Remove it and save again.", CodePoint(*.0))]
    InvisibleCharacter(char),
    /// Letters of two alphabets mixed, outside the combinations UTS #39 counts
    /// as highly restrictive (Latin with Han, Japanese kana or Hangul).
    #[error("A display name cannot mix letters from different alphabets (yours mixes {0}): a look-alike letter, such as a Greek Ε among Latin ones, can pass one name off as another. Type your name in one alphabet.")]
    MixedScripts(String),
    /// A bracketed word of letters and digits, the way friends see a computing
    /// ID; or, anywhere, a word shaped like a computing ID (look-alike letters
    /// read as Latin) or an email address.
    #[error("A display name cannot contain a computing ID or an email address, such as “{0}”: friends already see your real computing ID in brackets after your name, so this could pass you off as someone else.")]
    LooksLikeComputingId(String),
    #[error("Too many accent marks stacked on one letter: a display name can have at most 4 on each letter.")]
    StackedMarks,
    /// A web address, with or without "https://" (`web_address`).
    #[error("A display name cannot contain a web address, such as “{0}”: your name goes out in emails to other students, where a link could pass for one from the university. Type your name without it.")]
    WebAddress(String),
}

/// "Unicode character 2060", the way a student can look a character up. (No
/// "U+": the account page's flash message would show the plus as a space.)
struct CodePoint(char);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unicode character {:04X}", u32::from(self.0))
    }
}

/// A display name that passed every rule: NFC, trimmed, single spaces, and
/// nothing that could make it pass for another student's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a name as typed.
    pub fn parse(raw: &str) -> Result<DisplayName, DisplayNameError> {
        // NFC first, so "e" + U+0301 and "é" are one name and one character.
        let composed: String = raw.nfc().collect();
        // Runs of any kind of space become one plain space: no padding with
        // ideographic or no-break spaces.
        let name = composed.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(DisplayNameError::Empty);
        }
        let count = name.chars().count();
        if count > DISPLAY_NAME_MAX {
            return Err(DisplayNameError::TooLong(count));
        }
        if !name
            .chars()
            .any(|c| c.is_alphanumeric() && !is_invisible(c))
        {
            return Err(DisplayNameError::NothingVisible);
        }
        let mut previous = ' ';
        for c in name.chars() {
            if is_invisible(c) && !is_emoji_style_selector(c, previous) {
                return Err(DisplayNameError::InvisibleCharacter(c));
            }
            previous = c;
        }
        if longest_mark_stack(&name) > MAX_STACKED_MARKS {
            return Err(DisplayNameError::StackedMarks);
        }
        if !is_one_writing_system(&name) {
            return Err(DisplayNameError::MixedScripts(scripts_named(&name)));
        }
        if let Some(id) = bracketed_id(&name).or_else(|| id_or_address(&name)) {
            return Err(DisplayNameError::LooksLikeComputingId(id));
        }
        if let Some(address) = web_address(&name) {
            return Err(DisplayNameError::WebAddress(address));
        }
        Ok(DisplayName(name))
    }

    /// Parses the account form's field, where an empty box means "no display name".
    pub fn parse_optional(raw: &str) -> Result<Option<DisplayName>, DisplayNameError> {
        match DisplayName::parse(raw) {
            Ok(name) => Ok(Some(name)),
            Err(DisplayNameError::Empty) => Ok(None),
            Err(refused) => Err(refused),
        }
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that show nothing, or whatever a font makes of them: controls,
/// format characters (Cf: zero-width spaces and joiners, bidi overrides, the
/// word joiner, BOM), private-use and unassigned code points, and the
/// default-ignorable fillers (U+3164 HANGUL FILLER, U+115F, U+1160, U+FFA0).
pub fn is_invisible(c: char) -> bool {
    // U+2800 BRAILLE PATTERN BLANK is a symbol to Unicode, but it prints as a
    // blank, and it is the favourite "invisible name".
    c == '\u{2800}'
        || c.general_category_group() == GeneralCategoryGroup::Other
        || c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// An emoji's presentation selector (U+FE0E, U+FE0F) right after a symbol:
/// phones add one to "❤️", so it stays allowed there, and only there.
fn is_emoji_style_selector(c: char, previous: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
        && previous.general_category_group() == GeneralCategoryGroup::Symbol
}

/// The most combining marks in a row on any one base character.
fn longest_mark_stack(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        if c.general_category_group() == GeneralCategoryGroup::Mark {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Single-script (UTS #39, where Common characters such as digits, spaces and
/// punctuation go with any script), or Latin mixed only with Han, Japanese kana
/// or Hangul, which UTS #39 counts as highly restrictive: names such as
/// "Наташа", "王小明", "山田 はな" or "Kim 김민준" pass; "Εmily" does not.
fn is_one_writing_system(name: &str) -> bool {
    if name.is_single_script() {
        return true;
    }
    // The restriction level refuses anything that is not an identifier
    // character, so it is asked about the letters alone.
    let letters: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
    letters.as_str().detect_restriction_level() <= RestrictionLevel::HighlyRestrictive
}

/// "Latin and Greek": the scripts of a name's letters, in order of first use.
fn scripts_named(name: &str) -> String {
    let mut seen: Vec<Script> = Vec::new();
    for c in name.chars().filter(|c| c.is_alphabetic()) {
        let script = c.script();
        if !matches!(script, Script::Common | Script::Inherited) && !seen.contains(&script) {
            seen.push(script);
        }
    }
    let names: Vec<&str> = seen.iter().map(|s| s.full_name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// The Latin letter `c` looks like (Cyrillic `\u{430}` → `a`), or `c` itself.
pub fn latin_look_alike(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf));
    match (skeleton.next(), skeleton.next()) {
        // UTS #39 draws every capital I as `l`: a Cyrillic `\u{406}` is an I.
        (Some('l'), None) if c.is_uppercase() => 'I',
        (Some(latin), None) if latin.is_ascii_alphanumeric() => latin,
        _ => c,
    }
}

/// The first word shaped like a computing ID (`hoo1a`, or `Ηοο1α` in Greek
/// look-alikes), or an email address, wherever it stands: "Carl - hoo1a" and
/// "«hoo1a»" pass someone off as well as "(hoo1a)" does.
fn id_or_address(name: &str) -> Option<String> {
    let folded: String = name.nfkc().collect();
    if super::email::has_email(&folded) {
        return folded
            .split_whitespace()
            .find(|w| w.contains('@'))
            .map(str::to_string);
    }
    folded
        .split(|c: char| !c.is_alphanumeric())
        .find(|word| {
            let read: String = word
                .chars()
                .map(latin_look_alike)
                .flat_map(char::to_lowercase)
                .collect();
            super::email::is_computing_id(&read)
        })
        .map(str::to_string)
}

/// The first web address in the name: a link-shaped word (linkify) with a
/// scheme ("ftp://x"), starting "www.", or whose host ends in a suffix on the
/// Public Suffix List ("uva-sso.help/login", "bit.ly"). A dotted name whose
/// last part is no such suffix ("Mary.Jane", "st.john") is a name.
fn web_address(name: &str) -> Option<String> {
    let mut finder = linkify::LinkFinder::new();
    finder
        .url_must_have_scheme(false)
        .kinds(&[linkify::LinkKind::Url]);
    finder
        .links(name)
        .map(|link| link.as_str())
        .find(|link| {
            let (scheme, rest) = match link.split_once("://") {
                Some((_, rest)) => (true, rest),
                None => (false, *link),
            };
            let host = rest
                .split(['/', ':', '?', '#'])
                .next()
                .unwrap_or_default()
                .to_lowercase();
            scheme
                || host.starts_with("www.")
                || psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known())
        })
        .map(str::to_string)
}

/// The first bracketed word that reads like an ID (letters and digits, no
/// spaces, both kinds present), such as "(ee9k)", "[ee9k]" or "（ｅｅ9ｋ）".
///
/// Friends see a name as "Name (computing-id)", so any such word could pose as
/// the real ID; refusing every bracket would also refuse "(she/her)" or "(Kate)",
/// which carry no digit and cannot pass for an ID, so those stay allowed.
fn bracketed_id(name: &str) -> Option<String> {
    // NFKC folds full-width and superscript brackets, letters and digits to
    // plain ones, so "（ｅｅ9ｋ）" is read as "(ee9k)".
    let folded: String = name.nfkc().collect();
    let mut chars = folded.chars();
    while chars.any(|c| c.general_category() == GeneralCategory::OpenPunctuation) {
        // An unclosed bracket runs to the end: "Emily (ee9k" shows as
        // "Emily (ee9k (xss1)" to a friend.
        let inside: String = chars
            .clone()
            .take_while(|c| c.general_category() != GeneralCategory::ClosePunctuation)
            .collect();
        let word = inside.trim();
        let id_like = (2..=10).contains(&word.chars().count())
            && word.chars().all(char::is_alphanumeric)
            && word.chars().any(char::is_numeric)
            && word.chars().any(char::is_alphabetic);
        if id_like {
            return Some(word.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> DisplayNameError {
        DisplayName::parse(raw).expect_err(raw)
    }

    #[test]
    fn names_are_composed_trimmed_and_single_spaced() {
        let name = DisplayName::parse("  Jose\u{301}\u{3000}\u{A0} Ruiz\t").unwrap();
        assert_eq!(name.as_str(), "José Ruiz");
    }

    #[test]
    fn an_empty_box_means_no_name() {
        assert_eq!(DisplayName::parse_optional("   ").unwrap(), None);
        assert_eq!(DisplayName::parse("\u{3000}"), Err(DisplayNameError::Empty));
        assert!(DisplayName::parse_optional("Ann").unwrap().is_some());
    }

    #[test]
    fn length_counts_characters_after_composing() {
        assert!(DisplayName::parse(&"e\u{301}".repeat(DISPLAY_NAME_MAX)).is_ok());
        assert_eq!(
            refused(&"n".repeat(DISPLAY_NAME_MAX + 1)),
            DisplayNameError::TooLong(DISPLAY_NAME_MAX + 1)
        );
    }

    #[test]
    fn names_that_show_as_blank_are_refused() {
        for blank in [
            "\u{3164}",
            "\u{2800}\u{2800}",
            "\u{115F}\u{1160}",
            "\u{FFA0}",
            "\u{200B}",
            "\u{3164} \u{2800}",
            "\u{FEFF}.",
        ] {
            assert_eq!(
                refused(blank),
                DisplayNameError::NothingVisible,
                "{blank:?}"
            );
        }
    }

    #[test]
    fn invisible_and_format_characters_are_refused_anywhere() {
        for (name, c) in [
            ("Emily\u{2060}Evans", '\u{2060}'),
            ("Emily\u{200B}", '\u{200B}'),
            ("Emily \u{200D}Evans", '\u{200D}'),
            ("evil\u{202E}gnp.exe", '\u{202E}'),
            ("\u{61C}Emily", '\u{61C}'),
            ("Emily\u{FEFF}", '\u{FEFF}'),
            ("Em\u{3164}ily", '\u{3164}'),
            ("Emily\u{2800}Evans", '\u{2800}'),
            ("Emily\u{E000}", '\u{E000}'),
            ("nul\0byte", '\0'),
            ("Emily\u{FE0F}", '\u{FE0F}'),
        ] {
            assert_eq!(
                refused(name),
                DisplayNameError::InvisibleCharacter(c),
                "{name:?}"
            );
        }
        let message = refused("Emily\u{2060}Evans").to_string();
        assert!(message.contains("Unicode character 2060"), "{message}");
        assert!(message.contains("text-direction"), "{message}");
        assert!(DisplayName::parse("Emily ❤\u{FE0F}").is_ok());
    }

    #[test]
    fn mixed_script_look_alikes_are_refused() {
        for (name, scripts) in [
            ("\u{395}mily", "Greek and Latin"),
            ("Emily Ev\u{430}ns", "Latin and Cyrillic"),
            ("N\u{430}t\u{430}sha", "Latin and Cyrillic"),
            (
                "\u{41D}\u{430}\u{442}\u{430}\u{448}\u{430} Smith",
                "Cyrillic and Latin",
            ),
        ] {
            assert_eq!(
                refused(name),
                DisplayNameError::MixedScripts(scripts.into()),
                "{name}"
            );
        }
    }

    #[test]
    fn names_in_one_script_or_latin_with_east_asian_scripts_are_welcome() {
        for name in [
            "Emily Evans",
            "Наташа Иванова",
            "王小明",
            "山田 はなこ",
            "김민준",
            "Kim 김민준",
            "Wang 王小明",
            "Μαρία Παπαδοπούλου",
            "محمد علي",
            "שרה כהן",
            "Zoë O'Brien-Núñez",
            "Nguyễn Thị Minh Khai",
            "Ama 2nd",
            "Emily (she/her)",
            "Katherine (Kate)",
            "Class of (2027)",
        ] {
            assert!(
                DisplayName::parse(name).is_ok(),
                "{name}: {:?}",
                DisplayName::parse(name)
            );
        }
    }

    #[test]
    fn a_computing_id_in_brackets_is_refused() {
        for (name, id) in [
            ("Emily Evans (ee9k)", "ee9k"),
            ("Emily Evans ( ee9k )", "ee9k"),
            ("Emily Evans [xss1]", "xss1"),
            ("Emily Evans (ee9k", "ee9k"),
            (
                "Emily Evans \u{FF08}\u{FF45}\u{FF45}9\u{FF4B}\u{FF09}",
                "ee9k",
            ),
            ("Emily Evans \u{2768}ee9k\u{2769}", "ee9k"),
            ("Эмили (\u{435}\u{435}9\u{43A})", "\u{435}\u{435}9\u{43A}"),
            ("(abc1de) Emily", "abc1de"),
        ] {
            assert_eq!(
                refused(name),
                DisplayNameError::LooksLikeComputingId(id.into()),
                "{name}"
            );
        }
    }

    #[test]
    fn a_computing_id_or_an_address_anywhere_is_refused() {
        for (name, id) in [
            ("Carl - hoo1a", "hoo1a"),
            ("hoo1a", "hoo1a"),
            ("\u{AB}hoo1a\u{BB}", "hoo1a"),
            ("<hoo1a>", "hoo1a"),
            (")hoo1a(", "hoo1a"),
            ("\u{FD3E}hoo1a\u{FD3F}", "hoo1a"),
            (
                "\u{397}\u{3BF}\u{3BF}1\u{3B1}",
                "\u{397}\u{3BF}\u{3BF}1\u{3B1}",
            ),
            ("Carl (hoo1a@virginia.edu)", "(hoo1a@virginia.edu)"),
            ("carl@gmail.com", "carl@gmail.com"),
        ] {
            assert_eq!(
                refused(name),
                DisplayNameError::LooksLikeComputingId(id.into()),
                "{name}"
            );
        }
        for name in [
            "R2D2",
            "Agent 47",
            "Kate (she/her)",
            "Carl @ UVA",
            "Ana 3rd",
        ] {
            assert!(DisplayName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_web_address_is_refused_and_dotted_names_are_not() {
        for (name, address) in [
            (
                "UVA IT: reverify at https://uva-sso.help/login",
                "https://uva-sso.help/login",
            ),
            ("reverify at uva-sso.help/login", "uva-sso.help/login"),
            ("Carl bit.ly", "bit.ly"),
            ("www.carl", "www.carl"),
            ("carl at ftp://files", "ftp://files"),
            ("M\u{fc}nchen.de fan", "M\u{fc}nchen.de"),
        ] {
            assert_eq!(
                refused(name),
                DisplayNameError::WebAddress(address.into()),
                "{name}"
            );
        }
        for name in [
            "Mary.Jane",
            "st.john",
            "J.R.R. Tolkien",
            "A.J. Smith",
            "Dr. Who",
        ] {
            assert!(DisplayName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn accents_may_not_stack_up() {
        assert!(DisplayName::parse("Nguyê\u{303}n").is_ok());
        assert_eq!(
            refused(&format!("Z{}algo", "\u{336}\u{321}".repeat(3))),
            DisplayNameError::StackedMarks
        );
    }
}
