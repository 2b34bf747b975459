//! Liveness and readiness: `/readyz` follows the database down and back up
//! without a restart.

use crate::common;

use std::time::{Duration, Instant};

use common::proxy;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, body) = app.get_html("/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, _) = app.get_html("/readyz").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgres_down_and_back_up_without_a_restart() {
    let Some(_) = postgres_admin_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres);
    let (mut proxy, proxied) = proxy::in_front_of(&db).await;
    let app = spawn_app_with(proxied, TestMail::Memory, &[]).await;
    assert_eq!(app.get_html("/readyz").await.0, 200);

    proxy.cut().await;
    let started = Instant::now();
    let (status, body) = app.get_html("/readyz").await;
    let took = started.elapsed();
    println!("readyz with the database unreachable: {status} in {took:?}");
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert_eq!(
        app.get_html("/healthz").await.0,
        200,
        "the process itself is still up"
    );

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..20 {
        if app.get_html("/readyz").await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "/readyz did not recover once the database was back"
    );
    drop(app);
    drop(db);
}

/// Behind a load balancer: after SIGTERM, `/readyz` answers 503 at once
/// while pages are still served for `SHUTDOWN_DRAIN_SECS`, then the app stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_readyz_drains_before_the_server_stops() {
    let mut app = common::served::Served::start(None, "127.0.0.1", &[("SHUTDOWN_DRAIN_SECS", "3")]);
    app.ready().await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(app.url(path)).send();
        async move {
            let r = request.await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/readyz").await.0, 200);

    let signalled = Instant::now();
    app.send_term();
    // Unready within a moment, while the process still serves.
    let mut unready = None;
    while signalled.elapsed() < Duration::from_secs(2) {
        let (status, body) = get("/readyz").await;
        if status == 503 {
            unready = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(unready.as_deref().map(str::trim), Some("stopping"));
    assert_eq!(get("/healthz").await.0, 200, "pages are still served");
    assert_eq!(get("/login").await.0, 200, "pages are still served");
    assert!(!app.exited(), "still up during the drain");

    // Then it stops by itself, after the drain.
    while !app.exited() {
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = signalled.elapsed();
    println!("stopped {took:?} after SIGTERM with a 3 s drain");
    assert!(
        took >= Duration::from_millis(2900),
        "stopped before the drain ended: {took:?}"
    );
    let logs = format!("{}{}", app.stdout(), app.stderr());
    assert!(logs.contains("drain"), "{logs}");
    // Text logs to a pipe (a file, a supervisor, cron) carry no colour codes.
    assert!(!logs.contains('\x1b'), "{logs:?}");
}

/// A `RUST_LOG` that does not parse stops the start, named, as every other
/// bad setting does, rather than falling back to "info" without a word.
#[test]
fn a_log_filter_that_does_not_parse_stops_the_start() {
    let stderr = common::served::refused_start(&[("RUST_LOG", "[[[bad")]);
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
    assert!(stderr.contains("use a level such as info"), "{stderr}");
}
