//! Revealing who wrote a message takes two staff members: one asks with a
//! reason, a different one approves or declines, and only then does the one who
//! asked (and nobody else) learn the author. An admin may reveal alone by
//! marking it urgent; that is logged as such and listed on the overview for all
//! staff. This module is the only writer of `reveal_requests`, and each step
//! writes its one audit row in the step's transaction. No page other than the
//! approved requester's own request page is handed an author from here.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{AuditAction, AuditId, NewAuditEntry};
use crate::accounts::{self, Role, UserId};
use crate::chat::{ClassMessage, MessageId};
use crate::classes::ClassId;
use crate::db::schema::{class_messages, classes, reveal_requests, users};
use crate::db::{self, DbConn, Tx};

crate::define_id!(RevealId);

crate::text_enum!(
    /// Where a reveal request stands.
    RevealStatus {
        Pending => "pending",
        Approved => "approved",
        Declined => "declined",
    }
);

/// How many days the overview lists urgent reveals for.
pub const URGENT_DAYS: i64 = 30;

/// How long a request waits for a second staff member. Past it, it can only
/// be declined: approving weeks on, the second person would unmask a student
/// on a reason written for a situation long over, and the one who asked may
/// have no use for the name any more. Whoever still needs it asks again.
pub const WAIT_DAYS: i64 = 7;

/// A row of `reveal_requests`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = reveal_requests)]
pub struct RevealRequest {
    pub id: RevealId,
    pub message_id: MessageId,
    /// None once the requester's account is deleted: then nobody sees the author.
    pub requester_id: Option<UserId>,
    pub reason: String,
    /// An admin's reveal without a second person.
    pub urgent: bool,
    #[diesel(deserialize_as = String)]
    pub status: RevealStatus,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: Option<String>,
    pub created_at: NaiveDateTime,
}

impl RevealRequest {
    /// Waiting longer than `WAIT_DAYS` at `now`: it can only be declined.
    pub fn expired(&self, now: NaiveDateTime) -> bool {
        self.status == RevealStatus::Pending && self.created_at < now - Duration::days(WAIT_DAYS)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = reveal_requests)]
struct NewRevealRequest<'a> {
    id: &'a RevealId,
    message_id: &'a MessageId,
    requester_id: Option<&'a UserId>,
    reason: &'a str,
    urgent: bool,
    status: &'a str,
    decided_by: Option<&'a UserId>,
    decided_at: Option<NaiveDateTime>,
    decision_note: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// Why a reveal step was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("There is no such message.")]
    MessageNotFound,
    #[error("There is no such reveal request.")]
    RequestNotFound,
    #[error("Give a reason of at least 10 characters; it is kept in the audit log.")]
    ReasonRequired,
    #[error("Only an admin can reveal without a second staff member; leave “urgent” unticked and ask another staff member to approve.")]
    UrgentNeedsAdmin,
    #[error("You asked for this reveal, so another staff member must approve or decline it.")]
    OwnRequest,
    #[error(
        "You wrote this message, so another staff member must approve or decline this request."
    )]
    OwnMessage,
    #[error("This request was already decided; a decision cannot be changed. Ask again with a new request if needed.")]
    AlreadyDecided,
    #[error("Only moderators and admins take part in reveals.")]
    NotStaff,
    /// The same staff member's request about this message still waits: a
    /// second would only ask the others twice.
    #[error("You already asked to reveal this message; your request waits for another staff member to approve or decline it. Nothing new was asked.")]
    AlreadyAsked { id: RevealId },
    #[error("The staff member who asked is no longer staff (or is suspended), so this reveal cannot be approved; decline it.")]
    RequesterNotStaff,
    #[error("This request waited more than 7 days, so it can no longer be approved; decline it. Whoever still needs the author asks again with a current reason.")]
    Expired,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Reasons and notes are one line of at most 500 characters.
fn cleaned(text: &str) -> String {
    super::one_line(text).chars().take(500).collect()
}

