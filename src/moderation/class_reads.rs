//! Staff reading a class's chat without joining it: chat reads the page (read
//! only, pseudonyms only), and each opening is one `view_class` audit row, so
//! who looked at which class is on the record. Nothing here names an author.

use chrono::NaiveDateTime;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::UserId;
use crate::chat::threads::StaffPage;
use crate::chat::{self, ChatError, Cursor, Rules};
use crate::classes::ClassId;
use crate::db::{self, DbConn};

/// A page of the class's chat for `actor`, after writing its `view_class`
/// audit row. An unknown class is `ClassNotFound`, with nothing written.
pub fn read_class(
    conn: &mut DbConn,
    actor: &UserId,
    class_id: &ClassId,
    before: Option<&Cursor>,
    rules: &Rules,
    now: NaiveDateTime,
) -> Result<StaffPage, ChatError> {
    let page = chat::threads::staff_page(conn, actor, class_id, before, rules, now)?;
    db::write_tx(conn, |tx| {
        super::record(
            tx,
            &NewAuditEntry {
                id: &AuditId::new(),
                actor_id: Some(actor),
                action: AuditAction::ViewClass.as_str(),
                target_type: "class",
                target_id: class_id.as_str(),
                reason: None,
                details: None,
                created_at: now,
                class_id: Some(class_id.as_str()),
                category: None,
            },
        )
    })?;
    Ok(page)
}
