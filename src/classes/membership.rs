//! Who may join or leave a section. A class chat is readable by the students who
//! added the class, so joining is what guards it: a student takes at most a
//! term's worth of sections, one section per course and component, and changes
//! their classes at most so many times a day. A suspended student joins nothing
//! (leaving lets no one in, so it stays open to them).
//! The rules are checked before anything is written, so a refusal changes nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{enroll, find, is_enrolled, of_user, week, Class, ClassId, Term};
use crate::accounts::{self, rate_limit, User, UserId};
use crate::db::schema::user_classes;
use crate::db::{self, DbConn, Tx};

/// The limits on joining, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinLimits {
    /// At most this many sections in one term (`MAX_SECTIONS_PER_TERM`).
    pub sections_per_term: u32,
    /// At most this many joins plus leaves in 24 hours (`MAX_CLASS_CHANGES_PER_DAY`).
    pub changes_per_day: u32,
}

impl Default for JoinLimits {
    /// Ten sections a term, twenty changes a day.
    fn default() -> Self {
        JoinLimits {
            sections_per_term: 10,
            changes_per_day: 20,
        }
    }
}

/// Why a student could not join or leave a section, in words they can act on.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("There is no such class.")]
    NotFound,
    #[error("{code} is no longer offered in SIS, so it cannot be joined.")]
    Inactive { code: String },
    #[error("{code} is a {class_term} section, but you are looking at {shown}. Switch to {class_term} to join it.")]
    OtherTerm {
        code: String,
        class_term: String,
        shown: String,
    },
    #[error("You are already in {code}.")]
    AlreadyJoined { code: String },
    #[error("You are not in {code}.")]
    NotJoined { code: String },
    /// One section per course and component: a second CS 2100 lecture is refused.
    #[error("You already take {code} {kind} {taken}; leave it first to switch to {wanted}.")]
    SameCourseAndComponent {
        code: String,
        /// "lecture section", or "section" when SIS names no component.
        kind: String,
        taken: String,
        wanted: String,
    },
    /// The term already holds the most sections one student may take.
    #[error("You can be in at most {max} sections in {term}. Leave one first to join another.")]
    TermFull { term: String, max: u32 },
    /// Too many joins and leaves in the last 24 hours.
    /// (Pages say when, in campus time: `web::error::membership_refusal`.)
    #[error("You have added or dropped {max} classes in the last 24 hours, the most allowed.")]
    TooManyChanges { max: u32, retry_at: NaiveDateTime },
    /// The section meets while one the student takes does; joining it anyway
    /// needs the student's confirmation (`Clash::Allow`).
    #[error("{code} overlaps {}. Join it anyway only if you mean to.", overlaps.join("; "))]
    Clashes {
        code: String,
        /// "CS 3120 on Tue Thu 11:00 AM", one per section it overlaps.
        overlaps: Vec<String>,
    },
    /// A suspended student may read and leave, but not join classes.
    #[error("Your account is suspended; you cannot join classes until it ends.")]
    Suspended { until: NaiveDateTime },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// How people say a SIS component: `LEC` is a lecture, `DIS` a discussion.
pub fn component_name(component: Option<&str>) -> String {
    let code = component.map(str::trim).unwrap_or_default();
    match code.to_ascii_uppercase().as_str() {
        "" => "section".into(),
        "LEC" => "lecture".into(),
        "LAB" => "lab".into(),
        "DIS" => "discussion".into(),
        "SEM" => "seminar".into(),
        "IND" => "independent study".into(),
        "STO" => "studio".into(),
        "CLN" => "clinical".into(),
        "PRA" => "practicum".into(),
        "WKS" => "workshop".into(),
        "DRL" => "drill".into(),
        "TUT" => "tutorial".into(),
        _ => code.to_string(),
    }
}

fn same_component(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |c: Option<&str>| c.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    norm(a) == norm(b)
}

