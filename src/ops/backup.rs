//! Backups: a consistent snapshot of the live database with a manifest beside
//! it (time, backend, schema version, rows per table, SHA-256), a verify that
//! restores into a scratch database and compares, and a guarded restore.
//!
//! SQLite snapshots use `VACUUM INTO` (a transactionally consistent copy taken
//! while the service runs). PostgreSQL snapshots use `pg_dump --format=custom`
//! pinned to an exported snapshot, so the manifest's row counts are read from
//! exactly the data the dump holds even while students keep posting.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::DatabaseUrl;
use crate::db::{self, schema::TABLES, DbConn};

/// The record written beside every snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub file: String,
    pub created_at: NaiveDateTime,
    pub backend: String,
    pub schema_version: Option<String>,
    pub tables: BTreeMap<String, i64>,
    pub sha256: String,
    pub bytes: u64,
}

/// `<snapshot>.manifest.json`.
pub fn manifest_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

pub fn read_manifest(snapshot: &Path) -> anyhow::Result<Manifest> {
    // Said first: the snapshot missing is the problem, not its manifest.
    if !snapshot.exists() {
        anyhow::bail!(
            "there is no snapshot at {}: check the path (`common-grounds backup list` names the snapshots)",
            snapshot.display()
        );
    }
    let path = manifest_path(snapshot);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the manifest {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("the manifest {} is not valid", path.display()))
}

/// SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Rows in each table the manifest counted that this program knows: a
/// snapshot older than the program lacks the tables added since, and one
/// newer may have tables it does not know (`compare` passes over those).
fn count_listed(conn: &mut DbConn, manifest: &Manifest) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for table in TABLES.iter().filter(|t| manifest.tables.contains_key(**t)) {
        counts.insert(table.to_string(), db::count_rows(conn, table)?);
    }
    Ok(counts)
}

/// Rows in each of our tables the database has. Only a database not yet
/// migrated to this program's schema (cron's backup just after an upgrade,
/// before the server's start migrates) may lack some, the tables added
/// since; one that is up to date and lacks a table is refused, naming it.
fn count_all(conn: &mut DbConn) -> anyhow::Result<BTreeMap<String, i64>> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let listed = match conn {
        DbConn::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table'",
        DbConn::Postgresql(_) => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let present: std::collections::HashSet<String> = diesel::sql_query(listed)
        .load::<Table>(conn)?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let missing: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| !present.contains(*t))
        .collect();
    if !missing.is_empty() {
        let backend = conn.backend_name();
        let older = applied_version(conn)? < db::newest_known_migration(backend)?;
        if !older {
            bail!(
                "the database lacks the table(s) {} although its schema is up to date",
                missing.join(", ")
            );
        }
    }
    let mut counts = BTreeMap::new();
    for table in TABLES.iter().filter(|t| present.contains(**t)) {
        counts.insert(table.to_string(), db::count_rows(conn, table)?);
    }
    Ok(counts)
}

/// The newest applied migration, read without creating anything (snapshots are
/// read in read-only transactions, and a scratch copy must stay as restored).
fn applied_version(conn: &mut DbConn) -> anyhow::Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        v: Option<String>,
    }
    let row: Version =
        diesel::sql_query("SELECT MAX(version) AS v FROM __diesel_schema_migrations")
            .get_result(conn)
            .context("no migration history in this database")?;
    Ok(row.v)
}

fn sqlite_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// Opens an SQLite file as it is: no pragmas, so reading it changes nothing.
fn open_sqlite_plain(path: &Path) -> anyhow::Result<DbConn> {
    let conn = diesel::SqliteConnection::establish(&path.display().to_string())
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(DbConn::Sqlite(conn))
}

fn pg_tool(name: &str) -> anyhow::Result<Command> {
    let probe = Command::new(name).arg("--version").output();
    match probe {
        Ok(out) if out.status.success() => Ok(Command::new(name)),
        _ => bail!(
            "{name} was not found: PostgreSQL backups need the PostgreSQL client tools (Debian: apt-get install postgresql-client, the same major version as the server or newer)"
        ),
    }
}

