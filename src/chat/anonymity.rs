//! "How anonymous am I?": how many distinct students posted in a class lately,
//! shown beside the compose box so a student knows, before posting, how large the
//! crowd they hide in is. One count for the class, never a count per student.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Duration, NaiveDateTime};
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

/// Distinct students other than `viewer` who posted in the class (messages
/// not deleted or held) since `now - 14 days`, plus the viewer: the count the
/// pages show, made afresh. One statement.
pub fn recent_posters(
    conn: &mut DbConn,
    viewer: &UserId,
    class_id: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let (posters, posted): (Option<i64>, bool) = diesel::select((
        recent_posters_unless!(class_id.clone(), now, NOTHING_OFFERED),
        posted_lately!(viewer.clone(), class_id.clone(), now),
    ))
    .get_result(conn)?;
    Ok(posters.unwrap_or(0) - i64::from(posted) + 1)
}

/// How long a class's count of recent posters may be reused while nothing
/// happens in the class (`PosterCounts`).
pub const COUNT_KEPT_FOR: Duration = Duration::seconds(60);

/// Each class's count of recent posters (every one of them: the viewer is
/// taken off per page), as a page of this process last counted it, with the
/// class's newest event then. Counting them reads every recent post of the
/// class (a lecture's 700), about half of the chat page head's time on the
/// scale campus, though the count moves only when someone posts or a post
/// is removed, and both record an event (`events::record`). So a page offers
/// the count it holds, and its statement counts again only when the class's
/// newest event is no longer the one the count was made at
/// (`recent_posters_unless!`): a post in another process shows on the next
/// page of this one. What records no event (a post ageing out of the 14
/// days, the class's events pruned by the cleanup) shows within
/// `COUNT_KEPT_FOR`: a viewer whose last post here ages out may be counted
/// twice for that minute. One per app, like the term list; a count of
/// students only, never who they are.
#[derive(Debug, Default)]
pub struct PosterCounts {
    held: Mutex<HashMap<ClassId, Counted>>,
}

/// A class's count of recent posters and when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    /// The class's newest event (`chat_events.seq`, 0 for none) at the count.
    latest_event: i64,
    counted_at: NaiveDateTime,
    /// Distinct students who posted in the window, anyone counted.
    posters: i64,
}

/// The event offered with no count (no event has it): the statement counts.
const NOTHING_OFFERED: i64 = -1;

/// Counts kept at most: past it, the stale ones go (a campus has 8,000
/// sections; an entry is about a hundred bytes).
const MOST_KEPT: usize = 20_000;

impl PosterCounts {
    /// What a page at `now` offers its statement for `class_id`: the count
    /// held, if made less than `COUNT_KEPT_FOR` ago.
    pub fn offer<'a>(&'a self, class_id: &'a ClassId, now: NaiveDateTime) -> Offer<'a> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let counted = held.get(class_id).filter(|c| fresh_at(c, now)).copied();
        Offer {
            counts: self,
            class_id,
            counted,
            now,
        }
    }

    fn keep(&self, class_id: &ClassId, counted: Counted) {
        let now = counted.counted_at;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.len() >= MOST_KEPT {
            held.retain(|_, c| fresh_at(c, now));
        }
        // A count made at a newer event (by a page that started later and
        // finished first) stays; one made a minute or more from this one,
        // either way, never blocks it (the class's newest event goes back to
        // 0 when the cleanup prunes its events, and a clock can step back).
        let newer = held.get(class_id).is_none_or(|c| {
            (now - c.counted_at).abs() >= COUNT_KEPT_FOR
                || (c.latest_event, c.counted_at) <= (counted.latest_event, now)
        });
        if newer && (held.len() < MOST_KEPT || held.contains_key(class_id)) {
            held.insert(class_id.clone(), counted);
        }
    }
}

/// Whether a page at `now` may offer `counted`: made less than
/// `COUNT_KEPT_FOR` before it, and not after.
fn fresh_at(counted: &Counted, now: NaiveDateTime) -> bool {
    counted.counted_at <= now && now - counted.counted_at < COUNT_KEPT_FOR
}

/// A page's offer of a held count (`PosterCounts::offer`), settled by what
/// its statement read.
#[derive(Debug)]
pub struct Offer<'a> {
    counts: &'a PosterCounts,
    class_id: &'a ClassId,
    counted: Option<Counted>,
    now: NaiveDateTime,
}

impl Offer<'_> {
    /// The event the count is offered at, for `recent_posters_unless!`:
    /// `NOTHING_OFFERED` when none is held.
    pub fn event(&self) -> i64 {
        self.counted.map_or(NOTHING_OFFERED, |c| c.latest_event)
    }

    /// The class's count of recent posters: `fresh` when the statement
    /// counted (the class moved since the offer, or none was held), kept for
    /// the next page at the class's newest event `latest_event`; else the
    /// offered one, still good.
    pub fn settle(self, fresh: Option<i64>, latest_event: i64) -> i64 {
        match (fresh, self.counted) {
            (Some(posters), _) => {
                self.counts.keep(
                    self.class_id,
                    Counted {
                        latest_event,
                        counted_at: self.now,
                        posters,
                    },
                );
                posters
            }
            (None, Some(counted)) => counted.posters,
            // Not reached: with nothing offered, the statement always counts.
            (None, None) => 0,
        }
    }
}

