//! What a student may post: plain text in NFC, trimmed, 1 to 2,000 characters
//! on at most 60 lines, with no control or text-direction characters and no
//! accents stacked into "Zalgo" towers; and how posted text splits into plain
//! runs and safe web links for display, a link to a non-ASCII host showing its
//! real (punycode) host. Nothing here produces HTML.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};
use url::Url;

/// The most characters (not bytes) a message may have.
pub const MAX_CHARS: usize = 2000;
/// The most lines a message may have: a wall of empty lines pushes a whole
/// class's chat off the screen.
pub const MAX_LINES: usize = 60;
/// The most combining marks (accents) in a row on one letter. Real scripts
/// need two or three (Vietnamese, Hebrew with points); "Zalgo" text stacks
/// hundreds that spill over the messages around it.
pub const MAX_STACKED_MARKS: usize = 4;
/// The most characters a report's reason may have.
pub const MAX_REASON_CHARS: usize = 500;

/// Why a text was refused, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("Write something first: the message is empty.")]
    Empty,
    #[error("Messages can be at most 2000 characters; yours has {0}. Shorten it and post again.")]
    TooLong(usize),
    #[error("The message contains a control character (such as a NUL byte) that cannot be posted. Remove it and try again.")]
    ControlCharacter,
    #[error("The message contains invisible text-direction characters (such as a right-to-left override), which can disguise what a text says. Remove them and try again.")]
    DirectionControl,
    #[error("A message can have at most 60 lines; yours has {0}. Join some lines and post again.")]
    TooManyLines(usize),
    #[error("Too many accent marks stacked on one letter: at most 4 may sit on a letter. Remove the extra marks and post again.")]
    StackedMarks,
    #[error("A report's reason can be at most 500 characters; yours has {0}.")]
    ReasonTooLong(usize),
    #[error(
        "The reason contains control or text-direction characters. Remove them and try again."
    )]
    ReasonCharacters,
}

/// A message text that passed every rule, trimmed, with line breaks as `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Parses what a student typed.
    pub fn parse(raw: &str) -> Result<MessageBody, ContentError> {
        // Browsers send a textarea's line breaks as CRLF. NFC, so that an
        // accent typed as a separate mark counts as part of its letter.
        let normalized: String = raw
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .nfc()
            .collect();
        let text = normalized.trim();
        if text.chars().any(is_direction_control) {
            return Err(ContentError::DirectionControl);
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ContentError::ControlCharacter);
        }
        if text.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            return Err(ContentError::Empty);
        }
        // Lines and marks before length: either can make a short text
        // (1,991 empty lines, 2,000 marks on one letter) that the length allows.
        let lines = text.split(is_line_break).count();
        if lines > MAX_LINES {
            return Err(ContentError::TooManyLines(lines));
        }
        if longest_mark_stack(text) > MAX_STACKED_MARKS {
            return Err(ContentError::StackedMarks);
        }
        let count = text.chars().count();
        if count > MAX_CHARS {
            return Err(ContentError::TooLong(count));
        }
        Ok(MessageBody(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The optional reason a student gives when reporting a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagReason(Option<String>);

impl FlagReason {
    /// Parses the reason field: blank means no reason.
    pub fn parse(raw: Option<&str>) -> Result<FlagReason, ContentError> {
        let text = raw.unwrap_or("").trim();
        if text.is_empty() {
            return Ok(FlagReason(None));
        }
        if text
            .chars()
            .any(|c| is_direction_control(c) || (c.is_control() && c != '\n'))
        {
            return Err(ContentError::ReasonCharacters);
        }
        let count = text.chars().count();
        if count > MAX_REASON_CHARS {
            return Err(ContentError::ReasonTooLong(count));
        }
        Ok(FlagReason(Some(text.to_string())))
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Embeddings and overrides that reorder how text is displayed (Trojan Source).
/// The plain marks U+200E/U+200F stay allowed: mixed Arabic or Hebrew needs them.
pub(crate) fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A new line as a browser shows it: `\n`, or the Unicode line and paragraph
/// separators, which `pre-wrap` text also breaks at.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\u{2028}' | '\u{2029}')
}

/// The most combining marks in a row on any one base character. Format
/// characters (such as a zero-width joiner) between marks do not start a new
/// letter, so they cannot be used to reset the count.
fn longest_mark_stack(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        if c.general_category_group() == GeneralCategoryGroup::Mark {
            run += 1;
            longest = longest.max(run);
        } else if c.general_category() != GeneralCategory::Format {
            run = 0;
        }
    }
    longest
}

/// Characters that show nothing; a message of only these is empty.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// A run of a message as displayed: plain text, or a web link (http or https
/// only) whose `href` is the parsed, normalized address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// What the reader sees: the text as typed, except that a link to a host
    /// with non-ASCII characters shows that host in its punycode form.
    pub text: String,
    pub href: Option<String>,
}

/// Splits a message into plain text and links. Anything that is not a
/// well-formed http(s) address with a host stays text.
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain_start = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let at_word_start = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([<\"'".contains(c));
        if at_word_start && starts_like_link(rest) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            // Trailing punctuation usually ends the sentence, not the address.
            let candidate = rest[..end].trim_end_matches(|c| ".,;:!?'\")]}>".contains(c));
            if let Some(url) = safe_link(candidate) {
                if plain_start < i {
                    out.push(Segment {
                        text: text[plain_start..i].to_string(),
                        href: None,
                    });
                }
                out.push(Segment {
                    text: link_text(candidate, &url),
                    href: Some(url.to_string()),
                });
                i += candidate.len();
                plain_start = i;
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    if plain_start < text.len() {
        out.push(Segment {
            text: text[plain_start..].to_string(),
            href: None,
        });
    }
    out
}

fn starts_like_link(text: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    })
}

