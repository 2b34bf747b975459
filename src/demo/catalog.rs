//! The demo's catalog, as SIS pages on disk: the bundled CS sample pages
//! (built into the binary) and generated pages for other subjects, in the
//! same JSON shape UVA's class search returns. The demo syncs them through the
//! real SIS code with a `file://` source, so the catalog is made exactly as
//! production makes it.

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use super::words;

/// The term of the bundled sample pages.
pub const TERM: &str = "1262";

/// The bundled sample pages: subject CS, term 1262 (a lecture with a lab, two
/// instructors, two meetings in one section, a TBA independent study).
const SAMPLE_PAGES: &[(&str, &str)] = &[
    ("cs-1262-page1.json", include_str!("sis/cs-1262-page1.json")),
    ("cs-1262-page2.json", include_str!("sis/cs-1262-page2.json")),
];
/// Sections on the sample pages.
pub const SAMPLE_SECTIONS: u32 = 5;
/// Sections per generated page (SIS's own pages hold about this many).
const PAGE_SIZE: usize = 100;

/// Writes the options list and every subject's pages into `dir`: the samples,
/// then `generated` more sections spread over the other subjects.
pub fn write_pages(dir: &Path, generated: u32, rng: &mut StdRng) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, body) in SAMPLE_PAGES {
        std::fs::write(dir.join(name), body)?;
    }
    let mut subjects = vec![json!({"subject": "CS", "descr": "Computer Science"})];
    let mut per_subject: Vec<Vec<Value>> = vec![Vec::new(); words::SUBJECTS.len()];
    let mut class_nbr = 20_000u32;
    let mut made = 0u32;
    // Round-robin over subjects, one course (a lecture and its sections) at a time.
    let mut next_catalog = vec![1000u32; words::SUBJECTS.len()];
    'outer: loop {
        for (i, (subject, descr, topics)) in words::SUBJECTS.iter().enumerate() {
            if made >= generated {
                break 'outer;
            }
            next_catalog[i] += rng.random_range(10..=90);
            let catalog = next_catalog[i].min(9989);
            let title = words::TITLE_PATTERNS
                .choose(rng)
                .expect("patterns")
                .replace("{}", topics.choose(rng).expect("topics"));
            let level = catalog / 1000;
            let lectures = if level <= 2 && rng.random_bool(0.3) {
                2
            } else {
                1
            };
            let discussions = if level <= 2 {
                rng.random_range(0..=4)
            } else {
                0
            };
            let instructor = person(rng);
            for n in 0..lectures + discussions {
                if made >= generated {
                    break 'outer;
                }
                let lecture = n < lectures;
                let section = if lecture {
                    format!("{:03}", n + 1)
                } else {
                    format!("{:03}", 100 + n - lectures + 1)
                };
                class_nbr += 1;
                let spec = SectionSpec {
                    class_nbr,
                    subject,
                    descr,
                    catalog,
                    section,
                    title: &title,
                    lecture,
                    level,
                    instructor: &instructor,
                };
                per_subject[i].push(section_json(&spec, rng));
                made += 1;
            }
        }
    }
    for (i, (subject, descr, _)) in words::SUBJECTS.iter().enumerate() {
        let sections = std::mem::take(&mut per_subject[i]);
        if sections.is_empty() {
            continue;
        }
        subjects.push(json!({"subject": subject, "descr": descr}));
        let pages: Vec<&[Value]> = sections.chunks(PAGE_SIZE).collect();
        for (n, page) in pages.iter().enumerate() {
            let body = json!({"classes": page, "pageCount": pages.len()});
            let name = format!("{}-{TERM}-page{}.json", subject.to_ascii_lowercase(), n + 1);
            std::fs::write(dir.join(name), serde_json::to_vec(&body)?)?;
        }
    }
    let options = json!({ "subjects": subjects });
    std::fs::write(
        dir.join(format!("options-{TERM}.json")),
        serde_json::to_vec(&options)?,
    )
}

struct SectionSpec<'a> {
    class_nbr: u32,
    subject: &'a str,
    descr: &'a str,
    catalog: u32,
    section: String,
    title: &'a str,
    lecture: bool,
    level: u32,
    instructor: &'a (String, String),
}

fn person(rng: &mut StdRng) -> (String, String) {
    let first = words::FIRST_NAMES.choose(rng).expect("names");
    let last = words::LAST_NAMES.choose(rng).expect("names");
    let email = format!(
        "{}{}{}{}@virginia.edu",
        first[..1].to_ascii_lowercase(),
        last[..1].to_ascii_lowercase(),
        rng.random_range(1..10),
        (b'a' + rng.random_range(0..26u8)) as char
    );
    (format!("{first} {last}"), email)
}

fn section_json(s: &SectionSpec<'_>, rng: &mut StdRng) -> Value {
    let (component, section_type) = if s.lecture {
        if s.level >= 4 && rng.random_bool(0.4) {
            ("SEM", "Seminar")
        } else {
            ("LEC", "Lecture")
        }
    } else if matches!(s.subject, "PHYS" | "CHEM" | "BIOL" | "ECE") {
        ("LAB", "Laboratory")
    } else {
        ("DIS", "Discussion")
    };
    let capacity: i64 = match component {
        "LEC" => match s.level {
            1 => rng.random_range(80..=400),
            2 => rng.random_range(40..=200),
            _ => rng.random_range(20..=90),
        },
        "SEM" => rng.random_range(12..=20),
        _ => rng.random_range(18..=30),
    };
    let enrolled = (capacity as f64 * rng.random_range(0.6..1.0)) as i64;
    let (days, minutes) = if component == "LEC" && rng.random_bool(0.5) {
        ("MoWeFr", 50)
    } else if component == "LEC" || component == "SEM" {
        ("TuTh", 75)
    } else {
        (
            *["Mo", "Tu", "We", "Th", "Fr"].choose(rng).expect("days"),
            50,
        )
    };
    let start = if minutes == 75 {
        *[
            8 * 60,
            9 * 60 + 30,
            11 * 60,
            12 * 60 + 30,
            14 * 60,
            15 * 60 + 30,
            17 * 60,
        ]
        .choose(rng)
        .expect("slots")
    } else {
        rng.random_range(8..=17) * 60
    };
    let end = start + minutes;
    let building = words::BUILDINGS.choose(rng).expect("buildings");
    let room = rng.random_range(100..=450);
    let meeting = json!({
        "days": days,
        "start_time": wall_time(start),
        "end_time": wall_time(end),
        "start_dt": "01/14/2026",
        "end_dt": "04/28/2026",
        "facility_descr": format!("{building} {room}"),
        "instructor": s.instructor.0,
    });
    json!({
        "strm": TERM,
        "class_nbr": s.class_nbr,
        "subject": s.subject,
        "subject_descr": s.descr,
        "catalog_nbr": s.catalog.to_string(),
        "class_section": s.section,
        "component": component,
        "section_type": section_type,
        "descr": s.title,
        "topic": "",
        "class_capacity": capacity,
        "enrollment_total": enrolled,
        "enrollment_available": capacity - enrolled,
        "units": if s.lecture { "3" } else { "0" },
        // The regular session's dates, which the sync keeps as the term's
        // (the calendar feed needs them).
        "start_dt": "01/14/2026",
        "end_dt": "04/28/2026",
        "instructors": [{"name": s.instructor.0, "email": s.instructor.1}],
        "meetings": [meeting],
    })
}

/// SIS's time format: Eastern wall-clock time with a fixed offset.
fn wall_time(minutes: u32) -> String {
    format!("{:02}.{:02}.00.000000-05:00", minutes / 60, minutes % 60)
}