fn role_of(tx: &mut Tx, who: &UserId) -> Result<Role, RevealError> {
    accounts::find(tx, who)?
        .map(|u| u.role)
        .filter(|r| r.is_staff())
        .ok_or(RevealError::NotStaff)
}

fn audit(
    tx: &mut Tx,
    actor: &UserId,
    action: AuditAction,
    message: &ClassMessage,
    reason: Option<&str>,
    request: &RevealId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    // The pseudonym and the request, never the author: the log is read by all staff.
    let details = format!(
        "{} in class {} (request {request})",
        message.anonymous_identifier, message.class_id
    );
    super::record(
        tx,
        &NewAuditEntry {
            id: &AuditId::new(),
            actor_id: Some(actor),
            action: action.as_str(),
            target_type: "message",
            target_id: message.id.as_str(),
            reason,
            details: Some(&details),
            created_at: now,
            class_id: Some(message.class_id.as_str()),
            category: None,
        },
    )
}

/// Asks to reveal the author of `message_id`, with a reason of at least 10
/// characters: a pending request and one `reveal_request` audit row, in one
/// transaction. `urgent` (admins only) approves it at once, as one
/// `reveal_urgent` row instead.
pub fn request(
    conn: &mut DbConn,
    actor: &UserId,
    message_id: &MessageId,
    reason: &str,
    urgent: bool,
    now: NaiveDateTime,
) -> Result<RevealRequest, RevealError> {
    let reason = cleaned(reason);
    if reason.chars().count() < 10 {
        return Err(RevealError::ReasonRequired);
    }
    db::write_tx(conn, |tx| {
        let role = role_of(tx, actor)?;
        if urgent && role != Role::Admin {
            return Err(RevealError::UrgentNeedsAdmin);
        }
        let message = crate::chat::find(tx, message_id)?.ok_or(RevealError::MessageNotFound)?;
        // One waiting request per staff member and message: two presses at
        // once take turns here.
        db::lock_key(tx, &format!("reveal-ask:{message_id}:{actor}"))?;
        let c: &mut DbConn = tx;
        let waiting: Option<RevealId> = reveal_requests::table
            .filter(reveal_requests::message_id.eq(message_id))
            .filter(reveal_requests::requester_id.eq(actor))
            .filter(reveal_requests::status.eq(RevealStatus::Pending.as_str()))
            // One past its wait can only be declined: asking again is the way.
            .filter(reveal_requests::created_at.ge(now - Duration::days(WAIT_DAYS)))
            .select(reveal_requests::id)
            .first(c)
            .optional()?;
        if let Some(id) = waiting {
            return Err(RevealError::AlreadyAsked { id });
        }
        let id = RevealId::new();
        let (status, action) = if urgent {
            (RevealStatus::Approved, AuditAction::RevealUrgent)
        } else {
            (RevealStatus::Pending, AuditAction::RevealRequest)
        };
        let row = NewRevealRequest {
            id: &id,
            message_id,
            requester_id: Some(actor),
            reason: &reason,
            urgent,
            status: status.as_str(),
            decided_by: urgent.then_some(actor),
            decided_at: urgent.then_some(now),
            decision_note: None,
            created_at: now,
        };
        let c: &mut DbConn = tx;
        diesel::insert_into(reveal_requests::table)
            .values(&row)
            .execute(c)?;
        audit(tx, actor, action, &message, Some(&reason), &id, now)?;
        let c: &mut DbConn = tx;
        Ok(reveal_requests::table
            .find(&id)
            .select(RevealRequest::as_select())
            .first(c)?)
    })
}

