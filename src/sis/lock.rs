//! One sync per term at a time, across processes and machines: a row of
//! `sis_sync_locks` claimed atomically in the database and kept alive by a lease
//! the running sync renews. Process memory alone never decides who runs.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{SyncRunId, Term};
use crate::db::schema::sis_sync_locks;
use crate::db::{self, DbConn};

/// How long a claim lasts without renewal: a crashed run on another machine
/// blocks its term for at most this long.
pub const LEASE: Duration = Duration::seconds(90);

/// How often a running sync renews its lease (well inside `LEASE`).
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// A row of `sis_sync_locks`: who is syncing a term, and until when the claim holds.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sis_sync_locks)]
pub struct SyncLock {
    pub term: String,
    pub run_id: String,
    pub holder: String,
    pub claimed_at: NaiveDateTime,
    pub lease_until: NaiveDateTime,
}

/// The outcome of trying to start a run of a term.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This run now holds the term.
    Claimed,
    /// Another live run holds it.
    Held(SyncLock),
}

/// Claims a term for a run. Succeeds when nobody holds it, when the holder's
/// lease ran out, or when the holder was a process of this host that is gone.
pub fn claim(
    conn: &mut DbConn,
    term: &Term,
    run_id: &SyncRunId,
    holder: &str,
    now: NaiveDateTime,
) -> QueryResult<Claim> {
    db::write_tx(conn, |tx| {
        let conn: &mut DbConn = tx;
        let mine = SyncLock {
            term: term.as_str().to_string(),
            run_id: run_id.as_str().to_string(),
            holder: holder.to_string(),
            claimed_at: now,
            lease_until: now + LEASE,
        };
        // Two rounds at most: a row that vanishes between a failed insert and
        // the next read belongs to a run that just ended, and the term is free.
        for _ in 0..2 {
            let Some(current) = holder_of(conn, term)? else {
                // DO NOTHING: on PostgreSQL two claims can both see no row; the
                // primary key lets exactly one insert win.
                let inserted =
                    crate::on_each_backend!(conn, |c| diesel::insert_into(sis_sync_locks::table)
                        .values(&mine)
                        .on_conflict_do_nothing()
                        .execute(c))?;
                if inserted == 1 {
                    return Ok(Claim::Claimed);
                }
                continue;
            };
            if current.lease_until >= now && !holder_is_gone(&current.holder) {
                return Ok(Claim::Held(current));
            }
            // Compare-and-set on the old run id and its lease, so of two
            // claimants taking over the same stale row only one succeeds, and
            // a holder that renewed since it was read keeps its term.
            let taken = diesel::update(
                sis_sync_locks::table
                    .filter(sis_sync_locks::term.eq(term.as_str()))
                    .filter(sis_sync_locks::run_id.eq(&current.run_id))
                    .filter(sis_sync_locks::lease_until.eq(current.lease_until)),
            )
            .set((
                sis_sync_locks::run_id.eq(&mine.run_id),
                sis_sync_locks::holder.eq(&mine.holder),
                sis_sync_locks::claimed_at.eq(mine.claimed_at),
                sis_sync_locks::lease_until.eq(mine.lease_until),
            ))
            .execute(conn)?;
            if taken == 1 {
                return Ok(Claim::Claimed);
            }
        }
        match holder_of(conn, term)? {
            Some(current) => Ok(Claim::Held(current)),
            None => Err(diesel::result::Error::NotFound),
        }
    })
}

/// Extends a run's claim; false when the run no longer holds the term.
pub fn renew(
    conn: &mut DbConn,
    term: &Term,
    run_id: &SyncRunId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        sis_sync_locks::table
            .filter(sis_sync_locks::term.eq(term.as_str()))
            .filter(sis_sync_locks::run_id.eq(run_id.as_str())),
    )
    .set(sis_sync_locks::lease_until.eq(now + LEASE))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Lets the term go, if this run still holds it.
pub fn release(conn: &mut DbConn, term: &Term, run_id: &SyncRunId) -> QueryResult<()> {
    diesel::delete(
        sis_sync_locks::table
            .filter(sis_sync_locks::term.eq(term.as_str()))
            .filter(sis_sync_locks::run_id.eq(run_id.as_str())),
    )
    .execute(conn)?;
    Ok(())
}

/// Who holds a term now, if anyone.
pub fn holder_of(conn: &mut DbConn, term: &Term) -> QueryResult<Option<SyncLock>> {
    sis_sync_locks::table
        .find(term.as_str())
        .select(SyncLock::as_select())
        .first(conn)
        .optional()
}

/// The runs whose lease on their term is live at `now`: the runs that are
/// running. A run still marked `running` that is not among them was killed
/// or crashed (its row is closed by the term's next run).
pub fn live_runs(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    sis_sync_locks::table
        .filter(sis_sync_locks::lease_until.gt(now))
        .select(sis_sync_locks::run_id)
        .load(conn)
}

/// This process, as a lock holder: `host:pid`, the host named so that two
/// machines (or containers) sharing a host name do not take each other's
/// processes for their own (`machine`).
pub fn this_process() -> String {
    format!("{}:{}", machine(), std::process::id())
}

/// The host name, and where Linux says, which boot of which machine and
/// which process-ID namespace: `app (boot 3f2a9c1d, pids 4026531836)`. Two
/// containers both named `app` (compose's `hostname:`) differ in one or the
/// other, so neither reads the other's process IDs in its own `/proc`.
fn machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().chars().take(8).collect::<String>())
        .filter(|id| !id.is_empty());
    let pids = std::fs::read_link("/proc/self/ns/pid").ok().map(|link| {
        link.to_string_lossy()
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    });
    match (boot, pids) {
        (Some(boot), Some(pids)) => format!("{host} (boot {boot}, pids {pids})"),
        _ => host,
    }
}

/// Whether a holder was a process of this machine that has ended, so its lease
/// need not be waited out (a cron run killed a minute ago should not block
/// the next one). Other machines and systems without `/proc` count as alive.
fn holder_is_gone(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    if host != machine() || !std::path::Path::new("/proc/self").exists() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses; a zombie has exited.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        assert!(!holder_is_gone(&this_process()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder_is_gone(&format!("{}:{pid}", machine())));
        // A machine of the same host name elsewhere (another boot, or another
        // container's process IDs) is not this one: its lease is waited out.
        let host = machine();
        let host = host.split(" (").next().unwrap();
        assert!(!holder_is_gone(&format!("{host}:{pid}")));
        assert!(!holder_is_gone(&format!("elsewhere.example:{pid}")));
        assert!(!holder_is_gone("garbage"));
    }
}
