//! The timetable: the student's week read through `classes::week`, drawn twice
//! from the same meetings: a grid (Monday to Friday, hours down the side) for
//! wide screens and an agenda (day by day) for phones. CSS shows one of them;
//! both mark meetings that clash with another of the student's sections.

use std::collections::HashMap;

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::AppError;
use super::guard::Visitor;
use super::home::TermParam;
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, ClassView, TermChoice, TermOption};
use crate::campus_time::meeting_range;
use crate::classes::schedule::{self, Day, Slot};
use crate::classes::week::{self, Meeting};
use crate::classes::{self, Class, ClassId};
use crate::friends;
use crate::friends::visibility::FriendInClass;

/// Minutes per grid row.
const SLOT_MINUTES: u16 = 5;

/// Clashes on the home page beyond this many are summed up as "and N more".
const CLASHES_LISTED: usize = 10;

/// What the grid and the agenda both show of one section, written once a
/// page: a section meeting three days a week is three agenda items and three
/// grid blocks.
struct SectionText {
    code: String,
    section: String,
    href: String,
    friend_count: usize,
    /// "Jane Doe (jd4ab), kl2mn": its friends, as the agenda lists them.
    friend_names: String,
}

/// What both views show of one meeting's times, written once a page.
struct MeetingText {
    time: String,
    /// "Jan 14 – Mar 4": a meeting that runs only part of the term.
    dates: Option<String>,
}

struct Block<'a> {
    class: &'a SectionText,
    when: &'a MeetingText,
    place: Option<&'a str>,
    clash: bool,
    /// Where the block sits (the template writes them as the CSS classes
    /// `gs-` start row, `ge-` end row, `lk` lanes, `li` lane): numbers, not
    /// a string formatted per block.
    start_row: u16,
    end_row: u16,
    lanes: usize,
    lane: usize,
}

struct DayColumn<'a> {
    name: &'static str,
    blocks: Vec<Block<'a>>,
}

struct HourMark {
    label: &'static str,
    start_row: u16,
    end_row: u16,
}

/// One meeting on one day of the agenda.
struct AgendaItem<'a> {
    class: &'a SectionText,
    when: &'a MeetingText,
    place: Option<&'a str>,
    /// The codes of the sections it overlaps that day.
    clashes_with: Vec<&'a str>,
}

struct AgendaDay<'a> {
    name: &'static str,
    items: Vec<AgendaItem<'a>>,
}

struct Unscheduled {
    class: ClassView,
    reason: String,
    /// Listed only under the grid (the agenda shows weekend meetings itself).
    grid_only: bool,
}

#[derive(Template)]
#[template(path = "schedule/show.html")]
struct SchedulePage<'a> {
    layout: Layout,
    terms: Vec<TermOption>,
    term_name: String,
    days: Vec<DayColumn<'a>>,
    hours: Vec<HourMark>,
    rows_class: String,
    /// "lanes-1", "lanes-2" or "lanes-many": how crowded the grid's busiest
    /// hour is, which decides from what width the grid replaces the agenda.
    crowding: String,
    agenda: Vec<AgendaDay<'a>>,
    unscheduled: Vec<Unscheduled>,
    /// Every unscheduled entry is a weekend meeting, which the agenda shows.
    unscheduled_grid_only: bool,
    has_classes: bool,
    /// The viewer hides their classes, so no friend is shown to them.
    hides_classes: bool,
    clashes: Vec<String>,
    more_clashes: usize,
}

/// An hour on the timetable's edge, on a 12-hour clock: "8 AM", "12 PM", "1 PM".
fn hour_label(hour: u16) -> &'static str {
    const LABELS: [&str; 24] = [
        "12 AM", "1 AM", "2 AM", "3 AM", "4 AM", "5 AM", "6 AM", "7 AM", "8 AM", "9 AM", "10 AM",
        "11 AM", "12 PM", "1 PM", "2 PM", "3 PM", "4 PM", "5 PM", "6 PM", "7 PM", "8 PM", "9 PM",
        "10 PM", "11 PM",
    ];
    LABELS[usize::from(hour % 24)]
}

