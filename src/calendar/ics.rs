//! The iCalendar text of a student's calendar, written with the `ics` crate:
//! one weekly recurring VEVENT per meeting (`classes::week::meetings_of`) from
//! the first meeting day on or after the meeting's first day until the end of
//! its last day (a meeting's own dates when SIS gave them, else the term's), at campus wall-clock time with `TZID`, and a VTIMEZONE for the
//! campus zone whose observances are chrono-tz's own transitions over the
//! covered dates (found by probing offsets, never hand-written rules).
//! Pure: no database, no clock.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use ics::components::Property;
use ics::properties::{
    Description, DtEnd, DtStart, ExDate, LastModified, Location, RRule, Summary, TzName,
};
use ics::{escape_text, Daylight, Event, ICalendar, Standard, TimeZone as VTimeZone};

use super::{StudentCalendar, TermPlan};
use crate::campus_time::CampusTime;
use crate::classes::schedule::Day;
use crate::classes::term_dates::TermSpan;
use crate::classes::week::{self, Meeting};
use crate::classes::{membership, Class};

/// The fixed domain of every event's UID (RFC 5545 wants a globally unique id;
/// the domain part only has to be ours and never change).
pub const UID_DOMAIN: &str = "calendar.common-grounds";

/// The calendar's name in calendar apps.
pub const CALENDAR_NAME: &str = "Common Grounds classes";

/// The whole feed as text (CRLF lines, folded by the writer).
pub fn write(calendar: &StudentCalendar, campus: CampusTime) -> String {
    let zone_name = campus.zone_name();
    let zone: Tz = zone_name.parse().unwrap_or(chrono_tz::UTC);
    let mut cal = ICalendar::new("2.0", "-//Common Grounds//Class calendar//EN");
    cal.push(Property::new("CALSCALE", "GREGORIAN"));
    cal.push(Property::new("METHOD", "PUBLISH"));
    cal.push(Property::new("X-WR-CALNAME", CALENDAR_NAME));
    cal.push(Property::new("X-WR-TIMEZONE", zone_name));
    // Ask apps to refresh a few times a day: a changed room shows up then.
    cal.push(Property::new("X-PUBLISHED-TTL", "PT6H"));
    let mut refresh = Property::new("REFRESH-INTERVAL", "PT6H");
    refresh.add(ics::components::Parameter::new("VALUE", "DURATION"));
    cal.push(refresh);
    let missing: Vec<String> = calendar
        .terms_without_dates()
        .iter()
        .map(|t| t.name())
        .collect();
    let description = if missing.is_empty() {
        "Your classes from Common Grounds, one weekly event per meeting.".to_string()
    } else {
        format!(
            "Your classes from Common Grounds, one weekly event per meeting. {} has no first and last day of classes yet, so its classes are not in this calendar.",
            missing.join(" and ")
        )
    };
    cal.push(Property::new("X-WR-CALDESC", escape_text(description)));

    let dated: Vec<(&TermPlan, TermSpan)> = calendar
        .terms
        .iter()
        .filter_map(|t| t.span.map(|s| (t, s)))
        .filter(|(t, _)| !t.sections.is_empty())
        .collect();
    let mut events = Vec::new();
    let mut covered: Option<(NaiveDate, NaiveDate)> = None;
    for (plan, term_span) in &dated {
        for class in &plan.sections {
            for meeting in week::meetings_of(class, plan.meetings.get(&class.id)) {
                // A half-term meeting runs its own dates, not the term's.
                let span = meeting.dates.unwrap_or(*term_span);
                if let Some(event) = event(class, &meeting, plan, span, zone) {
                    events.push(event);
                    covered = Some(covered.map_or((span.first_day, span.last_day), |(f, l)| {
                        (f.min(span.first_day), l.max(span.last_day))
                    }));
                }
            }
        }
    }
    // RFC 5545 wants at least one component: with no events (no classes
    // yet, or no term dates), the zone alone, for the year ahead, keeps
    // the feed one that strict calendar apps subscribe to.
    let (from, to) = covered.unwrap_or_else(|| {
        let today = crate::clock::now().date();
        (today, today + chrono::Days::new(365))
    });
    cal.add_timezone(vtimezone(zone, from, to));
    for event in events {
        cal.add_event(event);
    }
    refold(&cal.to_string())
}

/// The longest content line RFC 5545 (3.1) allows, in octets, line break
/// not counted.
const LINE_OCTETS: usize = 75;

