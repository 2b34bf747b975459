//! "How anonymous am I?": how many distinct students posted in a class lately,
//! shown beside the compose box so a student knows, before posting, how large the
//! crowd they hide in is. One count for the class, never a count per student.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::pseudonym;
use crate::accounts::UserId;
use crate::classes::ClassId;
use crate::db::DbConn;

/// Posts within this many days make a recent poster.
pub const WINDOW_DAYS: i64 = 14;
/// `ANONYMITY_MIN_POSTERS` when unset: below it, the compose box warns.
pub const DEFAULT_MIN_POSTERS: u32 = 5;

/// What the compose box tells a student about their anonymity in a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymity {
    /// Distinct students who posted in the last 14 days, the viewer counted once
    /// whether or not they posted: "you would be one of N recent posters".
    pub recent_posters: i64,
    /// Fewer recent posters than the deployment's minimum: classmates may guess
    /// who is writing.
    pub few: bool,
    /// The name the viewer posts under here (held, or the one they would take).
    pub name: String,
}

/// Distinct students other than `viewer` who posted in the class (messages not
/// deleted) since `now - 14 days`, plus the viewer. One statement, on the
/// class's (class_id, created_at) index.
pub fn recent_posters(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let others: i64 = diesel::select(other_recent_posters!(viewer.clone(), class_id.clone(), now))
        .get_result(conn)?;
    Ok(others + 1)
}

/// How many students other than `$viewer` posted in `$class` lately (owned
/// ids), as one value: `recent_posters`, or a column of a page's statement
/// (the class page's head). Counted as the rows of a `SELECT DISTINCT`, not
/// as `count(DISTINCT …)`: PostgreSQL sorts for the aggregate and hashes for
/// the `DISTINCT`, 2.1 ms against 0.4 ms for a lecture's 734 posts from 408
/// students on the scale campus.
macro_rules! other_recent_posters {
    ($viewer:expr, $class:expr, $now:expr) => {{
        use $crate::db::schema::class_messages;
        let since: chrono::NaiveDateTime =
            $now - chrono::Duration::days($crate::chat::anonymity::WINDOW_DAYS);
        // Under another name, so it can sit in a statement that reads
        // `class_messages` itself (a thread's page).
        let posts = diesel::alias!(class_messages as recent_posts);
        let posters = posts
            .filter(posts.field(class_messages::class_id).eq($class))
            .filter(posts.field(class_messages::created_at).ge(since))
            .filter(posts.field(class_messages::deleted).eq(false))
            // A held post is not there for classmates: it neither moves the
            // count nor counts as cover.
            .filter(posts.field(class_messages::held).eq(false))
            .filter(posts.field(class_messages::user_id).is_not_null())
            .filter(posts.field(class_messages::user_id).ne($viewer))
            .select(posts.field(class_messages::user_id))
            .distinct();
        $crate::db::count_of(posters)
    }};
}
pub(crate) use other_recent_posters;

impl Anonymity {
    fn new(recent_posters: i64, min_posters: u32, name: String) -> Anonymity {
        Anonymity {
            recent_posters,
            few: recent_posters < i64::from(min_posters),
            name,
        }
    }

    /// The note from what a page's head already read (`threads::ClassHead`):
    /// a statement only when the viewer holds no name here and someone else
    /// holds their first candidate (the look-up of further candidates).
    pub fn from_head(
        conn: &mut DbConn,
        head: &super::threads::ClassHead,
        viewer: &UserId,
        class_id: &ClassId,
        secret: &[u8],
        min_posters: u32,
    ) -> QueryResult<Anonymity> {
        let name = match head.pseudonym.as_ref().or(head.free_candidate.as_ref()) {
            Some(name) => name.clone(),
            None => pseudonym::first_free(conn, secret, viewer, class_id)?,
        };
        Ok(Anonymity::new(
            head.other_recent_posters + 1,
            min_posters,
            name,
        ))
    }
}
