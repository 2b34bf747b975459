//! The live event bus of one app process: it learns that a class chat changed
//! (PostgreSQL `LISTEN` on one dedicated connection, or on SQLite a poller of
//! `chat_events`), loads the new events once per process, and hands them to
//! every open stream of that class. Beside the classes, it learns the same way
//! which students have new notifications (`cg_notify`, or new rows of
//! `notifications`), counts them once and hands the count to that student's
//! streams (`unread`). It holds no truth of its own: a stream that falls
//! behind, or a bus that lost its source for a while, reloads from the
//! database. Domain-level: no actix, no rendering; streams shape what they get.

mod source;
mod unread;

pub use unread::{Unread, UnreadSubscription, UNREAD_CAP};

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use crate::accounts::UserId;
use crate::chat::live::{self, LiveBatch};
use crate::classes::ClassId;
use crate::config::DatabaseUrl;
use crate::db::Pool;

/// Events loaded per database round trip by the fan-out.
const BATCH_LIMIT: i64 = 500;

/// Updates a class's streams may fall behind by before they must reload from
/// the database themselves (`broadcast`'s `Lagged`).
const CLASS_BACKLOG: usize = 64;

/// How long a failed load waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// What a class's open streams receive.
#[derive(Debug, Clone)]
pub enum Update {
    /// New events of the class, loaded once for every stream of this process.
    Batch(Arc<LiveBatch>),
    /// The bus may have missed events (its source reconnected): each stream
    /// reloads from the database after the last event it sent.
    Reload,
}

/// What a source tells the fan-out.
#[derive(Debug)]
enum Signal {
    /// The class has new events: one (PostgreSQL's notice), or the first
    /// and last of those the SQLite poller found in one read.
    Changed { class_id: ClassId, seqs: Seqs },
    /// The student has new notifications.
    Notified(UserId),
    /// The student's access changed (on any app process): their streams
    /// here check theirs at once.
    AccessChanged(UserId),
    /// The source was away and may have missed changes: every class catches
    /// up, and every student's count is read again.
    CatchUp,
}

/// The first and last of a class's events announced together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seqs {
    pub first: i64,
    pub last: i64,
}

impl Seqs {
    pub fn one(seq: i64) -> Seqs {
        Seqs {
            first: seq,
            last: seq,
        }
    }
}

/// Where a class's next load starts.
#[derive(Debug, PartialEq, Eq)]
enum LoadFrom {
    /// Everything announced was handed over already.
    Nothing,
    /// The events after this one.
    After(i64),
    /// Nothing was handed over and nothing announced: the streams reload.
    Reload,
}

/// Where to load from, given the last event handed to the class's streams
/// (`through`) and what was announced. Announced events are skipped only
/// when the last of them was handed over: a load reads on past the event
/// that woke it, so the first of the next announcement may be handed over
/// already while the rest of it is not (the SQLite poller finding several
/// events in one read lost all but the first that way, until the class's
/// next event). With nothing handed over yet, everything from the first
/// announced on is new (within a class, commit order is seq order, and the
/// streams read what came before it themselves), and `through` starts just
/// before it: an announcement whose load fails is retried later, after newer
/// ones, which must not start past it.
fn load_from(through: &mut Option<i64>, announced: Option<Seqs>) -> LoadFrom {
    match (*through, announced) {
        (Some(through), Some(seqs)) if seqs.last <= through => LoadFrom::Nothing,
        (Some(through), _) => LoadFrom::After(through),
        (None, Some(seqs)) => {
            *through = Some(seqs.first - 1);
            LoadFrom::After(seqs.first - 1)
        }
        (None, None) => LoadFrom::Reload,
    }
}

/// Students whose counts one database round trip reads, at most.
const COUNT_BATCH: usize = 200;

/// Which limit a stream counts against: a session's class streams and its
/// nav-count streams are counted apart, so one never crowds out the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StreamKind {
    Class,
    Unread,
}

