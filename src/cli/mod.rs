//! The command line (clap): `serve` (the default), `demo`, `migrate`,
//! `cleanup`, `backup`, `grant-role`, `sis-sync`, `student`, one file per group. Each
//! command reads the configuration once, opens its database through
//! `open_migrated` (or, answering from data already there, `open_existing`,
//! which refuses a mistyped SQLite path and a database without our schema),
//! and reports failure as one line.

mod demo;
mod maintenance;
mod progress;
mod roles;
mod serve;
mod sis;
mod student;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::maintenance::BackupCommand;
use self::student::StudentCommand;
use crate::config::{Config, DatabaseUrl};
use crate::demo::CampusSpec;
use crate::{db, telemetry};

/// `sis-sync` exits with this when another sync of the term is running
/// (sysexits' EX_TEMPFAIL: try again later).
pub const EXIT_SYNC_ALREADY_RUNNING: u8 = 75;
/// Bad words on the command line (as clap itself uses).
pub const EXIT_USAGE: u8 = 2;

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
    Serve {
        /// First load a demo campus into the database when it has no accounts yet
        /// (as `common-grounds demo` does), and print how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Load a demo campus into an empty database: a catalog synced from bundled
    /// SIS pages, students with classes, friends and chat threads, a moderator.
    /// The options make a campus of any size (UVA: --students 25000 --sections 8000
    /// --per-student 5 --friends 20 --messages 1000000).
    Demo {
        #[arg(long, default_value_t = CampusSpec::demo().students)]
        students: u32,
        /// Sections in the catalog (the 5 bundled CS sample sections included).
        #[arg(long, default_value_t = CampusSpec::demo().sections)]
        sections: u32,
        /// Classes each student takes.
        #[arg(long, default_value_t = CampusSpec::demo().per_student)]
        per_student: u32,
        /// Friends each student has, about (most met in a shared class).
        #[arg(long, default_value_t = CampusSpec::demo().friends)]
        friends: u32,
        /// Chat messages in all, shared among classes by size.
        #[arg(long, default_value_t = CampusSpec::demo().messages)]
        messages: u64,
        /// The same seed makes the same campus.
        #[arg(long, default_value_t = CampusSpec::demo().seed)]
        seed: u64,
    },
    /// For load tests only: start sessions for N students of a demo campus and
    /// write one line per session (token, CSRF token, a friend's computing ID,
    /// the class with the most threads) to FILE. Never on a real database.
    BenchSessions {
        /// How many sessions (1 to 100,000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Apply pending migrations and print what was applied.
    Migrate,
    /// Delete what has lapsed: week-old chat events, friend requests unanswered for 60 days,
    /// notifications older than 90 days, stale sign-in links, expired sessions, unconfirmed
    /// addresses, rate-limit hits and month-old delivered or failed email; and refresh
    /// SQLite's statistics. The server runs it hourly (first an hour after start): run it
    /// from cron too if the server restarts more often.
    Cleanup,
    /// Pull a term's class sections from SIS into the catalog (run it from cron).
    /// Exits 0 only when every subject synced; 75 when a sync of the term is already running.
    SisSync {
        /// The SIS term: 1, the year's last two digits, the season (1 January, 2 spring, 6 summer, 8 fall), e.g. 1262.
        #[arg(long)]
        term: String,
        /// Only these subjects (`--subject CS MATH` or `--subject CS,MATH`); default: every subject of the term.
        #[arg(long = "subject", value_name = "SUBJECT", num_args = 1.., value_delimiter = ',')]
        subjects: Vec<String>,
        /// Fetch and compare with the catalog, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Give an account a role (student, moderator, admin): how the first admin is made.
    GrantRole {
        /// The account's email address or computing ID.
        who: String,
        /// student, moderator or admin.
        role: String,
    },
    /// Snapshots of the database: create, list, verify, restore.
    Backup {
        #[command(subcommand)]
        action: BackupCommand,
    },
    /// A student's data, for a request made to the university: export, erase.
    Student {
        #[command(subcommand)]
        action: StudentCommand,
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
    telemetry::init(&config.server.log_filter, config.server.log_format);
    let result = match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve::serve(config, demo),
        Command::Demo {
            students,
            sections,
            per_student,
            friends,
            messages,
            seed,
        } => demo::demo(
            &config,
            &CampusSpec {
                students,
                sections,
                per_student,
                friends,
                messages,
                seed,
            },
        ),
        Command::BenchSessions { count, out } => demo::bench_sessions(&config, count, &out),
        Command::Migrate => maintenance::migrate(&config),
        Command::Cleanup => maintenance::cleanup(&config),
        Command::Backup { action } => maintenance::backup(&config, action),
        Command::GrantRole { who, role } => roles::grant_role(&config, &who, &role),
        Command::Student { action } => student::student(&config, action),
        Command::SisSync {
            term,
            subjects,
            dry_run,
        } => return sis::sis_sync(&config, &term, &subjects, dry_run),
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

/// Refuses an SQLite path with no file: a command that answers from the data
/// already there (a role, a student's request, a cleanup, a snapshot) must not
/// make a new, empty database at a mistyped path and answer "no account" from
/// it, or leave an empty file behind for the server to start on.
fn refuse_missing(url: &DatabaseUrl) -> anyhow::Result<()> {
    match url {
        // Named in full: cron runs commands from a folder of its own, where a
        // relative path is not the server's file.
        DatabaseUrl::Sqlite(path) if !path.is_file() => anyhow::bail!(
            "there is no database at {} (DATABASE_URL): check the path, or start the server (or run `common-grounds migrate`) to create it; no database was made",
            std::path::absolute(path).unwrap_or_else(|_| path.clone()).display()
        ),
        _ => Ok(()),
    }
}

/// A connection for a command that works on the data already there (cron's
/// `sis-sync` and `cleanup`, the staff tools): a mistyped SQLite path is
/// refused (`refuse_missing`), and so is a database without our schema, SQLite
/// or PostgreSQL (another program's, or the server's default `postgres`),
/// which migrating would fill with our tables before answering "no account"
/// from them. A schema older than this program is refused too, not
/// migrated: a new binary staged beside running servers must not have the
/// night's cron change their schema unattended (mid-backup, say). `migrate`
/// and the server's start apply migrations.
fn open_existing(config: &Config) -> anyhow::Result<db::DbConn> {
    refuse_missing(&config.database.url)?;
    crate::ops::backup::refuse_without_schema(&config.database.url)?;
    let mut conn = db::Manager::new(config.database.url.clone()).establish()?;
    let pending = db::pending_migrations(&mut conn)?;
    if let Some(first) = pending.first() {
        anyhow::bail!(
            "the database's schema is older than this program ({} migration(s) to apply, from {first}): run `common-grounds migrate` (or start the new server) first; nothing was changed",
            pending.len()
        );
    }
    crate::accounts::fill_name_keys(&mut conn)?;
    Ok(conn)
}

/// A connection to the configured database with every pending migration
/// applied: where each command but `migrate` starts.
fn open_migrated(config: &Config) -> anyhow::Result<db::DbConn> {
    let mut conn = db::Manager::new(config.database.url.clone()).establish()?;
    db::run_migrations(&mut conn)?;
    crate::accounts::fill_name_keys(&mut conn)?;
    Ok(conn)
}
