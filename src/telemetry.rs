//! Logging setup: human-readable text or one JSON object per line (`LOG_FORMAT`).

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(filter: &str, format: LogFormat) {
    // Checked when the settings were read (`ServerSettings::from_source`).
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A log line that cannot be written is dropped, not reported: the report
    // goes to stderr with `eprintln!`, which panics when stderr is closed (a
    // supervisor that went away), and the panic took down whichever task was
    // logging; the SIGTERM handler's "stopping" line was one, and the server
    // then never stopped.
    // Colour only for a person at a terminal: a log file, a cron mail or a
    // log shipper gets plain text (`grep` took the escapes for binary). The
    // formatter writes to stdout.
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