fn row_of(minutes: u16, first_hour: u16) -> u16 {
    (minutes - first_hour * 60) / SLOT_MINUTES + 1
}

fn day_name(day: Day) -> &'static str {
    match day {
        Day::Mon => "Monday",
        Day::Tue => "Tuesday",
        Day::Wed => "Wednesday",
        Day::Thu => "Thursday",
        Day::Fri => "Friday",
        Day::Sat => "Saturday",
        Day::Sun => "Sunday",
    }
}

/// For meeting `i` on `day`: the other sections meeting at the same time
/// then, as indexes into the student's sections.
fn clashing_on(
    meetings: &[Meeting],
    i: usize,
    day: Day,
    by_id: &HashMap<&ClassId, usize>,
) -> Vec<usize> {
    let me = &meetings[i];
    let mut found: Vec<usize> = Vec::new();
    for other in meetings {
        if other.class_id != me.class_id
            && me.overlaps(other)
            && me.shared_days(other).contains(&day)
        {
            if let Some(&class) = by_id.get(&other.class_id) {
                if !found.contains(&class) {
                    found.push(class);
                }
            }
        }
    }
    found
}

/// "CS 2100 and CS 3120 overlap on Tue Thu 11:00 AM", one line per pair of
/// the given sections that meet at the same time (every overlap of the pair
/// in one line), at most `CLASHES_LISTED` lines, then how many more.
pub fn clash_lines(sections: &[Class], meetings: &[Meeting]) -> (Vec<String>, usize) {
    let code_of: HashMap<&ClassId, String> = sections.iter().map(|c| (&c.id, c.code())).collect();
    let pairs = week::clashing_pairs(meetings);
    let total = pairs.len();
    let lines = pairs
        .into_iter()
        .take(CLASHES_LISTED)
        .map(|(a, b, times)| {
            let name = |id: &ClassId| code_of.get(id).cloned().unwrap_or_default();
            format!(
                "{} and {} overlap on {}",
                name(&a),
                name(&b),
                times.join(" and ")
            )
        })
        .collect::<Vec<_>>();
    let more = total - lines.len();
    (lines, more)
}

