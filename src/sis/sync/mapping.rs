//! Mapping SIS's sections to the catalog's records: the title with its topic,
//! instructors joined, meeting times as wall-clock text, and a section of
//! another term refused. Pure: no database, no HTTP.

use crate::classes::catalog::{MeetingRecord, SectionRecord, SubjectRecords};
use crate::classes::term_dates::TermSpan;
use crate::sis::wire::{SisSection, WallTime};
use crate::sis::{Subject, Term};
use chrono::NaiveDate;

/// Maps one SIS section; refuses one that belongs to another term or, on the
/// pages of one subject, to another subject (the catalog keys sections by
/// class number: a stray one would move a section between subjects).
pub fn section_record(
    term: &Term,
    subject: &Subject,
    s: SisSection,
) -> Result<SectionRecord, String> {
    if let Some(strm) = &s.strm {
        if strm != term.as_str() {
            return Err(format!(
                "section {} is of term {strm}, not {term}",
                s.class_nbr
            ));
        }
    }
    if let Some(other) = s
        .subject
        .as_deref()
        .filter(|o| !o.eq_ignore_ascii_case(subject.as_str()))
    {
        return Err(format!(
            "section {} is of subject {other}, not {subject}",
            s.class_nbr
        ));
    }
    let title = match (s.descr, s.topic) {
        (Some(descr), Some(topic)) if topic != descr => Some(format!("{descr}: {topic}")),
        (Some(descr), _) => Some(descr),
        (None, topic) => topic,
    };
    let meetings: Vec<MeetingRecord> = s
        .meetings
        .iter()
        .map(|m| {
            // A meeting that ends before it starts (14:00 to 12:00) says no
            // time, as TBA does: shown as sent, it read "2:00–12:00 PM" and
            // left the grid for "No fixed meeting time: ... 2:00–12:00 PM".
            // An end at 00:00 is midnight, the day's end (a 22:00 lab).
            let midnight = |t: &WallTime| t.hour == 0 && t.minute == 0;
            let (start_time, end_time) = match (m.start_time, m.end_time) {
                (Some(start), Some(end)) if end <= start && !midnight(&end) => (None, None),
                times => times,
            };
            MeetingRecord {
                days: m.days.clone(),
                start_time: start_time.map(|t| t.to_string()),
                end_time: end_time.map(|t| t.to_string()),
                location: m.facility_descr.clone(),
                instructor: names(m.instructor.iter().map(String::as_str)),
                // The meeting's own dates, else its section's; a pair out of
                // order (or half missing) says nothing, and the term's hold.
                dates: span(m.start_dt, m.end_dt).or_else(|| span(s.start_dt, s.end_dt)),
            }
        })
        .collect();
    // The section's own list, else whoever teaches its meetings.
    let instructor = names(s.instructors.iter().filter_map(|i| i.name.as_deref())).or_else(|| {
        names(
            s.meetings
                .iter()
                .flat_map(|m| m.instructor.iter().map(String::as_str)),
        )
    });
    Ok(SectionRecord {
        class_number: s.class_nbr.to_string(),
        subject: s.subject.unwrap_or_else(|| subject.as_str().to_string()),
        catalog_number: s.catalog_nbr,
        title,
        component: s.component,
        class_section: s.class_section,
        instructor,
        class_capacity: s.class_capacity,
        enrollment_available: s.enrollment_available,
        meetings,
    })
}

/// A first and last day, when both are there and in order.
fn span(first: Option<NaiveDate>, last: Option<NaiveDate>) -> Option<TermSpan> {
    first
        .zip(last)
        .and_then(|(first, last)| TermSpan::new(first, last))
}

/// Distinct names in order, joined for display; None when there are none.
fn names<'a>(all: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for name in all {
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// A subject's sections keyed by class number. A section listed twice (SIS
/// pages can shift while being read) is kept once, as last seen; one class
/// number given to two different sections is a broken page, refused, or the
/// second would overwrite the first (a lecture's students left in a lab).
pub(super) fn records_of(
    term: &Term,
    subject: &Subject,
    sections: Vec<SisSection>,
) -> Result<SubjectRecords, String> {
    let mut records = SubjectRecords::new();
    for section in sections {
        let record = section_record(term, subject, section)?;
        if let Some(seen) = records.get(&record.class_number) {
            if identity(seen) != identity(&record) {
                return Err(format!(
                    "class number {} is given to two sections, {} and {}",
                    record.class_number,
                    identity(seen).join(" "),
                    identity(&record).join(" ")
                ));
            }
        }
        records.insert(record.class_number.clone(), record);
    }
    Ok(records)
}