/// A different staff member approves (`approve`) or declines a pending
/// request, with an optional note: one `reveal_approve` or `reveal_decline`
/// audit row. The requester cannot decide their own; a decided request stays decided.
pub fn decide(
    conn: &mut DbConn,
    actor: &UserId,
    id: &RevealId,
    approve: bool,
    note: &str,
    now: NaiveDateTime,
) -> Result<RevealRequest, RevealError> {
    let note = Some(cleaned(note)).filter(|n| !n.is_empty());
    db::write_tx(conn, |tx| {
        role_of(tx, actor)?;
        let c: &mut DbConn = tx;
        let request = reveal_requests::table
            .find(id)
            .select(RevealRequest::as_select())
            .first(c)
            .optional()?
            .ok_or(RevealError::RequestNotFound)?;
        if request.requester_id.as_ref() == Some(actor) {
            return Err(RevealError::OwnRequest);
        }
        if approve && request.expired(now) {
            return Err(RevealError::Expired);
        }
        let message =
            crate::chat::find(tx, &request.message_id)?.ok_or(RevealError::MessageNotFound)?;
        // Nobody decides whether they are unmasked.
        if message.user_id.as_ref() == Some(actor) {
            return Err(RevealError::OwnMessage);
        }
        // The author is shown to the requester: approving for someone who
        // left staff (or was suspended) since they asked would hand it to a
        // student the moment they were made staff again.
        if approve {
            // Held and read again: a demotion or suspension committing
            // meanwhile is waited for and seen, not approved past.
            let requester = match &request.requester_id {
                Some(id) => match accounts::hold_standing(tx, id, now)? {
                    accounts::Standing::Active => accounts::find(tx, id)?,
                    _ => None,
                },
                None => None,
            };
            let still_staff = requester.is_some_and(|r| r.role.is_staff());
            if !still_staff {
                return Err(RevealError::RequesterNotStaff);
            }
        }
        let (status, action) = if approve {
            (RevealStatus::Approved, AuditAction::RevealApprove)
        } else {
            (RevealStatus::Declined, AuditAction::RevealDecline)
        };
        // Only a pending row changes, so two deciders at once cannot both win.
        let c: &mut DbConn = tx;
        let changed = diesel::update(
            reveal_requests::table
                .find(id)
                .filter(reveal_requests::status.eq(RevealStatus::Pending.as_str())),
        )
        .set((
            reveal_requests::status.eq(status.as_str()),
            reveal_requests::decided_by.eq(actor),
            reveal_requests::decided_at.eq(now),
            reveal_requests::decision_note.eq(note.as_deref()),
        ))
        .execute(c)?;
        if changed == 0 {
            return Err(RevealError::AlreadyDecided);
        }
        audit(tx, actor, action, &message, note.as_deref(), id, now)?;
        let c: &mut DbConn = tx;
        Ok(reveal_requests::table
            .find(id)
            .select(RevealRequest::as_select())
            .first(c)?)
    })
}

/// A request as staff pages list it: the message by pseudonym, its class, and
/// who asked and decided (staff may know each other). Never the author.
#[derive(Debug, Clone)]
pub struct RequestLine {
    pub request: RevealRequest,
    pub pseudonym: String,
    /// The message's text ("[deleted]" once removed).
    pub text: String,
    pub class_id: ClassId,
    /// "CS 2100 (001)".
    pub class: String,
    pub requester: Option<String>,
    pub decider: Option<String>,
    /// For a request waiting for a decision: the decided requests about the
    /// same message, oldest first. Whoever decides sees that a colleague
    /// declined it before, so asking again cannot shop for an approval.
    pub earlier: Vec<RequestLine>,
}