/// One class with open streams in this process.
struct ClassHub {
    sender: broadcast::Sender<Update>,
    /// The newest event handed to this class's streams; None before the first.
    loaded_through: Option<i64>,
}

/// The per-app event bus. One per app (never a process static), held by the
/// app's state; `run` drives it until the app stops.
pub struct Bus {
    pool: Pool,
    database_url: DatabaseUrl,
    classes: Mutex<HashMap<ClassId, ClassHub>>,
    students: Arc<unread::Students>,
    signals: mpsc::UnboundedSender<Signal>,
    pending: Mutex<Option<mpsc::UnboundedReceiver<Signal>>>,
    stopping: watch::Sender<bool>,
    open_streams: AtomicI64,
    per_session: Mutex<HashMap<(StreamKind, String), usize>>,
    /// Students with open streams here, each with a counter bumped when
    /// their access changes; a change for anyone else is dropped at once.
    access: Mutex<HashMap<UserId, AccessEntry>>,
}

/// One student's access counter and how many of their streams watch it.
struct AccessEntry {
    changes: watch::Sender<u64>,
    watchers: usize,
}

/// A stream's watch on its student's access: `changed` returns when it
/// changed (or at once, false, when the bus is gone).
pub struct AccessWatch {
    bus: Arc<Bus>,
    user: UserId,
    receiver: watch::Receiver<u64>,
}

impl AccessWatch {
    /// Waits for the student's next access change; false when the bus is gone.
    pub async fn changed(&mut self) -> bool {
        self.receiver.changed().await.is_ok()
    }
}

impl Drop for AccessWatch {
    fn drop(&mut self) {
        let mut access = self.bus.access.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = access.get_mut(&self.user) {
            entry.watchers -= 1;
            if entry.watchers == 0 {
                access.remove(&self.user);
            }
        }
    }
}

/// A stream's place on the bus: the updates of its class from the moment it
/// subscribed. Dropping the last one of a class forgets the class.
pub struct Subscription {
    bus: Arc<Bus>,
    class_id: ClassId,
    receiver: Option<broadcast::Receiver<Update>>,
}

/// One open stream, counted for the session's limit and for `/metrics`.
pub struct StreamTicket {
    bus: Arc<Bus>,
    key: (StreamKind, String),
}

impl Bus {
    /// A bus over this app's pool; `database_url` chooses the source.
    pub fn new(pool: Pool, database_url: DatabaseUrl) -> Arc<Bus> {
        let (signals, pending) = mpsc::unbounded_channel();
        Arc::new(Bus {
            pool,
            database_url,
            classes: Mutex::default(),
            students: Arc::default(),
            signals,
            pending: Mutex::new(Some(pending)),
            stopping: watch::channel(false).0,
            open_streams: AtomicI64::new(0),
            per_session: Mutex::default(),
            access: Mutex::default(),
        })
    }

