//! The catalog (sections synced from SIS, with their weekly meetings) and who
//! takes what (`user_classes`). No actix or HTML here.

pub mod catalog;
pub mod membership;
pub mod personal_data;
pub mod schedule;
pub mod search;
pub mod term;
pub mod term_dates;
pub mod week;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

pub use membership::{join, leave, Clash, JoinLimits, MembershipError};
pub use term::Term;

use crate::accounts::UserId;
use crate::db::schema::{class_meetings, classes, user_classes};
use crate::db::DbConn;

crate::define_id!(
    /// A section of a course in one term.
    ClassId
);
crate::define_id!(MeetingId);

/// A row of `classes`: one section (e.g. CS 2100-001, Spring 2026).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = classes)]
pub struct Class {
    pub id: ClassId,
    pub subject: String,
    pub catalog_number: String,
    pub term: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub sis_class_number: Option<String>,
    pub instructor: Option<String>,
    pub component: Option<String>,
    pub class_section: Option<String>,
    pub class_capacity: Option<i32>,
    pub enrollment_available: Option<i32>,
    pub days: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub location: Option<String>,
    pub active: bool,
    pub last_synced_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Class {
    /// "CS 2100", as students say it.
    pub fn code(&self) -> String {
        code(&self.subject, &self.catalog_number)
    }
}

/// "CS 2100" from a subject and catalog number read without the whole row.
pub fn code(subject: &str, catalog_number: &str) -> String {
    // Written whole, not through `format!`: pages write it for every row.
    [subject, " ", catalog_number].concat()
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = classes)]
pub struct NewClass<'a> {
    pub id: &'a ClassId,
    pub subject: &'a str,
    pub catalog_number: &'a str,
    pub term: &'a str,
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub sis_class_number: Option<&'a str>,
    pub instructor: Option<&'a str>,
    pub component: Option<&'a str>,
    pub class_section: Option<&'a str>,
    pub class_capacity: Option<i32>,
    pub enrollment_available: Option<i32>,
    pub days: Option<&'a str>,
    pub start_time: Option<&'a str>,
    pub end_time: Option<&'a str>,
    pub location: Option<&'a str>,
    pub active: bool,
    pub last_synced_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Changes to a section; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = classes)]
pub struct ClassChanges<'a> {
    pub title: Option<Option<&'a str>>,
    pub instructor: Option<Option<&'a str>>,
    pub class_capacity: Option<Option<i32>>,
    pub enrollment_available: Option<Option<i32>>,
    pub active: Option<bool>,
    pub last_synced_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A row of `class_meetings`: one weekly meeting pattern of a section.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = class_meetings)]
