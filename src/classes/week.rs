//! A student's week as data: every timed weekly meeting of their sections,
//! read once from SIS text (`schedule::parse_days`, `parse_time`), and where
//! two sections meet at the same time. The timetable, the phone agenda, the
//! clash warnings, a friend's week, the free-time finder and the calendar feed
//! all read meetings through here, so they agree on what a meeting is.

use std::collections::HashMap;

use super::schedule::{self, Day};
use super::term_dates::TermSpan;
use super::{Class, ClassId, ClassMeeting};

/// One weekly meeting pattern of a section with a known time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub class_id: ClassId,
    /// The meeting's place among its section's meetings (SIS order; 0 for a
    /// section described only by its own columns). Stable across syncs for an
    /// unchanged pattern, so it can key a calendar event.
    pub position: i32,
    /// Days it meets, Monday first (weekends included).
    pub days: Vec<Day>,
    /// Minutes after midnight, campus wall clock; `end > start`.
    pub start: u16,
    pub end: u16,
    /// Where, trimmed; None when SIS says nothing useful ("TBA", "***").
    pub place: Option<String>,
    pub instructor: Option<String>,
    /// The meeting's own first and last day when SIS gave them; None: the
    /// term's. (A half-term course's meetings run half the term.)
    pub dates: Option<TermSpan>,
}

impl Meeting {
    /// Whether the two meet at the same time on some day (touching ends do
    /// not) in weeks they both run: two half-term courses in one slot, one
    /// after the other, do not clash.
    pub fn overlaps(&self, other: &Meeting) -> bool {
        self.start < other.end
            && other.start < self.end
            && !self.shared_days(other).is_empty()
            && self.runs_alongside(other)
    }

    /// Whether some day falls within both meetings' dates (a meeting without
    /// its own runs the whole term, alongside any other).
    fn runs_alongside(&self, other: &Meeting) -> bool {
        match (self.dates, other.dates) {
            (Some(a), Some(b)) => a.first_day <= b.last_day && b.first_day <= a.last_day,
            _ => true,
        }
    }

    /// Whether the meeting runs on `date` by its own dates (one without
    /// them runs all term).
    pub fn runs_on(&self, date: chrono::NaiveDate) -> bool {
        self.dates.is_none_or(|own| own.contains(date))
    }

    /// The meeting's dates when they are not the term's (`term`, when
    /// known): what the timetable notes beside a half-term meeting.
    pub fn part_of_term(&self, term: Option<TermSpan>) -> Option<TermSpan> {
        self.dates.filter(|own| Some(*own) != term)
    }

    /// The days both meet, Monday first.
    pub fn shared_days(&self, other: &Meeting) -> Vec<Day> {
        self.days
            .iter()
            .copied()
            .filter(|d| other.days.contains(d))
            .collect()
    }
}

/// What SIS wrote for a place, or None when it means "unknown".
pub fn place(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|p| !p.is_empty() && !p.chars().all(|c| c == '*') && *p != "TBA")
        .map(str::to_string)
}

/// A section's timed meetings: its `class_meetings` rows when SIS gave any,
/// else the pattern on the section's own row. Meetings without days or a
/// readable time (TBA, online) are left out; the caller lists those apart.
pub fn meetings_of(class: &Class, listed: Option<&Vec<ClassMeeting>>) -> Vec<Meeting> {
    let read = |position: i32,
                days: Option<&str>,
                start: Option<&str>,
                end: Option<&str>,
                location: Option<&str>,
                instructor: Option<&str>,
                dates: Option<TermSpan>| {
        let days = days.map(schedule::parse_days).unwrap_or_default();
        let start = start.and_then(schedule::parse_time)?;
        let end = end.and_then(schedule::parse_time)?;
        // SIS writes a meeting that runs to midnight as ending at 00:00 (it
        // has no 24:00); one that runs past midnight is not a weekly slot we
        // can draw, and is listed apart like a TBA one.
        let end = if end == 0 && start > 0 { 24 * 60 } else { end };
        (end > start && !days.is_empty()).then(|| Meeting {
            class_id: class.id.clone(),
            position,
            days,
            start,
            end,
            place: place(location),
            instructor: instructor
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string),
            dates,
        })
    };
    match listed.filter(|m| !m.is_empty()) {
        Some(rows) => rows
            .iter()
            .filter_map(|m| {
                read(
                    m.position,
                    m.days.as_deref(),
                    m.start_time.as_deref(),
                    m.end_time.as_deref(),
                    m.location.as_deref(),
                    m.instructor.as_deref().or(class.instructor.as_deref()),
                    m.first_day
                        .zip(m.last_day)
                        .and_then(|(first, last)| TermSpan::new(first, last)),
                )
            })
            .collect(),
        None => read(
            0,
            class.days.as_deref(),
            class.start_time.as_deref(),
            class.end_time.as_deref(),
            class.location.as_deref(),
            class.instructor.as_deref(),
            None,
        )
        .into_iter()
        .collect(),
    }
}

