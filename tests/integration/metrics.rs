//! `/metrics`: Prometheus text with requests by route pattern and status,
//! latency, pool, outbox and the last SIS sync per term; guarded by a token.

use crate::common;

use common::*;
use common_grounds::clock;
use common_grounds::sis::{self, NewSyncRun, SyncRunId};

fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

backend_test!(
    async fn metrics_count_requests_by_route_and_report_the_last_sync(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        for _ in 0..3 {
            assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
        }
        assert_eq!(me.get(&app, "/friends/someone9").await.0, 404);
        assert_eq!(me.get(&app, "/friends/other8").await.0, 404);
        sis::insert_run(
            &mut app.conn(),
            &NewSyncRun {
                id: &SyncRunId::new(),
                term: "1262",
                subjects: "CS",
                status: "succeeded",
                started_at: clock::now(),
            },
        )
        .unwrap();

        let response = app.get("/metrics").await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let body = response.text().await.unwrap();
        assert_eq!(
            value(
                &body,
                "cg_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
            ),
            Some(3.0),
            "{body}"
        );
        assert_eq!(
            value(&body, "cg_http_requests_total{method=\"GET\",route=\"/friends/{computing_id}\",status=\"404\"}"),
            Some(2.0),
            "the route pattern, not the raw path: {body}"
        );
        assert!(
            !body.contains("someone9"),
            "path values never become labels"
        );
        assert_eq!(
            value(
                &body,
                "cg_http_request_duration_seconds_count{route=\"/healthz\"}"
            ),
            Some(3.0)
        );
        assert_eq!(
            value(
                &body,
                "cg_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"
            ),
            Some(3.0)
        );
        assert!(value(&body, "cg_db_pool_connections{state=\"idle\"}").is_some());
        assert!(value(&body, "cg_db_pool_waiting").is_some());
        assert_eq!(
            value(&body, "cg_outbox_messages{status=\"queued\"}"),
            Some(0.0)
        );
        assert_eq!(
            value(&body, "cg_sis_last_sync_succeeded{term=\"1262\"}"),
            Some(1.0)
        );
        assert!(
            body.contains("cg_sis_last_sync_timestamp_seconds{term=\"1262\",status=\"succeeded\"}")
        );
        assert_eq!(value(&body, "cg_db_up"), Some(1.0));
        assert!(value(&body, "cg_db_queries_total").unwrap() > 0.0);
    }
);

backend_test!(
    async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
        let app = spawn_app_opts(
            TestDb::new(backend),
            TestMail::Memory,
            &[("METRICS_TOKEN", "s3cret-token")],
            false,
        )
        .await;
        assert_eq!(app.get("/metrics").await.status().as_u16(), 401);
        let wrong = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 401);
        let right = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(right.status().as_u16(), 200);
        assert!(right
            .text()
            .await
            .unwrap()
            .contains("cg_http_requests_total"));
    }
);
