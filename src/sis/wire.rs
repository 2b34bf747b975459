//! The SIS class search's JSON as it comes: typed pages and sections that
//! accept both page shapes (`{"classes": [...]}` and the older bare list) and
//! the format's placeholders. Pure parsing: no HTTP, no files, no database.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One page of sections, whichever shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub sections: Vec<SisSection>,
    /// Only the current shape says how many pages there are.
    pub page_count: Option<u32>,
}

/// A subject the term offers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubjectOption {
    pub subject: String,
    #[serde(default, deserialize_with = "text")]
    pub descr: Option<String>,
}

/// One section as SIS describes it (the fields the catalog uses; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisSection {
    #[serde(default, deserialize_with = "text")]
    pub strm: Option<String>,
    #[serde(deserialize_with = "class_number")]
    pub class_nbr: u32,
    #[serde(default, deserialize_with = "text")]
    pub subject: Option<String>,
    #[serde(deserialize_with = "required_text")]
    pub catalog_nbr: String,
    #[serde(default, deserialize_with = "text")]
    pub class_section: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub descr: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub topic: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub component: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub section_type: Option<String>,
    #[serde(default, deserialize_with = "count")]
    pub class_capacity: Option<i32>,
    #[serde(default, deserialize_with = "count")]
    pub enrollment_total: Option<i32>,
    #[serde(default, deserialize_with = "count")]
    pub enrollment_available: Option<i32>,
    #[serde(default, deserialize_with = "units")]
    pub units: Option<Units>,
    #[serde(default, deserialize_with = "list")]
    pub instructors: Vec<SisInstructor>,
    #[serde(default, deserialize_with = "list")]
    pub meetings: Vec<SisMeeting>,
    /// The section's first day of classes ("01/14/2026"); None when absent or unreadable.
    #[serde(default, deserialize_with = "sis_date")]
    pub start_dt: Option<chrono::NaiveDate>,
    /// The section's last day of classes.
    #[serde(default, deserialize_with = "sis_date")]
    pub end_dt: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisInstructor {
    /// `None` when SIS says `-` (no instructor).
    #[serde(default, deserialize_with = "person")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
}

/// One weekly meeting pattern. Every "not known yet" form is `None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SisMeeting {
    #[serde(default, deserialize_with = "days")]
    pub days: Option<String>,
    #[serde(default, deserialize_with = "wall_time")]
    pub start_time: Option<WallTime>,
    #[serde(default, deserialize_with = "wall_time")]
    pub end_time: Option<WallTime>,
    #[serde(default, deserialize_with = "place")]
    pub facility_descr: Option<String>,
    /// The meeting's instructors, in SIS's order; empty when "To Be Announced".
    #[serde(default, deserialize_with = "people")]
    pub instructor: Vec<String>,
    /// The meeting's own first and last day (a half-term course's are not
    /// the term's); None when absent or unreadable.
    #[serde(default, deserialize_with = "sis_date")]
    pub start_dt: Option<chrono::NaiveDate>,
    #[serde(default, deserialize_with = "sis_date")]
    pub end_dt: Option<chrono::NaiveDate>,
}

/// Credit hours: fixed, or a range such as `1 - 12` for independent study.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Units {
    Fixed(f32),
    Range(f32, f32),
}

/// An Eastern wall-clock time of day, as SIS means it (its offset is meaningless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WallTime {
    pub hour: u8,
    pub minute: u8,
}

impl std::fmt::Display for WallTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl WallTime {
    /// `15.30.00.000000-05:00`, `15.30.00.000000`, `15.30.00`, `15:30`; the
    /// offset is always -05:00, even in summer, so it is ignored.
    pub fn parse(raw: &str) -> Result<Option<WallTime>, String> {
        let text = raw.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("TBA") {
            return Ok(None);
        }
        let clock = text.find(['-', '+', 'Z']).map_or(text, |at| &text[..at]);
        let mut parts = clock.split(['.', ':']);
        let hour = parts.next().and_then(|h| h.parse::<u8>().ok());
        let minute = parts.next().and_then(|m| m.parse::<u8>().ok());
        match (hour, minute) {
            (Some(hour), Some(minute)) if hour < 24 && minute < 60 => {
                Ok(Some(WallTime { hour, minute }))
            }
            _ => Err(format!("'{raw}' is not a time of day")),
        }
    }
}

impl Units {
    /// `3`, or a range `1 - 12`; None for anything else.
    pub fn parse(raw: &str) -> Option<Units> {
        let text = raw.trim();
        match text.split_once('-') {
            Some((low, high)) => Some(Units::Range(
                low.trim().parse().ok()?,
                high.trim().parse().ok()?,
            )),
            None => text.parse().ok().map(Units::Fixed),
        }
    }
}

