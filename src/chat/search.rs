//! Search in a class, and "maybe already answered" before a new thread: words
//! looked up in each database's own full-text index (SQLite FTS5, PostgreSQL
//! `tsvector` under GIN), kept in step by `sync`, which `events::record` calls
//! in every chat writer's transaction. The index holds only what students can
//! see: a hidden or deleted message leaves it in the transaction that hid or
//! deleted it. What a student types never becomes query syntax: it is cut into
//! words of letters and digits, each quoted, and bound as a parameter.
//! Results carry a pseudonym, never an author. No actix or HTML here.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamp};

use super::events::EventKind;
use super::{ChatError, ClassMessage, MessageId};
use crate::accounts::UserId;
use crate::classes::{self, ClassId};
use crate::db::{DbConn, Tx};

/// The most characters a search may have.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a search looks for (all of them must be in a message).
const MAX_TERMS: usize = 12;
/// The most words of a draft compared with existing threads (any may match).
const MAX_DRAFT_TERMS: usize = 24;
/// Longer "words" are cut: nobody searches for 200 letters in a row.
const MAX_TERM_CHARS: usize = 64;
/// Marks a matched run in an excerpt the database cut. Control characters,
/// which `MessageBody` refuses, so posted text never holds them.
const MATCH_START: char = '\u{2}';
const MATCH_END: char = '\u{3}';
/// PostgreSQL's parser reads `<b>` as an HTML tag, which it neither indexes nor
/// keeps in a headline; the text is searched and cut with `<` as this stand-in
/// (another control character posted text never holds) and given back as `<`.
const LT_STAND_IN: char = '\u{1}';

/// Why a search cannot run, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Type a word or two to search this class's chat.")]
    Empty,
    #[error("Searches can be at most 200 characters; yours has {0}. Use fewer words.")]
    TooLong(usize),
    #[error("Search by words: type letters or digits, such as \"midterm room\".")]
    NoWords,
}

/// A search a student typed, as words: lower-cased runs of letters and digits,
/// each at most once, in the order typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// Parses the search box.
    pub fn parse(raw: &str) -> Result<SearchQuery, QueryError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(QueryError::Empty);
        }
        let count = raw.chars().count();
        if count > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong(count));
        }
        let terms = words(raw, MAX_TERMS, false);
        if terms.is_empty() {
            return Err(QueryError::NoWords);
        }
        Ok(SearchQuery { terms })
    }

    /// The words searched for.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }
}

/// The distinct words of `text`, lower-cased, at most `max`; without common
/// English words when `skip_common` (a draft's "the" must not match every thread).
fn words(text: &str, max: usize, skip_common: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
        if skip_common && (word.chars().count() < 2 || COMMON_WORDS.contains(&word.as_str())) {
            continue;
        }
        if !out.contains(&word) {
            out.push(word);
        }
        if out.len() == max {
            break;
        }
    }
    out
}

/// Words too common to say two posts are about the same thing.
const COMMON_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "are", "as",
    "at", "be", "been", "before", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "get", "got", "had", "has", "have", "he", "her", "here", "hi", "him", "his", "how",
    "i", "if", "im", "in", "into", "is", "it", "its", "just", "know", "like", "me", "my", "no",
    "not", "of", "on", "or", "our", "out", "she", "should", "so", "some", "someone", "than",
    "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "up", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "would", "you", "your",
];

/// A piece of an excerpt: matched words are marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub matched: bool,
}

/// One message found: where it is, under which pseudonym, when, and the part
/// of its text around the words found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub message_id: MessageId,
    pub thread_id: MessageId,
    pub class_id: ClassId,
    pub pseudonym: String,
    pub created_at: NaiveDateTime,
    /// A reply, not a thread's opening post.
    pub reply: bool,
    pub excerpt: Vec<Piece>,
}

/// Messages of the class that hold every word of `query`, best match first (a
/// message with the words more often ranks higher), at most `limit`. Only for
/// students who take the class.
pub fn search(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    query: &SearchQuery,
    limit: i64,
) -> Result<Vec<Hit>, ChatError> {
    ensure_member(conn, viewer, class_id)?;
    Ok(run(conn, class_id, &query.terms, Match::All, limit)?)
}

