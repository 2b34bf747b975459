//! Campus time: every time the service shows, in the campus time zone
//! (`CAMPUS_TIME_ZONE`), on a 12-hour clock, relative when recent. Times are
//! stored and passed as naive UTC; this module is the one place they become
//! words. It must not read the clock or the environment: `now` and the zone
//! are handed in.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};

/// The campus time zone (an IANA zone), chosen once in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampusTime(Tz);

impl CampusTime {
    /// A zone by its IANA name (`America/New_York`); the error says what was
    /// wrong and, for a mistyped case, the name that was meant.
    pub fn parse(name: &str) -> Result<CampusTime, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err(
                "the time zone name is empty; write an IANA name such as America/New_York".into(),
            );
        }
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(CampusTime(tz));
        }
        let meant = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name));
        Err(match meant {
            Some(tz) => format!(
                "'{name}' is not an IANA time zone name; did you mean {}?",
                tz.name()
            ),
            None => format!(
                "'{name}' is not an IANA time zone name (write a Region/City name such as America/New_York or Europe/London)"
            ),
        })
    }

    /// The zone's IANA name, as configured.
    pub fn zone_name(&self) -> &'static str {
        self.0.name()
    }

    /// For activity: relative when recent ("just now", "5 min ago", "2 h ago"
    /// the same campus day), "yesterday, 4:10 PM", then "Mar 8, 1:30 AM" this
    /// year, "Mar 8, 2025" before.
    pub fn stamp(&self, at: NaiveDateTime, now: NaiveDateTime) -> Stamp {
        let local = self.local(at);
        let label = self.relative_label(&local, at, now);
        stamp_labelled(at, &local, label)
    }

    /// Never relative: "Mar 8, 2026, 1:30 AM".
    pub fn exact(&self, at: NaiveDateTime) -> Stamp {
        let local = self.local(at);
        let mut label = String::with_capacity(24);
        push_exact(&mut label, &local);
        stamp_labelled(at, &local, label)
    }

    /// "1:30 AM".
    pub fn clock(&self, at: NaiveDateTime) -> String {
        let mut out = String::with_capacity(8);
        push_clock(&mut out, &self.local(at));
        out
    }

    /// The zone's abbreviation at `at` ("EST", "EDT"), or its offset ("-03")
    /// where the zone has no abbreviation.
    pub fn abbreviation(&self, at: NaiveDateTime) -> String {
        let mut out = String::with_capacity(5);
        push_abbreviation(&mut out, &self.local(at));
        out
    }

    /// The campus calendar day `at` falls on.
    pub fn date_of(&self, at: NaiveDateTime) -> NaiveDate {
        self.local(at).date_naive()
    }

    /// The instant (naive UTC) a campus calendar day begins. Where daylight
    /// saving skips midnight, the day begins at its first existing minute.
    pub fn start_of_day(&self, date: NaiveDate) -> NaiveDateTime {
        self.at_hour(date, 0)
    }

    /// The instant (naive UTC) the campus clock first reads `hour`:00 on
    /// `date`. Where daylight saving skips that hour, the first whole hour
    /// after it; where it repeats, the first time.
    pub fn at_hour(&self, date: NaiveDate, hour: u32) -> NaiveDateTime {
        let wanted = date.and_time(chrono::NaiveTime::MIN) + Duration::hours(i64::from(hour));
        // A gap is at most a few hours: the first whole hour that exists.
        (0..=3)
            .find_map(|h| {
                self.0
                    .from_local_datetime(&(wanted + Duration::hours(h)))
                    .earliest()
            })
            .map(|t| t.naive_utc())
            .unwrap_or(wanted)
    }

    fn local(&self, at: NaiveDateTime) -> DateTime<Tz> {
        self.0.from_utc_datetime(&at)
    }

    fn relative_label(
        &self,
        local: &DateTime<Tz>,
        at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> String {
        let ago = now - at;
        // A little clock skew between processes is "just now"; further in the
        // future is shown as a date, never as a negative age.
        if ago < Duration::minutes(1) && ago > Duration::minutes(-1) {
            return "just now".into();
        }
        let today = self.date_of(now);
        let mut out = String::with_capacity(24);
        if ago > Duration::zero() {
            if ago < Duration::hours(1) {
                push_number(&mut out, ago.num_minutes());
                out.push_str(" min ago");
                return out;
            }
            if local.date_naive() == today {
                push_number(&mut out, ago.num_hours());
                out.push_str(" h ago");
                return out;
            }
            if Some(local.date_naive()) == today.pred_opt() {
                out.push_str("yesterday, ");
                push_clock(&mut out, local);
                return out;
            }
        }
        push_month_day(&mut out, local);
        out.push_str(", ");
        if local.year() == today.year() {
            push_clock(&mut out, local);
        } else {
            push_number(&mut out, local.year());
        }
        out
    }
}