    /// Runs the source and the fan-out until `stop` turns true (or its sender
    /// goes). Streams end at `stop_streams`, which shutdown calls first.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let Some(mut signals) = self.pending.lock().map(|mut p| p.take()).unwrap_or(None) else {
            tracing::error!("the live bus was started twice");
            return;
        };
        let source = source::start(
            &self.database_url,
            self.pool.clone(),
            Arc::clone(&self.students),
            self.signals.clone(),
            stop.clone(),
        );
        let mut held: Option<Signal> = None;
        loop {
            let signal = match held.take() {
                Some(signal) => Some(signal),
                None => tokio::select! {
                    signal = signals.recv() => signal,
                    _ = stop.changed() => None,
                },
            };
            match signal {
                Some(Signal::Changed { class_id, seqs }) => {
                    self.deliver(&class_id, Some(seqs)).await
                }
                Some(Signal::Notified(user)) => {
                    // A reply notifies every follower at once: count the
                    // students announced together on one connection.
                    let mut users = vec![user];
                    while users.len() < COUNT_BATCH {
                        match signals.try_recv() {
                            Ok(Signal::Notified(user)) => users.push(user),
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.recount(users).await;
                }
                Some(Signal::AccessChanged(user)) => self.access_changed(&user),
                Some(Signal::CatchUp) => {
                    self.catch_up().await;
                    self.recount(self.students.all()).await;
                }
                None => break,
            }
        }
        self.stop_streams();
        source.stop().await;
    }

    /// Ends every open stream of this app (at shutdown, before the server
    /// waits for requests in flight).
    pub fn stop_streams(&self) {
        self.stopping.send_replace(true);
    }

    /// Turns true when the app is shutting down: streams end then.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// The student's access changed (signed out, a session ended, a class
    /// left, the account deleted or suspended): their open streams here check
    /// at once that their session is live and they take their class, instead
    /// of at their next periodic check. A request calls it after its change
    /// commits; on PostgreSQL the change's `cg_access` notice calls it again
    /// on every app process (`accounts::sessions::announce_access_changed`).
    /// Only that student's streams wake.
    pub fn access_changed(&self, user: &UserId) {
        let access = self.access.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = access.get(user) {
            entry.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The student's unread count went down (they read notices, in a
    /// request that has committed): their streams here count again, so every
    /// open tab's badge follows, not only the page that read them. On
    /// PostgreSQL a trigger announces any change of a count on `cg_notify`,
    /// reaching every app process (migration `unread_changes_announced`);
    /// SQLite's poller sees only new rows, so the requests that read say so
    /// here. Nothing happens for a student with no stream here.
    pub fn unread_changed(&self, user: &UserId) {
        if !self.students.watched([user.clone()]).is_empty() {
            let _ = self.signals.send(Signal::Notified(user.clone()));
        }
    }

    /// Watches `user`'s access from now on, for one of their streams.
    pub fn watch_access(self: &Arc<Self>, user: &UserId) -> AccessWatch {
        let mut access = self.access.lock().unwrap_or_else(|e| e.into_inner());
        let entry = access.entry(user.clone()).or_insert_with(|| AccessEntry {
            changes: watch::channel(0).0,
            watchers: 0,
        });
        entry.watchers += 1;
        AccessWatch {
            bus: Arc::clone(self),
            user: user.clone(),
            receiver: entry.changes.subscribe(),
        }
    }

    /// Streams open in this process (the `/metrics` gauge).
    pub fn open_streams(&self) -> i64 {
        self.open_streams.load(Ordering::Relaxed)
    }

    /// Counts a class stream opened by `session`, unless it already has `limit` open.
    pub fn open_stream(self: &Arc<Self>, session: &str, limit: usize) -> Option<StreamTicket> {
        self.open_counted((StreamKind::Class, session.to_string()), limit)
    }

    /// Counts a nav-count stream opened by `session`, unless it already has
    /// `limit` open; counted apart from its class streams.
    pub fn open_unread_stream(
        self: &Arc<Self>,
        session: &str,
        limit: usize,
    ) -> Option<StreamTicket> {
        self.open_counted((StreamKind::Unread, session.to_string()), limit)
    }

    fn open_counted(
        self: &Arc<Self>,
        key: (StreamKind, String),
        limit: usize,
    ) -> Option<StreamTicket> {
        let mut open = self.per_session.lock().ok()?;
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        Some(StreamTicket {
            bus: Arc::clone(self),
            key,
        })
    }

    /// Subscribes to the student's unread count from now on. Subscribe first,
    /// then read the count from the database: no change falls in between.
    pub fn watch_unread(self: &Arc<Self>, user: &UserId) -> UnreadSubscription {
        UnreadSubscription {
            bus: Arc::clone(self),
            user: user.clone(),
            receiver: Some(self.students.subscribe(user)),
        }
    }

    /// Reads the counts of those of `users` with open streams here, once for
    /// all their streams, and hands each to its student's streams only.
    async fn recount(&self, users: Vec<UserId>) {
        let users = self.students.watched(users);
        if users.is_empty() {
            return;
        }
        let pool = self.pool.clone();
        let asked = users.clone();
        let counted =
            tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(UserId, Unread)>> {
                let mut conn = crate::db::checkout(&pool)?;
                Ok(unread::count(&mut conn, &asked)?)
            })
            .await;
        match counted {
            Ok(Ok(counts)) => {
                for (user, unread) in counts {
                    self.students.publish(&user, unread);
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "live: counting unread notifications failed; retrying");
                self.retry_counts(users);
            }
            Err(error) => {
                tracing::error!(%error, "live: the counting task failed; retrying");
                self.retry_counts(users);
            }
        }
    }

    fn retry_counts(&self, users: Vec<UserId>) {
        let signals = self.signals.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETRY_AFTER).await;
            for user in users {
                let _ = signals.send(Signal::Notified(user));
            }
        });
    }

    /// Subscribes to the class's updates from now on. Subscribe first, then
    /// read what was missed from the database: nothing falls in between.
    pub fn subscribe(self: &Arc<Self>, class_id: &ClassId) -> Subscription {
        let mut classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        let hub = classes.entry(class_id.clone()).or_insert_with(|| ClassHub {
            sender: broadcast::channel(CLASS_BACKLOG).0,
            loaded_through: None,
        });
        Subscription {
            bus: Arc::clone(self),
            class_id: class_id.clone(),
            receiver: Some(hub.sender.subscribe()),
        }
    }

    /// Loads the class's events after what its streams already got and hands
    /// them over. `seqs` are the events that were announced (see `load_from`).
    async fn deliver(&self, class_id: &ClassId, seqs: Option<Seqs>) {
        let mut after = {
            let mut classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
            let Some(hub) = classes.get_mut(class_id) else {
                return;
            };
            match load_from(&mut hub.loaded_through, seqs) {
                LoadFrom::Nothing => return,
                LoadFrom::After(after) => after,
                LoadFrom::Reload => {
                    let _ = hub.sender.send(Update::Reload);
                    return;
                }
            }
        };
        loop {
            let pool = self.pool.clone();
            let class = class_id.clone();
            let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<LiveBatch> {
                let mut conn = crate::db::checkout(&pool)?;
                Ok(live::load(&mut conn, &class, after, BATCH_LIMIT)?)
            })
            .await;
            let batch = match loaded {
                Ok(Ok(batch)) => batch,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "live: loading new chat events failed; retrying");
                    self.retry(class_id, seqs);
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, "live: the loading task failed; retrying");
                    self.retry(class_id, seqs);
                    return;
                }
            };
            let Some(last) = batch.last_seq() else {
                return;
            };
            {
                let mut classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
                let Some(hub) = classes.get_mut(class_id) else {
                    return;
                };
                hub.loaded_through = Some(last);
                // No receiver left is not an error: the class is about to go.
                let _ = hub.sender.send(Update::Batch(Arc::new(batch)));
            }
            // A full batch may not be all: read on until nothing is left.
            after = last;
        }
    }

    fn retry(&self, class_id: &ClassId, seqs: Option<Seqs>) {
        let signals = self.signals.clone();
        let class_id = class_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RETRY_AFTER).await;
            let _ = match seqs {
                Some(seqs) => signals.send(Signal::Changed { class_id, seqs }),
                None => signals.send(Signal::CatchUp),
            };
        });
    }

    /// After the source was away: each class loads what it may have missed.
    async fn catch_up(&self) {
        let classes: Vec<ClassId> = {
            let classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
            classes.keys().cloned().collect()
        };
        for class_id in classes {
            self.deliver(&class_id, None).await;
        }
    }
}