fn safe_link(candidate: &str) -> Option<Url> {
    let url = Url::parse(candidate).ok()?;
    let web = matches!(url.scheme(), "http" | "https");
    let has_host = url.host_str().is_some_and(|h| !h.is_empty());
    (web && has_host && url.username().is_empty() && url.password().is_none()).then_some(url)
}

/// The text a link shows. A host typed with non-ASCII characters (such as
/// `vіrginia.edu` with a Cyrillic і) can look exactly like another; the link
/// then shows the host the browser will really visit, in punycode
/// (`xn--vrginia-….edu`), as browsers do in their address bar. The rest of
/// the address (path, query) stays as typed, readable.
fn link_text(candidate: &str, url: &Url) -> String {
    // Both `candidate` and `url` start with "http://" or "https://" (ASCII).
    let after_scheme = candidate.find("://").map_or(0, |i| i + 3);
    let rest = &candidate[after_scheme..];
    // Where the host (and port) ends for the URL parser: at the first of
    // these, backslash included, as the WHATWG URL standard reads http(s).
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    if rest[..authority_end].is_ascii() {
        return candidate.to_string();
    }
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push(':');
        shown.push_str(&port.to_string());
    }
    shown.push_str(&rest[authority_end..]);
    shown
}

/// The first lines of a message for a preview: at most `lines` non-blank lines
/// and `chars` characters, with "…" when anything was cut. Used by the thread
/// list and by notifications.
pub fn excerpt(text: &str, lines: usize, chars: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    shorten(&kept, lines, "\n", chars)
}

/// The first `words` words of a message on one line, at most `chars`
/// characters, with "…" when anything was cut (the audit log's rows).
pub fn excerpt_words(text: &str, words: usize, chars: usize) -> String {
    let all: Vec<&str> = text.split_whitespace().collect();
    shorten(&all, words, " ", chars)
}

