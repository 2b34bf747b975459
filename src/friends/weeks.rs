//! The weeks of a student and some chosen friends in one term, as the rule in
//! `visibility` lets the student see them: only ACCEPTED friends, and only
//! while neither side hides classes. Two statements whatever the number of
//! friends chosen (who they are; their sections with the sections' meetings).
//! Never says more about a chosen id that is not an accepted friend than
//! that it is not one.

use diesel::prelude::*;

use super::FriendshipStatus;
use crate::accounts::{User, UserId};
use crate::classes::schedule::Day;
use crate::classes::term_dates::TermSpan;
use crate::classes::week::{self, Meeting};
use crate::classes::{self, Class, ClassId};
use crate::db::schema::{friendships, users};
use crate::db::DbConn;

/// An accepted friend, as the viewer may name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Friend {
    pub id: UserId,
    pub computing_id: String,
    pub display_name: Option<String>,
    pub hides_classes: bool,
}

impl Friend {
    /// "Jane Doe (jd4ab)" or "jd4ab".
    pub fn label(&self) -> String {
        super::label(self.display_name.as_deref(), &self.computing_id)
    }
}

/// One student's sections in the term and their timed meetings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Week {
    /// By course code.
    pub sections: Vec<Class>,
    /// Every timed weekly meeting of those sections (`classes::week`).
    pub meetings: Vec<Meeting>,
}

impl Week {
    /// Sections still offered with no set day or time (TBA, online,
    /// independent study); a section SIS no longer lists is not one of them.
    pub fn untimed(&self) -> Vec<&Class> {
        self.sections
            .iter()
            .filter(|c| c.active && !self.meetings.iter().any(|m| m.class_id == c.id))
            .collect()
    }

    fn section(&self, id: &ClassId) -> Option<&Class> {
        self.sections.iter().find(|c| &c.id == id)
    }
}

/// The weeks the viewer may compare, for the chosen friends.
#[derive(Debug, Clone, Default)]
pub struct Weeks {
    /// The viewer's own week (always theirs to see).
    pub mine: Week,
    /// Chosen friends whose weeks count, in the order chosen.
    pub shown: Vec<(Friend, Week)>,
    /// Chosen friends who hide their classes (only when the viewer does not).
    pub private: Vec<Friend>,
    /// Every chosen friend, when the viewer hides their own classes: the
    /// rule is mutual, so nobody's week shows and nothing more is said.
    pub withheld_by_viewer: Vec<Friend>,
    /// Chosen computing IDs that are not accepted friends: unknown, pending,
    /// declined, blocked (either way) or the viewer, all alike.
    pub not_friends: Vec<String>,
}

/// Loads the viewer's week and those of the chosen friends (by computing ID)
/// for `term`, in three statements whatever the number chosen.
pub fn load(conn: &mut DbConn, viewer: &User, chosen: &[String], term: &str) -> QueryResult<Weeks> {
    let friends = accepted_among(conn, &viewer.id, chosen)?;
    load_among(conn, viewer, chosen, friends, term)
}

/// A friend's page: the two weeks of a term and every class the two share.
#[derive(Debug, Clone, Default)]
pub struct WithFriend {
    /// The two weeks; while either hides, neither (the page shows no week),
    /// and the viewer's own is left empty too.
    pub weeks: Weeks,
    /// Every term's sections both take, the term's by course code, then the
    /// other terms' newest first. Empty while either hides their classes.
    pub shared: Vec<Class>,
    /// The meetings of the shared sections (and of the weeks' sections).
    pub meetings: classes::MeetingsByClass,
}

/// As `load` for one friend the caller already found to be an accepted
/// friend, and the classes the two share in every term: one statement (a
/// term's shared sections are among its weeks' rows), none while either
/// hides their classes.
pub fn with_friend(
    conn: &mut DbConn,
    viewer: &User,
    friend: &User,
    term: &str,
) -> QueryResult<WithFriend> {
    let chosen = [friend.computing_id.clone()];
    let friend = Friend {
        id: friend.id.clone(),
        computing_id: friend.computing_id.clone(),
        display_name: friend.display_name.clone(),
        hides_classes: friend.hide_classes,
    };
    let (out, counted) = sort_out(viewer, &chosen, vec![friend]);
    // Counted means neither hides: the rule for sharing classes too. Else
    // there is no week to set beside the viewer's, nor anything shared.
    let Some(friend) = counted.first() else {
        return Ok(WithFriend {
            weeks: out,
            ..WithFriend::default()
        });
    };
    let classes::SectionsAndShared {
        sections: rows,
        meetings,
        shared: elsewhen,
    } = classes::of_two_with_meetings_and_shared(conn, (&viewer.id, &friend.id), term)?;
    // A student's sections in a term are a handful: a scan of the friend's
    // beats hashing every id.
    let theirs = |id: &ClassId| rows.iter().any(|(o, c)| o == &friend.id && &c.id == id);
    let mut shared: Vec<Class> = rows
        .iter()
        .filter(|(owner, class)| owner == &viewer.id && theirs(&class.id))
        .map(|(_, class)| class.clone())
        .collect();
    shared.extend(elsewhen);
    Ok(WithFriend {
        weeks: fill(out, viewer, counted, rows, &meetings),
        shared,
        meetings,
    })
}