/// Whether two sections of one course number are two courses: a topics
/// course (CS 4501, a seminar number) is many courses under one number, told
/// apart only by their topics, which the sync writes after the course's name
/// ("Special Topics in Computer Science: Machine Learning"). Only two
/// different topics after the same name tell. A title without a topic, one
/// that is the other's name and more (`Topics in Music: Jazz` and `Topics in
/// Music: Jazz: Ellington`: a name with a colon of its own, one topic), or
/// titles that differ otherwise, leave them the same course, as before.
fn different_topics(a: Option<&str>, b: Option<&str>) -> bool {
    let fold = |t: &str| {
        t.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (Some(a), Some(b)) = (a.map(fold), b.map(fold)) else {
        return false;
    };
    let extends = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with(": "))
    };
    if a == b || extends(&a, &b) || extends(&b, &a) {
        return false;
    }
    // The same name before a ": " in both, and something after it in each.
    a.match_indices(": ").any(|(at, _)| {
        let name = &a[..at];
        extends(&b, name) && at + 2 < a.len() && name.len() + 2 < b.len()
    })
}

fn section_of(class: &Class) -> String {
    class
        .class_section
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "?".into())
}

/// The join rules, given the sections the student already takes in `wanted`'s
/// term: not joined yet, no other section of the same course (and topic) and
/// component, and
/// room left in the term. A section SIS no longer lists (renumbered, or
/// cancelled) stays joined, for its chat, but counts for neither rule: its
/// students must be able to join the section that replaced it.
pub fn check_join(
    wanted: &Class,
    taken: &[Class],
    limits: &JoinLimits,
) -> Result<(), MembershipError> {
    if taken.iter().any(|c| c.id == wanted.id) {
        return Err(MembershipError::AlreadyJoined {
            code: wanted.code(),
        });
    }
    if let Some(other) = taken.iter().find(|c| {
        c.active
            && c.term == wanted.term
            && c.subject.eq_ignore_ascii_case(&wanted.subject)
            && c.catalog_number
                .eq_ignore_ascii_case(&wanted.catalog_number)
            && same_component(c.component.as_deref(), wanted.component.as_deref())
            && !different_topics(c.title.as_deref(), wanted.title.as_deref())
    }) {
        return Err(MembershipError::SameCourseAndComponent {
            code: wanted.code(),
            kind: match component_name(wanted.component.as_deref()).as_str() {
                "section" => "section".to_string(),
                name => format!("{name} section"),
            },
            taken: section_of(other),
            wanted: section_of(wanted),
        });
    }
    let in_term = taken
        .iter()
        .filter(|c| c.active && c.term == wanted.term)
        .count();
    if in_term as u64 >= u64::from(limits.sections_per_term) {
        return Err(MembershipError::TermFull {
            term: term_name(&wanted.term),
            max: limits.sections_per_term,
        });
    }
    Ok(())
}

fn term_name(code: &str) -> String {
    Term::parse(code)
        .map(|t| t.name())
        .unwrap_or_else(|| code.to_string())
}

/// Serializes one student's joins and leaves, so two at once cannot both slip
/// under a limit: on PostgreSQL an advisory lock, on SQLite the immediate
/// transaction already does.
fn lock_student(conn: &mut DbConn, user_id: &UserId) -> QueryResult<()> {
    crate::db::lock_key(conn, &format!("class-membership:{user_id}"))
}

/// Counts one join or leave against the daily limit, in the database so every
/// app process counts the same. Called last, so a refused change is not counted.
fn count_change(
    tx: &mut Tx,
    user_id: &UserId,
    limits: &JoinLimits,
    now: NaiveDateTime,
) -> Result<(), MembershipError> {
    rate_limit::hit(
        tx,
        &format!("class-changes:{user_id}"),
        limits.changes_per_day,
        Duration::days(1),
        now,
    )?
    .map_err(|limited| MembershipError::TooManyChanges {
        max: limits.changes_per_day,
        retry_at: limited.retry_at,
    })
}

/// Whether a join may overlap the student's other sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// Refuse with `MembershipError::Clashes` (the first try).
    Refuse,
    /// The student saw the overlap and confirmed.
    Allow,
}

