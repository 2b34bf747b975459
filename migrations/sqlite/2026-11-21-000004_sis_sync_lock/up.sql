-- SIS sync lock (SQLite). Keep in step with ../../postgres/.
-- One row per term while a sync of it runs: two runs of one term never overlap,
-- whichever process or machine starts them. The claim is an atomic insert (or a
-- takeover of an expired lease); the running sync renews lease_until and deletes
-- the row when it ends. A crashed run's row is taken over once its lease runs out,
-- or at once when its process is gone from the same host.
CREATE TABLE sis_sync_locks (
    term         TEXT PRIMARY KEY NOT NULL,
    run_id       TEXT NOT NULL,
    holder       TEXT NOT NULL,
    claimed_at   TIMESTAMP NOT NULL,
    lease_until  TIMESTAMP NOT NULL
);
