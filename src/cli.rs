//! The command line (clap): `serve` (the default), `migrate`, `cleanup`. Each
//! command reads the configuration once and reports failure as one line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
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
        let app = Application::build(config)?;
        tracing::info!(%bind, %base, database = %db_url, "Common Grounds is serving");
        println!("Common Grounds is serving on http://{bind} (open {base})");
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
