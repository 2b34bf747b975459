//! The command line (clap): `serve` (the default), `migrate`, `cleanup`,
//! `sis-sync`. Each command reads the configuration once and reports failure
//! as one line.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{Config, LogFormat};
use crate::demo::{CampusSpec, DEMO_MODERATOR, DEMO_STUDENT};
use crate::sis::client::{ClientSettings, SisClient};
use crate::sis::sync::{self, SubjectOutcome, SyncError, SyncRequest};
use crate::sis::Subject;
use crate::web::server::startup_notices;
use crate::web::Application;
use crate::{clock, db, ops, telemetry};

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
        #[arg(long, default_value_t = 1000)]
        count: u32,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Apply pending migrations and print what was applied.
    Migrate,
    /// Delete expired sign-in links, sessions, unconfirmed addresses and old delivered email.
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
    let result = match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => serve(config, demo),
        Command::Demo {
            students,
            sections,
            per_student,
            friends,
            messages,
            seed,
        } => demo(
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
        Command::BenchSessions { count, out } => bench_sessions(&config, count, &out),
        Command::Migrate => migrate(&config),
        Command::Cleanup => cleanup(&config),
        Command::Backup { action } => backup(&config, action),
        Command::GrantRole { who, role } => grant_role(&config, &who, &role),
        Command::SisSync {
            term,
            subjects,
            dry_run,
        } => return sis_sync(&config, &term, &subjects, dry_run),
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

fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    if demo {
        let manager = db::Manager::new(config.database_url.clone());
        let mut conn = manager.establish()?;
        db::run_migrations(&mut conn)?;
        match load_demo(&config, &mut conn, &CampusSpec::demo()) {
            Ok(()) => {}
            Err(crate::demo::DemoError::NotEmpty { users }) => println!(
                "demo: the database already has {users} accounts; serving it as it is \
                 (remove {} to start the demo afresh)",
                config.database_url.redacted()
            ),
            Err(e) => return Err(e.into()),
        }
        print_sign_in_help(&config);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = config.bind_addr;
        let base = config.base_url.clone();
        let db_url = config.database_url.redacted();
        let json_logs = config.log_format == LogFormat::Json;
        let app = Application::build(config.clone())?;
        let bind = std::net::SocketAddr::new(bind.ip(), app.port());
        tracing::info!(%bind, %base, database = %db_url, "Common Grounds is serving");
        // With JSON logs every line of output is JSON; the log lines say it all.
        if !json_logs {
            println!("Common Grounds is serving on http://{bind} (open {base})");
        }
        for notice in startup_notices(&config, bind) {
            if notice.warning {
                tracing::warn!("{}", notice.text);
                if !json_logs {
                    eprintln!("{}", notice.text);
                }
            } else {
                tracing::info!("{}", notice.text);
                if !json_logs {
                    println!("{}", notice.text);
                }
            }
        }
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn demo(config: &Config, spec: &CampusSpec) -> anyhow::Result<()> {
    spec.check()?;
    let manager = db::Manager::new(config.database_url.clone());
    let mut conn = manager.establish()?;
    db::run_migrations(&mut conn)?;
    load_demo(config, &mut conn, spec)?;
    print_sign_in_help(config);
    Ok(())
}

fn load_demo(
    config: &Config,
    conn: &mut db::DbConn,
    spec: &CampusSpec,
) -> Result<(), crate::demo::DemoError> {
    let progress = DemoProgress::new();
    let report = crate::demo::load(
        conn,
        config.secret_key.expose(),
        spec,
        &config.data_dir,
        clock::now(),
        &progress,
    );
    progress.finish();
    let report = report?;
    let c = &report.counts;
    println!(
        "demo: loaded {} sections, {} students (and a moderator), {} enrollments, {} friendships, \
         {} messages, {} reports in {:.1} s (seed {})",
        report.sections,
        c.students,
        c.enrollments,
        c.friendships,
        c.messages,
        c.flags,
        report.seconds,
        spec.seed
    );
    Ok(())
}

fn print_sign_in_help(config: &Config) {
    let base = config.base_url.as_str().trim_end_matches('/');
    println!("demo: sign in as the demo student: open {base}/login and enter {DEMO_STUDENT}@virginia.edu");
    if config.smtp_url.is_none() {
        if config.serves_dev_mailbox() {
            println!("demo: the sign-in email lands in the dev mailbox: {base}/dev/mailbox (follow its link or type its code)");
        } else {
            println!(
                "demo: the sign-in email is written to {} (the dev mailbox page is served only in development on a loopback BIND_ADDR)",
                config.mail_dir.display()
            );
        }
    }
    println!("demo: the moderator is {DEMO_MODERATOR}@virginia.edu (admin pages at {base}/admin)");
}

/// One progress bar per stage on a terminal; a line per stage otherwise.
struct DemoProgress {
    bar: Option<ProgressBar>,
    started: std::cell::Cell<Option<(String, std::time::Instant)>>,
}

impl DemoProgress {
    fn new() -> DemoProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            // Hidden until the first stage says how long it is.
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "demo {prefix:12} [{bar:30}] {human_pos}/{human_len} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        DemoProgress {
            bar,
            started: std::cell::Cell::new(None),
        }
    }

    fn end_stage(&self) {
        if let Some((name, at)) = self.started.take() {
            eprintln!("demo: {name} done in {:.1} s", at.elapsed().as_secs_f64());
        }
    }

    fn finish(&self) {
        self.end_stage();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl crate::demo::Progress for DemoProgress {
    fn stage(&self, name: &str, total: u64) {
        if let Some(bar) = &self.bar {
            bar.suspend(|| self.end_stage());
            bar.set_prefix(name.to_string());
            bar.set_length(total);
            bar.set_position(0);
            bar.reset_eta();
            bar.set_draw_target(ProgressDrawTarget::stderr());
        } else {
            self.end_stage();
        }
        self.started
            .set(Some((name.to_string(), std::time::Instant::now())));
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
}

fn bench_sessions(config: &Config, count: u32, out: &std::path::Path) -> anyhow::Result<()> {
    let manager = db::Manager::new(config.database_url.clone());
    let mut conn = manager.establish()?;
    db::run_migrations(&mut conn)?;
    let key = config.secret_key.expose().to_vec();
    let sessions = db::write_tx(&mut conn, |c| {
        crate::demo::bench::start_sessions(c, count as usize, clock::now(), |hash| {
            crate::web::guard::session_csrf_token(&key, hash)
        })
    })?;
    let mut text = String::from("# token\tcsrf\tfriend\tclass\n");
    for s in &sessions {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            s.token, s.csrf, s.friend, s.class_id
        ));
    }
    std::fs::write(out, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    // Visitors about to sign in: a pre-session cookie and its CSRF token each.
    let login = out.with_extension("login");
    let mut text = String::from("# cg_csrf cookie\tcsrf\n");
    for _ in 0..1000 {
        let cookie = crate::accounts::sessions::random_token();
        let csrf = crate::web::guard::pre_session_csrf_token(&key, &cookie);
        text.push_str(&format!("{cookie}\t{csrf}\n"));
    }
    std::fs::write(&login, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", login.display()))?;
    println!(
        "bench-sessions: wrote {} sessions to {} and 1000 sign-in visitors to {}",
        sessions.len(),
        out.display(),
        login.display()
    );
    Ok(())
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

fn grant_role(config: &Config, who: &str, role: &str) -> anyhow::Result<()> {
    let role: crate::accounts::Role = role
        .parse()
        .map_err(|_| anyhow::anyhow!("'{role}' is not a role; use student, moderator or admin"))?;
    let manager = db::Manager::new(config.database_url.clone());
    let mut conn = manager.establish()?;
    db::run_migrations(&mut conn)?;
    let outcome = db::write_tx(&mut conn, |c| -> anyhow::Result<_> {
        let target = crate::moderation::users::find_by_login(c, who)?.ok_or_else(|| {
            anyhow::anyhow!("no account for '{who}': the person must sign in once first")
        })?;
        let changed = crate::moderation::users::set_role(c, None, &target, role, clock::now())?;
        Ok((target, changed))
    })?;
    let (target, changed) = outcome;
    if changed {
        println!(
            "{} ({}) is now {}; their sessions were ended and the change is in the audit log",
            target.email,
            target.computing_id,
            role.as_str()
        );
    } else {
        println!(
            "{} is already {}; nothing changed",
            target.email,
            role.as_str()
        );
    }
    Ok(())
}
/// Runs one sync and prints a one-line summary on stdout; the exit code says
/// whether everything synced.
fn sis_sync(config: &Config, term: &str, subjects: &[String], dry_run: bool) -> ExitCode {
    let request = match SyncRequest::parse(term, subjects, dry_run) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("common-grounds: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let progress = SyncProgress::new(&request);
    let outcome = (|| -> anyhow::Result<Result<sync::SyncReport, SyncError>> {
        let manager = db::Manager::new(config.database_url.clone());
        let mut conn = manager.establish()?;
        db::run_migrations(&mut conn)?;
        let client = SisClient::new(ClientSettings::from_config(config))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(sync::run(
            &mut conn,
            &client,
            runtime.handle(),
            &request,
            clock::now(),
            &progress,
        ))
    })();
    progress.finish();
    match outcome {
        Ok(Ok(report)) => {
            println!("{}", report.summary());
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e @ SyncError::AlreadyRunning { .. })) => {
            eprintln!("common-grounds: {e}");
            ExitCode::from(EXIT_SYNC_ALREADY_RUNNING)
        }
        Ok(Err(e)) => {
            eprintln!("common-grounds: sis-sync {}: {e}", request.term);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "common-grounds: sis-sync {}: {}",
                request.term,
                one_line(&e)
            );
            ExitCode::FAILURE
        }
    }
}

/// A progress bar on a terminal; plain lines (one per subject) otherwise, so
/// cron mail and logs stay readable.
enum SyncProgress {
    Bar(ProgressBar),
    Lines(String),
}

impl SyncProgress {
    fn new(request: &SyncRequest) -> SyncProgress {
        let label = format!("sis-sync {}", request.term);
        if !std::io::stderr().is_terminal() {
            return SyncProgress::Lines(label);
        }
        // Hidden until the subject count is known, so it never shows 0/0 as done.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} subjects  {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label);
        SyncProgress::Bar(bar)
    }

    fn finish(&self) {
        if let SyncProgress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl sync::Progress for SyncProgress {
    fn subjects_known(&self, count: usize) {
        match self {
            SyncProgress::Bar(bar) => {
                bar.set_length(count as u64);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            SyncProgress::Lines(label) => {
                let plural = if count == 1 { "" } else { "s" };
                eprintln!("{label}: {count} subject{plural} to sync");
            }
        }
    }

    fn page_fetched(&self, subject: &Subject, page: u32, page_count: Option<u32>) {
        if let SyncProgress::Bar(bar) = self {
            match page_count {
                Some(count) => bar.set_message(format!("{subject} page {page}/{count}")),
                None => bar.set_message(format!("{subject} page {page}")),
            }
        }
    }

    fn subject_finished(&self, subject: &Subject, outcome: &SubjectOutcome) {
        let line = match outcome {
            SubjectOutcome::Synced(c) => format!(
                "{subject}: {} added, {} changed, {} unchanged",
                c.added, c.changed, c.unchanged
            ),
            SubjectOutcome::Failed(e) => format!("{subject}: FAILED, nothing written: {e}"),
        };
        match self {
            SyncProgress::Bar(bar) => {
                if matches!(outcome, SubjectOutcome::Failed(_)) {
                    bar.println(line);
                }
                bar.inc(1);
            }
            SyncProgress::Lines(label) => eprintln!("{label}: {line}"),
        }
    }
}