/// Points a PostgreSQL client tool at `url` without its password on the
/// command line (where `ps` and /proc show it to every local user while a
/// dump runs): the password goes in the child's `PGPASSWORD` instead.
fn connect_to(command: &mut Command, url: &str) -> anyhow::Result<()> {
    let mut parsed =
        url::Url::parse(url).with_context(|| "DATABASE_URL is not a postgres:// URL")?;
    if let Some(password) = parsed.password() {
        let password = percent_encoding::percent_decode_str(password)
            .decode_utf8()
            .with_context(|| "the database password in DATABASE_URL is not UTF-8")?
            .into_owned();
        command.env("PGPASSWORD", password);
        parsed
            .set_password(None)
            .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot drop its password"))?;
    }
    command.arg(format!("--dbname={parsed}"));
    Ok(())
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("{what} failed: {}", stderr.trim());
    }
    Ok(())
}

/// One count, as `SELECT COUNT(*) AS n` returns it.
#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Refuses a database that holds no migration history of ours (a mistyped
/// path or name, or another program's database), before anything is
/// written: an SQLite file is read as it is, since the app's own connection
/// would first switch it to WAL (and write a header into an empty file). Any
/// other failure to read it is passed on as itself, not as a wrong URL. The
/// backup and every command that answers from the data already there
/// (`grant-role`, `cleanup`, `student`) start here, so none of them makes
/// our tables in a database that was never ours.
pub fn refuse_without_schema(url: &DatabaseUrl) -> anyhow::Result<()> {
    if holds_our_schema(url)? {
        return Ok(());
    }
    bail!(
        "{} holds no Common Grounds schema: check DATABASE_URL (a new database is set up by starting the server or by `common-grounds migrate`); nothing was written",
        url.redacted()
    )
}

/// Whether `url` holds our migration history, read without writing
/// anything (`refuse_without_schema`). A missing SQLite file holds none.
fn holds_our_schema(url: &DatabaseUrl) -> anyhow::Result<bool> {
    let (mut conn, history) = match url {
        DatabaseUrl::Sqlite(path) if !path.is_file() => return Ok(false),
        DatabaseUrl::Sqlite(path) => (
            open_sqlite_plain(path)?,
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__diesel_schema_migrations'",
        ),
        DatabaseUrl::Postgres(_) => (
            db::Manager::new(url.clone()).establish()?,
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '__diesel_schema_migrations'",
        ),
    };
    let read = || format!("cannot read {}", url.redacted());
    let found: N = diesel::sql_query(history)
        .get_result(&mut conn)
        .with_context(read)?;
    if found.n == 0 {
        return Ok(false);
    }
    // Another program that also uses Diesel has the same history table:
    // ours begins with our first migration.
    let ours: N = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM __diesel_schema_migrations WHERE version = '{FIRST_MIGRATION}'"
    ))
    .get_result(&mut conn)
    .with_context(read)?;
    Ok(ours.n > 0)
}

/// The version Diesel records for our first migration
/// (`migrations/*/2026-11-21-000001_initial`, on both backends).
const FIRST_MIGRATION: &str = "20261121000001";

/// What `snapshot_into` made, so a failure can take it away again.
#[derive(Default)]
struct Made {
    snapshot: Option<PathBuf>,
    manifest: Option<PathBuf>,
}