/// The weeks of `chosen`, of whom `friends` are accepted friends.
fn load_among(
    conn: &mut DbConn,
    viewer: &User,
    chosen: &[String],
    friends: Vec<Friend>,
    term: &str,
) -> QueryResult<Weeks> {
    let (out, counted) = sort_out(viewer, chosen, friends);
    // Whose sections to read: the counted friends' and the viewer's own.
    let mut owners: Vec<UserId> = counted.iter().map(|f| f.id.clone()).collect();
    owners.push(viewer.id.clone());
    let (rows, listed) = classes::of_users_with_meetings(conn, &owners, term)?;
    Ok(fill(out, viewer, counted, rows, &listed))
}

/// Sorts the chosen into those not friends, those whose weeks the rule
/// withholds, and (returned beside) those whose weeks count, in the order
/// chosen.
fn sort_out(viewer: &User, chosen: &[String], friends: Vec<Friend>) -> (Weeks, Vec<Friend>) {
    let mut out = Weeks {
        not_friends: chosen
            .iter()
            .filter(|c| !friends.iter().any(|f| &&f.computing_id == c))
            .cloned()
            .collect(),
        ..Weeks::default()
    };
    // In the order chosen, so the page lists people as the student ticked them.
    let mut friends: Vec<Friend> = chosen
        .iter()
        .filter_map(|c| friends.iter().find(|f| &f.computing_id == c).cloned())
        .collect();
    friends.dedup_by(|a, b| a.id == b.id);
    let counted: Vec<Friend> = if viewer.hide_classes {
        out.withheld_by_viewer = friends;
        Vec::new()
    } else {
        let (private, counted): (Vec<Friend>, Vec<Friend>) =
            friends.into_iter().partition(|f| f.hides_classes);
        out.private = private;
        counted
    };
    (out, counted)
}

/// The weeks from each owner's sections of the term and their meetings.
fn fill(
    mut out: Weeks,
    viewer: &User,
    counted: Vec<Friend>,
    rows: Vec<(UserId, Class)>,
    listed: &classes::MeetingsByClass,
) -> Weeks {
    // The weeks in a short list, not a map: at most the viewer and the 20
    // friends one comparison may choose. The rows come by owner, so a search
    // from the end nearly always stops at the first week it reads.
    let mut by_owner: Vec<(UserId, Week)> = Vec::with_capacity(counted.len() + 1);
    for (owner, class) in rows {
        let week = match by_owner.iter().rposition(|(o, _)| o == &owner) {
            Some(at) => &mut by_owner[at].1,
            None => {
                by_owner.push((owner, Week::default()));
                &mut by_owner.last_mut().expect("just pushed").1
            }
        };
        // A section SIS no longer offers does not meet: it keeps no one busy.
        if class.active {
            week.meetings
                .extend(week::meetings_of(&class, listed.get(&class.id)));
        }
        week.sections.push(class);
    }
    let mut take = |id: &UserId| {
        by_owner
            .iter_mut()
            .find(|(o, _)| o == id)
            .map(|(_, week)| std::mem::take(week))
            .unwrap_or_default()
    };
    out.mine = take(&viewer.id);
    out.shown = counted
        .into_iter()
        .map(|f| {
            let week = take(&f.id);
            (f, week)
        })
        .collect();
    out
}

/// Which of the computing IDs are the viewer's accepted friends (one statement).
fn accepted_among(
    conn: &mut DbConn,
    viewer: &UserId,
    chosen: &[String],
) -> QueryResult<Vec<Friend>> {
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(UserId, String, Option<String>, bool)> = users::table
        .inner_join(
            friendships::table.on(friendships::user_id_1
                .eq(viewer)
                .and(friendships::user_id_2.eq(users::id))
                .or(friendships::user_id_2
                    .eq(viewer)
                    .and(friendships::user_id_1.eq(users::id)))),
        )
        .filter(friendships::status.eq(FriendshipStatus::Accepted.as_str()))
        .filter(users::computing_id.eq_any(chosen))
        .select((
            users::id,
            users::computing_id,
            users::display_name,
            users::hide_classes,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, computing_id, display_name, hides_classes)| Friend {
            id,
            computing_id,
            display_name,
            hides_classes,
        })
        .collect())
}

/// One meeting on one day of a side-by-side week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub class_id: ClassId,
    /// "CS 2100".
    pub code: String,
    pub section: Option<String>,
    pub start: u16,
    pub end: u16,
    pub place: Option<String>,
    /// The meeting's own first and last day, when they are not the term's
    /// (a half-term course).
    pub dates: Option<TermSpan>,
    /// Both students take this section.
    pub shared: bool,
}