impl Subscription {
    /// The next update; `Reload` also when this stream fell too far behind.
    /// None when the class was dropped from the bus (it is not, while subscribed).
    pub async fn next(&mut self) -> Option<Update> {
        let receiver = self.receiver.as_mut()?;
        match receiver.recv().await {
            Ok(update) => Some(update),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Update::Reload),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut classes = self.bus.classes.lock().unwrap_or_else(|e| e.into_inner());
        if classes
            .get(&self.class_id)
            .is_some_and(|hub| hub.sender.receiver_count() == 0)
        {
            classes.remove(&self.class_id);
        }
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        self.bus.open_streams.fetch_sub(1, Ordering::Relaxed);
        let mut open = self
            .bus
            .per_session
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> (Arc<Bus>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cg-live-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let url = DatabaseUrl::Sqlite(dir.join("bus.db"));
        let pool = crate::db::connect_pool(&url, 1, Duration::from_secs(1)).expect("a pool");
        (Bus::new(pool, url), dir)
    }

    #[test]
    fn announced_events_are_skipped_only_once_the_last_was_handed_over() {
        let seqs = |first, last| Some(Seqs { first, last });
        let from = |through: Option<i64>, announced| load_from(&mut { through }, announced);
        // The first of the announced was handed over by a load that read on;
        // the rest were not: they are loaded, not dropped.
        assert_eq!(from(Some(2), seqs(2, 8)), LoadFrom::After(2));
        assert_eq!(from(Some(5), seqs(2, 8)), LoadFrom::After(5));
        assert_eq!(from(Some(8), seqs(2, 8)), LoadFrom::Nothing);
        assert_eq!(from(Some(9), Some(Seqs::one(7))), LoadFrom::Nothing);
        // A catch-up (nothing announced) loads after what was handed over.
        assert_eq!(from(Some(4), None), LoadFrom::After(4));
        assert_eq!(from(None, None), LoadFrom::Reload);

        // Nothing handed over yet: from the first announced on, and a later
        // announcement starts there too, so a retried earlier one (its load
        // failed) is not passed over.
        let mut through = None;
        assert_eq!(load_from(&mut through, seqs(5, 5)), LoadFrom::After(4));
        assert_eq!(through, Some(4));
        assert_eq!(load_from(&mut through, seqs(7, 7)), LoadFrom::After(4));
    }

    #[test]
    fn a_session_gets_its_limit_of_streams_and_a_closed_one_frees_its_place() {
        let (bus, dir) = bus();
        let tickets: Vec<StreamTicket> = (0..4)
            .map(|_| bus.open_stream("s1", 4).expect("within the limit"))
            .collect();
        assert!(bus.open_stream("s1", 4).is_none());
        let nav = bus
            .open_unread_stream("s1", 4)
            .expect("nav-count streams are counted apart from class streams");
        let other = bus
            .open_stream("s2", 4)
            .expect("another session is counted apart");
        assert_eq!(bus.open_streams(), 6);
        drop(tickets);
        drop(other);
        drop(nav);
        assert_eq!(bus.open_streams(), 0);
        assert!(bus.open_stream("s1", 4).is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_class_is_forgotten_with_its_last_stream() {
        let (bus, dir) = bus();
        let class = ClassId::new();
        let first = bus.subscribe(&class);
        let second = bus.subscribe(&class);
        drop(first);
        assert!(bus.classes.lock().unwrap().contains_key(&class));
        drop(second);
        assert!(!bus.classes.lock().unwrap().contains_key(&class));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_access_change_wakes_only_its_students_streams_and_is_forgotten_with_them() {
        let (bus, dir) = bus();
        let (ann, bob) = (UserId::new(), UserId::new());
        let ann_laptop = bus.watch_access(&ann);
        let ann_phone = bus.watch_access(&ann);
        let bob_laptop = bus.watch_access(&bob);

        bus.access_changed(&ann);
        // Nobody here watches this one: nothing is kept for them.
        bus.access_changed(&UserId::new());

        assert!(ann_laptop.receiver.has_changed().unwrap());
        assert!(ann_phone.receiver.has_changed().unwrap());
        assert!(!bob_laptop.receiver.has_changed().unwrap());
        assert_eq!(bus.access.lock().unwrap().len(), 2);
        drop(ann_laptop);
        assert!(bus.access.lock().unwrap().contains_key(&ann));
        drop(ann_phone);
        drop(bob_laptop);
        assert!(bus.access.lock().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
