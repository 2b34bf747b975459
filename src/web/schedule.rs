//! The timetable: the student's week as a grid (Monday to Friday, hours down
//! the side), each block with the class and how many friends take it.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use super::error::{with_conn, AppError};
use super::guard::CurrentUser;
use super::home::TermParam;
use super::layout::Layout;
use super::state::AppState;
use super::views::{self, meeting_view, ClassView, MeetingView, TermChoice, TermOption};
use crate::campus_time::meeting_range;
use crate::classes::schedule::{self, Day, Slot};
use crate::classes::{self, Class, ClassId};
use crate::friends;

/// A meeting's SIS text: days, start, end, place.
type MeetingText<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

/// Minutes per grid row.
const SLOT_MINUTES: u16 = 5;

struct Block {
    code: String,
    detail: String,
    time: String,
    place: Option<String>,
    friends: usize,
    /// CSS classes placing the block: grid rows and its lane.
    placement: String,
    href: String,
}

struct DayColumn {
    name: &'static str,
    blocks: Vec<Block>,
}

struct HourMark {
    label: String,
    placement: String,
}

struct Unscheduled {
    class: ClassView,
    reason: String,
    meeting: Option<MeetingView>,
}

#[derive(Template)]
#[template(path = "schedule/show.html")]
struct SchedulePage {
    layout: Layout,
    terms: Vec<TermOption>,
    term_name: String,
    days: Vec<DayColumn>,
    hours: Vec<HourMark>,
    rows_class: String,
    unscheduled: Vec<Unscheduled>,
    has_classes: bool,
}

/// An hour on the timetable's edge, on a 12-hour clock: "8 AM", "12 PM", "1 PM".
fn hour_label(hour: u16) -> String {
    let half = if hour % 24 < 12 { "AM" } else { "PM" };
    match hour % 12 {
        0 => format!("12 {half}"),
        h => format!("{h} {half}"),
    }
}

fn row_of(minutes: u16, first_hour: u16) -> u16 {
    (minutes - first_hour * 60) / SLOT_MINUTES + 1
}

// Stays whole: one sequence builds the grid (meetings parsed, placed as slots, laid out in day columns); its half-built values mean nothing to any other page.
#[get("/schedule")]
pub async fn show_schedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    params: web::Query<TermParam>,
) -> Result<HttpResponse, AppError> {
    let configured = state.config.classes.current_term.clone();
    let user = current.user.clone();
    let requested = params.into_inner().term;
    let (choice, mine, meetings, friends_in) = with_conn(&state.pool, move |conn| {
        let choice = TermChoice::load(conn, configured.as_deref(), requested.as_deref())?;
        let mine = match &choice.current {
            Some(term) => classes::of_user(conn, &user.id, term.code())?,
            None => Vec::new(),
        };
        let ids: Vec<ClassId> = mine.iter().map(|c| c.id.clone()).collect();
        let meetings = classes::meetings_by_class(conn, &ids)?;
        let friends_in = friends::friends_in_classes(conn, &user, &ids)?;
        Ok((choice, mine, meetings, friends_in))
    })
    .await?;

    // Every (class, meeting) pair, read into days and minutes.
    struct Parsed<'a> {
        class: &'a Class,
        view: MeetingView,
        days: Vec<Day>,
        times: Option<(u16, u16)>,
    }
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut unscheduled = Vec::new();
    for class in &mine {
        let list: Vec<MeetingText> = match meetings.get(&class.id).filter(|m| !m.is_empty()) {
            Some(ms) => ms
                .iter()
                .map(|m| {
                    (
                        m.days.as_deref(),
                        m.start_time.as_deref(),
                        m.end_time.as_deref(),
                        m.location.as_deref(),
                    )
                })
                .collect(),
            None => vec![(
                class.days.as_deref(),
                class.start_time.as_deref(),
                class.end_time.as_deref(),
                class.location.as_deref(),
            )],
        };
        let mut placed_any = false;
        for (days, start, end, place) in list {
            let view = meeting_view(days, start, end, place);
            let day_list = days.map(schedule::parse_days).unwrap_or_default();
            let times = match (
                start.and_then(schedule::parse_time),
                end.and_then(schedule::parse_time),
            ) {
                (Some(s), Some(e)) if e > s => Some((s, e)),
                _ => None,
            };
            let on_grid = times.is_some() && day_list.iter().any(|d| Day::WEEKDAYS.contains(d));
            let weekend = times.is_some() && day_list.iter().any(|d| !Day::WEEKDAYS.contains(d));
            if weekend {
                unscheduled.push(Unscheduled {
                    class: ClassView::new(class, None, Vec::new()),
                    reason: "Meets on the weekend".into(),
                    meeting: Some(meeting_view(days, start, end, place)),
                });
            }
            if on_grid {
                placed_any = true;
                parsed.push(Parsed {
                    class,
                    view,
                    days: day_list,
                    times,
                });
            }
        }
        if !placed_any
            && !unscheduled
                .iter()
                .any(|u| u.class.id == class.id.to_string())
        {
            unscheduled.push(Unscheduled {
                class: ClassView::new(class, meetings.get(&class.id), Vec::new()),
                reason: "No fixed meeting time".into(),
                meeting: None,
            });
        }
    }

    let mut slots = Vec::new();
    for (key, p) in parsed.iter().enumerate() {
        let (start, end) = p.times.expect("only timed meetings are on the grid");
        for day in p.days.iter().filter(|d| Day::WEEKDAYS.contains(d)) {
            slots.push(Slot {
                key,
                day: *day,
                start,
                end,
            });
        }
    }
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
    for placed in schedule::lay_out(slots) {
        let p = &parsed[placed.key];
        let friend_count = friends_in.get(&p.class.id).map_or(0, Vec::len);
        days[placed.day.index()].blocks.push(Block {
            code: p.class.code(),
            detail: format!(
                "{} {}",
                p.class.class_section.as_deref().unwrap_or(""),
                p.class.component.as_deref().unwrap_or("")
            )
            .trim()
            .to_string(),
            time: meeting_range(u32::from(placed.start), u32::from(placed.end)),
            place: p.view.place.clone(),
            friends: friend_count,
            placement: format!(
                "gs-{} ge-{} lk{} li{}",
                row_of(placed.start, first_hour),
                row_of(placed.end, first_hour),
                placed.lanes,
                placed.lane
            ),
            href: format!("/classes/{}", p.class.id),
        });
    }
    let hours = (first_hour..last_hour)
        .map(|h| HourMark {
            label: hour_label(h),
            placement: format!(
                "gs-{} ge-{}",
                row_of(h * 60, first_hour),
                row_of((h + 1) * 60, first_hour)
            ),
        })
        .collect();
    let body = SchedulePage {
        layout: Layout::new(&req, Some(&current)).at("schedule"),
        terms: choice.options(),
        term_name: choice.name(),
        days,
        hours,
        rows_class: format!("rows-{}", last_hour - first_hour),
        unscheduled,
        has_classes: !mine.is_empty(),
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
    use super::hour_label;

    #[test]
    fn hour_marks_read_on_a_twelve_hour_clock() {
        let marks: Vec<String> = [0, 8, 11, 12, 13, 23].into_iter().map(hour_label).collect();
        assert_eq!(marks, ["12 AM", "8 AM", "11 AM", "12 PM", "1 PM", "11 PM"]);
    }
}
