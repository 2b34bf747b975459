//! A term's sections with their meetings, held in memory by `TermList`: home
//! and the timetable show a student's sections in full, and the catalog
//! changes only when SIS syncs. The pages then read from the database only
//! which sections the student takes, inside a statement they already run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Instant;

use diesel::prelude::*;

use super::{Class, ClassId, ClassMeeting, MeetingsByClass};
use crate::db::schema::{class_meetings, classes};
use crate::db::DbConn;

/// Every section of one term, with its meetings, by id.
#[derive(Debug, Default)]
pub struct TermSections {
    by_id: HashMap<ClassId, (Class, Vec<ClassMeeting>)>,
}

impl TermSections {
    /// The term's sections and their meetings, in one statement. Unordered:
    /// sorting by section made SQLite walk every term's sections in id order
    /// instead of finding this term's by its index.
    pub fn load(conn: &mut DbConn, term: &str) -> QueryResult<TermSections> {
        let rows: Vec<(Class, Option<ClassMeeting>)> = classes::table
            .left_join(class_meetings::table)
            .filter(classes::term.eq(term))
            .select((Class::as_select(), Option::<ClassMeeting>::as_select()))
            .load(conn)?;
        let mut by_id: HashMap<ClassId, (Class, Vec<ClassMeeting>)> = HashMap::new();
        for (class, meeting) in rows {
            let (_, listed) = by_id
                .entry(class.id.clone())
                .or_insert_with(|| (class, Vec::new()));
            listed.extend(meeting);
        }
        for (_, listed) in by_id.values_mut() {
            listed.sort_by_key(|m| m.position);
        }
        Ok(TermSections { by_id })
    }

    /// How many sections are held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no section is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The sections `ids` names, in course order (`in_course_order`), with
    /// their meetings. A section not held (made by a sync
    /// in another process since this term was read) is read from the
    /// database, in one more statement: never left off the page.
    pub fn pick(
        &self,
        conn: &mut DbConn,
        ids: &[ClassId],
    ) -> QueryResult<(Vec<Class>, MeetingsByClass)> {
        let mut picked = Vec::with_capacity(ids.len());
        let mut meetings = MeetingsByClass::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.by_id.get(id) {
                Some((class, listed)) => {
                    picked.push(class.clone());
                    if !listed.is_empty() {
                        meetings.insert(id.clone(), listed.clone());
                    }
                }
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            let (more, more_meetings) = super::with_meetings(conn, &missing)?;
            picked.extend(more);
            meetings.extend(more_meetings);
        }
        Ok((in_course_order(picked), meetings))
    }
}

/// Sections as pages list a student's: by course code, then section, then
/// id (`course_order`, as a friend's week lists them).
pub fn in_course_order(mut sections: Vec<Class>) -> Vec<Class> {
    sections.sort_by(|a, b| super::course_order(a).cmp(&super::course_order(b)));
    sections
}

/// One term's held sections, the lock its one reader holds, and when a page
/// last asked for them.
#[derive(Debug)]
pub(super) struct Slot {
    held: Mutex<Option<(Instant, Arc<TermSections>)>>,
    reading: Mutex<()>,
    asked_at: Mutex<Instant>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            held: Mutex::new(None),
            reading: Mutex::new(()),
            asked_at: Mutex::new(Instant::now()),
        }
    }
}

impl Slot {
    /// The held sections when read within `keep_for`; else read again by one
    /// request at a time. While one request reads them, the others go on with
    /// the copy that expired (a term read for the first time makes them wait
    /// for it instead), so an expiry under load costs one statement, not one
    /// per request in flight.
    pub(super) fn get(
        &self,
        keep_for: std::time::Duration,
        read: impl FnOnce() -> QueryResult<(Arc<TermSections>, bool)>,
    ) -> QueryResult<Arc<TermSections>> {
        *self
            .asked_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
        let fresh = |held: &Option<(Instant, Arc<TermSections>)>| {
            held.as_ref()
                .filter(|(read_at, _)| read_at.elapsed() < keep_for)
                .map(|(_, sections)| sections.clone())
        };
        let expired = {
            let held = self.held();
            if let Some(sections) = fresh(&held) {
                return Ok(sections);
            }
            held.as_ref().map(|(_, sections)| sections.clone())
        };
        let _reading = match (self.reading.try_lock(), expired) {
            (Ok(guard), _) => guard,
            (Err(TryLockError::Poisoned(poisoned)), _) => poisoned.into_inner(),
            (Err(TryLockError::WouldBlock), Some(expired)) => return Ok(expired),
            (Err(TryLockError::WouldBlock), None) => self
                .reading
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        // Another request may have read them between the look and the lock.
        if let Some(sections) = fresh(&self.held()) {
            return Ok(sections);
        }
        let started = Instant::now();
        let (sections, keep) = read()?;
        if keep {
            *self.held() = Some((started, sections.clone()));
        }
        Ok(sections)
    }

    /// Whether no page has asked for this term within `keep_for`.
    pub(super) fn unasked_for(&self, keep_for: std::time::Duration) -> bool {
        self.asked_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .elapsed()
            >= keep_for
    }

    fn held(&self) -> MutexGuard<'_, Option<(Instant, Arc<TermSections>)>> {
        // A panic while holding this lock left nothing half-written.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sections(n: usize) -> Arc<TermSections> {
        Arc::new(TermSections {
            by_id: (0..n)
                .map(|_| {
                    let class = Class {
                        id: ClassId::new(),
                        subject: "CS".into(),
                        catalog_number: "2100".into(),
                        term: "1262".into(),
                        title: None,
                        description: None,
                        sis_class_number: None,
                        instructor: None,
                        component: None,
                        class_section: None,
                        class_capacity: None,
                        enrollment_available: None,
                        days: None,
                        start_time: None,
                        end_time: None,
                        location: None,
                        active: true,
                        last_synced_at: None,
                        created_at: crate::clock::fixed(0),
                        updated_at: crate::clock::fixed(0),
                    };
                    (class.id.clone(), (class, Vec::new()))
                })
                .collect(),
        })
    }

    #[test]
    fn a_held_term_is_read_once_until_it_expires() {
        let slot = Slot::default();
        let reads = std::cell::Cell::new(0);
        let read = || {
            reads.set(reads.get() + 1);
            Ok((sections(reads.get()), true))
        };
        assert_eq!(slot.get(Duration::from_secs(60), read).unwrap().len(), 1);
        assert_eq!(slot.get(Duration::from_secs(60), read).unwrap().len(), 1);
        assert_eq!(reads.get(), 1);
        assert_eq!(slot.get(Duration::ZERO, read).unwrap().len(), 2);
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn while_one_request_reads_again_the_others_keep_the_expired_copy() {
        let slot = Slot::default();
        slot.get(Duration::ZERO, || Ok((sections(1), true)))
            .unwrap();
        let _reading = slot.reading.lock().unwrap();
        let got = slot
            .get(Duration::ZERO, || panic!("a second reader"))
            .unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn a_read_begun_before_a_sync_is_not_kept() {
        let slot = Slot::default();
        slot.get(Duration::from_secs(60), || Ok((sections(1), false)))
            .unwrap();
        let got = slot
            .get(Duration::from_secs(60), || Ok((sections(2), true)))
            .unwrap();
        assert_eq!(got.len(), 2);
    }
}