/// What `wanted` overlaps among `taken`, as "CS 3120 on Tue Thu 11:00 AM and
/// Fri 1:00 PM" (every time, as the week and home say it), one entry per
/// section, in `taken`'s order.
pub fn overlaps_with(
    wanted: &Class,
    taken: &[Class],
    listed: &std::collections::HashMap<ClassId, Vec<super::ClassMeeting>>,
) -> Vec<String> {
    // A section SIS no longer offers does not meet: it clashes with nothing.
    let others: Vec<&Class> = taken
        .iter()
        .filter(|c| c.id != wanted.id && c.active)
        .collect();
    let mut meetings = week::meetings_of(wanted, listed.get(&wanted.id));
    for other in &others {
        meetings.extend(week::meetings_of(other, listed.get(&other.id)));
    }
    let pairs = week::clashing_pairs(&meetings);
    others
        .iter()
        .filter_map(|other| {
            pairs
                .iter()
                .find(|(a, b, _)| *a == wanted.id && *b == other.id)
                .map(|(_, _, times)| format!("{} on {}", other.code(), times.join(" and ")))
        })
        .collect()
}

/// Joins a section the student found while looking at `shown` term: it must
/// exist, be active, be of that term, pass the join rules, and not overlap
/// the student's other sections unless `clash` allows it. Runs in its own
/// write transaction.
pub fn join(
    conn: &mut DbConn,
    student: &User,
    class_id: &ClassId,
    shown: &Term,
    limits: &JoinLimits,
    clash: Clash,
    now: NaiveDateTime,
) -> Result<Class, MembershipError> {
    db::write_tx(conn, |tx| {
        lock_student(tx, &student.id)?;
        // Read under the account's row, not from the session's copy: a
        // suspension committed since the request began refuses the join (a
        // class joined is its chat read), as it refuses a post.
        match accounts::hold_standing(tx, &student.id, now)? {
            accounts::Standing::Active => {}
            accounts::Standing::Suspended(until) => {
                return Err(MembershipError::Suspended { until })
            }
            // Erased since: there is no one to join anything.
            accounts::Standing::Gone => return Err(MembershipError::NotFound),
        }
        let class = find(tx, class_id)?.ok_or(MembershipError::NotFound)?;
        if class.term != shown.code() {
            return Err(MembershipError::OtherTerm {
                code: class.code(),
                class_term: term_name(&class.term),
                shown: shown.name(),
            });
        }
        if !class.active {
            return Err(MembershipError::Inactive { code: class.code() });
        }
        let taken = of_user(tx, &student.id, &class.term)?;
        check_join(&class, &taken, limits)?;
        if clash == Clash::Refuse {
            let mut ids: Vec<ClassId> = taken.iter().map(|c| c.id.clone()).collect();
            ids.push(class.id.clone());
            let listed = super::meetings_by_class(tx, &ids)?;
            let overlaps = overlaps_with(&class, &taken, &listed);
            if !overlaps.is_empty() {
                return Err(MembershipError::Clashes {
                    code: class.code(),
                    overlaps,
                });
            }
        }
        count_change(tx, &student.id, limits, now)?;
        if !enroll(tx, &student.id, class_id, now)? {
            return Err(MembershipError::AlreadyJoined { code: class.code() });
        }
        Ok(class)
    })
}

/// Leaves a section. Messages already posted in its chat stay (anonymous).
/// Runs in its own write transaction.
pub fn leave(
    conn: &mut DbConn,
    student: &User,
    class_id: &ClassId,
    limits: &JoinLimits,
    now: NaiveDateTime,
) -> Result<Class, MembershipError> {
    // A suspended student may leave: it lets no one in, and they may want to
    // be out of a class whose chat they can no longer write in.
    db::write_tx(conn, |tx| {
        lock_student(tx, &student.id)?;
        let class = find(tx, class_id)?.ok_or(MembershipError::NotFound)?;
        if !is_enrolled(tx, &student.id, class_id)? {
            return Err(MembershipError::NotJoined { code: class.code() });
        }
        count_change(tx, &student.id, limits, now)?;
        diesel::delete(
            user_classes::table
                .filter(user_classes::user_id.eq(&student.id))
                .filter(user_classes::class_id.eq(class_id)),
        )
        .execute(&mut **tx)?;
        crate::notifications::chat::left_class(tx, &student.id, class_id, now)?;
        crate::accounts::sessions::announce_access_changed(tx, &student.id)?;
        Ok(class)
    })
}

