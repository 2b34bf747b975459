//! A student's own data in the friendship tables: their friendships for the
//! data export (only what they could already see), and their removal when the
//! account is erased. `ops::student_data` composes this with the other parts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{Friendship, FriendshipStatus};
use crate::accounts::UserId;
use crate::db::schema::{friendships, users};
use crate::db::{DbConn, Tx};

/// One friendship, as the student sees it.
#[derive(Debug, Serialize)]
pub struct FriendshipEntry {
    /// The other student's computing ID (what the student typed or saw).
    pub computing_id: String,
    pub status: String,
    /// "sent" when this student asked (or blocked), "received" otherwise.
    pub direction: &'static str,
    pub since: NaiveDateTime,
}

/// The friendships of `me`, without declines or blocks by the other student:
/// a request of mine reads as the friends page shows it (a declined one as
/// waiting, while it would be), sent when I last asked.
pub fn export_user(
    conn: &mut DbConn,
    me: &UserId,
    now: NaiveDateTime,
) -> QueryResult<Vec<FriendshipEntry>> {
    let as_first: Vec<(Friendship, String)> = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_2)))
        .filter(friendships::user_id_1.eq(me))
        .select((Friendship::as_select(), users::computing_id))
        .load(conn)?;
    let as_second: Vec<(Friendship, String)> = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_1)))
        .filter(friendships::user_id_2.eq(me))
        .select((Friendship::as_select(), users::computing_id))
        .load(conn)?;
    let mut friendship_entries = Vec::new();
    for (row, computing_id) in as_first {
        let (status, since) = match row.status {
            FriendshipStatus::Pending | FriendshipStatus::Rejected => {
                if !super::requests::still_waiting(&row, now) {
                    continue; // lapsed, or withdrawn after a decline: gone, to me
                }
                (FriendshipStatus::Pending, row.updated_at)
            }
            other => (other, row.created_at),
        };
        friendship_entries.push(FriendshipEntry {
            computing_id,
            status: status.as_str().to_string(),
            direction: "sent",
            since,
        });
    }
    for (row, computing_id) in as_second {
        if row.status == FriendshipStatus::Blocked {
            // They blocked me: not mine to see; but my own block back is
            // mine, and so is a request of mine under their block, which
            // reads as any request of mine (as a declined one does).
            if let Some(asked_at) = super::requests::waiting_under_block(&row, me, now) {
                friendship_entries.push(FriendshipEntry {
                    computing_id,
                    status: FriendshipStatus::Pending.as_str().to_string(),
                    direction: "sent",
                    since: asked_at,
                });
                continue;
            }
            if row.blocked_back {
                friendship_entries.push(FriendshipEntry {
                    computing_id,
                    status: row.status.as_str().to_string(),
                    direction: "sent",
                    since: row.updated_at,
                });
            }
            continue;
        }
        friendship_entries.push(FriendshipEntry {
            computing_id,
            status: row.status.as_str().to_string(),
            direction: "received",
            since: row.created_at,
        });
    }
    Ok(friendship_entries)
}

/// The choices other students made about someone, which outlive that
/// someone's erasure: a block (theirs, or a block back), and a request of the
/// erased student's that the other declined. Erasure must not undo them: a
/// blocked student could otherwise delete their account, sign in again with
/// the same computing ID, and ask (and be refused, and ask) again.
#[derive(Debug, Default)]
pub struct OthersChoices(Vec<Friendship>);

impl OthersChoices {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Removes every friendship the student is part of (the account's erasure),
/// and returns the choices others made about them, for `keep_for`.
pub fn erase_user(tx: &mut Tx, me: &UserId) -> QueryResult<OthersChoices> {
    let conn: &mut DbConn = tx;
    let mine = friendships::table.filter(
        friendships::user_id_1
            .eq(me)
            .or(friendships::user_id_2.eq(me)),
    );
    let kept: Vec<Friendship> = mine
        .select(Friendship::as_select())
        .load(conn)?
        .into_iter()
        .filter(|row| match row.status {
            // Blocked by the other (first, or back).
            FriendshipStatus::Blocked => &row.user_id_1 != me || row.blocked_back,
            // My request, which the other declined.
            FriendshipStatus::Rejected => &row.user_id_1 == me,
            FriendshipStatus::Pending | FriendshipStatus::Accepted => false,
        })
        .collect();
    diesel::delete(mine).execute(conn)?;
    Ok(OthersChoices(kept))
}

/// Writes `choices` again against `placeholder`, the unconfirmed account now
/// holding the erased student's computing ID (who they were is gone; the
/// others' choices about that ID are theirs). Each keeps its time.
pub fn keep_for(
    tx: &mut Tx,
    choices: OthersChoices,
    erased: &UserId,
    placeholder: &UserId,
) -> QueryResult<()> {
    let conn: &mut DbConn = tx;
    for row in choices.0 {
        let other = if &row.user_id_1 == erased {
            &row.user_id_2
        } else {
            &row.user_id_1
        };
        // A block is the other's, from them to the ID; a decline stays the
        // erased student's request, declined.
        let (first, second) = match row.status {
            FriendshipStatus::Blocked => (other, placeholder),
            _ => (placeholder, other),
        };
        diesel::insert_into(friendships::table)
            .values(&super::NewFriendship {
                id: &super::FriendshipId::new(),
                user_id_1: first,
                user_id_2: second,
                status: row.status.as_str(),
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
            .execute(conn)?;
    }
    Ok(())
}
