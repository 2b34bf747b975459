//! `demo` and `bench-sessions`: load a demo campus into an empty database and
//! say how to sign in to it, and start sessions for load tests. Never meant
//! for a real database.

use indicatif::{ProgressBar, ProgressDrawTarget};

use super::{open_migrated, progress};
use crate::config::Config;
use crate::demo::{CampusSpec, DEMO_MODERATOR, DEMO_STUDENT};
use crate::{clock, db};

/// `demo`: migrate, load a demo campus, say how to sign in.
pub(super) fn demo(config: &Config, spec: &CampusSpec) -> anyhow::Result<()> {
    refuse_in_production(config)?;
    spec.check()?;
    let mut conn = open_migrated(config)?;
    load_demo(config, &mut conn, spec)?;
    print_sign_in_help(config);
    Ok(())
}

/// The demo campus is made-up people (301 verified `@virginia.edu`
/// accounts, among them the moderator `mod1a`) and made-up sections in a
/// real term: in a real database they would be strangers with real-looking
/// addresses, one with staff powers.
pub(super) fn refuse_in_production(config: &Config) -> anyhow::Result<()> {
    if config.is_production() {
        anyhow::bail!(
            "the demo campus is for development only (made-up students, a moderator and              sections in a real term); it does not run with APP_ENV=production:              nothing was loaded"
        );
    }
    Ok(())
}

/// Loads a demo campus with a progress bar, and prints what was loaded.
pub(super) fn load_demo(
    config: &Config,
    conn: &mut db::DbConn,
    spec: &CampusSpec,
) -> Result<(), crate::demo::DemoError> {
    let progress = DemoProgress::new();
    let report = crate::demo::load(
        conn,
        config.secret_key.expose(),
        spec,
        &config.server.data_dir,
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

/// How to sign in to the demo, and where its emails land.
pub(super) fn print_sign_in_help(config: &Config) {
    let base = config.server.base_url.as_str().trim_end_matches('/');
    println!("demo: sign in as the demo student: open {base}/login and enter {DEMO_STUDENT}@virginia.edu");
    if config.mail.smtp_url.is_none() {
        if config.serves_dev_mailbox() {
            println!("demo: the sign-in email lands in the dev mailbox: {base}/dev/mailbox (follow its link or type its code)");
        } else {
            println!(
                "demo: the sign-in email is written to {} (the dev mailbox page is served only in development on a loopback BIND_ADDR)",
                config.mail.dir.display()
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
        DemoProgress {
            // Hidden until the first stage says how long it is.
            bar: progress::terminal_bar(
                "demo {prefix:12} [{bar:30}] {human_pos}/{human_len} eta {eta}",
                Some(0),
            ),
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

/// `bench-sessions`: writes sessions and sign-in visitors for a load test.
/// Live sessions for real students would be a way around sign-in, so it runs
/// only outside production and on a demo campus (its demo student is there),
/// and writes its files readable by their owner only.
pub(super) fn bench_sessions(
    config: &Config,
    count: u32,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    if config.is_production() {
        anyhow::bail!(
            "bench-sessions starts live sessions and is for load tests only; \
             it does not run with APP_ENV=production"
        );
    }
    let mut conn = open_migrated(config)?;
    if crate::accounts::find_by_computing_id(&mut conn, crate::demo::DEMO_STUDENT)?.is_none() {
        anyhow::bail!(
            "bench-sessions runs on a demo campus only (made by `common-grounds demo`), \
             and this database has none: nothing was written"
        );
    }
    let login = out.with_extension("login");
    for path in [out, login.as_path()] {
        if path.exists() {
            anyhow::bail!(
                "{} already exists; choose a new --out (nothing was written)",
                path.display()
            );
        }
    }
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
    // The file holds live session tokens: its owner's alone. Never written
    // over an existing file (a mistyped --out could name the database).
    write_new(out, &text)?;
    // Visitors about to sign in: a pre-session cookie and its CSRF token each.
    let mut text = String::from("# cg_csrf cookie\tcsrf\n");
    for _ in 0..1000 {
        let cookie = crate::accounts::sessions::random_token();
        let csrf = crate::web::guard::pre_session_csrf_token(&key, &cookie);
        text.push_str(&format!("{cookie}\t{csrf}\n"));
    }
    write_new(&login, &text)?;
    println!(
        "bench-sessions: wrote {} sessions to {} and 1000 sign-in visitors to {}",
        sessions.len(),
        out.display(),
        login.display()
    );
    Ok(())
}

/// Writes `text` to a new file of its owner's alone; an existing one is refused.
fn write_new(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = crate::ops::private::create_new(path)?;
    file.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