/// Most class numbers joined from one paste.
pub const MAX_NUMBERS_AT_ONCE: usize = 12;

/// One piece of what a student pasted as class numbers ("16601 16602, 17003").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PastedNumber {
    /// Digits: a class number to look up (each once, in the order pasted).
    Number(String),
    /// Not a class number (not digits, or too many); shown back (cut to 20
    /// characters, then "…") and not tried.
    NotANumber(String),
    /// A number past the first `MAX_NUMBERS_AT_ONCE`: not tried.
    TooMany(String),
}

/// Longest class number we look up; SIS numbers have five digits.
const MAX_NUMBER_DIGITS: usize = 9;

/// Splits pasted text on spaces, commas, semicolons and new lines into class
/// numbers, each once, at most `MAX_NUMBERS_AT_ONCE` of them tried.
pub fn parse_numbers(raw: &str) -> Vec<PastedNumber> {
    let mut seen: Vec<String> = Vec::new();
    let mut pieces = Vec::new();
    for token in raw
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
    {
        if !(token.chars().all(|c| c.is_ascii_digit()) && token.len() <= MAX_NUMBER_DIGITS) {
            // Cut where it is long, and said to be cut.
            let mut shown: String = token.chars().take(20).collect();
            if token.chars().nth(20).is_some() {
                shown.push('…');
            }
            if !pieces.contains(&PastedNumber::NotANumber(shown.clone())) {
                pieces.push(PastedNumber::NotANumber(shown));
            }
            continue;
        }
        if seen.iter().any(|n| n == token) {
            continue;
        }
        seen.push(token.to_string());
        pieces.push(if seen.len() > MAX_NUMBERS_AT_ONCE {
            PastedNumber::TooMany(token.to_string())
        } else {
            PastedNumber::Number(token.to_string())
        });
    }
    pieces
}

/// What joining one pasted class number did.
#[derive(Debug)]
pub enum NumberOutcome {
    /// No section of the term has that number.
    Unknown,
    Joined(Class),
    /// Refused by a rule (already in it, one section per course, a clash, a
    /// limit...); nothing was written for it.
    Refused(Class, MembershipError),
    /// Not joined: the database could not take it (busy) after earlier
    /// numbers of the paste were joined; worth trying again.
    NotTried(Class),
}