impl Default for CampusTime {
    /// The University of Virginia's zone.
    fn default() -> Self {
        CampusTime(chrono_tz::America::New_York)
    }
}

// The words below are written into one buffer each, not through `format!`:
// a chat page stamps about fifty times, and the formatting machinery with an
// allocation per part was a sixth of the page's instructions (callgrind,
// `bench/instructions`).

/// One stamp's three forms; `local` is `at` on the campus clock.
fn stamp_labelled(at: NaiveDateTime, local: &DateTime<Tz>, label: String) -> Stamp {
    let mut iso = String::with_capacity(20);
    push_padded(&mut iso, at.year(), 4);
    iso.push('-');
    push_padded(&mut iso, at.month(), 2);
    iso.push('-');
    push_padded(&mut iso, at.day(), 2);
    iso.push('T');
    push_padded(&mut iso, at.hour(), 2);
    iso.push(':');
    push_padded(&mut iso, at.minute(), 2);
    iso.push(':');
    push_padded(&mut iso, at.second(), 2);
    iso.push('Z');
    let mut title = String::with_capacity(32);
    push_exact(&mut title, local);
    title.push(' ');
    push_abbreviation(&mut title, local);
    Stamp { iso, label, title }
}

/// "Mar 8, 2026, 1:30 AM".
fn push_exact(out: &mut String, local: &DateTime<Tz>) {
    push_month_day(out, local);
    out.push_str(", ");
    push_number(out, local.year());
    out.push_str(", ");
    push_clock(out, local);
}

/// "Mar 8". Written out rather than through `format("%b %-d")`: a chat
/// page stamps every thread three ways, and parsing the format strings each
/// time was most of the 8% of the page's CPU that stamps took (perf).
fn push_month_day(out: &mut String, local: &DateTime<Tz>) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    out.push_str(MONTHS[local.month0() as usize]);
    out.push(' ');
    push_number(out, local.day());
}

/// "1:30 AM", "12:00 PM".
fn push_clock(out: &mut String, local: &DateTime<Tz>) {
    push_twelve_hour(out, local.hour() * 60 + local.minute());
}

/// The zone's abbreviation ("EST"), or its offset ("-03") where it has none.
fn push_abbreviation(out: &mut String, local: &DateTime<Tz>) {
    match local.offset().abbreviation() {
        Some(name) => out.push_str(name),
        None => {
            use fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(out, "{}", local.format("%Z"));
        }
    }
}

/// A whole number in decimal, as `Display` writes it.
fn push_number(out: &mut String, n: impl Into<i64>) {
    push_padded(out, n, 1);
}

/// A whole number in decimal, with leading zeros to `width` characters, the
/// sign counted, as `format!("{n:0width$}")` writes it.
fn push_padded(out: &mut String, n: impl Into<i64>, width: usize) {
    let n: i64 = n.into();
    let sign = usize::from(n < 0);
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in (digits.len() - at + sign)..width {
        out.push('0');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// A wall-clock time of day on a 12-hour clock: "11:00 AM"; the end of the
/// day (24:00, as an hour range's end) is "midnight", not "12:00 AM".
pub fn twelve_hour(minutes: u32) -> String {
    let mut out = String::with_capacity(8);
    push_twelve_hour(&mut out, minutes);
    out
}

fn push_twelve_hour(out: &mut String, minutes: u32) {
    if minutes == 24 * 60 {
        out.push_str("midnight");
        return;
    }
    let (hour, minute, half) = twelve_hour_parts(minutes);
    push_number(out, hour);
    out.push(':');
    push_padded(out, minute, 2);
    out.push(' ');
    out.push_str(half);
}

fn twelve_hour_parts(minutes: u32) -> (u32, u32, &'static str) {
    let minutes = minutes % (24 * 60);
    let (hour, minute) = (minutes / 60, minutes % 60);
    let half = if hour < 12 { "AM" } else { "PM" };
    let hour = match hour % 12 {
        0 => 12,
        h => h,
    };
    (hour, minute, half)
}

/// One shown time: the exact instant for machines, words for people, and the
/// exact campus time (with its zone) on hover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The exact instant in UTC: "2026-03-08T06:30:00Z".
    pub iso: String,
    /// What the page shows: "5 min ago", "Mar 8, 1:30 AM".
    pub label: String,
    /// The exact campus time with the zone's abbreviation: "Mar 8, 2026, 1:30 AM EST".
    pub title: String,
}

/// Writes `<time datetime="{iso}" title="{title}">{label}</time>`, every part
/// HTML-escaped, so templates write `{{ m.posted }}`. Text emails and flash
/// messages use `label` instead.
impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"<time datetime="{}" title="{}">{}</time>"#,
            Escaped(&self.iso),
            Escaped(&self.title),
            Escaped(&self.label)
        )
    }
}

