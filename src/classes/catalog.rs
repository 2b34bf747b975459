//! The catalog's bulk writer: a subject's sections, as SIS last described
//! them, compared with the stored `classes` and `class_meetings` rows and
//! written (new and changed sections upserted, their meetings replaced), and
//! the sections a complete sync no longer saw marked inactive. This module and
//! its parent are the only code that writes those two tables; the SIS job maps
//! its records to `SectionRecord`s and calls here. No HTTP or SIS format here.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::term_dates::TermSpan;
use super::{Class, ClassId, ClassMeeting, MeetingId};
use crate::db::schema::{class_meetings, classes};
use crate::db::{self, DbConn};

/// Stay well below the bind-parameter limits (SQLite 32766, PostgreSQL 65535).
const MAX_BINDS: usize = 30_000;

/// Sections added, changed, left as they were, and marked inactive; and
/// those a full sync missed for the first time, left active until the next
/// one misses them too (`deactivate_missing`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SectionCounts {
    pub added: u32,
    pub changed: u32,
    pub unchanged: u32,
    pub deactivated: u32,
    pub missing: u32,
}

impl std::ops::AddAssign for SectionCounts {
    fn add_assign(&mut self, other: SectionCounts) {
        self.added += other.added;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.deactivated += other.deactivated;
        self.missing += other.missing;
    }
}

/// A section as the catalog stores it, keyed by its SIS class number.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionRecord {
    pub class_number: String,
    pub subject: String,
    pub catalog_number: String,
    pub title: Option<String>,
    pub component: Option<String>,
    pub class_section: Option<String>,
    pub instructor: Option<String>,
    pub class_capacity: Option<i32>,
    pub enrollment_available: Option<i32>,
    pub meetings: Vec<MeetingRecord>,
}

/// A meeting as the catalog stores it; `None` wherever SIS has no real value yet.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRecord {
    pub days: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub location: Option<String>,
    pub instructor: Option<String>,
    /// The meeting's first and last day (both or neither, the last not
    /// before the first); None: the term's.
    pub dates: Option<TermSpan>,
}

impl SectionRecord {
    fn first_meeting(&self) -> Option<&MeetingRecord> {
        self.meetings.first()
    }

    /// Whether the stored row and meetings already say what SIS says.
    fn matches(&self, class: &Class, meetings: &[ClassMeeting]) -> bool {
        let first = self.first_meeting();
        class.active
            && class.subject == self.subject
            && class.catalog_number == self.catalog_number
            && class.title == self.title
            && class.component == self.component
            && class.class_section == self.class_section
            && class.instructor == self.instructor
            && class.class_capacity == self.class_capacity
            && class.enrollment_available == self.enrollment_available
            && class.days.as_ref() == first.and_then(|m| m.days.as_ref())
            && class.start_time.as_ref() == first.and_then(|m| m.start_time.as_ref())
            && class.end_time.as_ref() == first.and_then(|m| m.end_time.as_ref())
            && class.location.as_ref() == first.and_then(|m| m.location.as_ref())
            && meetings.len() == self.meetings.len()
            && meetings
                .iter()
                .zip(&self.meetings)
                .enumerate()
                .all(|(i, (old, new))| {
                    old.position == i as i32
                        && old.days == new.days
                        && old.start_time == new.start_time
                        && old.end_time == new.end_time
                        && old.location == new.location
                        && old.instructor == new.instructor
                        && old.first_day == new.dates.map(|d| d.first_day)
                        && old.last_day == new.dates.map(|d| d.last_day)
                })
    }
}

/// A subject's sections keyed by SIS class number (one term).
pub type SubjectRecords = BTreeMap<String, SectionRecord>;

/// Writes a subject's sections in one transaction: upserts what is new or
/// changed (replacing those sections' meetings as a whole) and stamps
/// `last_synced_at` on the rest. Unchanged rows keep their `updated_at`. A
/// failure leaves every row of the subject as it was.
pub fn sync_subject(
    conn: &mut DbConn,
    term: &str,
    records: &SubjectRecords,
    at: NaiveDateTime,
) -> QueryResult<SectionCounts> {
    db::write_tx(conn, |c| {
        let stored = Stored::load(c, term, records)?;
        let plan = Plan::of(records, &stored);
        plan.write(c, term, at)?;
        Ok(plan.counts)
    })
}

/// What `sync_subject` would do, writing nothing (a dry run).
pub fn compare_subject(
    conn: &mut DbConn,
    term: &str,
    records: &SubjectRecords,
) -> QueryResult<SectionCounts> {
    let stored = Stored::load(conn, term, records)?;
    Ok(Plan::of(records, &stored).counts)
}

