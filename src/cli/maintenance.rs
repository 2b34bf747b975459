//! `migrate`, `cleanup` and `backup`: keeping the database itself (schema,
//! expired rows, snapshots).

use std::path::Path;

use anyhow::Context;

use clap::Subcommand;

use super::{open_existing, refuse_missing};
use crate::config::Config;
use crate::{clock, db, ops};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Write a consistent snapshot and its manifest (safe while the service runs).
    Create {
        /// Folder for snapshots (default DATA_DIR/backups).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Afterwards, remove snapshots older than this many days (1 to
        /// 36,500: the snapshot just written is never the one removed).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=36_500))]
        keep_days: Option<i64>,
    },
    /// List snapshots with their time, size and row counts.
    List {
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Restore a snapshot into a scratch database and compare it with its manifest.
    Verify {
        file: std::path::PathBuf,
        /// PostgreSQL server to restore into (default DATABASE_URL's server).
        #[arg(long)]
        scratch_url: Option<String>,
    },
    /// Restore a snapshot into a database (refuses a non-empty one without --force).
    Restore {
        file: std::path::PathBuf,
        /// The database to restore into: a path, sqlite://PATH or postgres://...
        #[arg(long)]
        to: String,
        #[arg(long)]
        force: bool,
        /// The database whose audit log says which accounts were erased
        /// since the snapshot (default DATABASE_URL, the live one): each is
        /// erased again in the restored database.
        #[arg(long, value_name = "URL")]
        erasures_from: Option<String>,
        /// The live database is lost, so its erasures cannot be read: restore
        /// anyway, and erase again by hand (README, Backups).
        #[arg(long, conflicts_with = "erasures_from")]
        erasures_lost: bool,
    },
}

/// `migrate`: applies pending migrations and prints them.
pub(super) fn migrate(config: &Config) -> anyhow::Result<()> {
    let manager = db::Manager::new(config.database.url.clone());
    let mut conn = manager.establish()?;
    let applied = db::run_migrations(&mut conn)?;
    crate::accounts::fill_name_keys(&mut conn)?;
    if applied.is_empty() {
        println!(
            "{}: schema is up to date (version {}); nothing to apply",
            config.database.url.redacted(),
            db::schema_version(&mut conn)?.unwrap_or_else(|| "none".into())
        );
    } else {
        for version in &applied {
            println!("applied {version}");
        }
        println!(
            "{}: applied {} migration(s)",
            config.database.url.redacted(),
            applied.len()
        );
    }
    Ok(())
}

/// `cleanup`: deletes expired rows and prints what went.
pub(super) fn cleanup(config: &Config) -> anyhow::Result<()> {
    let mut conn = open_existing(config)?;
    let report = ops::cleanup::run(&mut conn, clock::now())?;
    println!("cleanup: {report}");
    Ok(())
}

