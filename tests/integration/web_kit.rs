//! The web kit's per-app state: two apps in one process each have their own
//! database gate and pool-waiting gauge (nothing per-app lives in a static).

use std::time::{Duration, Instant};

use crate::common::*;
use common_grounds::mail::Mailer;
use common_grounds::web::Application;

/// An app with one pooled connection, started on its own fresh database.
fn one_connection_app(db: &TestDb) -> Application {
    let config = test_config(
        db,
        &[
            ("DATABASE_POOL_SIZE", "1"),
            ("DATABASE_POOL_TIMEOUT_MS", "3000"),
        ],
    );
    let (mailer, _) = Mailer::memory();
    Application::build_with(config, mailer)
        .expect("app builds")
        .without_background_jobs()
}

backend_test!(
    async fn two_apps_in_one_process_have_separate_gates_and_gauges(backend: Backend) {
        // Arrange: two apps, one connection each; app A's connection is held.
        let (db_a, db_b) = (TestDb::new(backend), TestDb::new(backend));
        let (a, b) = (one_connection_app(&db_a), one_connection_app(&db_b));
        let (a_db, b_db) = (a.database(), b.database());
        let (a_url, b_url) = (
            format!("http://127.0.0.1:{}", a.port()),
            format!("http://127.0.0.1:{}", b.port()),
        );
        let held = a.pool().get().expect("A's only connection");
        let a_server = tokio::spawn(a.run_until_stopped());
        let b_server = tokio::spawn(b.run_until_stopped());

        // Act: a request to A passes A's gate and waits for A's connection.
        let a_client = client();
        let waiting_on_a =
            tokio::spawn(async move { a_client.get(format!("{a_url}/readyz")).send().await });
        let started = Instant::now();
        while a_db.waiting() == 0 && started.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Assert: A's gauge moved, B's did not, and B still serves at once
        // (a shared gate, sized 1, would keep B's request behind A's).
        assert_eq!(a_db.waiting(), 1, "A's request waits for A's connection");
        assert_eq!(b_db.waiting(), 0, "B's gauge is B's own");
        let asked = Instant::now();
        let response = client()
            .get(format!("{b_url}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "B answered in {:?}",
            asked.elapsed()
        );
        assert_eq!(a_db.waiting(), 1, "A's request is still waiting");

        // Once A's connection is free, A answers and its gauge is back to zero.
        drop(held);
        let answered = waiting_on_a.await.unwrap().unwrap();
        assert_eq!(answered.status().as_u16(), 200);
        assert_eq!(a_db.waiting(), 0);
        a_server.abort();
        b_server.abort();
    }
);