/// The stored rows and meetings of a subject's sections, by class number.
struct Stored {
    classes: HashMap<String, Class>,
    meetings: HashMap<ClassId, Vec<ClassMeeting>>,
}

impl Stored {
    fn load(conn: &mut DbConn, term: &str, records: &SubjectRecords) -> QueryResult<Stored> {
        let keys: Vec<&str> = records.keys().map(String::as_str).collect();
        let mut existing: HashMap<String, Class> = HashMap::new();
        for chunk in keys.chunks(MAX_BINDS - 1) {
            for class in classes::table
                .filter(classes::term.eq(term))
                .filter(classes::sis_class_number.eq_any(chunk))
                .select(Class::as_select())
                .load(conn)?
            {
                if let Some(number) = class.sis_class_number.clone() {
                    existing.insert(number, class);
                }
            }
        }
        let ids: Vec<ClassId> = existing.values().map(|c| c.id.clone()).collect();
        let mut meetings: HashMap<ClassId, Vec<ClassMeeting>> = HashMap::new();
        for chunk in ids.chunks(MAX_BINDS) {
            for meeting in super::meetings_of(conn, chunk)? {
                meetings
                    .entry(meeting.class_id.clone())
                    .or_default()
                    .push(meeting);
            }
        }
        Ok(Stored {
            classes: existing,
            meetings,
        })
    }
}

/// Which sections to write (with the id a new one gets), whose meetings to
/// replace, and which only to stamp as seen.
struct Plan<'r> {
    counts: SectionCounts,
    to_write: Vec<(ClassId, &'r SectionRecord)>,
    replaced: Vec<ClassId>,
    untouched: Vec<&'r str>,
}