// Stays whole: one sequence reads the week (meetings, clashes, friends) and
// shapes it twice, as grid blocks and as agenda days, for one template.
#[get("/schedule")]
pub async fn show_schedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let configured = views::TermDefault::at(state.config.clone(), crate::clock::now());
    let terms = state.terms.clone();
    let settings = state.clone();
    let requested = params.into_inner().term;
    let (current, (choice, mine, listed, friends_in, span)) = visitor
        .only_reads()
        .signed_in(move |conn, current| {
            let user = &current.user;
            let choice = TermChoice::load(conn, &terms, &configured, requested.as_deref())?;
            // The term's dates, held in memory: a meeting with other dates
            // (a half-term course) says so.
            let span = match &choice.current {
                Some(term) => terms
                    .spans(conn, &settings.config.classes.terms)?
                    .get(term.code())
                    .copied(),
                None => None,
            };
            let (mine, listed) = match &choice.current {
                Some(term) => classes::of_user_with_meetings(conn, &user.id, term.code())?,
                None => Default::default(),
            };
            let friends_in = match &choice.current {
                Some(term) => friends::visibility::friends_in_term(conn, user, term.code())?,
                None => Default::default(),
            };
            Ok((choice, mine, listed, friends_in, span))
        })
        .await?;
    let dates_of = |m: &Meeting| m.part_of_term(span).map(|own| own.label());

    let meetings = week::of_classes(&mine, &listed);
    let by_id: HashMap<&ClassId, usize> =
        mine.iter().enumerate().map(|(i, c)| (&c.id, i)).collect();
    // Each section's and each meeting's words once, shared by both views.
    let texts: Vec<SectionText> = mine
        .iter()
        .map(|class| {
            let friends = friends_in
                .get(&class.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            SectionText {
                code: class.code(),
                section: class.class_section.clone().unwrap_or_default(),
                href: ["/classes/", class.id.as_str()].concat(),
                friend_count: friends.len(),
                friend_names: FriendInClass::names_line(friends),
            }
        })
        .collect();
    let whens: Vec<MeetingText> = meetings
        .iter()
        .map(|m| MeetingText {
            time: meeting_range(u32::from(m.start), u32::from(m.end)),
            dates: dates_of(m),
        })
        .collect();

    // Sections with no timed meeting at all, and weekend meetings (off the grid).
    let mut unscheduled = Vec::new();
    for class in &mine {
        let timed: Vec<&Meeting> = meetings.iter().filter(|m| m.class_id == class.id).collect();
        if !class.active {
            unscheduled.push(Unscheduled {
                class: ClassView::new(class, listed.get(&class.id), Vec::new()),
                reason: "No longer listed by SIS".into(),
                grid_only: false,
            });
        } else if timed.is_empty() {
            unscheduled.push(Unscheduled {
                class: ClassView::new(class, listed.get(&class.id), Vec::new()),
                reason: "No fixed meeting time".into(),
                grid_only: false,
            });
        } else if timed
            .iter()
            .any(|m| m.days.iter().any(|d| !Day::WEEKDAYS.contains(d)))
        {
            unscheduled.push(Unscheduled {
                class: ClassView::new(class, listed.get(&class.id), Vec::new()),
                reason: "Meets on the weekend".into(),
                grid_only: true,
            });
        } else if let Some(off_grid) = listed.get(&class.id).map(|rows| {
            rows.iter()
                .filter(|r| !timed.iter().any(|m| m.position == r.position))
                .collect::<Vec<_>>()
        }) {
            // A lecture at a set time with a second meeting TBA (or one that
            // runs past midnight): the grid shows the first, and this says
            // the second is not forgotten.
            let announced = |r: &&crate::classes::ClassMeeting| {
                r.start_time
                    .as_deref()
                    .and_then(schedule::parse_time)
                    .is_some()
            };
            if !off_grid.is_empty() {
                unscheduled.push(Unscheduled {
                    class: ClassView::new(class, listed.get(&class.id), Vec::new()),
                    reason: if off_grid.iter().any(announced) {
                        "Also meets outside the grid".into()
                    } else {
                        "Also meets at a time to be announced".into()
                    },
                    grid_only: false,
                });
            }
        }
    }

    // The agenda: every day that has meetings, Monday to Sunday.
    let mut agenda = Vec::new();
    for day in [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ] {
        let mut todays: Vec<usize> = (0..meetings.len())
            .filter(|&i| meetings[i].days.contains(&day))
            .collect();
        if todays.is_empty() {
            continue;
        }
        todays.sort_by_key(|&i| (meetings[i].start, meetings[i].end));
        let items = todays
            .into_iter()
            .filter_map(|i| {
                let m = &meetings[i];
                let class = *by_id.get(&m.class_id)?;
                Some(AgendaItem {
                    class: &texts[class],
                    when: &whens[i],
                    place: m.place.as_deref(),
                    clashes_with: clashing_on(&meetings, i, day, &by_id)
                        .into_iter()
                        .map(|c| texts[c].code.as_str())
                        .collect(),
                })
            })
            .collect();
        agenda.push(AgendaDay {
            name: day_name(day),
            items,
        });
    }

    // The grid: weekday meetings as slots, overlapping ones in lanes.
    let slots: Vec<Slot> = meetings
        .iter()
        .enumerate()
        .flat_map(|(key, m)| {
            m.days
                .iter()
                .filter(|d| Day::WEEKDAYS.contains(d))
                .map(move |day| Slot {
                    key,
                    day: *day,
                    start: m.start,
                    end: m.end,
                })
        })
        .collect();
    let first_hour = slots.iter().map(|s| s.start / 60).min().unwrap_or(8).min(8);
    let last_hour = slots
        .iter()
        .map(|s| s.end.div_ceil(60))
        .max()
        .unwrap_or(17)
        .clamp(17, 24);
    let mut days: Vec<DayColumn> = Day::WEEKDAYS
        .iter()
        .map(|d| DayColumn {
            name: d.short(),
            blocks: Vec::new(),
        })
        .collect();
    let mut most_lanes = 1;
    for placed in schedule::lay_out(slots) {
        let m = &meetings[placed.key];
        let Some(&class) = by_id.get(&m.class_id) else {
            continue;
        };
        most_lanes = most_lanes.max(placed.lanes);
        // The grid's slots are the meetings' own times (`lay_out` keeps them).
        days[placed.day.index()].blocks.push(Block {
            class: &texts[class],
            when: &whens[placed.key],
            place: m.place.as_deref(),
            clash: !clashing_on(&meetings, placed.key, placed.day, &by_id).is_empty(),
            start_row: row_of(placed.start, first_hour),
            end_row: row_of(placed.end, first_hour),
            lanes: placed.lanes,
            lane: placed.lane,
        });
    }
    let hours = (first_hour..last_hour)
        .map(|h| HourMark {
            label: hour_label(h),
            start_row: row_of(h * 60, first_hour),
            end_row: row_of((h + 1) * 60, first_hour),
        })
        .collect();
    let (clashes, more_clashes) = clash_lines(&mine, &meetings);
    let body = SchedulePage {
        layout: Layout::new(&req, Some(&current)).at("schedule"),
        terms: choice.options(),
        term_name: choice.name(),
        hides_classes: current.user.hide_classes,
        days,
        hours,
        rows_class: format!("rows-{}", last_hour - first_hour),
        crowding: match most_lanes {
            1 => "lanes-1".into(),
            2 => "lanes-2".into(),
            _ => "lanes-many".into(),
        },
        agenda,
        unscheduled_grid_only: unscheduled.iter().all(|u| u.grid_only),
        unscheduled,
        has_classes: !mine.is_empty(),
        clashes,
        more_clashes,
    }
    .render()?;
    Ok(views::page(body))
}

