//! Friendships between students (requests, acceptance, blocks), what friends
//! may see of each other (classes in common, a friend's week in `weeks`, the
//! times all are free in `free`) and the contact imports kept from the seed
//! schema. No actix or HTML here.

pub mod free;
pub mod personal_data;
pub mod requests;
pub mod visibility;
pub mod weeks;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::accounts::UserId;
use crate::db::schema::{contact_imports, friendships};
use crate::db::{DbConn, Tx};

pub use requests::{Action, ActionError, Overview, Person, RequestOutcome};
pub use visibility::{friends_in_classes, FriendInClass};

crate::define_id!(FriendshipId);
crate::define_id!(ContactImportId);

crate::text_enum!(
    /// Where a friendship stands. `user_id_1` asked (or, once BLOCKED, blocked).
    FriendshipStatus {
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Rejected => "REJECTED",
        Blocked => "BLOCKED",
    }
);

/// A row of `friendships`: one per unordered pair of students.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = friendships)]
pub struct Friendship {
    pub id: FriendshipId,
    pub user_id_1: UserId,
    pub user_id_2: UserId,
    #[diesel(deserialize_as = String)]
    pub status: FriendshipStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// In a BLOCKED row: `user_id_2` blocks `user_id_1` too.
    pub blocked_back: bool,
    /// In a BLOCKED row: a request left under the block, by `asked_by` at
    /// `asked_at` (`requests::waiting_under_block`).
    pub asked_by: Option<UserId>,
    pub asked_at: Option<NaiveDateTime>,
}

impl Friendship {
    /// Whether `who` blocks the other student of this row.
    pub fn blocked_by(&self, who: &UserId) -> bool {
        self.status == FriendshipStatus::Blocked
            && (self.user_id_1 == *who || (self.user_id_2 == *who && self.blocked_back))
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = friendships)]
pub struct NewFriendship<'a> {
    pub id: &'a FriendshipId,
    pub user_id_1: &'a UserId,
    pub user_id_2: &'a UserId,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = friendships)]
pub struct FriendshipChanges<'a> {
    pub user_id_1: Option<&'a UserId>,
    pub user_id_2: Option<&'a UserId>,
    pub status: Option<&'a str>,
    pub blocked_back: Option<bool>,
    pub asked_by: Option<Option<&'a UserId>>,
    pub asked_at: Option<Option<NaiveDateTime>>,
    pub updated_at: NaiveDateTime,
}

/// A row of `contact_imports` (hashes only; the feature is not offered yet).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_imports)]
pub struct ContactImport {
    pub id: ContactImportId,
    pub user_id: UserId,
    pub phone_hash_list: String,
    pub imported_at: NaiveDateTime,
}

/// How a friend is named to another: "Jane Doe (jd4ab)", or "jd4ab" without a display name.
pub fn label(display_name: Option<&str>, computing_id: &str) -> String {
    let mut out = String::new();
    push_label(&mut out, display_name, computing_id);
    out
}

/// Writes [`label`] onto `out`: a page listing many friends writes their
/// names into one line, not a `String` each through `format!`.
pub(crate) fn push_label(out: &mut String, display_name: Option<&str>, computing_id: &str) {
    if let Some(name) = display_name {
        out.push_str(name);
        out.push_str(" (");
        out.push_str(computing_id);
        out.push(')');
    } else {
        out.push_str(computing_id);
    }
}

/// The friendship row between two students, whichever of them asked.
pub fn between(conn: &mut DbConn, a: &UserId, b: &UserId) -> QueryResult<Option<Friendship>> {
    pair_row(a, b)
        .select(Friendship::as_select())
        .first(conn)
        .optional()
}

/// The pair's row, locked until the transaction ends, for a write that decides
/// from it. On PostgreSQL a plain read would not wait for the other student's
/// answer in flight: a block committing between an accept's read and its write
/// would be overwritten by the accept, and the blocked student made a friend.
/// `FOR UPDATE` waits, then reads the row as the other left it (or finds it
/// gone). SQLite's write transaction already holds the database.
pub(crate) fn between_locked(
    tx: &mut Tx,
    a: &UserId,
    b: &UserId,
) -> QueryResult<Option<Friendship>> {
    let conn: &mut DbConn = tx;
    match conn {
        DbConn::Postgresql(pg) => pair_row(a, b)
            .select(Friendship::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConn::Sqlite(lite) => pair_row(a, b)
            .select(Friendship::as_select())
            .first(lite)
            .optional(),
    }
}

#[diesel::dsl::auto_type(no_type_alias)]
fn pair_row<'a>(a: &'a UserId, b: &'a UserId) -> _ {
    friendships::table.filter(
        friendships::user_id_1
            .eq(a)
            .and(friendships::user_id_2.eq(b))
            .or(friendships::user_id_1
                .eq(b)
                .and(friendships::user_id_2.eq(a))),
    )
}

/// Inserts a friendship row.
pub fn insert(conn: &mut DbConn, new: &NewFriendship<'_>) -> QueryResult<Friendship> {
    diesel::insert_into(friendships::table)
        .values(new)
        .execute(conn)?;
    friendships::table
        .find(new.id)
        .select(Friendship::as_select())
        .first(conn)
}

/// Inserts the pair unless it is already there (either way round: the pair's
/// unique index); true when this call made it.
pub fn insert_if_absent(conn: &mut DbConn, new: &NewFriendship<'_>) -> QueryResult<bool> {
    let inserted = crate::on_each_backend!(conn, |c| diesel::insert_into(friendships::table)
        .values(new)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The ids of the student's accepted friends (one indexed lookup per column).
pub fn accepted_ids(conn: &mut DbConn, user_id: &UserId) -> QueryResult<Vec<UserId>> {
    let pairs: Vec<(UserId, UserId)> = friendships::table
        .filter(friendships::status.eq(FriendshipStatus::Accepted.as_str()))
        .filter(
            friendships::user_id_1
                .eq(user_id)
                .or(friendships::user_id_2.eq(user_id)),
        )
        .select((friendships::user_id_1, friendships::user_id_2))
        .load(conn)?;
    Ok(pairs
        .into_iter()
        .map(|(a, b)| if &a == user_id { b } else { a })
        .collect())
}

/// Every friendship row that involves the student.
pub fn of_user(conn: &mut DbConn, user_id: &UserId) -> QueryResult<Vec<Friendship>> {
    friendships::table
        .filter(
            friendships::user_id_1
                .eq(user_id)
                .or(friendships::user_id_2.eq(user_id)),
        )
        .select(Friendship::as_select())
        .load(conn)
}