/// The first `count` pieces joined by `sep`, cut to `chars` characters, "…"
/// when a piece or a character was left out.
fn shorten(pieces: &[&str], count: usize, sep: &str, chars: usize) -> String {
    let mut out = pieces
        .iter()
        .take(count)
        .copied()
        .collect::<Vec<_>>()
        .join(sep);
    let mut cut = pieces.len() > count;
    if out.chars().count() > chars {
        out = out
            .chars()
            .take(chars)
            .collect::<String>()
            .trim_end()
            .to_string();
        cut = true;
    }
    if cut {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_line_breaks_kept() {
        let body = MessageBody::parse("  hello\r\nthere  \n").unwrap();
        assert_eq!(body.as_str(), "hello\nthere");
    }

    #[test]
    fn empty_and_blank_messages_are_refused() {
        for blank in ["", "   ", "\n\t \n", "\u{200B}\u{FEFF}", "\u{00A0}\u{3000}"] {
            assert_eq!(
                MessageBody::parse(blank),
                Err(ContentError::Empty),
                "{blank:?}"
            );
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(MessageBody::parse(&"🎓".repeat(MAX_CHARS)).is_ok());
        assert_eq!(
            MessageBody::parse(&"a".repeat(MAX_CHARS + 1)),
            Err(ContentError::TooLong(MAX_CHARS + 1))
        );
    }

    #[test]
    fn control_and_direction_characters_are_refused() {
        for hostile in ["a\0b", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}mid"] {
            assert_eq!(
                MessageBody::parse(hostile),
                Err(ContentError::ControlCharacter),
                "{hostile:?}"
            );
        }
        for hostile in ["abc\u{202E}fed", "x\u{2067}y"] {
            assert_eq!(
                MessageBody::parse(hostile),
                Err(ContentError::DirectionControl),
                "{hostile:?}"
            );
        }
        assert!(MessageBody::parse("שלום\u{200F} ok").is_ok());
        assert!(MessageBody::parse("family 👨\u{200D}👩\u{200D}👧").is_ok());
    }

    #[test]
    fn messages_are_composed_to_nfc() {
        let body = MessageBody::parse("cafe\u{301}").unwrap();
        assert_eq!(body.as_str(), "caf\u{e9}");
    }

    #[test]
    fn at_most_sixty_lines() {
        let sixty = vec!["line"; MAX_LINES].join("\n");
        assert!(MessageBody::parse(&sixty).is_ok());
        let wall = format!("a{}b", "\n".repeat(1990));
        assert_eq!(
            MessageBody::parse(&wall),
            Err(ContentError::TooManyLines(1991))
        );
        let separators = format!("a{}b", "\u{2028}".repeat(MAX_LINES));
        assert_eq!(
            MessageBody::parse(&separators),
            Err(ContentError::TooManyLines(MAX_LINES + 1))
        );
        assert!(ContentError::TooManyLines(1991)
            .to_string()
            .contains("A message can have at most 60 lines"));
    }

    #[test]
    fn accents_may_not_stack_into_zalgo() {
        // Vietnamese and pointed Hebrew keep their two or three marks.
        for fine in [
            "Nguye\u{302}\u{303}n",
            "\u{5E9}\u{5C1}\u{5B8}\u{5DC}\u{5D5}\u{5B9}\u{5DD}",
            "x\u{301}\u{302}\u{303}\u{304}",
            "keycap #\u{FE0F}\u{20E3}",
        ] {
            assert!(MessageBody::parse(fine).is_ok(), "{fine:?}");
        }
        for zalgo in [
            "\u{301}".repeat(2000),
            format!("Z{}algo", "\u{336}\u{321}\u{35C}".repeat(2)),
            format!("x{}", "\u{301}\u{200D}".repeat(5)),
        ] {
            assert_eq!(
                MessageBody::parse(&zalgo),
                Err(ContentError::StackedMarks),
                "{zalgo:?}"
            );
        }
        assert!(ContentError::StackedMarks
            .to_string()
            .contains("Too many accent marks stacked on one letter"));
    }

    #[test]
    fn a_link_to_a_look_alike_host_shows_its_punycode_host() {
        let parts = segments("log in at http://v\u{456}rginia.edu/login?x=1 now");
        let link = parts.iter().find(|s| s.href.is_some()).unwrap();
        let host = Url::parse(link.href.as_deref().unwrap())
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        assert!(host.starts_with("xn--"), "{host}");
        assert_eq!(link.text, format!("http://{host}/login?x=1"));
        assert!(link.text.is_ascii());
        // A plain ASCII host keeps the text as typed, and so does a Unicode path.
        let parts = segments("https://en.wikipedia.org/wiki/Caf\u{e9}");
        assert_eq!(parts[0].text, "https://en.wikipedia.org/wiki/Caf\u{e9}");
        let parts = segments("http://m\u{fc}nchen.de:8080/St\u{e4}dte");
        assert_eq!(parts[0].text, "http://xn--mnchen-3ya.de:8080/St\u{e4}dte");
    }

    #[test]
    fn reasons_are_optional_and_bounded() {
        assert_eq!(FlagReason::parse(None).unwrap().as_deref(), None);
        assert_eq!(FlagReason::parse(Some("  ")).unwrap().as_deref(), None);
        assert_eq!(
            FlagReason::parse(Some(" spam ")).unwrap().as_deref(),
            Some("spam")
        );
        assert!(FlagReason::parse(Some("a\0")).is_err());
        assert!(FlagReason::parse(Some(&"x".repeat(501))).is_err());
    }

    #[test]
    fn http_links_become_links_and_nothing_else_does() {
        let parts = segments("see https://example.edu/a?b=1&c=2. or javascript:alert(1)");
        assert_eq!(
            parts,
            vec![
                Segment {
                    text: "see ".into(),
                    href: None
                },
                Segment {
                    text: "https://example.edu/a?b=1&c=2".into(),
                    href: Some("https://example.edu/a?b=1&c=2".into())
                },
                Segment {
                    text: ". or javascript:alert(1)".into(),
                    href: None
                },
            ]
        );
        for not_a_link in [
            "xhttp://a.b",
            "http://",
            "https:// spaced",
            "http://user:pw@host.edu/",
        ] {
            assert!(
                segments(not_a_link).iter().all(|s| s.href.is_none()),
                "{not_a_link}"
            );
        }
        let quoted = segments("(https://a.edu/\"><img>)");
        let link = quoted.iter().find(|s| s.href.is_some()).unwrap();
        assert!(!link.href.as_deref().unwrap().contains('"'));
        assert_eq!(
            segments("émoji 🎓 text")
                .into_iter()
                .map(|s| s.text)
                .collect::<String>(),
            "émoji 🎓 text"
        );
    }
}
