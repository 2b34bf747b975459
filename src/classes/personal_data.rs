//! A student's own data in the class tables: their enrollments for the data
//! export, and their removal when the account is erased. `ops::student_data`
//! composes this with the other modules' parts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Term;
use crate::accounts::UserId;
use crate::db::schema::{classes, user_classes};
use crate::db::{DbConn, Tx};

/// One class the student joined, as the export shows it.
#[derive(Debug, Serialize)]
pub struct ClassEntry {
    pub class_id: String,
    pub term: String,
    pub term_name: String,
    pub course: String,
    pub section: Option<String>,
    pub title: Option<String>,
    pub joined_at: NaiveDateTime,
}

/// id, term, subject, catalog number, section, title, joined.
type ClassRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// The classes `me` joined, newest term first.
pub fn export_user(conn: &mut DbConn, me: &UserId) -> QueryResult<Vec<ClassEntry>> {
    let class_rows: Vec<ClassRow> = user_classes::table
        .inner_join(classes::table)
        .filter(user_classes::user_id.eq(me))
        .order((
            classes::term.desc(),
            classes::subject,
            classes::catalog_number,
        ))
        .select((
            classes::id,
            classes::term,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
            classes::title,
            user_classes::enrolled_at,
        ))
        .load(conn)?;
    Ok(class_rows
        .into_iter()
        .map(
            |(id, term, subject, catalog, section, title, joined_at)| ClassEntry {
                class_id: id,
                term_name: Term::parse(&term).map(|t| t.name()).unwrap_or_default(),
                term,
                course: format!("{subject} {catalog}"),
                section,
                title,
                joined_at,
            },
        )
        .collect())
}

/// Removes the student's enrollments (the account's erasure).
pub fn erase_user(tx: &mut Tx, me: &UserId) -> QueryResult<usize> {
    let conn: &mut DbConn = tx;
    diesel::delete(user_classes::table.filter(user_classes::user_id.eq(me))).execute(conn)
}
