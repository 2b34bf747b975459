//! `serve`: apply pending migrations (and with `--demo` load a demo campus
//! into an empty database), then serve HTTP until stopped.

use super::demo::{load_demo, print_sign_in_help, refuse_in_production};
use super::open_migrated;
use crate::config::{Config, LogFormat};
use crate::demo::CampusSpec;
use crate::web::server::startup_notices;
use crate::web::Application;

/// `serve`: migrates (loads the demo with `--demo`), then serves HTTP until stopped.
pub(super) fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    if demo {
        refuse_in_production(&config)?;
        let mut conn = open_migrated(&config)?;
        match load_demo(&config, &mut conn, &CampusSpec::demo()) {
            Ok(()) => {}
            Err(crate::demo::DemoError::NotEmpty { users }) => println!(
                "demo: the database already has {users} accounts; serving it as it is \
                 (remove {} to start the demo afresh)",
                config.database.url.redacted()
            ),
            Err(e) => return Err(e.into()),
        }
        print_sign_in_help(&config);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bind = config.server.bind_addr;
        let base = config.server.base_url.clone();
        let db_url = config.database.url.redacted();
        let json_logs = config.server.log_format == LogFormat::Json;
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