/// Up to `limit` threads of the class whose opening post shares words with a
/// draft (common words aside), best match first: "maybe already answered".
/// Empty when the draft has no telling words.
pub fn similar(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    draft: &str,
    limit: i64,
) -> Result<Vec<Hit>, ChatError> {
    ensure_member(conn, viewer, class_id)?;
    let draft: String = draft.chars().take(super::content::MAX_CHARS).collect();
    let terms = words(&draft, MAX_DRAFT_TERMS, true);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    Ok(run(conn, class_id, &terms, Match::AnyInOpening, limit)?)
}

/// Refuses a student who does not take the class (search is for members only).
pub fn ensure_member(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
) -> Result<(), ChatError> {
    if !classes::is_enrolled(conn, viewer, class_id)? {
        // A class that does not exist has no members either: one answer for both.
        return Err(ChatError::NotEnrolled {
            class_id: class_id.clone(),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Every word, in any message (the search box).
    All,
    /// Any word, in a thread's opening post (a draft against existing threads).
    AnyInOpening,
}

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(sql_type = Text)]
    message_id: String,
    #[diesel(sql_type = Text)]
    thread_id: String,
    #[diesel(sql_type = Text)]
    class_id: String,
    #[diesel(sql_type = Text)]
    pseudonym: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    excerpt: String,
}

/// The one search query, on each backend's own index. The join back to
/// `class_messages` checks visibility again, so a stale index row can never
/// show a hidden or deleted message.
fn run(
    conn: &mut DbConn,
    class_id: &ClassId,
    terms: &[String],
    mode: Match,
    limit: i64,
) -> QueryResult<Vec<Hit>> {
    let openings_only = match mode {
        Match::All => "",
        Match::AnyInOpening => "AND d.thread_id = d.message_id",
    };
    let rows: Vec<HitRow> = match conn {
        DbConn::Sqlite(c) => {
            // Each word quoted: inside "..." FTS5 reads no operator, column
            // filter or prefix mark, only words (and terms hold no quote).
            let quoted: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
            let fts_query = match mode {
                Match::All => quoted.join(" "),
                Match::AnyInOpening => quoted.join(" OR "),
            };
            diesel::sql_query(format!(
                "SELECT d.message_id, d.thread_id, d.class_id, m.anonymous_identifier AS pseudonym, \
                 m.created_at, snippet(chat_search, 0, char(2), char(3), '…', 24) AS excerpt \
                 FROM chat_search \
                 JOIN chat_search_docs d ON d.doc = chat_search.rowid \
                 JOIN class_messages m ON m.id = d.message_id \
                 WHERE chat_search MATCH ? AND d.class_id = ? {openings_only} \
                 AND m.hidden = 0 AND m.deleted = 0 AND m.held = 0 \
                 ORDER BY bm25(chat_search), m.created_at DESC LIMIT ?"
            ))
            .bind::<Text, _>(fts_query)
            .bind::<Text, _>(class_id.as_str())
            .bind::<BigInt, _>(limit)
            .load(c)?
        }
        DbConn::Postgresql(c) => {
            // Words only, each quoted, joined by our own operator: to_tsquery
            // sees no syntax from the student.
            let quoted: Vec<String> = terms.iter().map(|t| format!("'{t}'")).collect();
            let ts_query = match mode {
                Match::All => quoted.join(" & "),
                Match::AnyInOpening => quoted.join(" | "),
            };
            // A short message is shown whole; a long one cut around the match.
            let marks = format!("StartSel={MATCH_START}, StopSel={MATCH_END}");
            let cut = format!("{marks}, MaxWords=30, MinWords=12");
            let whole = format!("{marks}, HighlightAll=true");
            diesel::sql_query(format!(
                "SELECT h.message_id, h.thread_id, h.class_id, m.anonymous_identifier AS pseudonym, \
                 m.created_at, ts_headline('english', replace(m.content, '<', chr(1)), to_tsquery('english', $1), \
                 CASE WHEN char_length(m.content) <= 200 THEN $5 ELSE $4 END) AS excerpt \
                 FROM (SELECT d.message_id, d.thread_id, d.class_id, \
                       ts_rank(d.document, to_tsquery('english', $1)) AS rank \
                       FROM chat_search d \
                       WHERE d.class_id = $2 AND d.document @@ to_tsquery('english', $1) {openings_only} \
                       ORDER BY rank DESC LIMIT $3) h \
                 JOIN class_messages m ON m.id = h.message_id \
                 WHERE NOT m.hidden AND NOT m.deleted AND NOT m.held \
                 ORDER BY h.rank DESC, m.created_at DESC"
            ))
            .bind::<Text, _>(ts_query)
            .bind::<Text, _>(class_id.as_str())
            .bind::<BigInt, _>(limit)
            .bind::<Text, _>(cut)
            .bind::<Text, _>(whole)
            .load(c)?
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| Hit {
            reply: r.message_id != r.thread_id,
            message_id: MessageId(r.message_id),
            thread_id: MessageId(r.thread_id),
            class_id: ClassId(r.class_id),
            pseudonym: r.pseudonym,
            created_at: r.created_at,
            excerpt: pieces(&r.excerpt.replace(LT_STAND_IN, "<")),
        })
        .collect())
}

/// Splits an excerpt the database marked into plain and matched pieces. Text is
/// kept as text (the template escapes it); a stray mark is dropped.
fn pieces(marked: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut current = String::new();
    let mut matched = false;
    for c in marked.chars() {
        let switch_to = match c {
            MATCH_START => Some(true),
            MATCH_END => Some(false),
            _ => None,
        };
        match switch_to {
            Some(next) => {
                if !current.is_empty() {
                    out.push(Piece {
                        text: std::mem::take(&mut current),
                        matched,
                    });
                }
                matched = next;
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(Piece {
            text: current,
            matched,
        });
    }
    out
}

/// Keeps the index in step with a message a chat writer just changed, in its
/// transaction: a delete or a hide takes it out; anything else re-reads the row
/// (the `message` handed to `events::record` may be the copy from before the
/// write) and indexes its text if students can see it (not hidden, deleted or
/// held), else takes it out.
pub fn sync(tx: &mut Tx, message: &ClassMessage, kind: EventKind) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    match kind {
        EventKind::Delete | EventKind::Hide => remove(conn, &message.id),
        EventKind::Thread | EventKind::Reply | EventKind::Edit | EventKind::Restore => {
            match super::find(conn, &message.id)? {
                Some(now) if !now.hidden && !now.deleted && !now.held => put(conn, &now),
                _ => remove(conn, &message.id),
            }
        }
    }
}

/// Indexes (or re-indexes) a visible message's text.
fn put(conn: &mut DbConn, message: &ClassMessage) -> QueryResult<()> {
    let thread_id = message.thread_root_id.as_ref().unwrap_or(&message.id);
    match conn {
        DbConn::Sqlite(c) => {
            // Removing the old row first also clears its FTS row (the trigger).
            diesel::sql_query("DELETE FROM chat_search_docs WHERE message_id = ?")
                .bind::<Text, _>(message.id.as_str())
                .execute(c)?;
            diesel::sql_query(
                "INSERT INTO chat_search_docs (message_id, class_id, thread_id) VALUES (?, ?, ?)",
            )
            .bind::<Text, _>(message.id.as_str())
            .bind::<Text, _>(message.class_id.as_str())
            .bind::<Text, _>(thread_id.as_str())
            .execute(c)?;
            diesel::sql_query(
                "INSERT INTO chat_search (rowid, content) \
                 SELECT doc, ? FROM chat_search_docs WHERE message_id = ?",
            )
            .bind::<Text, _>(&message.content)
            .bind::<Text, _>(message.id.as_str())
            .execute(c)?;
        }
        DbConn::Postgresql(c) => {
            diesel::sql_query(
                "INSERT INTO chat_search (message_id, class_id, thread_id, document) \
                 VALUES ($1, $2, $3, to_tsvector('english', replace($4, '<', chr(1)))) \
                 ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document",
            )
            .bind::<Text, _>(message.id.as_str())
            .bind::<Text, _>(message.class_id.as_str())
            .bind::<Text, _>(thread_id.as_str())
            .bind::<Text, _>(&message.content)
            .execute(c)?;
        }
    }
    Ok(())
}

/// Takes a message out of the index (a no-op when it is not in it).
fn remove(conn: &mut DbConn, id: &MessageId) -> QueryResult<()> {
    let sql = match conn {
        DbConn::Sqlite(_) => "DELETE FROM chat_search_docs WHERE message_id = ?",
        DbConn::Postgresql(_) => "DELETE FROM chat_search WHERE message_id = $1",
    };
    diesel::sql_query(sql)
        .bind::<Text, _>(id.as_str())
        .execute(conn)?;
    Ok(())
}

/// Indexes messages written in bulk (`chat::import`), those students can see,
/// in the caller's transaction.
pub fn index_imported(tx: &mut Tx, ids: &[String]) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    for chunk in ids.chunks(5_000) {
        match conn {
            DbConn::Sqlite(c) => {
                let list = serde_json::to_string(chunk)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                diesel::sql_query(
                    "INSERT INTO chat_search_docs (message_id, class_id, thread_id) \
                     SELECT id, class_id, COALESCE(thread_root_id, id) FROM class_messages \
                     WHERE id IN (SELECT value FROM json_each(?)) AND hidden = 0 AND deleted = 0 \
                     AND id NOT IN (SELECT message_id FROM chat_search_docs)",
                )
                .bind::<Text, _>(&list)
                .execute(c)?;
                diesel::sql_query(
                    "INSERT INTO chat_search (rowid, content) \
                     SELECT d.doc, m.content FROM chat_search_docs d \
                     JOIN class_messages m ON m.id = d.message_id \
                     WHERE d.message_id IN (SELECT value FROM json_each(?))",
                )
                .bind::<Text, _>(&list)
                .execute(c)?;
            }
            DbConn::Postgresql(c) => {
                diesel::sql_query(
                    "INSERT INTO chat_search (message_id, class_id, thread_id, document) \
                     SELECT id, class_id, COALESCE(thread_root_id, id), \
                     to_tsvector('english', replace(content, '<', chr(1))) \
                     FROM class_messages WHERE id = ANY($1) AND NOT hidden AND NOT deleted \
                     ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document",
                )
                .bind::<Array<Text>, _>(chunk)
                .execute(c)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_its_words_lower_cased_once_each() {
        let q = SearchQuery::parse("  Midterm ROOM, midterm? room-2 ").unwrap();
        assert_eq!(q.terms(), ["midterm", "room", "2"]);
    }

    #[test]
    fn operators_and_markup_become_plain_words() {
        let q = SearchQuery::parse("<script>alert(\"x\") OR NEAR(a b) col:* -x ^y").unwrap();
        for t in q.terms() {
            assert!(t.chars().all(char::is_alphanumeric), "{t}");
        }
        assert!(q.terms().contains(&"script".to_string()));
    }

    #[test]
    fn empty_long_and_wordless_searches_are_refused_with_reasons() {
        assert_eq!(SearchQuery::parse("   "), Err(QueryError::Empty));
        assert_eq!(SearchQuery::parse("!!! ??? --"), Err(QueryError::NoWords));
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(
            SearchQuery::parse(&long),
            Err(QueryError::TooLong(MAX_QUERY_CHARS + 1))
        );
    }

    #[test]
    fn a_draft_is_compared_by_its_telling_words() {
        assert_eq!(
            words("Where is the midterm exam room?", 24, true),
            ["midterm", "exam", "room"]
        );
    }

    #[test]
    fn marked_excerpts_split_into_pieces_and_stray_marks_drop() {
        let p = pieces("the \u{2}exam\u{3} room\u{3}");
        assert_eq!(
            p,
            [
                Piece {
                    text: "the ".into(),
                    matched: false
                },
                Piece {
                    text: "exam".into(),
                    matched: true
                },
                Piece {
                    text: " room".into(),
                    matched: false
                },
            ]
        );
    }
}