/// A day of two weeks side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPair {
    pub day: Day,
    pub mine: Vec<Entry>,
    pub theirs: Vec<Entry>,
}

/// Two weeks day by day, Monday to Friday always and the weekend only when
/// either meets then; each day's meetings earliest first, shared sections
/// marked, and meetings that run for part of the term (`term`'s dates) dated.
pub fn side_by_side(mine: &Week, theirs: &Week, term: Option<TermSpan>) -> Vec<DayPair> {
    let mut mine_by_day = by_day(mine, theirs, term);
    let mut theirs_by_day = by_day(theirs, mine, term);
    super::free::WEEK
        .into_iter()
        .map(|day| DayPair {
            day,
            mine: std::mem::take(&mut mine_by_day[day.index()]),
            theirs: std::mem::take(&mut theirs_by_day[day.index()]),
        })
        .filter(|p| Day::WEEKDAYS.contains(&p.day) || !p.mine.is_empty() || !p.theirs.is_empty())
        .collect()
}

/// One week's entries, a list for each day (`Day::index`), each earliest
/// first; shared when `other` takes the section too. One pass over the
/// meetings, each read once however many days it meets (`parse_days` lists
/// each day once); a week is a handful of sections, so `other`'s are
/// scanned, not hashed.
fn by_day(week: &Week, other: &Week, term: Option<TermSpan>) -> [Vec<Entry>; 7] {
    let mut days: [Vec<Entry>; 7] = Default::default();
    for m in &week.meetings {
        let Some(class) = week.section(&m.class_id) else {
            continue;
        };
        let entry = Entry {
            class_id: m.class_id.clone(),
            code: class.code(),
            section: class.class_section.clone(),
            start: m.start,
            end: m.end,
            place: m.place.clone(),
            dates: m.part_of_term(term),
            shared: other.section(&m.class_id).is_some(),
        };
        if let Some((last, rest)) = m.days.split_last() {
            for day in rest {
                days[day.index()].push(entry.clone());
            }
            days[last.index()].push(entry);
        }
    }
    for list in &mut days {
        list.sort_by(|a, b| (a.start, a.end, &a.code).cmp(&(b.start, b.end, &b.code)));
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(code: &str) -> Class {
        Class::sample(code)
    }

    fn meeting(class: &Class, days: &[Day], start: u16, end: u16) -> Meeting {
        Meeting {
            class_id: class.id.clone(),
            position: 0,
            days: days.to_vec(),
            start,
            end,
            place: Some("Rice Hall 130".into()),
            instructor: None,
            dates: None,
        }
    }

    #[test]
    fn side_by_side_marks_shared_sections_and_orders_each_day() {
        let (cs, math, art, tba) = (
            class("CS 2100"),
            class("MATH 1310"),
            class("ARTH 1500"),
            class("CS 4993"),
        );
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2027, m, d).unwrap();
        let term = TermSpan::new(day(1, 13), day(5, 4));
        let first_half = TermSpan::new(day(1, 13), day(3, 5));
        // A half-term course, and one whose dates SIS gave as the term's own.
        let half = Meeting {
            dates: first_half,
            ..meeting(&math, &[Day::Mon, Day::Wed], 660, 710)
        };
        let whole = Meeting {
            dates: term,
            ..meeting(&cs, &[Day::Mon], 600, 650)
        };
        let mine = Week {
            meetings: vec![half, whole],
            sections: vec![cs.clone(), math.clone(), tba.clone()],
        };
        let theirs = Week {
            meetings: vec![
                meeting(&cs, &[Day::Mon], 600, 650),
                meeting(&art, &[Day::Sat], 540, 600),
            ],
            sections: vec![cs.clone(), art.clone()],
        };
        let days = side_by_side(&mine, &theirs, term);
        let names: Vec<&str> = days.iter().map(|d| d.day.short()).collect();
        assert_eq!(names, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]);
        let monday = &days[0];
        let mine_mon: Vec<(&str, bool)> = monday
            .mine
            .iter()
            .map(|e| (e.code.as_str(), e.shared))
            .collect();
        assert_eq!(mine_mon, [("CS 2100", true), ("MATH 1310", false)]);
        let dated: Vec<Option<TermSpan>> = monday.mine.iter().map(|e| e.dates).collect();
        assert_eq!(dated, [None, first_half]);
        assert_eq!(monday.theirs.len(), 1);
        assert!(monday.theirs[0].shared);
        assert!(days[1].mine.is_empty() && days[1].theirs.is_empty());
        assert_eq!(days[5].theirs[0].code, "ARTH 1500");
        assert!(!days[5].theirs[0].shared);
        let untimed: Vec<String> = mine.untimed().iter().map(|c| c.code()).collect();
        assert_eq!(untimed, ["CS 4993"]);
    }
}