pub struct ClassMeeting {
    pub id: MeetingId,
    pub class_id: ClassId,
    pub position: i32,
    pub days: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub location: Option<String>,
    pub instructor: Option<String>,
    /// The meeting's own first and last day; None: the term's.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = class_meetings)]
pub struct NewClassMeeting<'a> {
    pub id: &'a MeetingId,
    pub class_id: &'a ClassId,
    pub position: i32,
    pub days: Option<&'a str>,
    pub start_time: Option<&'a str>,
    pub end_time: Option<&'a str>,
    pub location: Option<&'a str>,
    pub instructor: Option<&'a str>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

/// A row of `user_classes`: a student takes a section.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_classes)]
pub struct Enrollment {
    pub user_id: UserId,
    pub class_id: ClassId,
    pub enrolled_at: NaiveDateTime,
}

/// Finds a section by id.
pub fn find(conn: &mut DbConn, id: &ClassId) -> QueryResult<Option<Class>> {
    classes::table
        .find(id)
        .select(Class::as_select())
        .first(conn)
        .optional()
}

/// Inserts a section.
pub fn insert(conn: &mut DbConn, new: &NewClass<'_>) -> QueryResult<Class> {
    diesel::insert_into(classes::table)
        .values(new)
        .execute(conn)?;
    classes::table
        .find(new.id)
        .select(Class::as_select())
        .first(conn)
}

/// Inserts a meeting of a section.
pub fn insert_meeting(conn: &mut DbConn, new: &NewClassMeeting<'_>) -> QueryResult<usize> {
    diesel::insert_into(class_meetings::table)
        .values(new)
        .execute(conn)
}

/// The meetings of the given sections, in their SIS order.
pub fn meetings_of(conn: &mut DbConn, ids: &[ClassId]) -> QueryResult<Vec<ClassMeeting>> {
    class_meetings::table
        .filter(class_meetings::class_id.eq_any(ids))
        .order((class_meetings::class_id, class_meetings::position))
        .select(ClassMeeting::as_select())
        .load(conn)
}

/// Records that a student takes a section; joining twice is a no-op that reports false.
pub fn enroll(
    conn: &mut DbConn,
    user_id: &UserId,
    class_id: &ClassId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let row = Enrollment {
        user_id: user_id.clone(),
        class_id: class_id.clone(),
        enrolled_at: now,
    };
    let inserted = crate::on_each_backend!(conn, |c| diesel::insert_into(user_classes::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Whether a student takes a section.
pub fn is_enrolled(conn: &mut DbConn, user_id: &UserId, class_id: &ClassId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_classes::table
            .filter(user_classes::user_id.eq(user_id))
            .filter(user_classes::class_id.eq(class_id)),
    ))
    .get_result(conn)
}

/// When a student joined a section (None if they do not take it). Leaving and
/// joining again starts the clock over.
pub fn enrolled_at(
    conn: &mut DbConn,
    user_id: &UserId,
    class_id: &ClassId,
) -> QueryResult<Option<NaiveDateTime>> {
    user_classes::table
        .find((user_id, class_id))
        .select(user_classes::enrolled_at)
        .first(conn)
        .optional()
}

/// A student's sections in a term, ordered by course code.
pub fn of_user(conn: &mut DbConn, user_id: &UserId, term: &str) -> QueryResult<Vec<Class>> {
    classes::table
        .inner_join(user_classes::table)
        .filter(user_classes::user_id.eq(user_id))
        .filter(classes::term.eq(term))
        .order((
            classes::subject,
            classes::catalog_number,
            classes::class_section,
        ))
        .select(Class::as_select())
        .load(conn)
}

/// Sections' meetings by section, in position order.
pub type MeetingsByClass = HashMap<ClassId, Vec<ClassMeeting>>;

/// Sections joined to their meetings (a row per meeting, `None` for a section
/// with none, each section's rows together), as the sections in row order and
/// their meetings by section.
pub fn group_meetings(
    rows: impl IntoIterator<Item = (Class, Option<ClassMeeting>)>,
) -> (Vec<Class>, MeetingsByClass) {
    let mut sections: Vec<Class> = Vec::new();
    let mut meetings = MeetingsByClass::new();
    for (class, meeting) in rows {
        if sections.last().is_none_or(|last| last.id != class.id) {
            sections.push(class);
        }
        if let Some(meeting) = meeting {
            meetings
                .entry(meeting.class_id.clone())
                .or_default()
                .push(meeting);
        }
    }
    (sections, meetings)
}

/// A student's sections in a term, by course code, with their meetings, in
/// one statement (the sections joined to their meetings, a row per meeting):
/// what home and the timetable show.
pub fn of_user_with_meetings(
    conn: &mut DbConn,
    user_id: &UserId,
    term: &str,
) -> QueryResult<(Vec<Class>, MeetingsByClass)> {
    // By `user_id =`, never `IN (…)`: with a list, SQLite's planner started
    // from the term's 8,000 sections instead of the student's five
    // enrollments (one request of a friend's page took 20 ms on the scale
    // campus).
    let rows: Vec<(Class, Option<ClassMeeting>)> =
        crate::on_each_backend!(conn, |c| classes::table
            .inner_join(user_classes::table)
            .left_join(class_meetings::table)
            .filter(user_classes::user_id.eq(user_id))
            .filter(classes::term.eq(term))
            .order((
                classes::subject,
                classes::catalog_number,
                classes::class_section,
                classes::id,
                class_meetings::position,
            ))
            .select((Class::as_select(), Option::<ClassMeeting>::as_select()))
            .load(c))?;
    Ok(group_meetings(rows))
}

/// A student's sections in some terms, by term then course code, with their
/// meetings, in one statement (the calendar's current and next term).
pub fn of_user_in_terms_with_meetings(
    conn: &mut DbConn,
    user_id: &UserId,
    terms: &[&str],
) -> QueryResult<(Vec<Class>, MeetingsByClass)> {
    if terms.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Class, Option<ClassMeeting>)> = classes::table
        .inner_join(user_classes::table)
        .left_join(class_meetings::table)
        .filter(user_classes::user_id.eq(user_id))
        .filter(classes::term.eq_any(terms))
        .order((
            classes::term,
            classes::subject,
            classes::catalog_number,
            classes::class_section,
            classes::id,
            class_meetings::position,
        ))
        .select((Class::as_select(), Option::<ClassMeeting>::as_select()))
        .load(conn)?;
    Ok(group_meetings(rows))
}

/// The sections each of several students takes in a term, by course code,
/// with their meetings, in one statement (a row per student, section and
/// meeting): a friend's week beside the student's, and free time together.
/// A section two of them take is listed for each, its meetings once.
pub fn of_users_with_meetings(
    conn: &mut DbConn,
    user_ids: &[UserId],
    term: &str,
) -> QueryResult<(Vec<(UserId, Class)>, MeetingsByClass)> {
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(UserId, Class, Option<ClassMeeting>)> =
        crate::on_each_backend!(conn, |c| classes::table
            .inner_join(user_classes::table)
            .left_join(class_meetings::table)
            .filter(user_classes::user_id.eq_any(user_ids))
            .filter(classes::term.eq(term))
            .order((
                user_classes::user_id,
                classes::subject,
                classes::catalog_number,
                classes::class_section,
                classes::id,
                class_meetings::position,
            ))
            .select((
                user_classes::user_id,
                Class::as_select(),
                Option::<ClassMeeting>::as_select(),
            ))
            .load(c))?;
    Ok(group_by_owner(rows))
}

/// The sections each of two students takes in `term`, as
/// `of_users_with_meetings`, and in the same statement (a `UNION ALL`) the
/// sections of every other term both take, newest term first, with their
/// meetings: a friend's page, the two weeks of `term` side by side and every
/// class the two share, in one round trip. (The shared sections of `term` are
/// among the weeks' rows.)
pub fn of_two_with_meetings_and_shared(
    conn: &mut DbConn,
    (first, second): (&UserId, &UserId),
    term: &str,
) -> QueryResult<SectionsAndShared> {
    use diesel::sql_types::{Nullable, Text};
    let theirs = diesel::alias!(user_classes as theirs);
    let second_takes = theirs
        .filter(theirs.field(user_classes::user_id).eq(second.clone()))
        .select(theirs.field(user_classes::class_id));
    // Diesel's `MultiBackend` has no UNION: the statement is compiled for
    // each. Each student is a part of their own (`user_id = $n`, not
    // `= ANY($n)`): PostgreSQL prices a generic plan for an array of unknown
    // length at ten elements, so it planned the two-element form afresh on
    // every run (0.6 ms a friend page at scale; docs/database.md). A
    // compound statement has one ORDER BY for all its rows, so each part is
    // put in its order below (byte order, the same on both backends).
    let rows: Vec<(Option<UserId>, Class, Option<ClassMeeting>)> =
        crate::on_each_backend!(conn, |c| {
            let week_of = |who: &UserId| {
                classes::table
                    .inner_join(user_classes::table)
                    .left_join(class_meetings::table)
                    .filter(user_classes::user_id.eq(who.clone()))
                    .filter(classes::term.eq(term))
                    .select((
                        user_classes::user_id.nullable(),
                        Class::as_select(),
                        Option::<ClassMeeting>::as_select(),
                    ))
            };
            let shared_elsewhen = classes::table
                .inner_join(user_classes::table)
                .left_join(class_meetings::table)
                .filter(user_classes::user_id.eq(first))
                .filter(classes::term.ne(term))
                .filter(classes::id.eq_any(second_takes))
                .select((
                    None::<String>.into_sql::<Nullable<Text>>(),
                    Class::as_select(),
                    Option::<ClassMeeting>::as_select(),
                ));
            week_of(first)
                .union_all(week_of(second))
                .union_all(shared_elsewhen)
                .load(c)
        })?;
    let mut weeks = Vec::new();
    let mut shared = Vec::new();
    for (owner, class, meeting) in rows {
        match owner {
            Some(owner) => weeks.push((owner, class, meeting)),
            None => shared.push((class, meeting)),
        }
    }
    let position = |m: &Option<ClassMeeting>| m.as_ref().map(|m| m.position);
    weeks.sort_by(|(o1, c1, m1), (o2, c2, m2)| {
        (o1, course_order(c1), position(m1)).cmp(&(o2, course_order(c2), position(m2)))
    });
    shared.sort_by(|(c1, m1), (c2, m2)| {
        (std::cmp::Reverse(&c1.term), course_order(c1), position(m1)).cmp(&(
            std::cmp::Reverse(&c2.term),
            course_order(c2),
            position(m2),
        ))
    });
    let (sections, mut meetings) = group_by_owner(weeks);
    let (shared, shared_meetings) = group_meetings(shared);
    meetings.extend(shared_meetings);
    Ok(SectionsAndShared {
        sections,
        meetings,
        shared,
    })
}

/// `of_two_with_meetings_and_shared`'s answer.
#[derive(Debug, Default)]
pub struct SectionsAndShared {
    /// (student, section) of the term, each student's by course code.
    pub sections: Vec<(UserId, Class)>,
    /// The meetings of all the sections, shared ones too.
    pub meetings: MeetingsByClass,
    /// The sections of other terms both take, newest term first.
    pub shared: Vec<Class>,
}

/// A section's place in a list by course code (as the statements' ORDER BY).
fn course_order(class: &Class) -> (&str, &str, Option<&str>, &ClassId) {
    (
        &class.subject,
        &class.catalog_number,
        class.class_section.as_deref(),
        &class.id,
    )
}

/// Rows of (student, section, meeting), each student's sections' rows
/// together, from one statement's join of sections to their meetings, as
/// each student's sections in row order and every section's meetings once,
/// however many of them take it.
fn group_by_owner(
    rows: Vec<(UserId, Class, Option<ClassMeeting>)>,
) -> (Vec<(UserId, Class)>, MeetingsByClass) {
    let mut sections: Vec<(UserId, Class)> = Vec::new();
    let mut meetings = MeetingsByClass::new();
    // Whether this row's meetings are still to be kept: only under the first
    // student listed with the section. The map is this function's own, and
    // one join gives a section the same meetings under every student, so a
    // section already listed with meetings has them in the map, and one
    // listed with none has none to keep. (No set of copied ids beside the
    // map: copying and hashing them was a tenth of the friend page's
    // shaping.)
    let mut keep = false;
    for (owner, class, meeting) in rows {
        let starts = sections
            .last()
            .is_none_or(|(o, c)| o != &owner || c.id != class.id);
        if starts {
            keep = !meetings.contains_key(&class.id);
            sections.push((owner, class));
        }
        if let Some(meeting) = meeting.filter(|_| keep) {
            meetings
                .entry(meeting.class_id.clone())
                .or_default()
                .push(meeting);
        }
    }
    (sections, meetings)
}

/// The terms the catalog holds, newest first.
pub fn terms_present(conn: &mut DbConn) -> QueryResult<Vec<Term>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        term: String,
    }
    // Every page asks this. `SELECT DISTINCT term` reads the whole term index
    // (8,000 entries a term at UVA); this walks it newest first, one index
    // seek per term (a loose index scan), on both backends.
    const NEWEST_FIRST: &str = "WITH RECURSIVE t(term) AS ( \
           SELECT max(term) FROM classes \
           UNION ALL \
           SELECT (SELECT max(term) FROM classes WHERE term < t.term) FROM t WHERE t.term IS NOT NULL) \
         SELECT term FROM t WHERE term IS NOT NULL";
    let rows: Vec<Row> =
        crate::on_each_backend!(conn, |c| diesel::sql_query(NEWEST_FIRST).load(c))?;
    Ok(rows.iter().filter_map(|r| Term::parse(&r.term)).collect())
}

