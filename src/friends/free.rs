//! "When are we all free": from the weekly meetings of a few students, the
//! stretches of at least `MIN_MINUTES` in a chosen window of days and hours
//! when all of them are free, and those when all but one are (naming who is
//! busy). Pure interval arithmetic; who may be counted is decided in `weeks`.

use chrono::NaiveDate;

use crate::classes::schedule::Day;
use crate::classes::term_dates::TermSpan;
use crate::classes::week::Meeting;

/// The shortest stretch worth offering as a time to meet.
pub const MIN_MINUTES: u16 = 30;

/// The days and hours to search, checked: `from <= to`, `start < end`, whole
/// hours within one day; and the week, when half-term classes make weeks differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Day,
    pub to: Day,
    /// Minutes after midnight, campus wall clock.
    pub start: u16,
    pub end: u16,
    /// The Monday of the week searched: a meeting with its own dates (a
    /// half-term course) keeps someone busy only on the days it runs. None:
    /// every meeting, every week.
    pub week: Option<NaiveDate>,
}

/// Why a window was refused, in words a student can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("“{0}” is not a day. Pick a day from Mon to Sun.")]
    NotADay(String),
    #[error("The first day ({from}) comes after the last day ({to}). Pick days from Monday towards Sunday.")]
    DaysReversed {
        from: &'static str,
        to: &'static str,
    },
    #[error("“{0}” is not an hour of the day. Pick the hours from the lists.")]
    NotAnHour(String),
    #[error("The hours must start before they end (from {start} to {end}). Pick a later end or an earlier start.")]
    HoursReversed { start: String, end: String },
}

impl WindowError {
    /// Whether the fault is in the days (else in the hours).
    pub fn in_days(&self) -> bool {
        matches!(
            self,
            WindowError::NotADay(_) | WindowError::DaysReversed { .. }
        )
    }
}

impl Default for Window {
    /// Weekdays, 8 AM to 6 PM.
    fn default() -> Window {
        Window {
            from: Day::Mon,
            to: Day::Fri,
            start: 8 * 60,
            end: 18 * 60,
            week: None,
        }
    }
}

/// Every day, Monday first.
pub const WEEK: [Day; 7] = [
    Day::Mon,
    Day::Tue,
    Day::Wed,
    Day::Thu,
    Day::Fri,
    Day::Sat,
    Day::Sun,
];

/// "Mon" (as `Day::short` writes it, any case) into a day.
pub fn parse_day(raw: &str) -> Result<Day, WindowError> {
    let text = raw.trim();
    WEEK.into_iter()
        .find(|d| d.short().eq_ignore_ascii_case(text))
        .ok_or_else(|| WindowError::NotADay(text.chars().take(20).collect()))
}

/// A field that was sent with something in it.
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// A whole hour in `hours` into minutes after midnight.
fn parse_hour(raw: &str, hours: std::ops::RangeInclusive<u16>) -> Result<u16, WindowError> {
    let text = raw.trim();
    text.parse::<u16>()
        .ok()
        .filter(|h| hours.contains(h))
        .map(|h| h * 60)
        .ok_or_else(|| WindowError::NotAnHour(text.chars().take(20).collect()))
}

/// A start: "0" (midnight) to "23"; the day's end is no start.
fn parse_start(raw: &str) -> Result<u16, WindowError> {
    parse_hour(raw, 0..=23)
}

/// An end: "1" to "24" (midnight, the day's end); its first instant is none.
fn parse_end(raw: &str) -> Result<u16, WindowError> {
    parse_hour(raw, 1..=24)
}