/// Takes a snapshot of the live database into `dir` and writes its manifest.
/// A snapshot that fails after its file was made is removed, with any
/// manifest it wrote: without a manifest it is no backup, and `list` (so
/// `prune`) would never see it, leaving every student's data on disk.
pub fn create(url: &DatabaseUrl, dir: &Path, now: NaiveDateTime) -> anyhow::Result<Manifest> {
    refuse_without_schema(url)?;
    // A snapshot holds every student's data: its folder (when we make it),
    // the snapshot and its manifest are their owner's alone, from creation.
    super::private::create_dir(dir)?;
    let mut made = Made::default();
    let result = snapshot_into(url, dir, now, &mut made);
    if result.is_err() {
        for path in [made.manifest, made.snapshot].into_iter().flatten() {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

fn snapshot_into(
    url: &DatabaseUrl,
    dir: &Path,
    now: NaiveDateTime,
    made: &mut Made,
) -> anyhow::Result<Manifest> {
    let stamp = now.format("%Y%m%dT%H%M%S%.6fZ");
    let mut conn = db::Manager::new(url.clone()).establish()?;
    let (path, version, tables) = match url {
        DatabaseUrl::Sqlite(_) => {
            let path = partial(&dir.join(format!("common-grounds-{stamp}.sqlite")));
            // VACUUM INTO fills an empty file it is given, keeping its mode.
            super::private::create_new(&path)?;
            made.snapshot = Some(path.clone());
            diesel::sql_query(format!("VACUUM INTO {}", sqlite_quote(&path)))
                .execute(&mut conn)
                .context("VACUUM INTO failed")?;
            drop(conn);
            let mut snap = open_sqlite_plain(&path)?;
            let version = applied_version(&mut snap)?;
            let tables = count_all(&mut snap)?;
            drop(snap);
            (path, version, tables)
        }
        DatabaseUrl::Postgres(raw) => {
            let path = partial(&dir.join(format!("common-grounds-{stamp}.pgdump")));
            let mut dump = pg_tool("pg_dump")?;
            // pg_dump truncates the file it is given and keeps its mode.
            super::private::create_new(&path)?;
            made.snapshot = Some(path.clone());
            #[derive(QueryableByName)]
            struct Snapshot {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
            }
            conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let outcome = (|| -> anyhow::Result<_> {
                let snapshot: Snapshot =
                    diesel::sql_query("SELECT pg_export_snapshot() AS id").get_result(&mut conn)?;
                let version = applied_version(&mut conn)?;
                let tables = count_all(&mut conn)?;
                dump.arg("--format=custom")
                    .arg("--no-owner")
                    .arg(format!("--snapshot={}", snapshot.id))
                    .arg(format!("--file={}", path.display()));
                connect_to(&mut dump, raw)?;
                run(dump, "pg_dump")?;
                Ok((version, tables))
            })();
            let _ = conn.batch_execute("COMMIT");
            let (version, tables) = outcome?;
            (path, version, tables)
        }
    };
    // Made under its `.partial` name, renamed only once its manifest is
    // written: a process killed before (cron's timeout, out of memory, a
    // reboot) leaves a file `leftovers` finds, never one that looks done.
    let done = finished(&path);
    let manifest = Manifest {
        file: done
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        created_at: now,
        backend: url_backend(url).into(),
        schema_version: version,
        tables,
        sha256: sha256_file(&path)?,
        bytes: std::fs::metadata(&path)?.len(),
    };
    let mut file = super::private::create_new(&manifest_path(&done))?;
    made.manifest = Some(manifest_path(&done));
    std::io::Write::write_all(
        &mut file,
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    file.sync_all()?;
    std::fs::rename(&path, &done)
        .with_context(|| format!("cannot rename {} to {}", path.display(), done.display()))?;
    Ok(manifest)
}

/// The name a snapshot is made under.
fn partial(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(PARTIAL);
    PathBuf::from(name)
}

/// The name a snapshot made under `partial` takes once done.
fn finished(partial: &Path) -> PathBuf {
    let name = partial.as_os_str().to_string_lossy();
    PathBuf::from(name.strip_suffix(PARTIAL).unwrap_or(&name).to_string())
}

const PARTIAL: &str = ".partial";

/// How old a leftover must be before `prune_leftovers` takes it: no backup
/// runs this long, so one this old is not another run's work in progress.
pub const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// A file in `dir` that is not a snapshot with its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub path: PathBuf,
    /// Since it was last written.
    pub age: std::time::Duration,
    /// Made by a backup of ours that did not finish (a `.partial` snapshot,
    /// SQLite's journal beside one, a manifest whose snapshot is gone), so
    /// `prune_leftovers` may take it. A complete-looking snapshot without a
    /// manifest is not: it may be a copy an operator made, or one whose
    /// manifest cannot be read just now; it is listed, never removed.
    pub ours: bool,
}

/// What a backup that did not finish left in `dir`, oldest first. `list`
/// (so `prune`) cannot see these, and a snapshot among them holds every
/// student's data, erased students' too.
pub fn leftovers(dir: &Path) -> anyhow::Result<Vec<Leftover>> {
    let mut found = Vec::new();
    for entry in entries_of(dir)? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("common-grounds-") || !entry.file_type()?.is_file() {
            continue;
        }
        let ours = name.ends_with(PARTIAL) || name.ends_with(&format!("{PARTIAL}-journal"));
        let left = if ours {
            Some(true)
        } else if let Some(snapshot) = name.strip_suffix(".manifest.json") {
            (!dir.join(snapshot).exists()).then_some(true)
        } else if name.ends_with("-journal") {
            None
        } else {
            read_manifest(&path).is_err().then_some(false)
        };
        if let Some(ours) = left {
            let age = entry
                .metadata()?
                .modified()
                .ok()
                .and_then(|at| at.elapsed().ok())
                .unwrap_or_default();
            found.push(Leftover { path, age, ours });
        }
    }
    found.sort_by_key(|l| std::cmp::Reverse(l.age));
    Ok(found)
}

/// Removes our `leftovers` at least `LEFTOVER_AGE` old. Returns what it
/// removed, and what it could not (said, not fatal: the night's snapshot
/// and its retention still run).
pub fn prune_leftovers(dir: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    let (mut removed, mut failed) = (Vec::new(), Vec::new());
    for left in leftovers(dir)? {
        if left.ours && left.age >= LEFTOVER_AGE {
            match std::fs::remove_file(&left.path) {
                Ok(()) => removed.push(left.path),
                Err(e) => failed.push(format!("cannot remove {}: {e}", left.path.display())),
            }
        }
    }
    Ok((removed, failed))
}

fn url_backend(url: &DatabaseUrl) -> &'static str {
    match url {
        DatabaseUrl::Sqlite(_) => "sqlite",
        DatabaseUrl::Postgres(_) => "postgres",
    }
}

/// The entries of a backup folder; none when it does not exist yet.
fn entries_of(dir: &Path) -> anyhow::Result<Vec<std::fs::DirEntry>> {
    super::private::refuse_a_file(dir)?;
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect::<Result<_, _>>()?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow!("cannot read {}: {e}", dir.display())),
    }
}