/// What makes a section itself: "CS 2100 LEC 001".
fn identity(record: &SectionRecord) -> [&str; 4] {
    [
        &record.subject,
        &record.catalog_number,
        record.component.as_deref().unwrap_or("-"),
        record.class_section.as_deref().unwrap_or("-"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sis::wire::parse_page;

    fn term() -> Term {
        Term::parse("1262").unwrap()
    }

    fn record(json: serde_json::Value) -> Result<SectionRecord, String> {
        let section = parse_page(serde_json::json!([json]))
            .unwrap()
            .sections
            .remove(0);
        section_record(&term(), &Subject::parse("CS").unwrap(), section)
    }

    #[test]
    fn a_topic_refines_the_title_and_instructors_are_joined() {
        let r = record(serde_json::json!({
            "class_nbr": 16655, "catalog_nbr": "4501", "strm": "1262",
            "descr": "Special Topics in Computer Science", "topic": "Systems for Machine Learning",
            "instructors": [{"name": "Grace Hopper"}, {"name": "Alan Turing"}, {"name": "Grace Hopper"}],
            "meetings": [{"days": "MoWe", "start_time": "15.30.00.000000-05:00",
                          "end_time": "16.45.00.000000-05:00", "facility_descr": "***"}]
        }))
        .unwrap();
        assert_eq!(
            r.title.as_deref(),
            Some("Special Topics in Computer Science: Systems for Machine Learning")
        );
        assert_eq!(r.instructor.as_deref(), Some("Grace Hopper, Alan Turing"));
        assert_eq!(r.subject, "CS");
        assert_eq!(
            r.meetings,
            vec![MeetingRecord {
                days: Some("MoWe".into()),
                start_time: Some("15:30".into()),
                end_time: Some("16:45".into()),
                location: None,
                instructor: None,
                dates: None,
            }]
        );
    }

    #[test]
    fn a_meeting_keeps_its_own_dates_else_its_sections() {
        let r = record(serde_json::json!({
            "class_nbr": 16660, "catalog_nbr": "3240", "strm": "1262",
            "start_dt": "01/14/2026", "end_dt": "04/28/2026",
            "meetings": [
                {"days": "TuTh", "start_time": "09.30.00.000000-05:00",
                 "end_time": "10.45.00.000000-05:00",
                 "start_dt": "01/14/2026", "end_dt": "03/04/2026"},
                {"days": "Fr", "start_time": "13.00.00.000000-05:00",
                 "end_time": "13.50.00.000000-05:00"},
                {"days": "Mo", "start_time": "13.00.00.000000-05:00",
                 "end_time": "13.50.00.000000-05:00",
                 "start_dt": "04/28/2026", "end_dt": "01/14/2026"}
            ]
        }))
        .unwrap();
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let dates: Vec<Option<TermSpan>> = r.meetings.iter().map(|m| m.dates).collect();
        assert_eq!(
            dates,
            vec![
                TermSpan::new(day(1, 14), day(3, 4)),
                TermSpan::new(day(1, 14), day(4, 28)),
                // Its own pair is backwards: the section's is taken instead.
                TermSpan::new(day(1, 14), day(4, 28)),
            ]
        );
    }

    #[test]
    fn a_meeting_ending_before_it_starts_has_no_time_and_text_reorders_nothing() {
        let r = record(serde_json::json!({
            "class_nbr": 16661, "catalog_nbr": "3240", "strm": "1262",
            "descr": "Odd \u{202E}Times",
            "meetings": [
                {"days": "MoWeFr", "start_time": "14.00.00.000000-05:00",
                 "end_time": "12.00.00.000000-05:00",
                 "facility_descr": "\u{2067}Rice Hall 130\u{2069}"},
                {"days": "Tu", "start_time": "14.00.00.000000-05:00",
                 "end_time": "14.50.00.000000-05:00"},
                {"days": "Th", "start_time": "22.00.00.000000-05:00",
                 "end_time": "00.00.00.000000-05:00"}
            ]
        }))
        .unwrap();
        let times: Vec<(Option<&str>, Option<&str>)> = r
            .meetings
            .iter()
            .map(|m| (m.start_time.as_deref(), m.end_time.as_deref()))
            .collect();
        // A meeting to midnight keeps its times.
        assert_eq!(
            times,
            vec![
                (None, None),
                (Some("14:00"), Some("14:50")),
                (Some("22:00"), Some("00:00"))
            ]
        );
        assert_eq!(
            r.meetings[0].days.as_deref(),
            Some("MoWeFr"),
            "the days stay"
        );
        assert_eq!(r.title.as_deref(), Some("Odd Times"));
        assert_eq!(r.meetings[0].location.as_deref(), Some("Rice Hall 130"));
    }

    #[test]
    fn a_section_of_another_term_is_refused() {
        let err = record(serde_json::json!({"class_nbr": 1, "catalog_nbr": "1", "strm": "1268"}))
            .unwrap_err();
        assert_eq!(err, "section 1 is of term 1268, not 1262");
    }

    #[test]
    fn a_section_of_another_subject_is_refused() {
        let err =
            record(serde_json::json!({"class_nbr": 7, "subject": "MATH", "catalog_nbr": "1310"}))
                .unwrap_err();
        assert_eq!(err, "section 7 is of subject MATH, not CS");
    }

    #[test]
    fn one_class_number_for_two_sections_is_refused_and_a_repeat_kept_once() {
        let sections = |json: serde_json::Value| parse_page(json).unwrap().sections;
        let cs = Subject::parse("CS").unwrap();
        let lecture = serde_json::json!({"class_nbr": 16601, "catalog_nbr": "2100",
            "component": "LEC", "class_section": "001", "class_capacity": 300});
        let mut shifted = lecture.clone();
        shifted["class_capacity"] = 299.into();
        let kept = records_of(
            &term(),
            &cs,
            sections(serde_json::json!([lecture, shifted])),
        )
        .unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["16601"].class_capacity, Some(299), "as last seen");

        let lab = serde_json::json!({"class_nbr": 16601, "catalog_nbr": "2100",
            "component": "LAB", "class_section": "101"});
        let err =
            records_of(&term(), &cs, sections(serde_json::json!([lecture, lab]))).unwrap_err();
        assert_eq!(
            err,
            "class number 16601 is given to two sections, CS 2100 LEC 001 and CS 2100 LAB 101"
        );
    }
}