impl Window {
    /// Reads the form's fields, each on its own: the window as sent, and
    /// every fault found, so that a refused form is shown back as its student
    /// left it, with all that needs mending. A missing field keeps the
    /// default, and so does one that does not read (with its fault); days or
    /// hours the wrong way round are kept so, with their fault.
    pub fn read(
        from: Option<&str>,
        to: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
    ) -> (Window, Vec<WindowError>) {
        fn field<T>(
            sent: Option<&str>,
            parse: fn(&str) -> Result<T, WindowError>,
            faults: &mut Vec<WindowError>,
        ) -> Result<Option<T>, ()> {
            match present(sent).map(parse) {
                None => Ok(None),
                Some(Ok(value)) => Ok(Some(value)),
                Some(Err(fault)) => {
                    faults.push(fault);
                    Err(())
                }
            }
        }
        let default = Window::default();
        let mut faults = Vec::new();
        let from = field(from, parse_day, &mut faults);
        let to = field(to, parse_day, &mut faults);
        let start = field(start, parse_start, &mut faults);
        let end = field(end, parse_end, &mut faults);
        let window = Window {
            from: from.ok().flatten().unwrap_or(default.from),
            to: to.ok().flatten().unwrap_or(default.to),
            start: start.ok().flatten().unwrap_or(default.start),
            end: end.ok().flatten().unwrap_or(default.end),
            week: None,
        };
        // A field that did not read is not compared: the default in its
        // place would name a day or an hour nobody picked.
        if from.is_ok() && to.is_ok() && window.from > window.to {
            faults.push(WindowError::DaysReversed {
                from: window.from.short(),
                to: window.to.short(),
            });
        }
        if start.is_ok() && end.is_ok() && window.start >= window.end {
            faults.push(WindowError::HoursReversed {
                start: crate::campus_time::twelve_hour(u32::from(window.start)),
                end: crate::campus_time::twelve_hour(u32::from(window.end)),
            });
        }
        (window, faults)
    }

    /// The window's days, in order.
    pub fn days(&self) -> Vec<Day> {
        WEEK.into_iter()
            .filter(|d| *d >= self.from && *d <= self.to)
            .collect()
    }

    /// The date of `day` in the week searched, when one is.
    fn date_of(&self, day: Day) -> Option<NaiveDate> {
        let offset = WEEK.iter().position(|d| *d == day)? as u64;
        self.week?.checked_add_days(chrono::Days::new(offset))
    }
}

/// A stretch of one day when people can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub day: Day,
    pub start: u16,
    pub end: u16,
}

impl Slot {
    pub fn minutes(&self) -> u16 {
        self.end - self.start
    }
}

/// A stretch when everyone but one person is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlmostSlot {
    pub slot: Slot,
    /// The index (in the weeks given) of the one who is busy.
    pub busy: usize,
}

/// What the finder found for a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeTime {
    pub all_free: Vec<Slot>,
    pub all_but_one: Vec<AlmostSlot>,
}

/// The weeks a search may be of, when half-term classes make weeks differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermWeeks {
    /// The Mondays of the weeks classes meet in: the term's (`span`), widened
    /// to any meeting's own dates beyond it.
    pub weeks: Vec<NaiveDate>,
    /// The week searched: the one asked for (any day of it), else this one,
    /// else the first.
    pub chosen: NaiveDate,
}

