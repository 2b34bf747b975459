//! The per-student side of the bus: each student with an open stream (the
//! nav's unread count) has a hub here. When the source says a student has new
//! notifications, the bus counts them once for this process and hands the
//! number to that student's streams only. Nothing but the count moves: no
//! notification, no author, nothing about anyone else.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::accounts::UserId;
use crate::db::schema::notifications;
use crate::db::DbConn;
use crate::notifications::NotificationId;

/// The count is read up to this (the nav shows "99+" at it); the web layer
/// checks at compile time that it is the nav's own cap.
pub const UNREAD_CAP: i64 = 100;

/// A student's unread count, and when the reading that produced it began: a
/// stream ignores any reading that began before its own latest one, so a slow
/// reading can never put an older number on the page after a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    pub count: i64,
    pub counted_at: Instant,
}

/// The hubs of the students with open streams in this process.
#[derive(Default)]
pub(super) struct Students {
    hubs: Mutex<HashMap<UserId, watch::Sender<Option<Unread>>>>,
}

impl Students {
    pub(super) fn subscribe(&self, user: &UserId) -> watch::Receiver<Option<Unread>> {
        let mut hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        hubs.entry(user.clone())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe()
    }

    /// Forgets the student once their last stream is gone.
    pub(super) fn release(&self, user: &UserId) {
        let mut hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        if hubs.get(user).is_some_and(|hub| hub.receiver_count() == 0) {
            hubs.remove(user);
        }
    }

    /// Whether any student has an open stream (else the SQLite poller skips its query).
    pub(super) fn any(&self) -> bool {
        !self
            .hubs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Of `users`, those with open streams here.
    pub(super) fn watched(&self, users: impl IntoIterator<Item = UserId>) -> Vec<UserId> {
        let hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashSet::new();
        users
            .into_iter()
            .filter(|u| hubs.contains_key(u) && seen.insert(u.clone()))
            .collect()
    }

    /// Every student with an open stream (after the source was away).
    pub(super) fn all(&self) -> Vec<UserId> {
        let hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        hubs.keys().cloned().collect()
    }

    /// Hands a new reading to the student's streams, unless a later one is already there.
    pub(super) fn publish(&self, user: &UserId, unread: Unread) {
        let hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hub) = hubs.get(user) {
            hub.send_if_modified(|current| {
                if current.is_some_and(|c| c.counted_at > unread.counted_at) {
                    return false;
                }
                *current = Some(unread);
                true
            });
        }
    }
}

/// A stream's place on its student's hub. Dropping the last one forgets the student.
pub struct UnreadSubscription {
    pub(super) bus: std::sync::Arc<super::Bus>,
    pub(super) user: UserId,
    pub(super) receiver: Option<watch::Receiver<Option<Unread>>>,
}

impl UnreadSubscription {
    /// The next reading of the student's count; None when the bus is gone.
    pub async fn next(&mut self) -> Option<Unread> {
        let receiver = self.receiver.as_mut()?;
        loop {
            receiver.changed().await.ok()?;
            if let Some(unread) = *receiver.borrow_and_update() {
                return Some(unread);
            }
        }
    }
}

impl Drop for UnreadSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.bus.students.release(&self.user);
    }
}

/// Counts each student's unread notifications (one statement each), stamped
/// with when the counting began.
pub(super) fn count(conn: &mut DbConn, users: &[UserId]) -> QueryResult<Vec<(UserId, Unread)>> {
    let counted_at = Instant::now();
    let now = crate::clock::now();
    users
        .iter()
        .map(|user| {
            let count = crate::notifications::unread_count(conn, user, now, UNREAD_CAP)?;
            Ok((user.clone(), Unread { count, counted_at }))
        })
        .collect()
}

/// What the SQLite poller remembers between polls: which notifications it has
/// already announced, so a row is announced once however often the overlapping
/// window returns it.
pub(super) struct NewRows {
    since: Option<NaiveDateTime>,
    announced: HashMap<NotificationId, NaiveDateTime>,
}

/// How far back each SQLite poll looks again. A row's `created_at` is its
/// writer's `now`, taken before its transaction waited for SQLite's write lock
/// (up to the 5 s busy timeout), so a row can commit well after its time.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(30);

impl NewRows {
    pub(super) fn new() -> NewRows {
        NewRows {
            since: None,
            announced: HashMap::new(),
        }
    }

    /// The students with notifications that began to show since the last
    /// poll (new rows, and rows dated in the future that are now due), each
    /// once. One statement on `notifications (created_at)`.
    pub(super) fn poll(
        &mut self,
        conn: &mut DbConn,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<UserId>> {
        let since = self.since.unwrap_or(now) - OVERLAP;
        let rows: Vec<(NotificationId, UserId, NaiveDateTime)> = notifications::table
            .filter(notifications::created_at.gt(since))
            .filter(notifications::created_at.le(now))
            .select((
                notifications::id,
                notifications::user_id,
                notifications::created_at,
            ))
            .load(conn)?;
        self.since = Some(now);
        Ok(self.announce(rows, since))
    }

    fn announce(
        &mut self,
        rows: Vec<(NotificationId, UserId, NaiveDateTime)>,
        since: NaiveDateTime,
    ) -> Vec<UserId> {
        // A row older than the window is never returned again.
        self.announced.retain(|_, at| *at > since);
        let mut users = Vec::new();
        for (id, user, at) in rows {
            if self.announced.insert(id, at).is_none() && !users.contains(&user) {
                users.push(user);
            }
        }
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clock::fixed as at;

    #[test]
    fn a_row_seen_by_overlapping_polls_is_announced_once() {
        let mut rows = NewRows::new();
        let (a, b) = (UserId::new(), UserId::new());
        let (first, second) = (NotificationId::new(), NotificationId::new());
        let announced = rows.announce(
            vec![
                (first.clone(), a.clone(), at(10)),
                (second.clone(), a.clone(), at(11)),
            ],
            at(0),
        );
        assert_eq!(announced, vec![a.clone()], "each student once per poll");
        let third = NotificationId::new();
        let announced = rows.announce(
            vec![
                (first, a.clone(), at(10)),
                (second, a.clone(), at(11)),
                (third, b.clone(), at(12)),
            ],
            at(1),
        );
        assert_eq!(announced, vec![b], "only the new row's student");
        // Rows that fell out of the window are forgotten.
        rows.announce(Vec::new(), at(60));
        assert!(rows.announced.is_empty());
    }

    #[test]
    fn an_older_reading_never_replaces_a_newer_one() {
        let students = Students::default();
        let user = UserId::new();
        let mut receiver = students.subscribe(&user);
        let early = Instant::now();
        let late = early + std::time::Duration::from_millis(5);
        students.publish(
            &user,
            Unread {
                count: 2,
                counted_at: late,
            },
        );
        students.publish(
            &user,
            Unread {
                count: 1,
                counted_at: early,
            },
        );
        assert_eq!(receiver.borrow_and_update().map(|u| u.count), Some(2));
        drop(receiver);
        students.release(&user);
        assert!(
            !students.any(),
            "the student is forgotten with their last stream"
        );
    }
}