/// `backup create|list|verify|restore`.
pub(super) fn backup(config: &Config, action: BackupCommand) -> anyhow::Result<()> {
    use crate::ops::backup;
    let default_dir = config.server.data_dir.join("backups");
    match action {
        BackupCommand::Create { dir, keep_days } => {
            create_backup(config, &dir.unwrap_or(default_dir), keep_days)
        }
        BackupCommand::List { dir } => list_backups(&dir.unwrap_or(default_dir)),
        BackupCommand::Verify { file, scratch_url } => {
            let server = scratch_url.or_else(|| match &config.database.url {
                crate::config::DatabaseUrl::Postgres(url) => Some(url.clone()),
                _ => None,
            });
            eprintln!("backup: verifying {} ...", file.display());
            let diffs = backup::verify(&file, server.as_deref())?;
            if diffs.is_empty() {
                println!("backup: OK: {} matches its manifest", file.display());
                Ok(())
            } else {
                anyhow::bail!("FAILED: {}: {}", file.display(), diffs.join("; "))
            }
        }
        BackupCommand::Restore {
            file,
            to,
            force,
            erasures_from,
            erasures_lost,
        } => {
            let target = crate::config::DatabaseUrl::parse(&to)?;
            // Which accounts were erased since the snapshot, read before
            // anything is restored; never from the database being replaced,
            // whose list a failure half way would lose.
            let erasures = if erasures_lost {
                None
            } else {
                let from = match erasures_from {
                    Some(url) => crate::config::DatabaseUrl::parse(&url)
                        .context("--erasures-from is not a database URL")?,
                    None => config.database.url.clone(),
                };
                for live in [&from, &config.database.url] {
                    if backup::same_database(live, &target).unwrap_or(false) {
                        anyhow::bail!(
                            "{} is the live database, which this restore would replace, and the accounts erased since the snapshot are read from it: restore into a new database, then switch the service to it (README, Backups); nothing was restored",
                            target.redacted()
                        );
                    }
                }
                let erasures = backup::erasures_in(&from).with_context(|| {
                    format!(
                        "the accounts erased since the snapshot are read first, from {} (the live database: DATABASE_URL, or --erasures-from URL; if it is lost, --erasures-lost, then README, Backups); nothing was restored",
                        from.redacted()
                    )
                })?;
                Some((from, erasures))
            };
            eprintln!(
                "backup: restoring {} into {} ...",
                file.display(),
                target.redacted()
            );
            let diffs = backup::restore(&file, &target, force).map_err(|e| {
                // A PostgreSQL target is made by its operator (owner, encoding,
                // where it lives), not by this command: said what to do.
                let missing = matches!(target, crate::config::DatabaseUrl::Postgres(_))
                    && format!("{e:#}").contains("does not exist");
                if missing {
                    e.context(format!(
                        "{} does not exist: create it first (`createdb`, owned by the service's user), then restore again; nothing was restored",
                        target.redacted()
                    ))
                } else {
                    e
                }
            })?;
            if let Some((from, erasures)) = &erasures {
                let failed = || {
                    format!("restored, but the accounts erased since the snapshot could not be erased again in {}: do not serve it; once the cause is mended, restore again into a new, empty database", target.redacted())
                };
                let again = backup::erase_again(from, &target, erasures, crate::clock::now())
                    .with_context(failed)?;
                // A service started too early may have erased an account
                // since the list was read: erase it too, and say the
                // restore is not to be trusted.
                let now_listed = backup::erasures_now(from).with_context(failed)?;
                if now_listed.len() != erasures.len() {
                    backup::erase_again(from, &target, &now_listed, crate::clock::now())
                        .with_context(failed)?;
                    anyhow::bail!(
                        "{} erased an account while this restore ran, so it is in use again: stop the service, then restore again into a new, empty database; do not serve {}",
                        from.redacted(),
                        target.redacted()
                    );
                }
                for version in &again.migrations {
                    println!("backup: applied {version} to the restored database (its snapshot is older than this program)");
                }
                println!(
                    "backup: erased again {} account(s) that {} says were erased since the snapshot; logged {} other erasure(s) it holds, so a later restore carries them on",
                    again.erased.accounts,
                    from.redacted(),
                    again.erased.logged_only
                );
            } else {
                let migrations = backup::migrate_restored(&target).with_context(|| {
                    format!("restored, but {} could not be brought to this program's schema: do not serve it", target.redacted())
                })?;
                for version in &migrations {
                    println!("backup: applied {version} to the restored database (its snapshot is older than this program)");
                }
                println!(
                    "backup: --erasures-lost: no account was erased again; erase by hand every account erased since the snapshot (README, Backups)"
                );
            }
            // Settled whatever the comparison says: a restored database
            // switched to anyway must not revive ended sessions.
            let settled = backup::settle_restored(&target, crate::clock::now()).with_context(|| {
                format!("restored, but the sessions, sign-in links and mail it brought back could not be ended in {}: do not serve it; restore again into a new, empty database", target.redacted())
            })?;
            println!(
                "backup: ended {} sessions (everyone signs in again) and voided {} unused sign-in links; set aside {} queued emails and {} notices' emails from before the snapshot",
                settled.sessions, settled.sign_in_links, settled.queued_emails, settled.waiting_notices
            );
            if diffs.is_empty() {
                // Compared as restored: accounts erased again since then
                // have fewer rows than the manifest counts.
                let as_restored = match &erasures {
                    Some(_) => " as restored, before the accounts above were erased again",
                    None => "",
                };
                println!(
                    "backup: restored {} into {}; row counts match the manifest{as_restored}",
                    file.display(),
                    target.redacted()
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "restored, but it differs from the manifest: {}",
                    diffs.join("; ")
                )
            }
        }
    }
}

/// Writes a snapshot and its manifest into `dir`, then prunes old ones.
fn create_backup(config: &Config, dir: &Path, keep_days: Option<i64>) -> anyhow::Result<()> {
    use crate::ops::backup;
    refuse_missing(&config.database.url)?;
    // First: a snapshot a killed run left may be what the disk needs back.
    let (removed, failed) = backup::prune_leftovers(dir)?;
    for removed in removed {
        println!(
            "backup: removed {} (left by a backup that did not finish)",
            removed.display()
        );
    }
    for failure in failed {
        eprintln!("backup: warning: {failure}");
    }
    eprintln!(
        "backup: snapshotting {} ...",
        config.database.url.redacted()
    );
    let manifest = backup::create(&config.database.url, dir, clock::now())?;
    let rows: i64 = manifest.tables.values().sum();
    println!(
        "backup: wrote {} ({} bytes, {} rows in {} tables, schema {}, sha256 {})",
        dir.join(&manifest.file).display(),
        manifest.bytes,
        rows,
        manifest.tables.len(),
        manifest.schema_version.as_deref().unwrap_or("none"),
        manifest.sha256
    );
    if let Some(days) = keep_days {
        for removed in backup::prune(dir, days, clock::now())? {
            println!(
                "backup: removed {} (older than {days} days)",
                removed.display()
            );
        }
    }
    Ok(())
}

/// Lists the snapshots in `dir` with their time, size and row counts.
fn list_backups(dir: &Path) -> anyhow::Result<()> {
    use crate::ops::backup;
    let found = backup::list(dir)?;
    if found.is_empty() {
        println!("backup: no snapshots in {}", dir.display());
    }
    for (path, m) in found {
        println!(
            "{}  {}  {:>8} bytes  {} rows  schema {}  {}",
            m.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            m.backend,
            m.bytes,
            m.tables.values().sum::<i64>(),
            m.schema_version.as_deref().unwrap_or("none"),
            path.display()
        );
    }
    for left in backup::leftovers(dir)? {
        let hours = left.age.as_secs() / 3600;
        if left.ours {
            println!(
                "backup: {} was left by a backup that did not finish ({hours} hours old; not a snapshot); `backup create` removes it once it is a day old",
                left.path.display()
            );
        } else {
            println!(
                "backup: {} has no readable manifest ({hours} hours old), so it cannot be verified or restored as a snapshot; it may be a copy made by hand, or left by an older version's backup that did not finish: delete it yourself if it is not needed (it may hold every student's data)",
                left.path.display()
            );
        }
    }
    Ok(())
}
