//! A database outage as a signed-in student meets it: with PostgreSQL out of
//! reach every page answers "Try again shortly" (503) within two seconds, never
//! a sign-in redirect or a hang; `/readyz` says not ready, `/healthz` stays up;
//! once the database is back the same pages work again without a restart.

use crate::common;
use crate::common::seed;

use std::time::{Duration, Instant};

use common::proxy;
use common::*;

/// Signed-in pages that each need the database beyond the session lookup.
const PAGES: &[&str] = &["/", "/friends", "/classes/search?q=cs"];

/// The page is for a signed-in student (its menu links to the account).
fn signed_in(html: &str) -> bool {
    html.contains(r#"<a href="/account""#)
}

/// A GET that fails the test instead of hanging it; the status, the page and
/// how long the answer took.
async fn timed_get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(15), client.get(app.url(path)).send())
        .await
        .unwrap_or_else(|_| panic!("GET {path} did not answer within 15 s"))
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_pages_answer_503_while_postgres_is_unreachable_and_recover_without_a_restart() {
    let Some(_) = postgres_admin_url() else {
        return;
    };
    // Arrange: the app reaches PostgreSQL only through the proxy; a student in a class.
    let db = TestDb::new(Backend::Postgres);
    let (mut proxy, proxied) = proxy::in_front_of(&db).await;
    let app = spawn_app_opts(proxied, TestMail::Memory, &[], false).await;
    let student = app.student("oux1q");
    {
        let mut conn = app.conn();
        let cs = seed::class(&mut conn, "CS 2100", "1262");
        seed::enroll(&mut conn, &student.user, &cs);
    }
    for page in PAGES {
        let (status, body, _) = timed_get(&student.client, &app, page).await;
        assert_eq!(status, 200, "{page} before the outage: {body}");
        assert!(signed_in(&body), "{page} before the outage: {body}");
    }

    // Act: the database goes away while the app serves.
    proxy.cut().await;

    // Assert: each page is the "Try again shortly" page, promptly.
    for page in PAGES {
        let (status, body, took) = timed_get(&student.client, &app, page).await;
        println!("{page} with the database unreachable: {status} in {took:?}");
        assert_eq!(
            status, 503,
            "{page} must say the service is unavailable, not redirect to sign-in or fail: {body}"
        );
        assert!(body.contains("Try again shortly"), "{page}: {body}");
        assert!(took < Duration::from_millis(2500), "{page} took {took:?}");
    }
    let (status, _, took) = timed_get(&app.client, &app, "/readyz").await;
    assert_eq!(status, 503, "/readyz while the database is unreachable");
    assert!(took < Duration::from_millis(2500), "/readyz took {took:?}");
    assert_eq!(timed_get(&app.client, &app, "/healthz").await.0, 200);

    // Act: the database comes back; the app is not restarted.
    proxy.restore().await;

    // Assert: the same session works again on every page.
    let mut back = false;
    for _ in 0..100 {
        if timed_get(&student.client, &app, "/").await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the pages did not recover once the database was back");
    for page in PAGES {
        let (status, body, _) = timed_get(&student.client, &app, page).await;
        assert_eq!(status, 200, "{page} after the outage: {body}");
        assert!(signed_in(&body), "{page} after the outage: {body}");
    }
    assert_eq!(timed_get(&app.client, &app, "/readyz").await.0, 200);
    drop(app);
    drop(db);
}
