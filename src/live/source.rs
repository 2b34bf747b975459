//! Where the bus learns that a class chat changed, or that a student has new
//! notifications.
//!
//! PostgreSQL: one dedicated connection (not from the pool) `LISTEN`s on
//! `chat::events::CHANNEL`, `notifications::CHANNEL` and
//! `accounts::sessions::ACCESS_CHANNEL`; writers `NOTIFY` in their
//! transaction, delivered at commit to every app process. Diesel's `notifications_iter` reads what libpq
//! already received without blocking, and Diesel gives no socket to wait on, so
//! a thread of its own polls that one connection every `PG_POLL` (a read on a
//! socket; a few microseconds). If the connection breaks it reconnects with
//! backoff and asks the bus to catch up from the database.
//!
//! SQLite (one process, writers serialized): a poller reads the events after
//! the last one it saw every `SQLITE_POLL`, and, while any student has a
//! stream open, the notifications that began to show since its last poll. It
//! sees writes by CLI commands and other processes on the same file too, which
//! publishing from the request that wrote could not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::{mpsc, watch};

use super::unread::{NewRows, Students};
use super::{Seqs, Signal};
use crate::accounts::UserId;
use crate::chat::events;
use crate::classes::ClassId;
use crate::config::DatabaseUrl;
use crate::db::Pool;

const PG_POLL: Duration = Duration::from_millis(25);
/// A statement on the listening connection this often, so a connection that
/// died without a word (a dropped network path) is noticed.
const PG_HEALTH_CHECK: Duration = Duration::from_secs(5);
const PG_BACKOFF_FIRST: Duration = Duration::from_millis(100);
const PG_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How PostgreSQL's `pg_stat_activity` names the listening connection:
/// this prefix and the process id (`cg-live-listener-4242`).
pub const LISTENER_APPLICATION_NAME: &str = "cg-live-listener";

const SQLITE_POLL: Duration = Duration::from_millis(100);
const SQLITE_BATCH: i64 = 1000;

/// A running source; `stop` ends it.
pub(super) enum Running {
    Listener {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<()>,
    },
    Poller(tokio::task::JoinHandle<()>),
}

impl Running {
    pub(super) async fn stop(self) {
        match self {
            Running::Listener { stop, thread } => {
                stop.store(true, Ordering::Relaxed);
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Running::Poller(task) => {
                let _ = task.await;
            }
        }
    }
}

/// Starts the source `url` calls for.
pub(super) fn start(
    url: &DatabaseUrl,
    pool: Pool,
    students: Arc<Students>,
    signals: mpsc::UnboundedSender<Signal>,
    stop: watch::Receiver<bool>,
) -> Running {
    match url {
        DatabaseUrl::Postgres(url) => {
            let flag = Arc::new(AtomicBool::new(false));
            let name = format!("{LISTENER_APPLICATION_NAME}-{}", std::process::id());
            let url = with_application_name(url, &name);
            let thread = {
                let flag = Arc::clone(&flag);
                std::thread::Builder::new()
                    .name("cg-live-listener".into())
                    .spawn(move || listen(&url, &signals, &flag))
            };
            match thread {
                Ok(thread) => Running::Listener { stop: flag, thread },
                Err(error) => {
                    tracing::error!(%error, "live: cannot start the listener thread");
                    Running::Poller(tokio::spawn(async {}))
                }
            }
        }
        DatabaseUrl::Sqlite(_) => {
            Running::Poller(tokio::spawn(poll(pool, students, signals, stop)))
        }
    }
}

/// The URL with `application_name` set, so operators (and a test) can find
/// the listening connection in `pg_stat_activity`.
fn with_application_name(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let kept: Vec<(String, String)> = parsed
                .query_pairs()
                .filter(|(k, _)| k != "application_name")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            parsed
                .query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("application_name", name);
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Sleeps `total` in short steps, waking early when the listener should end;
/// false then.
fn nap(total: Duration, alive: &dyn Fn() -> bool) -> bool {
    let step = Duration::from_millis(25);
    let mut slept = Duration::ZERO;
    while slept < total {
        if !alive() {
            return false;
        }
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
    alive()
}

/// The listener thread: connect, `LISTEN`, relay notices; on any failure,
/// reconnect with backoff. Every (re)connection asks the bus to catch up:
/// notices sent while nobody listened are gone for good.
fn listen(url: &str, signals: &mpsc::UnboundedSender<Signal>, stop: &AtomicBool) {
    // It ends when told to, and also when its bus is gone (an app dropped
    // without a shutdown, as tests do): a thread still inside libpq while the
    // process exits can crash the exit.
    let alive = || !stop.load(Ordering::Relaxed) && !signals.is_closed();
    let mut backoff = PG_BACKOFF_FIRST;
    while alive() {
        // Bounded waits (connect, keepalives, TCP user timeout): a silently
        // dropped path fails the health check in about a minute, not fifteen.
        let connected = PgConnection::establish(&crate::db::with_network_timeouts(url))
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                for channel in [
                    events::CHANNEL,
                    crate::notifications::CHANNEL,
                    crate::accounts::sessions::ACCESS_CHANNEL,
                ] {
                    diesel::sql_query(format!("LISTEN {channel}"))
                        .execute(&mut conn)
                        .map_err(|e| e.to_string())?;
                }
                Ok(conn)
            });
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "live: cannot listen for chat events");
                if !nap(backoff, &alive) {
                    return;
                }
                backoff = (backoff * 2).min(PG_BACKOFF_MAX);
                continue;
            }
        };
        tracing::info!("live: listening for chat events");
        backoff = PG_BACKOFF_FIRST;
        if signals.send(Signal::CatchUp).is_err() {
            return;
        }
        let error = relay(&mut conn, signals, &alive);
        match error {
            None => return,
            Some(error) => {
                tracing::warn!(%error, "live: the listening connection broke; reconnecting");
            }
        }
    }
}