/// Requests with their messages and people: one statement for the people,
/// one for the kept text of messages deleted by their authors.
fn lines(
    conn: &mut DbConn,
    rows: Vec<(RevealRequest, ClassMessage, String, String, Option<String>)>,
) -> QueryResult<Vec<RequestLine>> {
    let ids: Vec<UserId> = rows
        .iter()
        .flat_map(|(r, ..)| [r.requester_id.clone(), r.decided_by.clone()])
        .flatten()
        .collect();
    let names: HashMap<UserId, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        users::table
            .filter(users::id.eq_any(&ids))
            .select((users::id, users::computing_id))
            .load::<(UserId, String)>(conn)?
            .into_iter()
            .collect()
    };
    // A message its author deleted while reported, or a moderator removed:
    // its last text is a kept version.
    let deleted: Vec<MessageId> = rows
        .iter()
        .filter(|(_, m, ..)| m.deleted)
        .map(|(_, m, ..)| m.id.clone())
        .collect();
    let mut kept: HashMap<MessageId, String> = HashMap::new();
    if !deleted.is_empty() {
        for version in crate::chat::revisions::of_messages(conn, &deleted)? {
            let how = match version.ended_by {
                crate::chat::RevisionEnd::AuthorDelete => "deleted by its author",
                crate::chat::RevisionEnd::StaffRemoval => "removed by a moderator",
                _ => continue,
            };
            kept.insert(
                version.message_id.clone(),
                format!("{} ({how})", version.content),
            );
        }
    }
    Ok(rows
        .into_iter()
        .map(|(request, message, subject, catalog, section)| {
            let code = crate::classes::code(&subject, &catalog);
            RequestLine {
                requester: request
                    .requester_id
                    .as_ref()
                    .and_then(|u| names.get(u).cloned()),
                decider: request
                    .decided_by
                    .as_ref()
                    .and_then(|u| names.get(u).cloned()),
                pseudonym: message.anonymous_identifier.clone(),
                text: match kept.get(&message.id) {
                    Some(last) => last.clone(),
                    None if message.deleted => "[deleted]".into(),
                    None => message.content.clone(),
                },
                class_id: message.class_id.clone(),
                class: match section.filter(|s| !s.trim().is_empty()) {
                    Some(s) => format!("{code} ({s})"),
                    None => code,
                },
                request,
                earlier: Vec::new(),
            }
        })
        .collect())
}

type Joined = (RevealRequest, ClassMessage, String, String, Option<String>);

macro_rules! joined_requests {
    () => {
        reveal_requests::table
            .inner_join(class_messages::table.inner_join(classes::table))
            .select((
                RevealRequest::as_select(),
                ClassMessage::as_select(),
                classes::subject,
                classes::catalog_number,
                classes::class_section,
            ))
    };
}

/// What /admin/reveals shows `viewer`: requests waiting for someone else's
/// decision (not their own), oldest first; and their own, newest first.
pub fn queue(
    conn: &mut DbConn,
    viewer: &UserId,
    limit: i64,
) -> QueryResult<(Vec<RequestLine>, Vec<RequestLine>)> {
    let waiting: Vec<Joined> = joined_requests!()
        .filter(reveal_requests::status.eq(RevealStatus::Pending.as_str()))
        .filter(
            reveal_requests::requester_id
                .ne(viewer)
                .or(reveal_requests::requester_id.is_null()),
        )
        // Nor about their own message, which they may not decide (`decide`).
        .filter(
            class_messages::user_id
                .ne(viewer)
                .or(class_messages::user_id.is_null()),
        )
        .order((reveal_requests::created_at, reveal_requests::id))
        .limit(limit)
        .load(conn)?;
    let mine: Vec<Joined> = joined_requests!()
        .filter(reveal_requests::requester_id.eq(viewer))
        .order((
            reveal_requests::created_at.desc(),
            reveal_requests::id.desc(),
        ))
        .limit(limit)
        .load(conn)?;
    let asked_about: Vec<MessageId> = waiting.iter().map(|(r, ..)| r.message_id.clone()).collect();
    let decided: Vec<Joined> = if asked_about.is_empty() {
        Vec::new()
    } else {
        joined_requests!()
            .filter(reveal_requests::message_id.eq_any(&asked_about))
            .filter(reveal_requests::status.ne(RevealStatus::Pending.as_str()))
            .order((reveal_requests::created_at, reveal_requests::id))
            .load(conn)?
    };
    let mut earlier: HashMap<MessageId, Vec<RequestLine>> = HashMap::new();
    for line in lines(conn, decided)? {
        earlier
            .entry(line.request.message_id.clone())
            .or_default()
            .push(line);
    }
    let mut waiting = lines(conn, waiting)?;
    for line in &mut waiting {
        line.earlier = earlier
            .get(&line.request.message_id)
            .cloned()
            .unwrap_or_default();
    }
    Ok((waiting, lines(conn, mine)?))
}

/// Pending requests `viewer` could decide (not their own): the nav's count.
pub fn waiting_for(conn: &mut DbConn, viewer: &UserId) -> QueryResult<i64> {
    waiting_reveals!(viewer.clone()).count().get_result(conn)
}