/// Every timed meeting of the given sections still offered, in the
/// sections' order. A section SIS no longer lists (cancelled, or renumbered,
/// with its students still in the old number) meets no more: drawn, it would
/// clash with its own successor.
pub fn of_classes(
    sections: &[Class],
    listed: &HashMap<ClassId, Vec<ClassMeeting>>,
) -> Vec<Meeting> {
    sections
        .iter()
        .filter(|c| c.active)
        .flat_map(|c| meetings_of(c, listed.get(&c.id)))
        .collect()
}

/// Two sections that meet at the same time: where and when they first overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    pub a: ClassId,
    pub b: ClassId,
    /// The days they overlap, Monday first.
    pub days: Vec<Day>,
    /// The later of the two starts: when the overlap begins.
    pub start: u16,
}

/// Every pair of different sections whose meetings overlap, one `Clash` per
/// pair of meetings. `a` comes before `b` in `meetings`.
pub fn clashes(meetings: &[Meeting]) -> Vec<Clash> {
    let mut found = Vec::new();
    for (i, a) in meetings.iter().enumerate() {
        for b in &meetings[i + 1..] {
            if a.class_id != b.class_id && a.overlaps(b) {
                found.push(Clash {
                    a: a.class_id.clone(),
                    b: b.class_id.clone(),
                    days: a.shared_days(b),
                    start: a.start.max(b.start),
                });
            }
        }
    }
    found
}

/// Each pair of sections that overlap, once, with every time they do ("Tue
/// Thu 11:00 AM", "Fri 1:00 PM"), pairs in the order first found. `a` comes
/// before `b` in `meetings`.
pub fn clashing_pairs(meetings: &[Meeting]) -> Vec<(ClassId, ClassId, Vec<String>)> {
    let mut pairs: Vec<(ClassId, ClassId, Vec<String>)> = Vec::new();
    for clash in clashes(meetings) {
        let time = when(&clash.days, clash.start);
        match pairs
            .iter_mut()
            .find(|(a, b, _)| *a == clash.a && *b == clash.b)
        {
            Some((_, _, times)) if !times.contains(&time) => times.push(time),
            Some(_) => {}
            None => pairs.push((clash.a, clash.b, vec![time])),
        }
    }
    pairs
}

/// "Tue Thu 11:00 AM": the days and the time an overlap begins.
pub fn when(days: &[Day], start: u16) -> String {
    let days: Vec<&str> = days.iter().map(|d| d.short()).collect();
    format!(
        "{} {}",
        days.join(" "),
        crate::campus_time::twelve_hour(u32::from(start))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(class: &ClassId, days: &[Day], start: u16, end: u16) -> Meeting {
        Meeting {
            class_id: class.clone(),
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
    fn overlapping_sections_clash_and_touching_ones_do_not() {
        let (x, y, z) = (ClassId::new(), ClassId::new(), ClassId::new());
        let week = vec![
            meeting(&x, &[Day::Tue, Day::Thu], 660, 735),
            meeting(&y, &[Day::Thu], 700, 750),
            meeting(&z, &[Day::Tue, Day::Thu], 735, 800),
            meeting(&x, &[Day::Mon], 700, 750),
        ];
        let found = clashes(&week);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].a, x);
        assert_eq!(found[0].b, y);
        assert_eq!(found[0].days, vec![Day::Thu]);
        assert_eq!(when(&found[0].days, found[0].start), "Thu 11:40 AM");
        // y (Thu 11:40–12:30) and z (Tue Thu 12:15–1:20) overlap on Thursday.
        assert_eq!((found[1].a.clone(), found[1].b.clone()), (y, z));
    }

    #[test]
    fn places_that_mean_unknown_are_none() {
        assert_eq!(place(Some(" Rice Hall 130 ")), Some("Rice Hall 130".into()));
        for unknown in [None, Some(""), Some("TBA"), Some("***")] {
            assert_eq!(place(unknown), None);
        }
    }
}