/// Relays notices until told to stop (None) or the connection fails.
fn relay(
    conn: &mut PgConnection,
    signals: &mpsc::UnboundedSender<Signal>,
    alive: &dyn Fn() -> bool,
) -> Option<diesel::result::Error> {
    let mut since_check = Duration::ZERO;
    loop {
        for notification in conn.notifications_iter() {
            match notification {
                Ok(notification) => {
                    let Some(signal) = signal_of(&notification.channel, &notification.payload)
                    else {
                        continue;
                    };
                    if signals.send(signal).is_err() {
                        return None;
                    }
                }
                Err(error) => return Some(error),
            }
        }
        if since_check >= PG_HEALTH_CHECK {
            since_check = Duration::ZERO;
            if let Err(error) = diesel::sql_query("SELECT 1").execute(conn) {
                return Some(error);
            }
        }
        if !nap(PG_POLL, alive) {
            return None;
        }
        since_check += PG_POLL;
    }
}

/// What a notice on `channel` tells the bus; None for a payload that is not ours.
fn signal_of(channel: &str, payload: &str) -> Option<Signal> {
    if channel == crate::notifications::CHANNEL {
        return UserId::parse(payload).map(Signal::Notified);
    }
    if channel == crate::accounts::sessions::ACCESS_CHANNEL {
        return UserId::parse(payload).map(Signal::AccessChanged);
    }
    let (class_id, seq) = events::parse_notice(payload)?;
    Some(Signal::Changed {
        class_id,
        seqs: Seqs::one(seq),
    })
}