/// The meetings of the given sections, grouped by section.
pub fn meetings_by_class(
    conn: &mut DbConn,
    ids: &[ClassId],
) -> QueryResult<HashMap<ClassId, Vec<ClassMeeting>>> {
    let mut grouped: HashMap<ClassId, Vec<ClassMeeting>> = HashMap::new();
    if ids.is_empty() {
        return Ok(grouped);
    }
    for meeting in meetings_of(conn, ids)? {
        grouped
            .entry(meeting.class_id.clone())
            .or_default()
            .push(meeting);
    }
    Ok(grouped)
}

/// How many students have added a section (a count only: members are never listed).
pub fn member_count(conn: &mut DbConn, class_id: &ClassId) -> QueryResult<i64> {
    user_classes::table
        .filter(user_classes::class_id.eq(class_id))
        .count()
        .get_result(conn)
}

#[cfg(test)]
impl Class {
    /// For unit tests: section 001 of `code` ("CS 2100") in Spring 2026,
    /// offered, with no meeting columns (meetings are `ClassMeeting` rows).
    pub(crate) fn sample(code: &str) -> Class {
        let (subject, catalog) = code.split_once(' ').expect("a course code");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 12)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .expect("a date");
        Class {
            id: ClassId::new(),
            subject: subject.into(),
            catalog_number: catalog.into(),
            term: "1262".into(),
            title: None,
            description: None,
            sis_class_number: None,
            instructor: None,
            component: None,
            class_section: Some("001".into()),
            class_capacity: None,
            enrollment_available: None,
            days: None,
            start_time: None,
            end_time: None,
            location: None,
            active: true,
            last_synced_at: None,
            created_at: at,
            updated_at: at,
        }
    }
}
