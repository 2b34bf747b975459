//! Who sees whose classes. Only ACCEPTED friends do, and only while neither of
//! them hides their classes (the rule is mutual). Each function is one query,
//! whatever the number of classes or friends.

use std::collections::HashMap;

use diesel::prelude::*;

use chrono::NaiveDateTime;

use super::requests::Person;
use super::FriendshipStatus;
use crate::accounts::{User, UserId};
use crate::classes::ClassId;
use crate::db::schema::{classes, friendships, user_classes, users};
use crate::db::DbConn;

/// A friend taking a class, as the viewer may name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendInClass {
    pub computing_id: String,
    pub display_name: Option<String>,
}

impl FriendInClass {
    pub fn label(&self) -> String {
        super::label(self.display_name.as_deref(), &self.computing_id)
    }

    /// The friends as one line, "Jane Doe (jd4ab), kl2mn", as a class's
    /// friends are listed.
    pub fn names_line(list: &[FriendInClass]) -> String {
        let mut line = String::new();
        for (i, friend) in list.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            super::push_label(
                &mut line,
                friend.display_name.as_deref(),
                &friend.computing_id,
            );
        }
        line
    }
}

/// The viewer's accepted friends' ids, as a subquery of the statement it is
/// used in: the other side of each accepted friendship (by either column's
/// index). Starting from the viewer's few friends, not from the classes'
/// members: a big lecture has a thousand members and the viewer about twenty
/// friends, probed into `user_classes` by its primary key.
macro_rules! accepted_friend_ids {
    ($me:expr) => {{
        let me: UserId = $me.clone();
        friendships::table
            .filter(friendships::status.eq(FriendshipStatus::Accepted.as_str()))
            .filter(
                friendships::user_id_1
                    .eq(me.clone())
                    .or(friendships::user_id_2.eq(me.clone())),
            )
            .select(
                diesel::dsl::case_when(friendships::user_id_1.eq(me), friendships::user_id_2)
                    .otherwise(friendships::user_id_1),
            )
    }};
}

/// The viewer's friends in the classes `$in_classes` admits (a condition on
/// `user_classes::class_id`) whom the viewer may see, as rows of (class,
/// computing ID, display name, since) to finish.
macro_rules! friends_in {
    ($viewer:expr, $in_classes:expr) => {
        user_classes::table
            .inner_join(users::table)
            .filter(user_classes::user_id.eq_any(accepted_friend_ids!($viewer.id)))
            .filter($in_classes)
            .filter(users::hide_classes.eq(false))
    };
}

/// `friends_in!`'s friends in the classes `$in_classes` admits, loaded (`?`
/// on error) and grouped by class.
macro_rules! grouped_friends_in {
    ($conn:expr, $viewer:expr, $in_classes:expr) => {{
        let rows: Vec<(ClassId, String, Option<String>)> =
            crate::on_each_backend!($conn, |c| friends_in!($viewer, $in_classes)
                .select((
                    user_classes::class_id,
                    users::computing_id,
                    users::display_name,
                ))
                .load(c))?;
        group_by_class(rows)
    }};
}

/// The viewer's own classes of a term, as a subquery: the same SQL whatever
/// the number of classes. An `IN (…)` list of ids would change the statement
/// with its length, and on SQLite Diesel keeps only statements of a fixed
/// shape prepared — the timetable and home would be parsed and planned anew
/// on every request.
macro_rules! classes_of_term {
    ($viewer:expr, $term:expr) => {{
        let mine = diesel::alias!(user_classes as mine);
        mine.inner_join(classes::table.on(classes::id.eq(mine.field(user_classes::class_id))))
            .filter(mine.field(user_classes::user_id).eq($viewer.id.clone()))
            .filter(classes::term.eq($term.to_owned()))
            .select(mine.field(user_classes::class_id))
    }};
}

/// The viewer's friends in each class, by computing ID.
pub type FriendsByClass = HashMap<ClassId, Vec<FriendInClass>>;

fn group_by_class(
    rows: impl IntoIterator<Item = (ClassId, String, Option<String>)>,
) -> HashMap<ClassId, Vec<FriendInClass>> {
    let mut grouped: HashMap<ClassId, Vec<FriendInClass>> = HashMap::new();
    for (class_id, computing_id, display_name) in rows {
        grouped.entry(class_id).or_default().push(FriendInClass {
            computing_id,
            display_name,
        });
    }
    for friends in grouped.values_mut() {
        friends.sort_by(|a, b| a.computing_id.cmp(&b.computing_id));
    }
    grouped
}

/// For each of the given classes, the viewer's friends in it whom the viewer may see.
pub fn friends_in_classes(
    conn: &mut DbConn,
    viewer: &User,
    class_ids: &[ClassId],
) -> QueryResult<HashMap<ClassId, Vec<FriendInClass>>> {
    if viewer.hide_classes || class_ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(grouped_friends_in!(
        conn,
        viewer,
        user_classes::class_id.eq_any(class_ids.to_vec())
    ))
}