diesel::define_sql_function! {
    /// SQL's COALESCE, for a class's newest event (none is 0).
    #[sql_name = "coalesce"]
    fn event_or(x: diesel::sql_types::Nullable<diesel::sql_types::BigInt>, y: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}

/// Every student who posted in `$class` lately (an owned id), counted only
/// when the class's newest event is not `$offered` (`Offer::event`), else
/// NULL: a column of a page's head, beside `posted_lately!`. SQL's `CASE`
/// runs the count only in the branch it takes, on both backends. Counted as
/// the rows of a `SELECT DISTINCT`, not as `count(DISTINCT …)`: PostgreSQL
/// sorts for the aggregate and hashes for the `DISTINCT`, 2.1 ms against
/// 0.4 ms for a lecture's 734 posts from 408 students on the scale campus.
macro_rules! recent_posters_unless {
    ($class:expr, $now:expr, $offered:expr) => {{
        use $crate::db::schema::{chat_events, class_messages};
        let class: ClassId = $class;
        let offered: i64 = $offered;
        let since: chrono::NaiveDateTime =
            $now - chrono::Duration::days($crate::chat::anonymity::WINDOW_DAYS);
        let newest = chat_events::table
            .filter(chat_events::class_id.eq(class.clone()))
            .select(diesel::dsl::max(chat_events::seq))
            .single_value();
        // Under another name, so it can sit in a statement that reads
        // `class_messages` itself (a thread's page).
        let posts = diesel::alias!(class_messages as recent_posts);
        let posters = posts
            .filter(posts.field(class_messages::class_id).eq(class))
            .filter(posts.field(class_messages::created_at).ge(since))
            .filter(posts.field(class_messages::deleted).eq(false))
            // A held post is not there for classmates: it neither moves the
            // count nor counts as cover.
            .filter(posts.field(class_messages::held).eq(false))
            .filter(posts.field(class_messages::user_id).is_not_null())
            .select(posts.field(class_messages::user_id))
            .distinct();
        diesel::dsl::case_when(
            $crate::chat::anonymity::event_or(newest, 0_i64).ne(offered),
            $crate::db::count_of(posters),
        )
    }};
}
pub(crate) use recent_posters_unless;

/// Whether `$viewer` posted in `$class` lately (owned ids), by the rules of
/// `recent_posters_unless!`: taken off the class's count, so the viewer counts
/// once. A few entries of `idx_class_messages_author`.
macro_rules! posted_lately {
    ($viewer:expr, $class:expr, $now:expr) => {{
        use $crate::db::schema::class_messages;
        let since: chrono::NaiveDateTime =
            $now - chrono::Duration::days($crate::chat::anonymity::WINDOW_DAYS);
        let mine = diesel::alias!(class_messages as my_recent_posts);
        diesel::dsl::exists(
            mine.filter(mine.field(class_messages::user_id).eq($viewer))
                .filter(mine.field(class_messages::class_id).eq($class))
                .filter(mine.field(class_messages::created_at).ge(since))
                .filter(mine.field(class_messages::deleted).eq(false))
                .filter(mine.field(class_messages::held).eq(false)),
        )
    }};
}
pub(crate) use posted_lately;

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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::fixed as at;

    #[test]
    fn a_count_is_offered_for_a_minute_and_only_at_its_event() {
        let counts = PosterCounts::default();
        let class = ClassId::new();
        let offer = counts.offer(&class, at(0));
        assert_eq!(offer.event(), -1, "nothing held: the statement counts");
        assert_eq!(offer.settle(Some(7), 41), 7);

        let offer = counts.offer(&class, at(59));
        assert_eq!(offer.event(), 41, "offered at the event it was counted at");
        assert_eq!(offer.settle(None, 41), 7, "the statement found it good");
        assert_eq!(counts.offer(&class, at(60)).event(), -1, "a minute old");
        assert_eq!(counts.offer(&class, at(-1)).event(), -1, "made later");
        assert_eq!(counts.offer(&ClassId::new(), at(1)).event(), -1);

        // The class moved: the statement counted again, and that is kept.
        assert_eq!(counts.offer(&class, at(10)).settle(Some(8), 42), 8);
        // A page that counted earlier, at an older event, finishing last
        // keeps nothing over the newer count.
        assert_eq!(counts.offer(&class, at(5)).settle(Some(6), 40), 6);
        let offer = counts.offer(&class, at(20));
        assert_eq!(offer.event(), 42);
        assert_eq!(offer.settle(None, 42), 8);
    }

    #[test]
    fn a_stale_count_never_blocks_a_fresh_one() {
        let counts = PosterCounts::default();
        let class = ClassId::new();
        counts.offer(&class, at(0)).settle(Some(5), 42);
        // A minute on, the cleanup has pruned the class's events: its newest
        // is 0, lower than the held count's, and the new count is kept.
        assert_eq!(counts.offer(&class, at(61)).settle(Some(4), 0), 4);
        let offer = counts.offer(&class, at(62));
        assert_eq!(offer.event(), 0, "the new count is offered");
        assert_eq!(offer.settle(None, 0), 4);
        // The clock stepped back: the held count, made "later", is not fresh.
        assert_eq!(counts.offer(&class, at(-100)).settle(Some(3), 0), 3);
        assert_eq!(counts.offer(&class, at(-99)).event(), 0);
        assert_eq!(counts.offer(&class, at(-99)).settle(None, 0), 3);
    }
}
