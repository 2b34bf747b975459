//! The command line (clap): `serve` (the default), `migrate`, `cleanup`. Each
//! command reads the configuration once and reports failure as one line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::web::Application;
use crate::{clock, db, ops, telemetry};

#[derive(Parser)]
#[command(
    name = "common-grounds",
    version,
    about = "Common Grounds: shared classes and anonymous class chat for UVA students"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve HTTP (what a bare `common-grounds` does).
    Serve,
    /// Apply pending migrations and print what was applied.
    Migrate,
    /// Delete expired sign-in links, sessions, unconfirmed addresses and old delivered email.
    Cleanup,
    /// Snapshots of the database: create, list, verify, restore.
    Backup {
        #[command(subcommand)]
        action: BackupCommand,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Write a consistent snapshot and its manifest (safe while the service runs).
    Create {
        /// Folder for snapshots (default DATA_DIR/backups).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Afterwards, remove snapshots older than this many days.
        #[arg(long)]
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
    },
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("common-grounds: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_filter, config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::Cleanup => cleanup(&config),
        Command::Backup { action } => backup(&config, action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("common-grounds: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause already in the text.
fn one_line(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = config.bind_addr;
        let base = config.base_url.clone();
        let db_url = config.database_url.redacted();
        let json_logs = config.log_format == LogFormat::Json;
        let app = Application::build(config)?;
        tracing::info!(%bind, %base, database = %db_url, "Common Grounds is serving");
        // With JSON logs every line of output is JSON; the log line above says it.
        if !json_logs {
            println!("Common Grounds is serving on http://{bind} (open {base})");
        }
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    let manager = db::Manager::new(config.database_url.clone());
    let mut conn = manager.establish()?;
    let applied = db::run_migrations(&mut conn)?;
    if applied.is_empty() {
        println!(
            "{}: schema is up to date (version {}); nothing to apply",
            config.database_url.redacted(),
            db::schema_version(&mut conn)?.unwrap_or_else(|| "none".into())
        );
    } else {
        for version in &applied {
            println!("applied {version}");
        }
        println!(
            "{}: applied {} migration(s)",
            config.database_url.redacted(),
            applied.len()
        );
    }
    Ok(())
}

fn cleanup(config: &Config) -> anyhow::Result<()> {
    let manager = db::Manager::new(config.database_url.clone());
    let mut conn = manager.establish()?;
    db::run_migrations(&mut conn)?;
    let report = ops::cleanup::run(&mut conn, clock::now())?;
    println!("cleanup: {report}");
    Ok(())
}

fn backup(config: &Config, action: BackupCommand) -> anyhow::Result<()> {
    use crate::ops::backup;
    let default_dir = config.data_dir.join("backups");
    match action {
        BackupCommand::Create { dir, keep_days } => {
            let dir = dir.unwrap_or(default_dir);
            eprintln!(
                "backup: snapshotting {} ...",
                config.database_url.redacted()
            );
            let manifest = backup::create(&config.database_url, &dir, clock::now())?;
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
                for removed in backup::prune(&dir, days, clock::now())? {
                    println!(
                        "backup: removed {} (older than {days} days)",
                        removed.display()
                    );
                }
            }
            Ok(())
        }
        BackupCommand::List { dir } => {
            let dir = dir.unwrap_or(default_dir);
            let found = backup::list(&dir)?;
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
            Ok(())
        }
        BackupCommand::Verify { file, scratch_url } => {
            let server = scratch_url.or_else(|| match &config.database_url {
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
        BackupCommand::Restore { file, to, force } => {
            let target = crate::config::DatabaseUrl::parse(&to)?;
            eprintln!(
                "backup: restoring {} into {} ...",
                file.display(),
                target.redacted()
            );
            let diffs = backup::restore(&file, &target, force)?;
            if diffs.is_empty() {
                println!(
                    "backup: restored {} into {}; row counts match the manifest",
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