/// The text folded again at 75 octets a line. The `ics` crate (0.5.8) folds
/// a long line's continuations at a space plus 75 octets, one over, which
/// strict readers may refuse; its lines are unfolded and folded here, each
/// continuation a space plus at most 74 octets, never inside a character.
fn refold(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split("\r\n") {
        match (line.strip_prefix(' '), lines.last_mut()) {
            (Some(continued), Some(last)) => last.push_str(continued),
            _ if line.is_empty() => {}
            _ => lines.push(line.to_string()),
        }
    }
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    for line in &lines {
        let (mut rest, mut room) = (line.as_str(), LINE_OCTETS);
        while rest.len() > room {
            let mut cut = room;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&rest[..cut]);
            out.push_str("\r\n ");
            rest = &rest[cut..];
            room = LINE_OCTETS - 1;
        }
        out.push_str(rest);
        out.push_str("\r\n");
    }
    out
}

/// `20260114T100000`: a local wall-clock time.
fn local_stamp(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%S").to_string()
}

/// `20260114T150000Z`: a UTC time.
fn utc_stamp(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn weekday(day: Day) -> Weekday {
    match day {
        Day::Mon => Weekday::Mon,
        Day::Tue => Weekday::Tue,
        Day::Wed => Weekday::Wed,
        Day::Thu => Weekday::Thu,
        Day::Fri => Weekday::Fri,
        Day::Sat => Weekday::Sat,
        Day::Sun => Weekday::Sun,
    }
}

fn byday(day: Day) -> &'static str {
    match day {
        Day::Mon => "MO",
        Day::Tue => "TU",
        Day::Wed => "WE",
        Day::Thu => "TH",
        Day::Fri => "FR",
        Day::Sat => "SA",
        Day::Sun => "SU",
    }
}

/// The first day on or after `from` that the meeting meets, if any within the span.
fn first_meeting_day(meeting: &Meeting, span: TermSpan) -> Option<NaiveDate> {
    span.first_day
        .iter_days()
        .take(7)
        .find(|d| meeting.days.iter().any(|m| weekday(*m) == d.weekday()))
        .filter(|d| *d <= span.last_day)
}

/// A wall-clock minute of a day as a time.
fn at_minute(day: NaiveDate, minutes: u16) -> NaiveDateTime {
    // Midnight at a meeting's end (24:00) is the next day's 00:00.
    day.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes))
}

/// The end of the term's last day (23:59:59 campus time), in UTC.
fn until_utc(span: TermSpan, zone: Tz) -> NaiveDateTime {
    let end = span
        .last_day
        .and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
    zone.from_local_datetime(&end)
        .latest()
        .map(|t| t.naive_utc())
        .unwrap_or(end)
}

/// "CS 2100 Lecture".
fn summary(class: &Class) -> String {
    let component = membership::component_name(class.component.as_deref());
    let mut chars = component.chars();
    let component: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => component,
    };
    format!("{} {component}", class.code())
}

fn event<'a>(
    class: &Class,
    meeting: &Meeting,
    plan: &TermPlan,
    span: TermSpan,
    zone: Tz,
) -> Option<Event<'a>> {
    let day = first_meeting_day(meeting, span)?;
    let zone_name = zone.name();
    // Stable across syncs: the section's id (kept by the catalog), the term and
    // the meeting's place in the section, never a meeting row's id.
    let uid = format!(
        "{}-{}-{}@{UID_DOMAIN}",
        class.id,
        plan.term.code(),
        meeting.position
    );
    // The section's last change: a new room or time bumps it, so apps update.
    let changed = utc_stamp(class.updated_at);
    let mut event = Event::new(uid, changed.clone());
    event.push(LastModified::new(changed));
    let mut start = DtStart::new(local_stamp(at_minute(day, meeting.start)));
    start.add(ics::parameters::TzIDParam::new(zone_name));
    event.push(start);
    let mut end = DtEnd::new(local_stamp(at_minute(day, meeting.end)));
    end.add(ics::parameters::TzIDParam::new(zone_name));
    event.push(end);
    let days: Vec<&str> = meeting.days.iter().map(|d| byday(*d)).collect();
    event.push(RRule::new(format!(
        "FREQ=WEEKLY;BYDAY={};UNTIL={}",
        days.join(","),
        utc_stamp(until_utc(span, zone))
    )));
    // The term's breaks: the occurrences on those days are not classes.
    let skipped: Vec<String> = day
        .iter_days()
        .take_while(|d| *d <= span.last_day)
        .filter(|d| meeting.days.iter().any(|m| weekday(*m) == d.weekday()))
        .filter(|d| plan.breaks.iter().any(|b| b.contains(*d)))
        .map(|d| local_stamp(at_minute(d, meeting.start)))
        .collect();
    if !skipped.is_empty() {
        let mut exdate = ExDate::new(skipped.join(","));
        exdate.add(ics::parameters::TzIDParam::new(zone_name));
        event.push(exdate);
    }
    event.push(Summary::new(escape_text(summary(class))));
    if let Some(place) = &meeting.place {
        event.push(Location::new(escape_text(place.clone())));
    }
    let mut about = Vec::new();
    if let Some(title) = class.title.as_deref().filter(|t| !t.trim().is_empty()) {
        about.push(title.trim().to_string());
    }
    if let Some(instructor) = &meeting.instructor {
        about.push(format!("Instructor: {instructor}"));
    }
    if let Some(section) = class.class_section.as_deref() {
        about.push(format!("Section {section}, {}", plan.term.name()));
    }
    if !about.is_empty() {
        event.push(Description::new(escape_text(about.join("\n"))));
    }
    Some(event)
}