/// Joins the sections of `term` with the given class numbers, one after the
/// other in the order given, each with `join`'s rules and `Clash::Refuse`
/// (so a clash with an earlier number of the same paste is refused too).
/// The sections are looked up in one statement; each join is its own
/// transaction, so one refusal leaves the others joined. A database error
/// before anything was joined is the caller's (nothing was written); after a
/// join it is that number's, and the rest are not tried, so the page can say
/// exactly which were joined.
pub fn join_by_numbers(
    conn: &mut DbConn,
    student: &User,
    term: &Term,
    numbers: &[String],
    limits: &JoinLimits,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, NumberOutcome)>> {
    use crate::db::schema::classes;
    let found: Vec<Class> = if numbers.is_empty() {
        Vec::new()
    } else {
        classes::table
            .filter(classes::term.eq(term.code().to_string()))
            .filter(classes::sis_class_number.eq_any(numbers))
            // An active section before a vanished one that kept its number.
            .order((classes::active.desc(), classes::id))
            .select(Class::as_select())
            .load(conn)?
    };
    let mut outcomes = Vec::with_capacity(numbers.len());
    let mut failed = false;
    for number in numbers {
        let Some(class) = found
            .iter()
            .find(|c| c.sis_class_number.as_deref() == Some(number.as_str()))
        else {
            outcomes.push((number.clone(), NumberOutcome::Unknown));
            continue;
        };
        if failed {
            outcomes.push((number.clone(), NumberOutcome::NotTried(class.clone())));
            continue;
        }
        let outcome = match join(conn, student, &class.id, term, limits, Clash::Refuse, now) {
            Ok(joined) => NumberOutcome::Joined(joined),
            Err(MembershipError::Db(e)) => {
                let joined_some = outcomes
                    .iter()
                    .any(|(_, o)| matches!(o, NumberOutcome::Joined(_)));
                if !joined_some {
                    return Err(e);
                }
                tracing::warn!(error = %e, "a pasted class number could not be joined");
                failed = true;
                NumberOutcome::NotTried(class.clone())
            }
            Err(refused) => NumberOutcome::Refused(class.clone(), refused),
        };
        outcomes.push((number.clone(), outcome));
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(code: &str, term: &str, component: Option<&str>, sec: &str) -> Class {
        Class {
            term: term.into(),
            component: component.map(str::to_string),
            class_section: Some(sec.into()),
            ..Class::sample(code)
        }
    }

    const LIMITS: JoinLimits = JoinLimits {
        sections_per_term: 3,
        changes_per_day: 20,
    };

    #[test]
    fn a_second_lecture_of_one_course_is_refused_with_the_way_to_switch() {
        let taken = [section("CS 2100", "1262", Some("LEC"), "001")];
        let wanted = section("CS 2100", "1262", Some("LEC"), "002");
        let err = check_join(&wanted, &taken, &LIMITS).unwrap_err();
        assert!(matches!(
            err,
            MembershipError::SameCourseAndComponent { .. }
        ));
        assert_eq!(
            err.to_string(),
            "You already take CS 2100 lecture section 001; leave it first to switch to 002."
        );
    }

    #[test]
    fn a_lab_beside_the_lecture_and_the_same_course_next_term_are_fine() {
        let taken = [section("CS 2100", "1262", Some("LEC"), "001")];
        assert!(check_join(
            &section("CS 2100", "1262", Some("LAB"), "101"),
            &taken,
            &LIMITS
        )
        .is_ok());
        assert!(check_join(
            &section("CS 2100", "1268", Some("LEC"), "001"),
            &taken,
            &LIMITS
        )
        .is_ok());
        assert!(check_join(
            &section("CS 2110", "1262", Some("LEC"), "001"),
            &taken,
            &LIMITS
        )
        .is_ok());
    }

    #[test]
    fn two_topics_under_one_number_are_two_courses() {
        let titled = |sec: &str, title: &str| Class {
            title: Some(title.into()),
            ..section("CS 4501", "1262", Some("LEC"), sec)
        };
        let taken = [titled(
            "001",
            "Special Topics in Computer Science: Machine Learning",
        )];
        let other_topic = titled("002", "Special Topics in Computer Science: Cryptography");
        assert!(check_join(&other_topic, &taken, &LIMITS).is_ok());
        // The same topic in another section is still the same course.
        let same_topic = titled(
            "003",
            "special topics in computer  science: machine learning",
        );
        assert!(matches!(
            check_join(&same_topic, &taken, &LIMITS),
            Err(MembershipError::SameCourseAndComponent { .. })
        ));
        // Without a topic on both sides, nothing says they differ; nor when
        // one is the other with more after a colon of the name's own.
        let music = [titled("005", "Topics in Music: Jazz")];
        assert!(check_join(
            &titled("006", "Topics in Music: Jazz: Ellington"),
            &music,
            &LIMITS
        )
        .is_err());
        assert!(check_join(&titled("007", "Topics in Music: Rock"), &music, &LIMITS).is_ok());
        for other in [
            "Special Topics in Computer Science",
            "Introduction to Computing",
        ] {
            assert!(matches!(
                check_join(&titled("004", other), &taken, &LIMITS),
                Err(MembershipError::SameCourseAndComponent { .. })
            ));
        }
    }

    #[test]
    fn components_compare_without_case_or_spaces() {
        let taken = [section("MATH 3351", "1262", Some("lec "), "001")];
        let wanted = section("MATH 3351", "1262", Some("LEC"), "002");
        assert!(check_join(&wanted, &taken, &LIMITS).is_err());
        let no_component = [section("MATH 3351", "1262", None, "001")];
        let err = check_join(
            &section("MATH 3351", "1262", None, "002"),
            &no_component,
            &LIMITS,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "You already take MATH 3351 section 001; leave it first to switch to 002."
        );
    }

    #[test]
    fn a_full_term_is_refused_by_name_and_other_terms_do_not_count() {
        let taken = [
            section("CS 1110", "1262", Some("LEC"), "001"),
            section("CS 2100", "1262", Some("LEC"), "001"),
            section("CS 2120", "1262", Some("LEC"), "001"),
            section("CS 3100", "1258", Some("LEC"), "001"),
        ];
        let err = check_join(
            &section("CS 3120", "1262", Some("LEC"), "001"),
            &taken,
            &LIMITS,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "You can be in at most 3 sections in Spring 2026. Leave one first to join another."
        );
        assert!(check_join(
            &section("CS 3120", "1258", Some("LEC"), "001"),
            &taken,
            &LIMITS
        )
        .is_ok());
    }

    #[test]
    fn a_section_sis_no_longer_lists_does_not_stand_in_the_way() {
        // SIS renumbered CS 2100's lecture: the old section is inactive.
        let mut gone = section("CS 2100", "1262", Some("LEC"), "001");
        gone.active = false;
        let renumbered = section("CS 2100", "1262", Some("LEC"), "002");
        assert!(check_join(&renumbered, std::slice::from_ref(&gone), &LIMITS).is_ok());
        // Nor does it fill the term.
        let taken = [
            gone,
            section("CS 2120", "1262", Some("LEC"), "001"),
            section("CS 3100", "1262", Some("LEC"), "001"),
        ];
        assert!(check_join(&renumbered, &taken, &LIMITS).is_ok());
        // Joined twice is still joined twice.
        let err = check_join(&taken[0], &taken, &LIMITS).unwrap_err();
        assert!(matches!(err, MembershipError::AlreadyJoined { .. }));
    }

    #[test]
    fn joining_a_section_twice_says_so() {
        let mine = section("CS 2100", "1262", Some("LEC"), "001");
        let err = check_join(&mine, std::slice::from_ref(&mine), &LIMITS).unwrap_err();
        assert!(matches!(err, MembershipError::AlreadyJoined { .. }));
    }

    #[test]
    fn components_read_as_people_say_them() {
        assert_eq!(component_name(Some("LEC")), "lecture");
        assert_eq!(component_name(Some("dis")), "discussion");
        assert_eq!(component_name(Some("XYZ")), "XYZ");
        assert_eq!(component_name(None), "section");
    }

    #[test]
    fn pasted_numbers_are_split_deduplicated_and_capped() {
        let pieces = parse_numbers("16601 16602, 17003;16601\n99999 abc <b> 1.5");
        assert_eq!(
            pieces,
            vec![
                PastedNumber::Number("16601".into()),
                PastedNumber::Number("16602".into()),
                PastedNumber::Number("17003".into()),
                PastedNumber::Number("99999".into()),
                PastedNumber::NotANumber("abc".into()),
                PastedNumber::NotANumber("<b>".into()),
                PastedNumber::NotANumber("1.5".into()),
            ]
        );
        let many: String = (10000..10014).map(|n| format!("{n} ")).collect();
        let pieces = parse_numbers(&many);
        assert_eq!(
            pieces
                .iter()
                .filter(|p| matches!(p, PastedNumber::Number(_)))
                .count(),
            MAX_NUMBERS_AT_ONCE
        );
        assert_eq!(pieces[12], PastedNumber::TooMany("10012".into()));
        assert!(parse_numbers(" ,; ").is_empty());
        // Digits, too many for a class number: shown cut, and said so.
        assert_eq!(
            parse_numbers("9999999999 123456789012345678901234"),
            vec![
                PastedNumber::NotANumber("9999999999".into()),
                PastedNumber::NotANumber("12345678901234567890…".into()),
            ]
        );
    }
}