/// Registers this area's pages on the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_schedule);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(code: &str) -> Class {
        Class::sample(code)
    }

    fn meeting(class: &Class, days: &[Day], start: u16, end: u16) -> Meeting {
        Meeting {
            class_id: class.id.clone(),
            position: 0,
            days: days.to_vec(),
            start,
            end,
            place: None,
            instructor: None,
            dates: None,
        }
    }

    #[test]
    fn a_pair_of_sections_is_one_line_naming_every_overlap() {
        let (cs, math) = (section("CS 2100"), section("MATH 1310"));
        let week = vec![
            meeting(&cs, &[Day::Mon, Day::Wed], 600, 650),
            meeting(&cs, &[Day::Thu], 780, 855),
            meeting(&math, &[Day::Mon, Day::Wed, Day::Fri], 620, 670),
            meeting(&math, &[Day::Thu], 800, 850),
        ];
        let (lines, more) = clash_lines(&[cs, math], &week);
        assert_eq!(
            lines,
            ["CS 2100 and MATH 1310 overlap on Mon Wed 10:20 AM and Thu 1:20 PM"]
        );
        assert_eq!(more, 0);
    }

    #[test]
    fn many_clashes_are_summed_up() {
        let sections: Vec<Class> = (0..6)
            .map(|i| section(&format!("CS {}", 1000 + i)))
            .collect();
        let week: Vec<Meeting> = sections
            .iter()
            .map(|c| meeting(c, &[Day::Tue], 660, 710))
            .collect();
        let (lines, more) = clash_lines(&sections, &week);
        assert_eq!(lines.len(), CLASHES_LISTED);
        assert_eq!(more, 15 - CLASHES_LISTED, "6 sections make 15 pairs");
    }

    #[test]
    fn hour_marks_read_on_a_twelve_hour_clock() {
        let marks: Vec<&str> = [0, 8, 11, 12, 13, 23, 24]
            .into_iter()
            .map(hour_label)
            .collect();
        assert_eq!(
            marks,
            ["12 AM", "8 AM", "11 AM", "12 PM", "1 PM", "11 PM", "12 AM"]
        );
    }
}