/// `-0500`, `+0530`, `+013045`.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// The zone's offset (seconds east of UTC), its abbreviation and whether it is
/// daylight time, at an instant.
fn offset_at(zone: Tz, at: DateTime<Utc>) -> (i32, String, bool) {
    let offset = zone.offset_from_utc_datetime(&at.naive_utc());
    let seconds = offset.fix().local_minus_utc();
    let daylight = !offset.dst_offset().is_zero();
    let name = offset.abbreviation().unwrap_or_default().to_string();
    (seconds, name, daylight)
}

/// The VTIMEZONE of `zone` from a week before `from` to a day after `to`: an
/// observance for the offset in force at the start, then one per transition
/// chrono-tz knows in between (day by day, then to the second).
fn vtimezone<'a>(zone: Tz, from: NaiveDate, to: NaiveDate) -> VTimeZone<'a> {
    // Local midnight a week before the first day: the first observance's onset.
    let week_before = (from - Duration::days(7)).and_time(NaiveTime::MIN);
    let start = zone
        .from_local_datetime(&week_before)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| week_before.and_utc());
    let stop = (to + Duration::days(1)).and_time(NaiveTime::MIN).and_utc();
    let (first_offset, first_name, first_daylight) = offset_at(zone, start);
    let observance = |at: DateTime<Utc>, from: i32, to: i32, name: String, daylight: bool| {
        // An observance starts at the local time of the old offset.
        let local = local_stamp(at.naive_utc() + Duration::seconds(i64::from(from)));
        if daylight {
            let mut d = Daylight::new(local, offset_text(from), offset_text(to));
            if !name.is_empty() {
                d.push(TzName::new(name));
            }
            Observance::Daylight(d)
        } else {
            let mut s = Standard::new(local, offset_text(from), offset_text(to));
            if !name.is_empty() {
                s.push(TzName::new(name));
            }
            Observance::Standard(s)
        }
    };
    let mut observances = vec![observance(
        start,
        first_offset,
        first_offset,
        first_name,
        first_daylight,
    )];
    let mut day = start;
    let mut offset = first_offset;
    while day < stop {
        let next = day + Duration::days(1);
        let (next_offset, _, _) = offset_at(zone, next);
        if next_offset != offset {
            // The first second of the new offset, by bisection.
            let (mut low, mut high) = (day, next);
            while high - low > Duration::seconds(1) {
                let mid = low + (high - low) / 2;
                if offset_at(zone, mid).0 == offset {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            let (to_offset, name, daylight) = offset_at(zone, high);
            observances.push(observance(high, offset, to_offset, name, daylight));
            offset = next_offset;
        }
        day = next;
    }
    let mut observances = observances.into_iter();
    let mut tz = match observances.next() {
        Some(Observance::Daylight(d)) => VTimeZone::daylight(zone.name(), d),
        Some(Observance::Standard(s)) => VTimeZone::standard(zone.name(), s),
        None => VTimeZone::standard(
            zone.name(),
            Standard::new("19700101T000000", "+0000", "+0000"),
        ),
    };
    for o in observances {
        match o {
            Observance::Daylight(d) => tz.add_daylight(d),
            Observance::Standard(s) => tz.add_standard(s),
        }
    }
    tz
}

enum Observance<'a> {
    Standard(Standard<'a>),
    Daylight(Daylight<'a>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn long_lines_fold_at_75_octets_and_unfold_to_what_they_were() {
        // Arrange: a line of 200 octets, with three-octet characters across
        // the fold points, between two short ones.
        let long = format!("DESCRIPTION:{}", "ab€".repeat(37));
        let text = format!("BEGIN:VCALENDAR\r\n{long}\r\nEND:VCALENDAR\r\n");

        // Act
        let folded = super::refold(&text);

        // Assert: no line over 75 octets; unfolded, the same text.
        assert!(folded.ends_with("\r\n"));
        for line in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), text);
        assert!(folded.matches("\r\n ").count() >= 2, "{folded:?}");
    }

    #[test]
    fn the_feed_folds_every_line_at_75_octets() {
        // A term without dates yet makes the calendar's description long
        // enough to fold twice (the crate's second continuation ran to 76).
        let plan = TermPlan {
            term: crate::classes::Term::parse("1268").unwrap(),
            span: None,
            breaks: Vec::new(),
            sections: vec![crate::classes::Class::sample("CS 2100")],
            meetings: Default::default(),
        };
        let text = write(
            &StudentCalendar { terms: vec![plan] },
            CampusTime::default(),
        );
        assert!(
            text.replace("\r\n ", "")
                .contains("has no first and last day"),
            "{text}"
        );
        assert!(text.matches("\r\n ").count() >= 2, "{text}");
        // No event, yet a component (RFC 5545 wants one): the zone.
        assert!(!text.contains("BEGIN:VEVENT"), "{text}");
        assert!(text.contains("BEGIN:VTIMEZONE"), "{text}");
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
    }

    #[test]
    fn new_yorks_spring_change_is_an_observance_at_2_am_local() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let text = vtimezone(zone, d(2026, 1, 14), d(2026, 4, 28)).to_string();
        assert!(text.contains("BEGIN:STANDARD\r\nDTSTART:20260107T000000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0500\r\nTZNAME:EST"), "{text}");
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT"), "{text}");
        assert_eq!(text.matches("BEGIN:DAYLIGHT").count(), 1, "{text}");
    }

    #[test]
    fn a_fall_term_ends_in_standard_time() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let text = vtimezone(zone, d(2026, 8, 25), d(2026, 12, 8)).to_string();
        assert!(
            text.contains("DTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500"),
            "{text}"
        );
    }

    #[test]
    fn a_break_leaves_out_the_classes_it_covers() {
        use crate::classes::Class;
        let zone: Tz = "America/New_York".parse().unwrap();
        let class = Class {
            component: Some("LEC".into()),
            ..Class::sample("CS 2100")
        };
        let meeting = Meeting {
            class_id: class.id.clone(),
            position: 0,
            days: vec![Day::Mon, Day::Wed, Day::Fri],
            start: 10 * 60,
            end: 10 * 60 + 50,
            place: None,
            instructor: None,
            dates: None,
        };
        let span = TermSpan::new(d(2026, 1, 14), d(2026, 4, 28)).unwrap();
        let plan = TermPlan {
            term: crate::classes::Term::parse("1262").unwrap(),
            span: Some(span),
            // Spring break, Saturday to Sunday: Mon 9, Wed 11, Fri 13 March.
            breaks: vec![TermSpan::new(d(2026, 3, 7), d(2026, 3, 15)).unwrap()],
            sections: Vec::new(),
            meetings: Default::default(),
        };
        // Unfolded: a long line goes on after CRLF and a space.
        let text = event(&class, &meeting, &plan, span, zone)
            .unwrap()
            .to_string()
            .replace("\r\n ", "");
        assert!(
            text.contains(
                "EXDATE;TZID=America/New_York:20260309T100000,20260311T100000,20260313T100000\r\n"
            ),
            "{text}"
        );
        let no_breaks = TermPlan {
            breaks: Vec::new(),
            ..plan
        };
        let text = event(&class, &meeting, &no_breaks, span, zone)
            .unwrap()
            .to_string();
        assert!(!text.contains("EXDATE"), "{text}");
    }

    #[test]
    fn offsets_are_written_as_rfc_5545_wants() {
        assert_eq!(offset_text(-5 * 3600), "-0500");
        assert_eq!(offset_text(5 * 3600 + 1800), "+0530");
        assert_eq!(offset_text(0), "+0000");
    }
}
