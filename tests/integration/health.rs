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