/// Every snapshot in `dir` with its manifest, oldest first.
pub fn list(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Manifest)>> {
    let mut found = Vec::new();
    for entry in entries_of(dir)? {
        let path = entry.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.starts_with("common-grounds-") && !name.ends_with(".manifest.json") {
            if let Ok(manifest) = read_manifest(&path) {
                found.push((path, manifest));
            }
        }
    }
    found.sort_by_key(|(_, m)| m.created_at);
    Ok(found)
}

/// Removes snapshots (and manifests) older than `keep_days`; returns what it removed.
pub fn prune(dir: &Path, keep_days: i64, now: NaiveDateTime) -> anyhow::Result<Vec<PathBuf>> {
    let keep = chrono::Duration::try_days(keep_days)
        .filter(|d| *d >= chrono::Duration::days(1))
        .ok_or_else(|| anyhow!("keep snapshots for 1 to 36,500 days, not {keep_days}"))?;
    let mut removed = Vec::new();
    for (path, manifest) in list(dir)? {
        if manifest.created_at < now - keep {
            std::fs::remove_file(&path)?;
            let _ = std::fs::remove_file(manifest_path(&path));
            removed.push(path);
        }
    }
    Ok(removed)
}

/// What a verify or restore found different from the manifest; empty means OK.
pub type Differences = Vec<String>;

fn compare(
    manifest: &Manifest,
    version: Option<String>,
    tables: &BTreeMap<String, i64>,
) -> Differences {
    let mut diffs = Vec::new();
    if version != manifest.schema_version {
        diffs.push(format!(
            "schema version: manifest {}, restored {}",
            manifest.schema_version.as_deref().unwrap_or("none"),
            version.as_deref().unwrap_or("none")
        ));
    }
    for (table, expected) in &manifest.tables {
        if !TABLES.contains(&table.as_str()) {
            continue;
        }
        match tables.get(table) {
            Some(found) if found == expected => {}
            Some(found) => diffs.push(format!(
                "table {table}: manifest {expected} rows, restored {found}"
            )),
            None => diffs.push(format!("table {table}: missing after restore")),
        }
    }
    diffs
}

fn check_sum(file: &Path, manifest: &Manifest) -> anyhow::Result<Differences> {
    let actual = sha256_file(file)?;
    Ok(if actual == manifest.sha256 {
        Vec::new()
    } else {
        vec![format!(
            "checksum: manifest {}, file {} (the file changed or is damaged)",
            manifest.sha256, actual
        )]
    })
}

