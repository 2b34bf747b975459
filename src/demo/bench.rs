//! Sessions for load tests (`common-grounds bench-sessions`): many distinct
//! signed-in students of a demo campus, made without email, each with a
//! friend and a busy class to visit.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::accounts::{sessions, Role, UserId};
use crate::db::schema::{class_messages, user_classes, users};
use crate::db::DbConn;

/// One signed-in student, as a load test uses it.
pub struct BenchSession {
    pub token: String,
    pub csrf: String,
    /// A friend's computing ID (for `/friends/{id}`).
    pub friend: String,
    /// The student's class with the most threads (for `/classes/{id}`).
    pub class_id: String,
}

/// Starts up to `count` sessions for students that have an accepted friend and
/// a class with messages. `csrf` turns a session's token hash into its CSRF token.
pub fn start_sessions(
    conn: &mut DbConn,
    count: usize,
    now: NaiveDateTime,
    csrf: impl Fn(&str) -> String,
) -> QueryResult<Vec<BenchSession>> {
    // Ids are random UUIDs, so their order is a fair sample of students.
    let candidates: Vec<UserId> = users::table
        .filter(users::role.eq(Role::Student.as_str()))
        .order(users::id)
        .limit((count * 3) as i64)
        .select(users::id)
        .load(conn)?;
    // Threads per class, once (one pass over the roots).
    let threads: HashMap<String, i64> = class_messages::table
        .filter(class_messages::parent_message_id.is_null())
        .group_by(class_messages::class_id)
        .select((class_messages::class_id, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(count);
    for user in candidates {
        if out.len() == count {
            break;
        }
        let friend: Option<String> = match crate::friends::accepted_ids(conn, &user)?.first() {
            Some(id) => Some(
                users::table
                    .find(id)
                    .select(users::computing_id)
                    .first(conn)?,
            ),
            None => None,
        };
        let mine: Vec<String> = user_classes::table
            .filter(user_classes::user_id.eq(&user))
            .select(user_classes::class_id)
            .load(conn)?;
        let busiest = mine
            .into_iter()
            .filter_map(|c| threads.get(&c).map(|&n| (c, n)))
            .max_by_key(|&(_, n)| n);
        let (Some(friend), Some((class_id, _))) = (friend, busiest) else {
            continue;
        };
        let made = sessions::create(conn, &user, Some("bench-sessions"), now)?;
        out.push(BenchSession {
            csrf: csrf(&made.session.token_hash),
            token: made.token,
            friend,
            class_id,
        });
    }
    Ok(out)
}