impl<'r> Plan<'r> {
    fn of(records: &'r SubjectRecords, stored: &Stored) -> Plan<'r> {
        let mut plan = Plan {
            counts: SectionCounts::default(),
            to_write: Vec::new(),
            replaced: Vec::new(),
            untouched: Vec::new(),
        };
        for (number, record) in records {
            match stored.classes.get(number) {
                None => {
                    plan.counts.added += 1;
                    plan.to_write.push((ClassId::new(), record));
                }
                Some(class) => {
                    let meetings = stored
                        .meetings
                        .get(&class.id)
                        .map_or(&[][..], Vec::as_slice);
                    if record.matches(class, meetings) {
                        plan.counts.unchanged += 1;
                        plan.untouched.push(number);
                    } else {
                        plan.counts.changed += 1;
                        plan.replaced.push(class.id.clone());
                        plan.to_write.push((class.id.clone(), record));
                    }
                }
            }
        }
        plan
    }

    fn write(&self, conn: &mut DbConn, term: &str, at: NaiveDateTime) -> QueryResult<()> {
        let rows: Vec<SyncedClass<'_>> = self
            .to_write
            .iter()
            .map(|(id, r)| SyncedClass::of(id, r, term, at))
            .collect();
        for chunk in rows.chunks(MAX_BINDS / 20) {
            upsert_classes(conn, chunk)?;
        }
        for chunk in self.untouched.chunks(MAX_BINDS - 2) {
            diesel::update(
                classes::table
                    .filter(classes::term.eq(term))
                    .filter(classes::sis_class_number.eq_any(chunk)),
            )
            .set(classes::last_synced_at.eq(at))
            .execute(conn)?;
        }
        self.replace_meetings(conn, term)
    }

    /// Deletes the changed sections' meetings and inserts every written
    /// section's meetings afresh.
    fn replace_meetings(&self, conn: &mut DbConn, term: &str) -> QueryResult<()> {
        // The row's id is whatever the database holds for the key (an upsert keeps
        // the old id), so read it back rather than trust the one generated above.
        let written_keys: Vec<&str> = self
            .to_write
            .iter()
            .map(|(_, r)| r.class_number.as_str())
            .collect();
        let mut id_of: HashMap<String, ClassId> = HashMap::new();
        for chunk in written_keys.chunks(MAX_BINDS - 1) {
            let pairs: Vec<(ClassId, Option<String>)> = classes::table
                .filter(classes::term.eq(term))
                .filter(classes::sis_class_number.eq_any(chunk))
                .select((classes::id, classes::sis_class_number))
                .load(conn)?;
            id_of.extend(pairs.into_iter().filter_map(|(id, n)| n.map(|n| (n, id))));
        }
        for chunk in self.replaced.chunks(MAX_BINDS) {
            diesel::delete(class_meetings::table.filter(class_meetings::class_id.eq_any(chunk)))
                .execute(conn)?;
        }
        let meeting_ids: Vec<MeetingId> = self
            .to_write
            .iter()
            .flat_map(|(_, r)| r.meetings.iter().map(|_| MeetingId::new()))
            .collect();
        let mut meeting_rows: Vec<SyncedMeeting<'_>> = Vec::with_capacity(meeting_ids.len());
        let mut next_id = meeting_ids.iter();
        for (_, record) in &self.to_write {
            let Some(class_id) = id_of.get(&record.class_number) else {
                return Err(diesel::result::Error::NotFound);
            };
            for (position, m) in record.meetings.iter().enumerate() {
                let Some(id) = next_id.next() else {
                    // One id was made per meeting just above.
                    return Err(diesel::result::Error::NotFound);
                };
                meeting_rows.push(SyncedMeeting {
                    id,
                    class_id,
                    position: position as i32,
                    days: m.days.as_deref(),
                    start_time: m.start_time.as_deref(),
                    end_time: m.end_time.as_deref(),
                    location: m.location.as_deref(),
                    instructor: m.instructor.as_deref(),
                    first_day: m.dates.map(|d| d.first_day),
                    last_day: m.dates.map(|d| d.last_day),
                });
            }
        }
        for chunk in meeting_rows.chunks(MAX_BINDS / 10) {
            crate::on_each_backend!(conn, |c| diesel::insert_into(class_meetings::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    }
}

/// A `classes` row as the sync writes it. Unlike `NewClass`, a `None` is
/// written as NULL rather than left to the column's default, which lets
/// SQLite put many rows in one statement.
#[derive(Debug, Insertable)]
#[diesel(table_name = classes, treat_none_as_default_value = false)]
struct SyncedClass<'a> {
    id: &'a ClassId,
    subject: &'a str,
    catalog_number: &'a str,
    term: &'a str,
    title: Option<&'a str>,
    description: Option<&'a str>,
    sis_class_number: Option<&'a str>,
    instructor: Option<&'a str>,
    component: Option<&'a str>,
    class_section: Option<&'a str>,
    class_capacity: Option<i32>,
    enrollment_available: Option<i32>,
    days: Option<&'a str>,
    start_time: Option<&'a str>,
    end_time: Option<&'a str>,
    location: Option<&'a str>,
    active: bool,
    last_synced_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A `class_meetings` row as the sync writes it (NULLs written, as above).
#[derive(Debug, Insertable)]
#[diesel(table_name = class_meetings, treat_none_as_default_value = false)]
struct SyncedMeeting<'a> {
    id: &'a MeetingId,
    class_id: &'a ClassId,
    position: i32,
    days: Option<&'a str>,
    start_time: Option<&'a str>,
    end_time: Option<&'a str>,
    location: Option<&'a str>,
    instructor: Option<&'a str>,
    first_day: Option<NaiveDate>,
    last_day: Option<NaiveDate>,
}

/// One multi-row upsert on the SIS key. Written per backend: `ON CONFLICT`
/// does not compile through `MultiBackend`.
fn upsert_classes(conn: &mut DbConn, rows: &[SyncedClass<'_>]) -> QueryResult<usize> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(classes::table)
        .values(rows)
        .on_conflict((classes::term, classes::sis_class_number))
        .do_update()
        .set((
            classes::subject.eq(excluded(classes::subject)),
            classes::catalog_number.eq(excluded(classes::catalog_number)),
            classes::title.eq(excluded(classes::title)),
            classes::instructor.eq(excluded(classes::instructor)),
            classes::component.eq(excluded(classes::component)),
            classes::class_section.eq(excluded(classes::class_section)),
            classes::class_capacity.eq(excluded(classes::class_capacity)),
            classes::enrollment_available.eq(excluded(classes::enrollment_available)),
            classes::days.eq(excluded(classes::days)),
            classes::start_time.eq(excluded(classes::start_time)),
            classes::end_time.eq(excluded(classes::end_time)),
            classes::location.eq(excluded(classes::location)),
            classes::active.eq(excluded(classes::active)),
            classes::last_synced_at.eq(excluded(classes::last_synced_at)),
            classes::updated_at.eq(excluded(classes::updated_at)),
        ))
        .execute(c))
}

impl<'a> SyncedClass<'a> {
    /// The row for a section; the first meeting fills the row's own time and place.
    fn of(
        id: &'a ClassId,
        r: &'a SectionRecord,
        term: &'a str,
        at: NaiveDateTime,
    ) -> SyncedClass<'a> {
        let first = r.first_meeting();
        SyncedClass {
            id,
            subject: &r.subject,
            catalog_number: &r.catalog_number,
            term,
            title: r.title.as_deref(),
            description: None,
            sis_class_number: Some(&r.class_number),
            instructor: r.instructor.as_deref(),
            component: r.component.as_deref(),
            class_section: r.class_section.as_deref(),
            class_capacity: r.class_capacity,
            enrollment_available: r.enrollment_available,
            days: first.and_then(|m| m.days.as_deref()),
            start_time: first.and_then(|m| m.start_time.as_deref()),
            end_time: first.and_then(|m| m.end_time.as_deref()),
            location: first.and_then(|m| m.location.as_deref()),
            active: true,
            last_synced_at: Some(at),
            created_at: at,
            updated_at: at,
        }
    }
}

/// What marking the unseen sections inactive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deactivation {
    /// `deactivated` sections were (or, comparing only, would be) marked
    /// inactive; `missing` more were missed for the first time and kept.
    Done { deactivated: u32, missing: u32 },
    /// SIS returned nothing at all: more likely its fault than a cancelled term.
    Refused(u32),
}

/// Marks inactive, in one transaction (never deletes: enrollments and chats
/// hang on them), the term's SIS sections that a complete sync did not
/// `seen`, and that the previous complete full sync, started at
/// `previous_full`, missed too.
///
/// One miss is not proof a section was cancelled: pages are read one after
/// another, and a section SIS dropped (or re-sorted) on a page already read
/// moves the next page's first section onto it, where this run never looks.
/// Marked inactive, that section would leave its students' timetables and
/// calendar apps until the next sync. A section every sync syncs carries
/// that sync's time (`last_synced_at`), so one older than the previous full
/// sync was missed by it as well. With no previous full sync, nothing is
/// marked inactive yet.
pub fn deactivate_missing(
    conn: &mut DbConn,
    term: &str,
    seen: &HashSet<String>,
    previous_full: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> QueryResult<Deactivation> {
    db::write_tx(conn, |c| {
        let (gone, verdict) = missing(c, term, seen, previous_full)?;
        if let Deactivation::Done { .. } = verdict {
            for chunk in gone.chunks(MAX_BINDS - 2) {
                diesel::update(classes::table.filter(classes::id.eq_any(chunk)))
                    .set((classes::active.eq(false), classes::updated_at.eq(at)))
                    .execute(&mut **c)?;
            }
        }
        Ok(verdict)
    })
}

/// What `deactivate_missing` would do, writing nothing (a dry run).
pub fn count_missing(
    conn: &mut DbConn,
    term: &str,
    seen: &HashSet<String>,
    previous_full: Option<NaiveDateTime>,
) -> QueryResult<Deactivation> {
    Ok(missing(conn, term, seen, previous_full)?.1)
}

/// The sections to mark inactive now, and the verdict.
fn missing(
    conn: &mut DbConn,
    term: &str,
    seen: &HashSet<String>,
    previous_full: Option<NaiveDateTime>,
) -> QueryResult<(Vec<ClassId>, Deactivation)> {
    let active: Vec<(ClassId, Option<String>, Option<NaiveDateTime>)> = classes::table
        .filter(classes::term.eq(term))
        .filter(classes::active.eq(true))
        .filter(classes::sis_class_number.is_not_null())
        .select((
            classes::id,
            classes::sis_class_number,
            classes::last_synced_at,
        ))
        .load(conn)?;
    let unseen: Vec<(ClassId, Option<NaiveDateTime>)> = active
        .into_iter()
        .filter(|(_, number, _)| number.as_ref().is_some_and(|n| !seen.contains(n)))
        .map(|(id, _, synced)| (id, synced))
        .collect();
    let count = unseen.len() as u32;
    if seen.is_empty() && count > 0 {
        return Ok((Vec::new(), Deactivation::Refused(count)));
    }
    let (gone, kept): (Vec<_>, Vec<_>) = unseen.into_iter().partition(|(_, synced)| {
        previous_full.is_some_and(|previous| synced.is_none_or(|at| at < previous))
    });
    Ok((
        gone.iter().map(|(id, _)| id.clone()).collect(),
        Deactivation::Done {
            deactivated: gone.len() as u32,
            missing: kept.len() as u32,
        },
    ))
}