/// The current shape `{"classes": [...], "pageCount": N}` or the older bare
/// array (`[]` past the end). An object without `classes` is an error, not an
/// empty page: reading an error document as "no sections" would deactivate them.
pub fn parse_page(value: Value) -> Result<Page, String> {
    let (items, page_count) = match value {
        Value::Array(items) => (items, None),
        Value::Object(mut map) => {
            let items = match map.remove("classes") {
                Some(Value::Array(items)) => items,
                Some(other) => return Err(format!("\"classes\" is {}, not a list", kind(&other))),
                None => {
                    let keys: Vec<&String> = map.keys().take(5).collect();
                    return Err(format!("an object without \"classes\" (keys: {keys:?})"));
                }
            };
            let page_count = match map.get("pageCount") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_u64().map(|n| n.min(u32::MAX as u64) as u32),
                Some(Value::String(s)) => s.trim().parse().ok(),
                Some(_) => None,
            };
            (items, page_count)
        }
        other => {
            return Err(format!(
                "expected an object with \"classes\" or a list of sections, got {}",
                kind(&other)
            ))
        }
    };
    let sections = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let number = item.get("class_nbr").map(|n| n.to_string());
            serde_json::from_value::<SisSection>(item).map_err(|e| match number {
                Some(n) => format!("section {} (class_nbr {n}): {e}", i + 1),
                None => format!("section {}: {e}", i + 1),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        sections,
        page_count,
    })
}

/// `{"subjects": [{"subject": "CS", "descr": "..."}]}` (or the bare list).
pub fn parse_options(value: Value) -> Result<Vec<SubjectOption>, String> {
    let items = match value {
        Value::Object(mut map) => match map.remove("subjects") {
            Some(Value::Array(items)) => items,
            _ => return Err("an object without a \"subjects\" list".to_string()),
        },
        Value::Array(items) => items,
        other => return Err(format!("expected a subject list, got {}", kind(&other))),
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value::<SubjectOption>(item).map_err(|e| e.to_string()))
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// Field readers. PeopleSoft omits fields, sends null, numbers as strings, and
// placeholders ("TBA", "***", "-") for "not known yet"; each reader maps those
// to None and refuses only what cannot be read at all.

/// Text as shown: trimmed, a tab read as a space, and other control characters
/// dropped (PeopleSoft text can carry a stray NUL or vertical tab, and
/// PostgreSQL refuses a NUL in any text, which would fail the subject). Line
/// breaks stay: they separate the names in an instructor string.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(shown(&s)).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn shown(raw: &str) -> String {
    raw.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            '\n' | '\r' => Some(c),
            // Nor may SIS's text reorder what follows it on our pages (a room
            // "\u{202E}Rice 130" shown backwards): the overrides and
            // isolates go, as they are refused in the chat.
            c if c.is_control() || crate::chat::content::is_direction_control(c) => None,
            c => Some(c),
        })
        .collect::<String>()
        .trim()
        .to_string()
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d)?.ok_or_else(|| serde::de::Error::custom("is empty"))
}

fn class_number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = Value::deserialize(d)?;
    let number = match &value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number
        .filter(|n| (1..=u32::MAX as u64).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| serde::de::Error::custom(format!("class_nbr {value} is not a class number")))
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a count"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a count"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "{} is not a count",
            kind(&other)
        ))),
    }
}

fn units<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Units>, D::Error> {
    // Units are informative only: an odd value is dropped, not fatal.
    Ok(text(d)?.as_deref().and_then(Units::parse))
}

fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn person<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(d)?.filter(|name| !is_nobody(name)))
}

fn is_nobody(name: &str) -> bool {
    name == "-" || name.eq_ignore_ascii_case("To Be Announced") || name.eq_ignore_ascii_case("TBA")
}

/// One string, several names joined with `",\n\r"`.
fn people<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(split_people(text(d)?.as_deref().unwrap_or("")))
}

/// The names in a joined instructor string, placeholders dropped.
pub fn split_people(joined: &str) -> Vec<String> {
    joined
        .split(['\n', '\r'])
        .map(|name| name.trim().trim_end_matches(',').trim())
        .filter(|name| !name.is_empty() && !is_nobody(name))
        .map(str::to_string)
        .collect()
}

fn place<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(d)?.filter(|p| p != "***" && !p.eq_ignore_ascii_case("TBA")))
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(days) = text(d)? else {
        return Ok(None);
    };
    if days.eq_ignore_ascii_case("TBA") {
        return Ok(None);
    }
    let valid = days.len() % 2 == 0
        && days
            .as_bytes()
            .chunks(2)
            .all(|day| matches!(day, b"Mo" | b"Tu" | b"We" | b"Th" | b"Fr" | b"Sa" | b"Su"));
    if valid {
        Ok(Some(days))
    } else {
        Err(serde::de::Error::custom(format!(
            "days '{days}' is not a run of Mo Tu We Th Fr Sa Su"
        )))
    }
}