/// For each of the viewer's classes of `term`, the viewer's friends in it
/// whom the viewer may see (the timetable's and home's question, asked as one
/// statement of a fixed shape).
pub fn friends_in_term(
    conn: &mut DbConn,
    viewer: &User,
    term: &str,
) -> QueryResult<HashMap<ClassId, Vec<FriendInClass>>> {
    if viewer.hide_classes {
        return Ok(HashMap::new());
    }
    Ok(grouped_friends_in!(
        conn,
        viewer,
        user_classes::class_id.eq_any(classes_of_term!(viewer, term))
    ))
}

/// Home's people in one statement: the viewer's friends in each of the
/// viewer's classes of `term` (as `friends_in_term`) and the friend requests
/// waiting for the viewer, newest first (as `requests::incoming`), read
/// together as one `UNION ALL` (a request's row has no class). With no term
/// (no classes synced yet), only the requests.
pub fn friends_in_term_and_requests(
    conn: &mut DbConn,
    viewer: &User,
    term: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<(FriendsByClass, Vec<Person>)> {
    use diesel::sql_types::{Nullable, Text};
    let Some(term) = term.filter(|_| !viewer.hide_classes) else {
        return Ok((
            HashMap::new(),
            super::requests::incoming(conn, &viewer.id, now)?,
        ));
    };
    let in_classes = friends_in!(
        viewer,
        user_classes::class_id.eq_any(classes_of_term!(viewer, term))
    )
    .select((
        user_classes::class_id.nullable(),
        users::computing_id,
        users::display_name,
        user_classes::enrolled_at,
    ));
    let asking = friendships::table
        .inner_join(users::table.on(users::id.eq(friendships::user_id_1)))
        .filter(friendships::user_id_2.eq(viewer.id.clone()))
        .filter(friendships::status.eq(FriendshipStatus::Pending.as_str()))
        // Past its lifetime a request is gone, before the cleanup removes it
        // (`requests::still_waiting`): not listed, as the friends page has it.
        .filter(friendships::updated_at.ge(super::requests::lifetime_start(now)))
        .select((
            None::<String>.into_sql::<Nullable<Text>>(),
            users::computing_id,
            users::display_name,
            friendships::updated_at,
        ));
    // Diesel's `MultiBackend` has no UNION: the statement is compiled for each.
    let rows: Vec<(Option<ClassId>, String, Option<String>, NaiveDateTime)> =
        crate::on_each_backend!(conn, |c| in_classes.union_all(asking).load(c))?;
    let mut requests = Vec::new();
    let mut friends = Vec::new();
    for (class_id, computing_id, display_name, since) in rows {
        match class_id {
            Some(class_id) => friends.push((class_id, computing_id, display_name)),
            None => requests.push(Person {
                computing_id,
                display_name,
                since,
            }),
        }
    }
    requests.sort_by_key(|r| std::cmp::Reverse(r.since));
    Ok((group_by_class(friends), requests))
}

/// How many classes of `term` the viewer shares with each of the given friends.
pub fn shared_counts(
    conn: &mut DbConn,
    viewer: &User,
    friend_ids: &[UserId],
    term: &str,
) -> QueryResult<HashMap<UserId, i64>> {
    if viewer.hide_classes || friend_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mine = diesel::alias!(user_classes as mine);
    let my_classes = mine
        .filter(mine.field(user_classes::user_id).eq(viewer.id.clone()))
        .select(mine.field(user_classes::class_id));
    let rows: Vec<(UserId, i64)> = user_classes::table
        .inner_join(classes::table)
        .inner_join(users::table)
        .filter(classes::term.eq(term))
        .filter(user_classes::user_id.eq_any(friend_ids))
        .filter(users::hide_classes.eq(false))
        .filter(user_classes::class_id.eq_any(my_classes))
        .group_by(user_classes::user_id)
        .select((user_classes::user_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::FriendInClass;

    fn friend(computing_id: &str, display_name: Option<&str>) -> FriendInClass {
        FriendInClass {
            computing_id: computing_id.into(),
            display_name: display_name.map(Into::into),
        }
    }

    #[test]
    fn a_class_friends_read_as_one_line_of_their_labels() {
        let list = [friend("jd4ab", Some("Jane Doe")), friend("kl2mn", None)];
        assert_eq!(FriendInClass::names_line(&list), "Jane Doe (jd4ab), kl2mn");
        assert_eq!(
            FriendInClass::names_line(&list[..1]),
            list[0].label(),
            "one friend is their label"
        );
        assert_eq!(FriendInClass::names_line(&[]), "");
    }
}