/// Pending reveal requests `$viewer` (an owned id) did not make, about
/// messages they did not write (they may decide neither), as a query:
/// `waiting_for`, or a subquery of the staff nav's badges.
macro_rules! waiting_reveals {
    ($viewer:expr) => {{
        use $crate::db::schema::{class_messages, reveal_requests};
        let viewer: UserId = $viewer;
        let own = class_messages::table
            .filter(class_messages::id.eq(reveal_requests::message_id))
            .filter(class_messages::user_id.eq(viewer.clone()));
        reveal_requests::table
            .filter(
                reveal_requests::status
                    .eq($crate::moderation::reveals::RevealStatus::Pending.as_str()),
            )
            .filter(
                reveal_requests::requester_id
                    .ne(viewer)
                    .or(reveal_requests::requester_id.is_null()),
            )
            .filter(diesel::dsl::not(diesel::dsl::exists(own)))
    }};
}
pub(crate) use waiting_reveals;

/// How many moderators and admins there are: with one, no reveal can be approved.
pub fn staff_members(conn: &mut DbConn) -> QueryResult<i64> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    users::table
        // The partial index's own condition, as a literal (SQLite uses a
        // partial index only where the query repeats its condition).
        .filter(sql::<Bool>("role <> 'student'"))
        .filter(users::role.eq_any([Role::Moderator.as_str(), Role::Admin.as_str()]))
        .count()
        .get_result(conn)
}

/// The author of a message, as an approved requester sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub computing_id: String,
    pub email: String,
    pub display_name: Option<String>,
}

/// What a request's page may say about the author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorShown {
    /// Not to this viewer, or not yet (pending, declined).
    Withheld,
    /// Approved, for its requester: who wrote it.
    Author(Author),
    /// Approved, for its requester, but the account is gone.
    Erased,
}

/// One request for its page, as `viewer` may see it: the author only when the
/// request is approved and `viewer` asked for it. None when there is no such request.
pub fn for_viewer(
    conn: &mut DbConn,
    viewer: &UserId,
    id: &RevealId,
) -> QueryResult<Option<(RequestLine, AuthorShown)>> {
    let row: Option<Joined> = joined_requests!()
        .filter(reveal_requests::id.eq(id))
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let author_id = row.1.user_id.clone();
    let line = lines(conn, vec![row])?.remove(0);
    let entitled = line.request.status == RevealStatus::Approved
        && line.request.requester_id.as_ref() == Some(viewer);
    if !entitled {
        return Ok(Some((line, AuthorShown::Withheld)));
    }
    let author = match author_id {
        None => None,
        Some(author) => users::table
            .find(&author)
            .select((
                users::id,
                users::computing_id,
                users::email,
                users::display_name,
            ))
            .first::<(UserId, String, String, Option<String>)>(conn)
            .optional()?,
    };
    let shown = match author {
        Some((id, computing_id, email, display_name)) => AuthorShown::Author(Author {
            id,
            computing_id,
            email,
            display_name,
        }),
        None => AuthorShown::Erased,
    };
    Ok(Some((line, shown)))
}

/// Urgent reveals of the last `URGENT_DAYS` days, newest first, for the
/// overview every staff member reads: who, when, which class, why.
pub fn recent_urgent(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<RequestLine>> {
    let rows: Vec<Joined> = joined_requests!()
        .filter(reveal_requests::urgent.eq(true))
        .filter(reveal_requests::created_at.gt(now - Duration::days(URGENT_DAYS)))
        .order((
            reveal_requests::created_at.desc(),
            reveal_requests::id.desc(),
        ))
        .limit(100)
        .load(conn)?;
    lines(conn, rows)
}

#[cfg(test)]
mod tests {
    use super::cleaned;

    #[test]
    fn reasons_are_one_trimmed_line_of_at_most_500_characters() {
        assert_eq!(cleaned("  why\u{7}  "), "why");
        assert_eq!(cleaned(&"x".repeat(900)).chars().count(), 500);
    }
}