// The one tie to Askama, a marker trait: Display above escapes every part
// itself, so templates must not escape the element again.
impl askama::filters::HtmlSafe for Stamp {}

/// Text escaped for HTML element content and quoted attributes.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs between the characters to escape are written whole.
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            // Each of them is one byte: the next character starts after it.
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Meeting times on a 12-hour clock: "10:00–10:50 AM", "11:00 AM–12:15 PM"
/// (minutes since midnight, wall-clock, no zone).
pub fn meeting_range(start_minutes: u32, end_minutes: u32) -> String {
    let (sh, sm, s_half) = twelve_hour_parts(start_minutes);
    let (eh, _, e_half) = twelve_hour_parts(end_minutes);
    let mut out = String::with_capacity(24);
    push_number(&mut out, sh);
    out.push(':');
    push_padded(&mut out, sm, 2);
    // "Midnight" names no half, so the start always says its own; so does
    // a start in the midnight hour before an end past it: "12:00–10:00 AM"
    // reads as starting at noon.
    let from_midnight = start_minutes < 60 && eh != 12;
    if s_half != e_half || end_minutes == 24 * 60 || from_midnight {
        out.push(' ');
        out.push_str(s_half);
    }
    out.push('\u{2013}');
    push_twelve_hour(&mut out, end_minutes);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_hour_is_its_first_instant_and_a_skipped_one_the_next_that_exists() {
        let campus = CampusTime::parse("America/New_York").unwrap();
        let day = |m, d| NaiveDate::from_ymd_opt(2027, m, d).unwrap();
        let utc = |m, d, h| day(m, d).and_hms_opt(h, 0, 0).unwrap();
        // 5 PM in winter and in summer.
        assert_eq!(campus.at_hour(day(1, 12), 17), utc(1, 12, 22));
        assert_eq!(campus.at_hour(day(7, 12), 17), utc(7, 12, 21));
        // 2 AM does not exist on March 14: 3 AM EDT.
        assert_eq!(campus.at_hour(day(3, 14), 2), utc(3, 14, 7));
        // 1 AM comes twice on November 7: the first, in EDT.
        assert_eq!(campus.at_hour(day(11, 7), 1), utc(11, 7, 5));
        // Midnight.
        assert_eq!(
            campus.at_hour(day(1, 12), 0),
            campus.start_of_day(day(1, 12))
        );
    }

    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn campus() -> CampusTime {
        CampusTime::default()
    }

    #[test]
    fn the_default_is_new_york_and_names_parse_back() {
        assert_eq!(campus().zone_name(), "America/New_York");
        let la = CampusTime::parse("America/Los_Angeles").unwrap();
        assert_eq!(la.zone_name(), "America/Los_Angeles");
        assert_eq!(CampusTime::parse(" UTC ").unwrap().zone_name(), "UTC");
    }

    #[test]
    fn a_bad_zone_name_says_what_was_wrong() {
        let err = CampusTime::parse("Mars/Olympus_Mons").unwrap_err();
        assert!(
            err.contains("Mars/Olympus_Mons") && err.contains("America/New_York"),
            "{err}"
        );
        let err = CampusTime::parse("america/new_york").unwrap_err();
        assert!(err.contains("did you mean America/New_York?"), "{err}");
        let err = CampusTime::parse("  ").unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn daylight_saving_moves_the_clock_and_the_abbreviation() {
        let before = campus().exact(utc("2026-03-08 06:30"));
        assert_eq!(before.label, "Mar 8, 2026, 1:30 AM");
        assert_eq!(before.title, "Mar 8, 2026, 1:30 AM EST");
        assert_eq!(before.iso, "2026-03-08T06:30:00Z");
        let after = campus().exact(utc("2026-03-09 06:30"));
        assert_eq!(after.label, "Mar 9, 2026, 2:30 AM");
        assert_eq!(after.title, "Mar 9, 2026, 2:30 AM EDT");
        assert_eq!(campus().abbreviation(utc("2026-03-09 06:30")), "EDT");
        // The autumn change: 1:30 AM happens twice, once in each offset.
        assert_eq!(
            campus().exact(utc("2026-11-01 05:30")).title,
            "Nov 1, 2026, 1:30 AM EDT"
        );
        assert_eq!(
            campus().exact(utc("2026-11-01 06:30")).title,
            "Nov 1, 2026, 1:30 AM EST"
        );
    }

    #[test]
    fn midnight_and_noon_read_as_twelve() {
        assert_eq!(campus().clock(utc("2026-01-15 05:00")), "12:00 AM");
        assert_eq!(campus().clock(utc("2026-01-15 17:00")), "12:00 PM");
        assert_eq!(campus().clock(utc("2026-01-15 05:59")), "12:59 AM");
        assert_eq!(campus().clock(utc("2026-01-15 18:05")), "1:05 PM");
        assert_eq!(campus().clock(utc("2026-01-16 04:59")), "11:59 PM");
    }

    #[test]
    fn another_zone_shifts_every_time() {
        let la = CampusTime::parse("America/Los_Angeles").unwrap();
        assert_eq!(la.clock(utc("2026-03-08 06:30")), "10:30 PM");
        assert_eq!(
            la.exact(utc("2026-03-08 06:30")).title,
            "Mar 7, 2026, 10:30 PM PST"
        );
    }

    #[test]
    fn recent_activity_is_relative_up_to_the_minute_and_hour_cut_offs() {
        let now = utc("2026-04-10 18:00"); // 2:00 PM EDT
        let at = |s: &str| campus().stamp(utc(s), now).label;
        assert_eq!(at("2026-04-10 18:00"), "just now");
        assert_eq!(
            campus().stamp(now - Duration::seconds(59), now).label,
            "just now"
        );
        // A little clock skew is still "just now".
        assert_eq!(
            campus().stamp(now + Duration::seconds(30), now).label,
            "just now"
        );
        assert_eq!(at("2026-04-10 17:59"), "1 min ago");
        assert_eq!(at("2026-04-10 17:55"), "5 min ago");
        assert_eq!(
            campus().stamp(now - Duration::seconds(3599), now).label,
            "59 min ago"
        );
        assert_eq!(at("2026-04-10 17:00"), "1 h ago");
        assert_eq!(at("2026-04-10 16:00"), "2 h ago");
        // 12:00 AM EDT is still today.
        assert_eq!(at("2026-04-10 04:00"), "14 h ago");
    }

    #[test]
    fn yesterday_then_dates_this_year_then_dates_with_the_year() {
        let now = utc("2026-04-10 18:00"); // Apr 10, 2:00 PM EDT
        let at = |s: &str| campus().stamp(utc(s), now).label;
        // 11:59 PM EDT the day before.
        assert_eq!(at("2026-04-10 03:59"), "yesterday, 11:59 PM");
        assert_eq!(at("2026-04-09 20:10"), "yesterday, 4:10 PM");
        assert_eq!(at("2026-04-09 04:00"), "yesterday, 12:00 AM");
        assert_eq!(at("2026-04-09 03:59"), "Apr 8, 11:59 PM");
        assert_eq!(at("2026-03-08 06:30"), "Mar 8, 1:30 AM");
        assert_eq!(at("2026-01-01 05:00"), "Jan 1, 12:00 AM");
        assert_eq!(at("2026-01-01 04:59"), "Dec 31, 2025");
        assert_eq!(at("2025-03-08 06:30"), "Mar 8, 2025");
        // Far in the future (a wrong clock): a date, never "-3 h ago".
        assert_eq!(at("2026-04-10 21:00"), "Apr 10, 5:00 PM");
    }

    #[test]
    fn relative_days_follow_the_campus_calendar_not_utc() {
        // 12:30 AM EDT on Apr 11 (04:30 UTC): 11:00 PM EDT on Apr 10 is yesterday,
        // though both are the same UTC day, and only 90 minutes ago.
        let now = utc("2026-04-11 04:30");
        assert_eq!(
            campus().stamp(utc("2026-04-11 03:00"), now).label,
            "yesterday, 11:00 PM"
        );
        // The new year begins at campus midnight, not UTC midnight.
        let new_year = utc("2027-01-01 05:30"); // Jan 1, 12:30 AM EST
        assert_eq!(
            campus().stamp(utc("2026-12-31 12:00"), new_year).label,
            "yesterday, 7:00 AM"
        );
        assert_eq!(
            campus().stamp(utc("2026-12-30 12:00"), new_year).label,
            "Dec 30, 2026"
        );
    }

    #[test]
    fn a_stamp_is_a_time_element_with_every_part_escaped() {
        let stamp = campus().stamp(utc("2026-03-08 06:30"), utc("2026-04-10 18:00"));
        assert_eq!(
            stamp.to_string(),
            r#"<time datetime="2026-03-08T06:30:00Z" title="Mar 8, 2026, 1:30 AM EST">Mar 8, 1:30 AM</time>"#
        );
        let odd = Stamp {
            iso: "\"><script>".into(),
            label: "<b>&'".into(),
            title: "a\"b".into(),
        };
        assert_eq!(
            odd.to_string(),
            r#"<time datetime="&quot;&gt;&lt;script&gt;" title="a&quot;b">&lt;b&gt;&amp;&#39;</time>"#
        );
    }

    #[test]
    fn askama_writes_a_stamp_as_it_is() {
        use askama::Template;
        #[derive(Template)]
        #[template(
            source = "{{ at }}|{% for s in list %}{{ s }}{% endfor %}",
            ext = "html"
        )]
        struct Page {
            at: Stamp,
            list: Vec<Stamp>,
        }
        let stamp = campus().exact(utc("2026-03-08 06:30"));
        let html = Page {
            at: stamp.clone(),
            list: vec![stamp.clone()],
        }
        .render()
        .unwrap();
        assert_eq!(html, format!("{stamp}|{stamp}"));
        assert!(html.starts_with("<time datetime="), "{html}");
    }

    #[test]
    fn campus_days_begin_at_campus_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(campus().start_of_day(day), utc("2026-03-08 05:00"));
        let summer = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(campus().start_of_day(summer), utc("2026-07-01 04:00"));
        assert_eq!(
            campus().date_of(utc("2026-07-01 03:59")),
            summer.pred_opt().unwrap()
        );
        // Where daylight saving skips midnight, the day begins at 1:00 AM.
        let santiago = CampusTime::parse("America/Santiago").unwrap();
        let skipped = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(santiago.clock(santiago.start_of_day(skipped)), "1:00 AM");
    }

    #[test]
    fn numbers_read_as_display_writes_them_and_a_zone_without_a_name_by_its_offset() {
        for (n, width, want) in [
            (0, 1, "0"),
            (7, 2, "07"),
            (42, 2, "42"),
            (999, 4, "0999"),
            (2026, 4, "2026"),
            (-5, 1, "-5"),
            (-5, 4, "-005"),
            (-1234, 4, "-1234"),
            (i64::from(u32::MAX), 1, "4294967295"),
        ] {
            let mut out = String::new();
            push_padded(&mut out, n, width);
            assert_eq!(out, want);
            assert_eq!(out, format!("{n:0width$}"));
        }
        let sao_paulo = CampusTime::parse("America/Sao_Paulo").unwrap();
        assert_eq!(sao_paulo.abbreviation(utc("2026-03-08 06:30")), "-03");
        assert_eq!(
            sao_paulo.exact(utc("2026-03-08 06:30")).title,
            "Mar 8, 2026, 3:30 AM -03"
        );
    }

    #[test]
    fn meetings_read_on_a_twelve_hour_clock() {
        assert_eq!(meeting_range(600, 650), "10:00\u{2013}10:50 AM");
        assert_eq!(meeting_range(660, 735), "11:00 AM\u{2013}12:15 PM");
        assert_eq!(meeting_range(720, 770), "12:00\u{2013}12:50 PM");
        assert_eq!(meeting_range(0, 50), "12:00\u{2013}12:50 AM");
        assert_eq!(meeting_range(0, 600), "12:00 AM\u{2013}10:00 AM");
        assert_eq!(meeting_range(720, 840), "12:00\u{2013}2:00 PM");
        assert_eq!(meeting_range(1380, 1440), "11:00 PM\u{2013}midnight");
        assert_eq!(meeting_range(480, 1440), "8:00 AM\u{2013}midnight");
        assert_eq!(meeting_range(0, 1440), "12:00 AM\u{2013}midnight");
        assert_eq!(twelve_hour(24 * 60), "midnight");
        assert_eq!(meeting_range(1110, 1185), "6:30\u{2013}7:45 PM");
    }
}
