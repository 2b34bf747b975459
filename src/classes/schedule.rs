//! The weekly timetable: SIS meeting patterns ("MoWeFr", "10.00.00.000000-05:00")
//! read into days and minutes, and overlapping meetings given side-by-side lanes.

/// A teaching day. The grid shows Monday to Friday; weekend meetings are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const WEEKDAYS: [Day; 5] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri];

    pub fn short(self) -> &'static str {
        match self {
            Day::Mon => "Mon",
            Day::Tue => "Tue",
            Day::Wed => "Wed",
            Day::Thu => "Thu",
            Day::Fri => "Fri",
            Day::Sat => "Sat",
            Day::Sun => "Sun",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Reads SIS day codes ("MoWeFr", "TuTh", "Sa"); "TBA", empty or unknown text is no days.
pub fn parse_days(raw: &str) -> Vec<Day> {
    let text = raw.trim();
    let mut days = Vec::new();
    let mut i = 0;
    while i + 2 <= text.len() && text.is_char_boundary(i + 2) {
        let day = match &text[i..i + 2] {
            "Mo" => Day::Mon,
            "Tu" => Day::Tue,
            "We" => Day::Wed,
            "Th" => Day::Thu,
            "Fr" => Day::Fri,
            "Sa" => Day::Sat,
            "Su" => Day::Sun,
            _ => return Vec::new(),
        };
        if !days.contains(&day) {
            days.push(day);
        }
        i += 2;
    }
    if i != text.len() {
        return Vec::new();
    }
    days.sort();
    days
}

/// Minutes after midnight from "10.00.00.000000-05:00", "10:00", "10:00:00",
/// "1:30PM" or "13.30"; None for empty, "TBA" or anything unreadable.
pub fn parse_time(raw: &str) -> Option<u16> {
    let text = raw.trim();
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let h_end = digits_end(text);
    if h_end == 0 || h_end > 2 {
        return None;
    }
    let hour: u16 = text[..h_end].parse().ok()?;
    let rest = &text[h_end..];
    let (minute, rest) = match rest.strip_prefix(['.', ':']) {
        Some(after) => {
            let m_end = digits_end(after);
            if m_end != 2 {
                return None;
            }
            (after[..2].parse::<u16>().ok()?, &after[2..])
        }
        None => (0, rest),
    };
    let suffix = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ':');
    let suffix = suffix.trim().to_ascii_uppercase();
    let hour = if suffix.starts_with("PM") && hour < 12 {
        hour + 12
    } else if suffix.starts_with("AM") && hour == 12 {
        0
    } else {
        hour
    };
    (hour < 24 && minute < 60).then_some(hour * 60 + minute)
}

/// "10:00", "13:30".
pub fn format_minutes(minutes: u16) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// One meeting to place: an opaque key (the caller's index), its days and times.
#[derive(Debug, Clone)]
pub struct Slot {
    pub key: usize,
    pub day: Day,
    pub start: u16,
    pub end: u16,
}

/// A placed meeting: in a cluster of `lanes` overlapping meetings it takes `lane`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub key: usize,
    pub day: Day,
    /// The slot's own times, unchanged: the timetable writes a meeting's
    /// times once and shows them on its every block.
    pub start: u16,
    pub end: u16,
    pub lane: usize,
    pub lanes: usize,
}

/// The most lanes drawn side by side; more overlapping meetings share lanes.
pub const MAX_LANES: usize = 6;

/// Gives overlapping meetings of a day separate lanes. Meetings that overlap,
/// directly or through a chain, form a cluster drawn `lanes` wide.
pub fn lay_out(mut slots: Vec<Slot>) -> Vec<Placed> {
    slots.sort_by_key(|s| (s.day, s.start, s.end, s.key));
    let mut placed: Vec<Placed> = Vec::with_capacity(slots.len());
    let mut cluster_start = 0;
    let mut lane_ends: Vec<u16> = Vec::new();
    let mut cluster_end = 0u16;
    let mut cluster_day = None;
    let close = |placed: &mut Vec<Placed>, from: usize, lanes: usize| {
        for p in &mut placed[from..] {
            p.lanes = lanes.clamp(1, MAX_LANES);
        }
    };
    for slot in slots {
        let new_cluster = cluster_day != Some(slot.day) || slot.start >= cluster_end;
        if new_cluster {
            close(&mut placed, cluster_start, lane_ends.len());
            cluster_start = placed.len();
            lane_ends.clear();
            cluster_end = 0;
            cluster_day = Some(slot.day);
        }
        let lane = match lane_ends.iter().position(|end| *end <= slot.start) {
            Some(free) => {
                lane_ends[free] = slot.end;
                free
            }
            None => {
                lane_ends.push(slot.end);
                lane_ends.len() - 1
            }
        };
        cluster_end = cluster_end.max(slot.end);
        placed.push(Placed {
            key: slot.key,
            day: slot.day,
            start: slot.start,
            end: slot.end,
            lane: lane % MAX_LANES,
            lanes: 1,
        });
    }
    close(&mut placed, cluster_start, lane_ends.len());
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sis_days() {
        assert_eq!(parse_days("MoWeFr"), vec![Day::Mon, Day::Wed, Day::Fri]);
        assert_eq!(parse_days("TuTh"), vec![Day::Tue, Day::Thu]);
        assert_eq!(parse_days("Sa"), vec![Day::Sat]);
        assert!(parse_days("TBA").is_empty());
        assert!(parse_days("").is_empty());
        assert!(parse_days("Mo We").is_empty());
        assert!(parse_days("Moé").is_empty());
    }

    #[test]
    fn reads_sis_and_plain_times() {
        assert_eq!(parse_time("10.00.00.000000-05:00"), Some(600));
        assert_eq!(parse_time("15.30.00.000000"), Some(930));
        assert_eq!(parse_time("10:50"), Some(650));
        assert_eq!(parse_time("13:00:00"), Some(780));
        assert_eq!(parse_time("1:30PM"), Some(810));
        assert_eq!(parse_time("12:15 am"), Some(15));
        for bad in ["", "TBA", "25:00", "10:5", "x", "123:00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlapping_meetings_get_lanes_side_by_side() {
        let slot = |key, day, start, end| Slot {
            key,
            day,
            start,
            end,
        };
        let placed = lay_out(vec![
            slot(0, Day::Mon, 600, 650),
            slot(1, Day::Mon, 630, 720),
            slot(2, Day::Mon, 660, 700),
            slot(3, Day::Mon, 800, 850),
            slot(4, Day::Tue, 600, 650),
        ]);
        let by_key = |k| placed.iter().find(|p| p.key == k).unwrap();
        assert_eq!((by_key(0).lane, by_key(0).lanes), (0, 2));
        assert_eq!((by_key(1).lane, by_key(1).lanes), (1, 2));
        assert_eq!((by_key(2).lane, by_key(2).lanes), (0, 2));
        assert_eq!((by_key(3).lane, by_key(3).lanes), (0, 1));
        assert_eq!((by_key(4).lane, by_key(4).lanes), (0, 1));
    }
}