/// `MM/DD/YYYY` (as SIS writes dates), or ISO `YYYY-MM-DD`. Dates only inform
/// the calendar, so an odd one is dropped rather than failing the section.
fn sis_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    Ok(text(d)?.and_then(|raw| {
        chrono::NaiveDate::parse_from_str(&raw, "%m/%d/%Y")
            .or_else(|_| chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d"))
            .ok()
    }))
}

fn wall_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WallTime>, D::Error> {
    match text(d)? {
        None => Ok(None),
        Some(raw) => WallTime::parse(&raw).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_keep_the_wall_clock_and_drop_the_offset() {
        let t = |s| WallTime::parse(s).unwrap().map(|t| t.to_string());
        assert_eq!(t("15.30.00.000000-05:00").as_deref(), Some("15:30"));
        assert_eq!(t("09.05.00.000000").as_deref(), Some("09:05"));
        assert_eq!(t("9:05").as_deref(), Some("09:05"));
        assert_eq!(t(""), None);
        assert_eq!(t("TBA"), None);
        assert!(WallTime::parse("25.00.00").is_err());
        assert!(WallTime::parse("noon").is_err());
    }

    #[test]
    fn units_may_be_a_range() {
        assert_eq!(Units::parse("3"), Some(Units::Fixed(3.0)));
        assert_eq!(Units::parse("1 - 12"), Some(Units::Range(1.0, 12.0)));
        assert_eq!(Units::parse("lots"), None);
    }

    #[test]
    fn several_instructors_in_one_string_are_split() {
        assert_eq!(
            split_people("Grace Hopper,\n\rAlan Turing"),
            vec!["Grace Hopper", "Alan Turing"]
        );
        assert!(split_people("To Be Announced").is_empty());
        assert!(split_people("-").is_empty());
    }

    fn minimal(extra: Value) -> Value {
        let mut section = json!({"class_nbr": 1, "catalog_nbr": "1010"});
        section
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        section
    }

    #[test]
    fn control_characters_are_dropped_and_tabs_read_as_spaces() {
        let page = parse_page(json!([minimal(json!({
            "descr": "\u{0}Data\tStructures\u{b} 1 ",
            "instructors": [{"name": "Ada Lovelace,\n\u{7}Grace Hopper"}],
        }))]))
        .unwrap();
        let s = &page.sections[0];
        assert_eq!(s.descr.as_deref(), Some("Data Structures 1"));
        let names: Vec<_> = s
            .instructors
            .iter()
            .filter_map(|i| i.name.as_deref())
            .collect();
        assert_eq!(names, ["Ada Lovelace,\nGrace Hopper"]);
    }

    #[test]
    fn both_page_shapes_read_the_same_sections() {
        let section = minimal(json!({"subject": "CS"}));
        let object = parse_page(json!({"classes": [section.clone()], "pageCount": 3})).unwrap();
        let array = parse_page(json!([section])).unwrap();
        assert_eq!(object.sections, array.sections);
        assert_eq!(object.page_count, Some(3));
        assert_eq!(array.page_count, None);
        assert!(parse_page(json!([])).unwrap().sections.is_empty());
    }

    #[test]
    fn missing_and_placeholder_fields_become_none() {
        let page = parse_page(json!([minimal(json!({
            "class_capacity": "30",
            "enrollment_available": null,
            "units": "1 - 12",
            "instructors": null,
            "meetings": [{"days": "TBA", "start_time": "", "facility_descr": "***",
                          "instructor": "To Be Announced"}]
        }))]))
        .unwrap();
        let s = &page.sections[0];
        assert_eq!(s.class_capacity, Some(30));
        assert_eq!(s.enrollment_available, None);
        assert_eq!(s.units, Some(Units::Range(1.0, 12.0)));
        assert!(s.instructors.is_empty());
        let m = &s.meetings[0];
        assert_eq!(
            (&m.days, m.start_time, m.end_time, &m.facility_descr),
            (&None, None, None, &None)
        );
        assert!(m.instructor.is_empty());
    }

    #[test]
    fn malformed_pages_say_where_in_one_line() {
        let err = parse_page(json!({"error": "session expired"})).unwrap_err();
        assert!(err.contains("without \"classes\""), "{err}");
        let err = parse_page(json!("nope")).unwrap_err();
        assert!(err.contains("got a string"), "{err}");
        let err = parse_page(json!([minimal(json!({})), {"catalog_nbr": "2"}])).unwrap_err();
        assert!(err.starts_with("section 2"), "{err}");
        let err = parse_page(json!([minimal(
            json!({"meetings": [{"start_time": "99.00"}]})
        )]))
        .unwrap_err();
        assert!(err.contains("'99.00' is not a time of day"), "{err}");
        let err = parse_page(json!([minimal(json!({"meetings": [{"days": "MWF"}]}))])).unwrap_err();
        assert!(err.contains("days 'MWF'"), "{err}");
        assert!(!err.contains('\n'));
    }
}
