//! A class's public moderation log: what staff hid, removed or restored in the
//! class and when, by the message's pseudonym and the reason's category only.
//! It must never carry who decided, the moderator's own words, or anything that
//! names an author; nor posts held for review, which the class never saw.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AuditAction, ReasonCategory};
use crate::accounts::UserId;
use crate::chat::ChatError;
use crate::classes::{self, Class, ClassId};
use crate::db::schema::{audit_log, class_messages};
use crate::db::DbConn;

/// The staff actions a class may read about: what changed what it sees.
const SHOWN: [AuditAction; 3] = [AuditAction::Hide, AuditAction::Delete, AuditAction::Restore];

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicEntry {
    pub action: AuditAction,
    /// The pseudonym the message was posted under.
    pub pseudonym: String,
    pub category: Option<ReasonCategory>,
    /// Students' reports hid it, not a moderator.
    pub by_reports: bool,
    pub at: NaiveDateTime,
}

impl PublicEntry {
    /// "Removed · personal information": the action and the category, in words.
    pub fn summary(&self) -> String {
        if self.by_reports {
            return "Hidden after reports".to_string();
        }
        let done = match self.action {
            AuditAction::Hide => "Hidden",
            AuditAction::Delete => "Removed",
            _ => "Restored",
        };
        match self.category {
            Some(category) => format!("{done} · {}", category.label()),
            None => done.to_string(),
        }
    }
}

/// The class and its newest `limit` entries, newest first, for a student who
/// takes the class or for staff (`staff`); anyone else is `NotEnrolled`, as
/// the chat answers them. The log itself is one statement.
pub fn for_class(
    conn: &mut DbConn,
    viewer: &UserId,
    staff: bool,
    class_id: &ClassId,
    limit: i64,
) -> Result<(Class, Vec<PublicEntry>), ChatError> {
    let class = classes::find(conn, class_id)?.ok_or(ChatError::ClassNotFound)?;
    if !staff && classes::enrolled_at(conn, viewer, class_id)?.is_none() {
        return Err(ChatError::NotEnrolled {
            class_id: class_id.clone(),
        });
    }
    // A message its author deleted leaves the log, kept or not: one deleted
    // for good takes its lines along (the join finds no row), so lines left
    // for a row kept for moderators would tell the class it was reported
    // again. A moderator's removal (`Delete`) is the class's to read.
    let removals = diesel::alias!(audit_log as removals);
    let removed = removals
        .filter(removals.field(audit_log::target_type).eq("message"))
        .filter(removals.field(audit_log::target_id).eq(class_messages::id))
        .filter(
            removals
                .field(audit_log::action)
                .eq(AuditAction::Delete.as_str()),
        );
    let rows: Vec<(String, String, Option<String>, NaiveDateTime)> = audit_log::table
        .inner_join(class_messages::table.on(class_messages::id.eq(audit_log::target_id)))
        .filter(audit_log::class_id.eq(class_id.as_str()))
        .filter(audit_log::target_type.eq("message"))
        .filter(audit_log::action.eq_any(SHOWN.map(AuditAction::as_str)))
        .filter(class_messages::held.eq(false))
        .filter(
            class_messages::deleted
                .eq(false)
                .or(diesel::dsl::exists(removed)),
        )
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select((
            audit_log::action,
            class_messages::anonymous_identifier,
            audit_log::category,
            audit_log::created_at,
        ))
        .load(conn)?;
    let entries = rows
        .into_iter()
        .filter_map(|(action, pseudonym, category, at)| {
            Some(PublicEntry {
                action: action.parse().ok()?,
                pseudonym,
                by_reports: category.as_deref() == Some(super::messages::BY_REPORTS),
                category: category.and_then(|c| c.parse().ok()),
                at,
            })
        })
        .collect();
    Ok((class, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        action: AuditAction,
        category: Option<ReasonCategory>,
        by_reports: bool,
    ) -> PublicEntry {
        PublicEntry {
            action,
            pseudonym: "Violet Heron".into(),
            category,
            by_reports,
            at: NaiveDateTime::default(),
        }
    }

    #[test]
    fn a_line_says_what_was_done_and_the_category_in_words() {
        let removed = entry(
            AuditAction::Delete,
            Some(ReasonCategory::PersonalInfo),
            false,
        );
        assert_eq!(removed.summary(), "Removed · personal information");
        let hidden = entry(AuditAction::Hide, Some(ReasonCategory::Spam), false);
        assert_eq!(hidden.summary(), "Hidden · spam or off-topic");
        assert_eq!(
            entry(AuditAction::Restore, None, false).summary(),
            "Restored"
        );
        assert_eq!(
            entry(AuditAction::Hide, None, true).summary(),
            "Hidden after reports"
        );
    }
}