/// The weeks to pick from, when a meeting of `meetings` runs for only part
/// of the term (`span`, its dates when known), or the term has `breaks`
/// (days without classes) and someone has a class; None when every week is
/// alike.
pub fn term_weeks<'a, M: Iterator<Item = &'a Meeting>>(
    meetings: impl Fn() -> M,
    span: Option<TermSpan>,
    breaks: &[TermSpan],
    asked: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<TermWeeks> {
    let half_term = meetings().any(|m| m.part_of_term(span).is_some());
    let a_break = span.is_some_and(|term| {
        breaks
            .iter()
            .any(|b| b.first_day <= term.last_day && term.first_day <= b.last_day)
    });
    let differ = half_term || (a_break && meetings().next().is_some());
    if !differ {
        return None;
    }
    let own = || meetings().filter_map(|m| m.dates);
    let first = own()
        .map(|d| d.first_day)
        .chain(span.map(|s| s.first_day))
        .min()?;
    let last = own()
        .map(|d| d.last_day)
        .chain(span.map(|s| s.last_day))
        .max()?;
    // None for a day in the calendar's first week, whose Monday chrono cannot
    // name (a hand-made `week=-262143-01-01`): such a week is no week here.
    let monday = |d: NaiveDate| d.week(chrono::Weekday::Mon).checked_first_day();
    // A term is some 16 weeks; a year bounds a nonsense span.
    let weeks: Vec<NaiveDate> =
        std::iter::successors(monday(first), |w| w.checked_add_days(chrono::Days::new(7)))
            .take_while(|w| *w <= last)
            .take(53)
            .collect();
    let chosen = [asked.and_then(monday), monday(today)]
        .into_iter()
        .flatten()
        .find(|w| weeks.contains(w))
        .or_else(|| weeks.first().copied())?;
    Some(TermWeeks { weeks, chosen })
}

/// One person's busy stretches on `day`, cut to the window and merged. With
/// the week known, a day of the term's `breaks` (`TERM_BREAKS`) keeps no one
/// busy with a class, as the calendar feed leaves it out.
fn busy_on(week: &[Meeting], day: Day, window: &Window, breaks: &[TermSpan]) -> Vec<(u16, u16)> {
    let date = window.date_of(day);
    let mut spans: Vec<(u16, u16)> = week
        .iter()
        .filter(|m| m.days.contains(&day))
        .filter(|m| {
            date.is_none_or(|date| m.runs_on(date) && !breaks.iter().any(|b| b.contains(date)))
        })
        .map(|m| (m.start.max(window.start), m.end.min(window.end)))
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The free stretches (at least `MIN_MINUTES`) of the people whose weeks are
/// given: when all are free, and when exactly one is busy (the same one the
/// whole stretch). Both lists run day by day, earliest first. `breaks`: the
/// term's days without classes (`busy_on`).
pub fn find(weeks: &[Vec<Meeting>], window: &Window, breaks: &[TermSpan]) -> FreeTime {
    let mut found = FreeTime::default();
    for day in window.days() {
        let busy: Vec<Vec<(u16, u16)>> = weeks
            .iter()
            .map(|w| busy_on(w, day, window, breaks))
            .collect();
        // Cut the day at every start and end: inside each piece, who is busy
        // does not change.
        let mut cuts: Vec<u16> = vec![window.start, window.end];
        cuts.extend(busy.iter().flatten().flat_map(|(s, e)| [*s, *e]));
        cuts.sort_unstable();
        cuts.dedup();
        // (start, end, who is busy) for each piece, neighbours with the same
        // people busy joined.
        let mut pieces: Vec<(u16, u16, Vec<usize>)> = Vec::new();
        for pair in cuts.windows(2) {
            let (s, e) = (pair[0], pair[1]);
            let who: Vec<usize> = busy
                .iter()
                .enumerate()
                .filter(|(_, spans)| spans.iter().any(|(bs, be)| *bs <= s && e <= *be))
                .map(|(i, _)| i)
                .collect();
            match pieces.last_mut() {
                Some(last) if last.1 == s && last.2 == who => last.1 = e,
                _ => pieces.push((s, e, who)),
            }
        }
        for (start, end, who) in pieces {
            let slot = Slot { day, start, end };
            if slot.minutes() < MIN_MINUTES {
                continue;
            }
            match who.as_slice() {
                [] => found.all_free.push(slot),
                [one] => found.all_but_one.push(AlmostSlot { slot, busy: *one }),
                _ => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::ClassId;

    fn at(hhmm: &str) -> u16 {
        let (h, m) = hhmm.split_once(':').unwrap();
        h.parse::<u16>().unwrap() * 60 + m.parse::<u16>().unwrap()
    }

    fn meets(days: &[Day], start: &str, end: &str) -> Meeting {
        Meeting {
            class_id: ClassId::new(),
            position: 0,
            days: days.to_vec(),
            start: at(start),
            end: at(end),
            place: None,
            instructor: None,
            dates: None,
        }
    }

    fn slot(day: Day, start: &str, end: &str) -> Slot {
        Slot {
            day,
            start: at(start),
            end: at(end),
        }
    }

    fn window(from: Day, to: Day, start: &str, end: &str) -> Window {
        Window {
            from,
            to,
            start: at(start),
            end: at(end),
            week: None,
        }
    }

    #[test]
    fn a_break_day_keeps_no_one_busy_in_the_week_searched() {
        use crate::classes::term_dates::TermSpan;
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        // Tue Thu 9:30-10:45 all term; Thanksgiving break Nov 25 to 29.
        let weeks = [vec![meets(&[Day::Tue, Day::Thu], "9:30", "10:45")]];
        let breaks = [TermSpan::new(day(11, 25), day(11, 29)).unwrap()];
        let mut w = window(Day::Tue, Day::Thu, "9:00", "12:00");
        let morning = |d| slot(d, "9:00", "12:00");
        let busy = |d| vec![slot(d, "9:00", "9:30"), slot(d, "10:45", "12:00")];

        // The week of Nov 23: Tuesday has class, Thursday (a break day) not.
        w.week = Some(day(11, 23));
        let found = find(&weeks, &w, &breaks).all_free;
        let mut expected = busy(Day::Tue);
        expected.push(morning(Day::Wed));
        expected.push(morning(Day::Thu));
        assert_eq!(found, expected);

        // Another week keeps both; a typical week (none searched) too.
        let typical: Vec<Slot> = [busy(Day::Tue), vec![morning(Day::Wed)], busy(Day::Thu)].concat();
        w.week = Some(day(11, 30));
        assert_eq!(find(&weeks, &w, &breaks).all_free, typical);
        w.week = None;
        assert_eq!(find(&weeks, &w, &breaks).all_free, typical);
    }

    #[test]
    fn a_half_term_class_keeps_its_student_busy_only_while_it_runs() {
        use crate::classes::term_dates::TermSpan;
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        // First half of Spring: Mon Wed 2:00-3:15, Jan 14 to Mar 4 (a Wednesday).
        let mut first_half = meets(&[Day::Mon, Day::Wed], "14:00", "15:15");
        first_half.dates = TermSpan::new(day(1, 14), day(3, 4));
        let weeks = [vec![first_half], vec![]];
        let busy_monday = |week: Option<NaiveDate>| {
            let mut w = window(Day::Mon, Day::Wed, "13:00", "16:00");
            w.week = week;
            find(&weeks, &w, &[]).all_free
        };
        let whole = vec![
            slot(Day::Mon, "13:00", "14:00"),
            slot(Day::Mon, "15:15", "16:00"),
            slot(Day::Tue, "13:00", "16:00"),
            slot(Day::Wed, "13:00", "14:00"),
            slot(Day::Wed, "15:15", "16:00"),
        ];
        // A typical week, and a week it runs: busy.
        assert_eq!(busy_monday(None), whole);
        assert_eq!(busy_monday(Some(day(2, 9))), whole);
        // Its last week: busy Monday and Wednesday (Mar 2 and 4).
        assert_eq!(busy_monday(Some(day(3, 2))), whole);
        // After it: free all three afternoons.
        assert_eq!(
            busy_monday(Some(day(3, 16))),
            vec![
                slot(Day::Mon, "13:00", "16:00"),
                slot(Day::Tue, "13:00", "16:00"),
                slot(Day::Wed, "13:00", "16:00"),
            ]
        );
        // Its first week begins on the Wednesday: Monday Jan 12 is free.
        let first_week = busy_monday(Some(day(1, 12)));
        assert_eq!(first_week[0], slot(Day::Mon, "13:00", "16:00"));
        assert_eq!(first_week[2], slot(Day::Wed, "13:00", "14:00"));
    }

    #[test]
    fn the_weeks_of_a_term_with_a_half_term_class() {
        use crate::classes::term_dates::TermSpan;
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let term = TermSpan::new(day(1, 14), day(4, 28));
        let mut first_half = meets(&[Day::Mon, Day::Wed], "14:00", "15:15");
        first_half.dates = TermSpan::new(day(1, 14), day(3, 4));
        let meetings = [first_half];
        let weeks = |asked| term_weeks(|| meetings.iter(), term, &[], asked, day(2, 11)).unwrap();
        let all = weeks(None);
        assert_eq!(all.weeks.first(), Some(&day(1, 12)));
        assert_eq!(all.weeks.last(), Some(&day(4, 27)));
        assert_eq!(all.weeks.len(), 16);
        // This week by default; any day of a week picks its Monday.
        assert_eq!(all.chosen, day(2, 9));
        assert_eq!(weeks(Some(day(3, 19))).chosen, day(3, 16));
        // A week outside the term, or one whose Monday the calendar cannot
        // name, is this week: never a panic.
        assert_eq!(weeks(Some(day(8, 3))).chosen, day(2, 9));
        assert_eq!(weeks(Some(NaiveDate::MIN)).chosen, day(2, 9));
        // Every meeting runs the whole term: no weeks to pick.
        let whole = [meets(&[Day::Mon], "9:00", "9:50")];
        assert!(term_weeks(|| whole.iter(), term, &[], None, day(2, 11)).is_none());
        // A break in the term makes its week differ, for anyone with a class.
        let spring_break = [TermSpan::new(day(3, 7), day(3, 15)).unwrap()];
        let weeks = term_weeks(|| whole.iter(), term, &spring_break, None, day(2, 11)).unwrap();
        assert_eq!(weeks.chosen, day(2, 9));
        assert!(weeks.weeks.contains(&day(3, 9)));
        let nobody: [Meeting; 0] = [];
        assert!(term_weeks(|| nobody.iter(), term, &spring_break, None, day(2, 11)).is_none());
    }

    #[test]
    fn nobody_busy_means_the_whole_window_is_free() {
        let found = find(
            &[vec![], vec![]],
            &window(Day::Mon, Day::Tue, "8:00", "18:00"),
            &[],
        );
        assert_eq!(
            found.all_free,
            vec![
                slot(Day::Mon, "8:00", "18:00"),
                slot(Day::Tue, "8:00", "18:00")
            ]
        );
        assert!(found.all_but_one.is_empty());
    }

    #[test]
    fn classes_cut_the_day_and_gaps_under_half_an_hour_are_dropped() {
        let me = vec![
            meets(&[Day::Mon, Day::Wed], "9:00", "9:50"),
            // 10:10: a 20-minute gap after 9:50 is no time to meet.
            meets(&[Day::Mon], "10:10", "11:00"),
        ];
        let friend = vec![
            meets(&[Day::Mon], "13:00", "14:15"),
            // Overlapping meetings of one person merge.
            meets(&[Day::Mon], "14:00", "15:00"),
        ];
        let found = find(
            &[me, friend],
            &window(Day::Mon, Day::Mon, "8:00", "18:00"),
            &[],
        );
        assert_eq!(
            found.all_free,
            vec![
                slot(Day::Mon, "8:00", "9:00"),
                slot(Day::Mon, "11:00", "13:00"),
                slot(Day::Mon, "15:00", "18:00"),
            ]
        );
        assert_eq!(
            found.all_but_one,
            vec![
                AlmostSlot {
                    slot: slot(Day::Mon, "9:00", "9:50"),
                    busy: 0
                },
                AlmostSlot {
                    slot: slot(Day::Mon, "10:10", "11:00"),
                    busy: 0
                },
                AlmostSlot {
                    slot: slot(Day::Mon, "13:00", "15:00"),
                    busy: 1
                },
            ]
        );
    }

    #[test]
    fn all_but_one_changes_when_the_busy_person_changes() {
        let a = vec![meets(&[Day::Tue], "9:00", "10:00")];
        let b = vec![meets(&[Day::Tue], "10:00", "11:00")];
        let c = vec![meets(&[Day::Tue], "9:30", "10:30")];
        let found = find(
            &[a, b, c],
            &window(Day::Tue, Day::Tue, "8:00", "12:00"),
            &[],
        );
        assert_eq!(
            found.all_free,
            vec![
                slot(Day::Tue, "8:00", "9:00"),
                slot(Day::Tue, "11:00", "12:00")
            ]
        );
        // 9:00–9:30 only a is busy (30 min, kept); 10:30–11:00 only b (kept);
        // between them two are busy at once.
        assert_eq!(
            found.all_but_one,
            vec![
                AlmostSlot {
                    slot: slot(Day::Tue, "9:00", "9:30"),
                    busy: 0
                },
                AlmostSlot {
                    slot: slot(Day::Tue, "10:30", "11:00"),
                    busy: 1
                },
            ]
        );
    }

    #[test]
    fn meetings_are_cut_to_the_window_and_other_days_ignored() {
        let me = vec![
            meets(&[Day::Wed], "7:00", "8:45"),
            meets(&[Day::Wed], "17:30", "19:00"),
            meets(&[Day::Thu], "8:00", "18:00"),
        ];
        let found = find(&[me], &window(Day::Wed, Day::Wed, "8:00", "18:00"), &[]);
        assert_eq!(found.all_free, vec![slot(Day::Wed, "8:45", "17:30")]);
        assert_eq!(
            found.all_but_one,
            vec![
                AlmostSlot {
                    slot: slot(Day::Wed, "8:00", "8:45"),
                    busy: 0
                },
                AlmostSlot {
                    slot: slot(Day::Wed, "17:30", "18:00"),
                    busy: 0
                },
            ]
        );
    }

    #[test]
    fn the_window_reads_the_form_and_refuses_what_makes_no_sense() {
        let read = |from, to, start, end| Window::read(from, to, start, end);
        assert_eq!(read(None, None, None, None), (Window::default(), vec![]));
        assert_eq!(
            read(Some("tue"), Some("Sun"), Some("0"), Some("24")),
            (window(Day::Tue, Day::Sun, "0:00", "24:00"), vec![])
        );
        assert_eq!(
            read(Some("Fri"), Some("Mon"), None, None).1,
            vec![WindowError::DaysReversed {
                from: "Fri",
                to: "Mon"
            }]
        );
        assert!(matches!(
            read(None, None, Some("18"), Some("8")).1[..],
            [WindowError::HoursReversed { .. }]
        ));
        assert!(matches!(
            read(None, None, Some("9"), Some("9")).1[..],
            [WindowError::HoursReversed { .. }]
        ));
        assert!(matches!(
            read(None, None, Some("25"), None).1[..],
            [WindowError::NotAnHour(_)]
        ));
        assert!(matches!(
            read(None, None, Some("-1"), None).1[..],
            [WindowError::NotAnHour(_)]
        ));
        // The day's end is no start, nor its first instant an end: each is
        // refused as the hour it is, not as "midnight to 12:00 AM".
        assert_eq!(
            read(None, None, Some("24"), Some("0")).1,
            vec![
                WindowError::NotAnHour("24".into()),
                WindowError::NotAnHour("0".into())
            ]
        );
        assert!(matches!(
            read(Some("Funday"), None, None, None).1[..],
            [WindowError::NotADay(_)]
        ));
        assert_eq!(
            window(Day::Thu, Day::Sat, "8:00", "9:00").days(),
            vec![Day::Thu, Day::Fri, Day::Sat]
        );
    }

    #[test]
    fn a_refused_window_is_shown_back_as_it_was_sent_with_every_fault() {
        // Both ranges the wrong way round: kept so, and both faults told.
        let (sent, faults) = Window::read(Some("Fri"), Some("Mon"), Some("18"), Some("8"));
        assert_eq!(sent, window(Day::Fri, Day::Mon, "18:00", "8:00"));
        assert!(matches!(
            faults[..],
            [
                WindowError::DaysReversed { .. },
                WindowError::HoursReversed { .. }
            ]
        ));
        assert_eq!(
            faults.iter().map(WindowError::in_days).collect::<Vec<_>>(),
            [true, false]
        );
        // What does not read keeps the default, is told, and is not compared
        // (Sat after the default Fri is not a fault of the sender's); the
        // rest is kept.
        let (sent, faults) = Window::read(Some("Sat"), Some("Funday"), Some("25"), Some(" "));
        assert_eq!(sent, window(Day::Sat, Day::Fri, "8:00", "18:00"));
        assert!(matches!(
            faults[..],
            [WindowError::NotADay(_), WindowError::NotAnHour(_)]
        ));
    }
}