/// Restores `file` into a scratch database and compares it with its manifest.
/// PostgreSQL snapshots need a server: `scratch_server` (any database URL on it;
/// a scratch database is created and dropped there).
pub fn verify(file: &Path, scratch_server: Option<&str>) -> anyhow::Result<Differences> {
    let manifest = read_manifest(file)?;
    let mut diffs = check_sum(file, &manifest)?;
    match manifest.backend.as_str() {
        "sqlite" => {
            let scratch =
                std::env::temp_dir().join(format!("cg-verify-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&scratch)?;
            let copy = scratch.join("verify.db");
            std::fs::copy(file, &copy)?;
            let outcome = (|| -> anyhow::Result<Differences> {
                let mut conn = open_sqlite_plain(&copy)?;
                #[derive(QueryableByName)]
                struct Check {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    integrity_check: String,
                }
                let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
                    .load(&mut conn)
                    .map_err(|e| anyhow!("the file is not a readable SQLite database ({e})"))?;
                let mut found = Vec::new();
                if check.first().map(|c| c.integrity_check.as_str()) != Some("ok") {
                    found.push(format!(
                        "integrity check: {}",
                        check
                            .iter()
                            .map(|c| c.integrity_check.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
                let version = applied_version(&mut conn)?;
                let tables = count_listed(&mut conn, &manifest)?;
                found.extend(compare(&manifest, version, &tables));
                Ok(found)
            })();
            let _ = std::fs::remove_dir_all(&scratch);
            match outcome {
                Ok(found) => diffs.extend(found),
                Err(e) => diffs.push(format!("restore failed: {e:#}")),
            }
        }
        "postgres" => {
            let server = scratch_server.ok_or_else(|| {
                anyhow!("verifying a PostgreSQL backup needs a PostgreSQL server to restore into: set DATABASE_URL to one, or pass --scratch-url")
            })?;
            let name = format!("cg_verify_{}", uuid::Uuid::new_v4().simple());
            db::init_libpq_tls();
            let mut admin = diesel::PgConnection::establish(server)
                .with_context(|| "cannot connect to the scratch PostgreSQL server")?;
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
            let mut url = url::Url::parse(server)?;
            url.set_path(&format!("/{name}"));
            let outcome = (|| -> anyhow::Result<Differences> {
                let mut restore = pg_tool("pg_restore")?;
                restore
                    .arg("--no-owner")
                    .arg("--no-privileges")
                    .arg("--exit-on-error");
                connect_to(&mut restore, url.as_str())?;
                restore.arg(file);
                run(restore, "pg_restore")?;
                let mut conn =
                    db::Manager::new(DatabaseUrl::Postgres(url.to_string())).establish()?;
                let version = applied_version(&mut conn)?;
                let tables = count_listed(&mut conn, &manifest)?;
                Ok(compare(&manifest, version, &tables))
            })();
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
            match outcome {
                Ok(found) => diffs.extend(found),
                Err(e) => diffs.push(format!("restore failed: {e:#}")),
            }
        }
        other => bail!("the manifest names an unknown backend '{other}'"),
    }
    Ok(diffs)
}

/// Whether a database holds any of our tables (or any table at all).
fn is_empty(url: &DatabaseUrl) -> anyhow::Result<bool> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if !path.exists() || std::fs::metadata(path)?.len() == 0 {
                return Ok(true);
            }
            let mut conn = open_sqlite_plain(path)?;
            let n: N = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .get_result(&mut conn)?;
            Ok(n.n == 0)
        }
        DatabaseUrl::Postgres(_) => {
            let mut conn = db::Manager::new(url.clone()).establish()?;
            let n: N = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .get_result(&mut conn)?;
            Ok(n.n == 0)
        }
    }
}

/// Refuses an SQLite file that another process has open. A running server
/// keeps its connections open, each holding a shared lock on the file in WAL
/// mode; replacing the file under it would leave it writing to the deleted
/// one (every write after the restore lost) and would delete its `-wal`,
/// which holds commits not yet in the file. An exclusive lock, asked for
/// without waiting, is refused while any other connection is open.
fn refuse_if_in_use(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut conn = open_sqlite_plain(path)?;
    let locked = conn.batch_execute("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
    match locked {
        Ok(()) => Ok(()),
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("locked") => {
            bail!(
                "{} is in use (a running server or another program has it open); stop the service, then restore",
                path.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// A PostgreSQL database other sessions are connected to (app servers, cron,
/// a psql): restoring over it would drop what they are writing, and bring
/// back students erased since the backup, under running processes.
fn refuse_if_connected(raw: &str) -> anyhow::Result<()> {
    #[derive(QueryableByName)]
    struct Others {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = db::Manager::new(DatabaseUrl::Postgres(raw.to_string())).establish()?;
    // A session that has just closed (a psql quit a moment ago) can stay
    // listed for a few milliseconds: look again for up to two seconds.
    // Client sessions only (not autovacuum's workers); another role's
    // sessions show no type to a role without `pg_read_all_stats`, and count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let others: Others = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND (backend_type = 'client backend' \
                  OR (backend_type IS NULL AND usesysid IS NOT NULL))",
        )
        .get_result(&mut conn)?;
        if others.n == 0 {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "{} other session(s) are connected to this database (a running server, cron or a psql); stop them, then restore",
                others.n
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What a restored database no longer carries over from its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Sessions ended: everyone signs in again.
    pub sessions: usize,
    /// Unused sign-in links voided: students ask again.
    pub sign_in_links: usize,
    /// Queued emails set aside (failed, with the reason).
    pub queued_emails: usize,
    /// Notices that were waiting for their email, marked as emailed.
    pub waiting_notices: usize,
}

/// Makes a restored database safe to serve: a snapshot brings back sessions
/// ended since it was taken (signed out, suspended, demoted), sign-in links
/// used since, and mail and notices' emails that have mostly been sent since.
/// Every session and unused sign-in link is ended, every queued email set
/// aside, and every notice still waiting for its email (or digest) marked as
/// emailed (it stays in the inbox), in one transaction.
pub fn settle_restored(to: &DatabaseUrl, now: NaiveDateTime) -> anyhow::Result<Settled> {
    let mut conn = db::Manager::new(to.clone()).establish()?;
    Ok(db::write_tx(&mut conn, |tx| {
        let sessions = crate::accounts::sessions::end_everyones(tx)?;
        let sign_in_links = crate::accounts::signin::void_unused_links(tx)?;
        let queued_emails = crate::mail::outbox::set_aside_queued(
            tx,
            "not sent: the database was restored from a snapshot taken before; it may have been sent since",
        )?;
        let waiting_notices = crate::notifications::email::settle_waiting(tx, now)?;
        Ok::<_, diesel::result::Error>(Settled {
            sessions,
            sign_in_links,
            queued_emails,
            waiting_notices,
        })
    })?)
}

/// The accounts erased in `from`, by its audit log: read before a restore,
/// so that the restored database erases them again (`erase_again`). A
/// snapshot holds every student erased after it was taken; without this a
/// restore would bring them back.
///
/// `from` must be at rest: a student could delete their account there after
/// its log was read, and come back in the restored database. So a database a
/// running server (or any program) has open is refused, as a restore's
/// target is. It must be ours and hold accounts (`erase_again` checks that it
/// is the snapshot's own database). It is read as it is (an SQLite file is
/// not switched to WAL), so a snapshot file can be read too.
pub fn erasures_in(from: &DatabaseUrl) -> anyhow::Result<Vec<crate::moderation::Erasure>> {
    if !holds_our_schema(from)? {
        bail!("{} holds no Common Grounds database", from.redacted());
    }
    match from {
        DatabaseUrl::Sqlite(path) => refuse_if_in_use(path)?,
        DatabaseUrl::Postgres(raw) => refuse_if_connected(raw)?,
    }
    let mut conn = open_as_is(from)?;
    let accounts = db::count_rows(&mut conn, "users")
        .with_context(|| format!("cannot read {}", from.redacted()))?;
    if accounts == 0 {
        bail!(
            "{} holds no accounts: it is not the database the snapshot was taken of",
            from.redacted()
        );
    }
    read_erasures(&mut conn, from)
}

/// A connection to `url` that changes nothing by opening it.
fn open_as_is(url: &DatabaseUrl) -> anyhow::Result<DbConn> {
    match url {
        DatabaseUrl::Sqlite(path) => open_sqlite_plain(path),
        DatabaseUrl::Postgres(_) => Ok(db::Manager::new(url.clone()).establish()?),
    }
}

fn read_erasures(
    conn: &mut DbConn,
    from: &DatabaseUrl,
) -> anyhow::Result<Vec<crate::moderation::Erasure>> {
    crate::moderation::erasures(conn)
        .with_context(|| format!("cannot read the audit log of {}", from.redacted()))
}

/// Whether `a` and `b` are the same database, however their URLs spell it:
/// one SQLite file (the same device and inode), or one PostgreSQL database
/// (a session opened on `a` is seen by `b`'s server, in `b`'s database).
pub fn same_database(a: &DatabaseUrl, b: &DatabaseUrl) -> anyhow::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    match (a, b) {
        (DatabaseUrl::Sqlite(a), DatabaseUrl::Sqlite(b)) => {
            Ok(match (std::fs::metadata(a), std::fs::metadata(b)) {
                (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
                _ => false,
            })
        }
        (DatabaseUrl::Postgres(_), DatabaseUrl::Postgres(_)) => {
            // A name only this session bears: `application_name` (unlike
            // the start time) is shown to every role.
            let mark = format!("common-grounds-restore-{}", uuid::Uuid::new_v4().simple());
            let mut first = db::Manager::new(a.clone()).establish()?;
            diesel::sql_query(format!("SET application_name = '{mark}'")).execute(&mut first)?;
            let Ok(mut second) = db::Manager::new(b.clone()).establish() else {
                return Ok(false);
            };
            let seen: N = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE application_name = $1 AND datname = current_database()",
            )
            .bind::<diesel::sql_types::Text, _>(&mark)
            .get_result(&mut second)?;
            Ok(seen.n > 0)
        }
        _ => Ok(false),
    }
}

/// When our first migration ran in this database: the same in a database
/// and every snapshot taken of it (both kinds of snapshot keep the history
/// table's rows), and different in any database made anew.
fn first_migrated_at(conn: &mut DbConn) -> anyhow::Result<Option<String>> {
    #[derive(QueryableByName)]
    struct RunOn {
        #[diesel(sql_type = diesel::sql_types::Text)]
        run_on: String,
    }
    // Written out the same way whatever the session's DateStyle.
    let run_on = match conn {
        DbConn::Postgresql(_) => "to_char(run_on, 'YYYY-MM-DD HH24:MI:SS.US')",
        DbConn::Sqlite(_) => "CAST(run_on AS TEXT)",
    };
    let rows: Vec<RunOn> = diesel::sql_query(format!(
        "SELECT {run_on} AS run_on FROM __diesel_schema_migrations WHERE version = '{FIRST_MIGRATION}'"
    ))
    .load(conn)?;
    Ok(rows.into_iter().next().map(|r| r.run_on))
}

/// What `erase_again` did to a restored database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedAgain {
    /// Migrations applied first (a snapshot older than this program).
    pub migrations: Vec<String>,
    /// What the erasures did (`ops::student_data::erase_again`).
    pub erased: crate::ops::student_data::ErasedAgain,
}

/// Erases again, in the restored database `to`, every account of `erasures`
/// (read from `from` by `erasures_in`) it holds, and logs every erasure its
/// log lacks, in one transaction (`ops::student_data::erase_again`).
///
/// First it makes sure `from` is the database the snapshot was taken of, in
/// its later state: the same first migration, and every erasure the
/// snapshot logged also in `from`'s list. A database made anew where the lost
/// one was, another campus's, or an older one would say "nobody was erased
/// since" and bring every erased student back. A snapshot older than this
/// program is then brought to its schema, as the server would at its start:
/// an erasure writes today's tables.
pub fn erase_again(
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    erasures: &[crate::moderation::Erasure],
    now: NaiveDateTime,
) -> anyhow::Result<ErasedAgain> {
    let source_born = first_migrated_at(&mut open_as_is(from)?)?;
    let mut conn = db::Manager::new(to.clone()).establish()?;
    if first_migrated_at(&mut conn)? != source_born {
        bail!(
            "{} is not the database this snapshot was taken of (their schemas were first made at different times)",
            from.redacted()
        );
    }
    let listed: std::collections::HashSet<_> = erasures.iter().map(|e| &e.account).collect();
    let logged = crate::moderation::erasures(&mut conn)?;
    let missing: Vec<&str> = logged
        .iter()
        .filter(|e| !listed.contains(&e.account))
        .map(|e| e.account.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "the log of {} lacks erasures the snapshot holds, of the account(s) {}: either it is older than the snapshot (name the live database or a newer one, or pass --erasures-lost and erase by hand: README, Backups), or it was itself restored with --erasures-lost (erase each there first: `common-grounds student erase <id> --confirm <computing ID>`)",
            from.redacted(),
            missing.join(", ")
        );
    }
    let migrations = db::run_migrations(&mut conn)?;
    let erased = db::write_tx(&mut conn, |tx| {
        crate::ops::student_data::erase_again(tx, erasures, now)
    })?;
    Ok(ErasedAgain { migrations, erased })
}

/// Brings a database restored with `--erasures-lost` to this program's
/// schema, as `erase_again` does, so that it can be settled and served.
pub fn migrate_restored(to: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    let mut conn = db::Manager::new(to.clone()).establish()?;
    Ok(db::run_migrations(&mut conn)?)
}

/// The erasures `from` lists now, to compare with those read before the
/// restore: a service started too early could have erased an account since.
pub fn erasures_now(from: &DatabaseUrl) -> anyhow::Result<Vec<crate::moderation::Erasure>> {
    read_erasures(&mut open_as_is(from)?, from)
}

/// Restores `file` into `to`. Refuses a target that holds tables unless `force`,
/// and one in use: an SQLite file another program has open, a PostgreSQL
/// database other sessions are connected to.
/// Returns the differences from the manifest found after restoring (empty: OK).
pub fn restore(file: &Path, to: &DatabaseUrl, force: bool) -> anyhow::Result<Differences> {
    let manifest = read_manifest(file)?;
    if manifest.backend != url_backend(to) {
        bail!(
            "this is a {} backup and cannot be restored into a {} database",
            manifest.backend,
            url_backend(to)
        );
    }
    let damaged = check_sum(file, &manifest)?;
    if !damaged.is_empty() {
        bail!(
            "refusing to restore a damaged backup: {}",
            damaged.join("; ")
        );
    }
    // A snapshot of a newer program's schema: this program would serve, and
    // erase in, tables it does not know.
    let known = db::newest_known_migration(&manifest.backend)?;
    if let (Some(snapshot), Some(known)) = (&manifest.schema_version, &known) {
        if snapshot > known {
            bail!(
                "this snapshot was taken by a newer version of Common Grounds (schema {snapshot}; this program knows up to {known}): restore it with that version; nothing was restored"
            );
        }
    }
    if !is_empty(to)? && !force {
        bail!(
            "{} is not empty; restore into a new, empty database (then verify, then switch), or pass --force to overwrite it",
            to.redacted()
        );
    }
    match to {
        DatabaseUrl::Sqlite(path) => {
            refuse_if_in_use(path)?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            // Copied beside it first: a copy that fails (a full disk) leaves the
            // database as it was, and only a whole copy takes its place.
            let mut copy = path.as_os_str().to_owned();
            copy.push(format!(".restoring-{}", uuid::Uuid::new_v4().simple()));
            let copy = PathBuf::from(copy);
            if let Err(e) = std::fs::copy(file, &copy) {
                let _ = std::fs::remove_file(&copy);
                return Err(e.into());
            }
            // The old file's write-ahead log must not be applied to the new one.
            for suffix in ["-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let p = PathBuf::from(p);
                if p.exists() {
                    std::fs::remove_file(&p)?;
                }
            }
            std::fs::rename(&copy, path)?;
        }
        DatabaseUrl::Postgres(raw) => {
            refuse_if_connected(raw)?;
            let mut restore = pg_tool("pg_restore")?;
            // One transaction: a restore that fails half way (over a newer
            // schema, say) leaves the database as it was, not half dropped.
            restore
                .arg("--no-owner")
                .arg("--no-privileges")
                .arg("--exit-on-error")
                .arg("--single-transaction");
            if force {
                restore.arg("--clean").arg("--if-exists");
            }
            connect_to(&mut restore, raw)?;
            restore.arg(file);
            run(restore, "pg_restore")?;
        }
    }
    // The snapshot is in place: a failure from here on leaves it there,
    // not yet erased again nor settled.
    let placed = || {
        format!(
            "restored into {}, but its rows could not be counted: do not serve it",
            to.redacted()
        )
    };
    let mut conn = db::Manager::new(to.clone())
        .establish()
        .with_context(placed)?;
    let version = applied_version(&mut conn).with_context(placed)?;
    let tables = count_listed(&mut conn, &manifest).with_context(placed)?;
    Ok(compare(&manifest, version, &tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_command_line_never_carries_the_password() {
        let mut command = Command::new("pg_dump");
        connect_to(
            &mut command,
            "postgres://cg:s%40cr%2Ft@db.example:5433/cg?sslmode=require",
        )
        .unwrap();
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            ["--dbname=postgres://cg@db.example:5433/cg?sslmode=require"]
        );
        assert!(!args.concat().contains("s@cr/t") && !args.concat().contains("s%40"));
        let envs: Vec<(String, String)> = command
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        assert_eq!(envs, [("PGPASSWORD".to_string(), "s@cr/t".to_string())]);

        // No password: nothing is set, the URL goes as it is.
        let mut command = Command::new("pg_dump");
        connect_to(&mut command, "postgres://postgres@127.0.0.1:5432/cg").unwrap();
        assert_eq!(command.get_envs().count(), 0);
    }
}
