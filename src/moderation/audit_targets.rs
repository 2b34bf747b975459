//! What the audit log's rows are about, in words: the class and first words
//! of a message, a class's code, the computing ID of a user. One batched statement per kind,
//! so a page of the log costs the same however many rows it shows. Nothing
//! here names a message's author.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{class_messages, classes, users};
use crate::db::DbConn;

/// A message as the log shows it: its class and its first few words.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageTarget {
    /// "CS 2100 (001)".
    pub class: String,
    /// The first words, "…" when cut; empty when the text is gone.
    pub first_words: String,
}

/// How many words of a message the log shows.
const WORDS: usize = 8;
/// A cap on those words' characters (one long word must not fill the row).
const CHARS: usize = 60;

/// The first `WORDS` words of `text` on one line, at most `CHARS` characters,
/// with "…" when anything was cut.
pub fn first_words(text: &str) -> String {
    crate::chat::content::excerpt_words(text, WORDS, CHARS)
}

/// The messages among `ids` that still exist, by id (one statement).
pub fn messages(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, MessageTarget>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, String, String, Option<String>)> = class_messages::table
        .inner_join(classes::table)
        .filter(class_messages::id.eq_any(ids))
        .select((
            class_messages::id,
            class_messages::content,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, content, subject, catalog, section)| {
            let target = MessageTarget {
                class: label(&subject, &catalog, section),
                first_words: first_words(&content),
            };
            (id, target)
        })
        .collect())
}

/// Classes among `ids` that still exist, as "CS 2100 (001)", by id (one statement).
pub fn classes(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, String, Option<String>)> = classes::table
        .filter(classes::id.eq_any(ids))
        .select((
            classes::id,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, subject, catalog, section)| (id, label(&subject, &catalog, section)))
        .collect())
}

/// "CS 2100 (001)", or "CS 2100" without a section.
fn label(subject: &str, catalog: &str, section: Option<String>) -> String {
    let code = crate::classes::code(subject, catalog);
    match section {
        Some(s) if !s.trim().is_empty() => format!("{code} ({s})"),
        _ => code,
    }
}

/// Computing IDs of the users among `ids` that still exist (one statement).
pub fn users(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::computing_id))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::first_words;

    #[test]
    fn keeps_a_few_words_and_marks_a_cut() {
        assert_eq!(
            first_words("  Is the\nmidterm open book?  "),
            "Is the midterm open book?"
        );
        assert_eq!(
            first_words("one two three four five six seven eight nine ten"),
            "one two three four five six seven eight…"
        );
        assert_eq!(
            first_words(&"x".repeat(100)),
            format!("{}…", "x".repeat(60))
        );
        assert_eq!(first_words(""), "");
    }
}