/// The SQLite poller: the events after the last seen, each changed class once;
/// then, while students have streams open, who has new notifications.
async fn poll(
    pool: Pool,
    students: Arc<Students>,
    signals: mpsc::UnboundedSender<Signal>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last: Option<i64> = None;
    let new_rows = Arc::new(std::sync::Mutex::new(NewRows::new()));
    let mut interval = tokio::time::interval(SQLITE_POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        let events_pool = pool.clone();
        let seen = last;
        let read =
            tokio::task::spawn_blocking(move || -> anyhow::Result<(i64, Vec<(ClassId, Seqs)>)> {
                let mut conn = crate::db::checkout(&events_pool)?;
                match seen {
                    None => Ok((crate::chat::events::newest(&mut conn)?, Vec::new())),
                    Some(after) => {
                        let changed =
                            crate::chat::events::after_any_class(&mut conn, after, SQLITE_BATCH)?;
                        let newest = changed.iter().map(|(_, seq)| *seq).max().unwrap_or(after);
                        Ok((newest, per_class(changed)))
                    }
                }
            })
            .await;
        match read {
            Ok(Ok((newest, changed))) => {
                let caught_up = last.is_none();
                last = Some(newest);
                if caught_up && signals.send(Signal::CatchUp).is_err() {
                    return;
                }
                for (class_id, seqs) in changed {
                    if signals.send(Signal::Changed { class_id, seqs }).is_err() {
                        return;
                    }
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "live: reading new chat events failed"),
            Err(error) => tracing::error!(%error, "live: the poller's task failed"),
        }
        if !students.any() {
            continue;
        }
        let (pool, new_rows) = (pool.clone(), Arc::clone(&new_rows));
        let read = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<UserId>> {
            let mut conn = crate::db::checkout(&pool)?;
            let mut new_rows = new_rows.lock().unwrap_or_else(|e| e.into_inner());
            Ok(new_rows.poll(&mut conn, crate::clock::now())?)
        })
        .await;
        match read {
            Ok(Ok(users)) => {
                for user in students.watched(users) {
                    if signals.send(Signal::Notified(user)).is_err() {
                        return;
                    }
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "live: reading new notifications failed"),
            Err(error) => tracing::error!(%error, "live: the poller's task failed"),
        }
    }
}

/// Each class in `events` (seq order) once, in the order of its first
/// event, with its first and last.
fn per_class(events: Vec<(ClassId, i64)>) -> Vec<(ClassId, Seqs)> {
    let mut classes: Vec<(ClassId, Seqs)> = Vec::new();
    let mut at: std::collections::HashMap<ClassId, usize> = std::collections::HashMap::new();
    for (class_id, seq) in events {
        match at.get(&class_id) {
            Some(&i) => classes[i].1.last = seq,
            None => {
                at.insert(class_id.clone(), classes.len());
                classes.push((class_id, Seqs::one(seq)));
            }
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_is_named_and_other_parameters_are_kept() {
        let url = with_application_name(
            "postgres://u@h:5432/db?sslmode=disable",
            "cg-live-listener-7",
        );
        assert!(url.contains("sslmode=disable"), "{url}");
        assert!(
            url.ends_with("application_name=cg-live-listener-7"),
            "{url}"
        );
        let renamed =
            with_application_name("postgres://u@h/db?application_name=x", "cg-live-listener-7");
        assert_eq!(
            renamed,
            "postgres://u@h/db?application_name=cg-live-listener-7"
        );
    }

    #[test]
    fn a_notice_is_read_by_its_channel() {
        let user = UserId::new();
        assert!(matches!(
            signal_of(crate::notifications::CHANNEL, user.as_str()),
            Some(Signal::Notified(u)) if u == user
        ));
        assert!(signal_of(crate::notifications::CHANNEL, "not an id").is_none());
        assert!(matches!(
            signal_of(crate::accounts::sessions::ACCESS_CHANNEL, user.as_str()),
            Some(Signal::AccessChanged(u)) if u == user
        ));
        assert!(signal_of(crate::accounts::sessions::ACCESS_CHANNEL, "not an id").is_none());
        let class = ClassId::new();
        assert!(matches!(
            signal_of(events::CHANNEL, &events::notice(&class, 7)),
            Some(Signal::Changed { class_id, seqs }) if class_id == class && seqs == Seqs::one(7)
        ));
    }

    #[test]
    fn each_changed_class_is_announced_once_with_its_first_and_last_event() {
        let a = ClassId::new();
        let b = ClassId::new();
        let changed = per_class(vec![
            (a.clone(), 3),
            (b.clone(), 4),
            (a.clone(), 5),
            (a.clone(), 6),
        ]);
        let seqs = |first, last| Seqs { first, last };
        assert_eq!(changed, vec![(a, seqs(3, 6)), (b, seqs(4, 4))]);
    }
}
