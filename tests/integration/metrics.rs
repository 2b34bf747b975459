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
        // Methods of anyone's invention count together, not one series each.
        for made_up in ["X0", "X1", "FOO7"] {
            let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
            let response = app
                .client
                .request(method, app.url("/no-such-page"))
                .send()
                .await
                .unwrap();
            assert!(response.status().as_u16() < 500, "{made_up}");
        }
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
        assert!(
            !body.contains("X1") && !body.contains("FOO7"),
            "made-up methods never become labels: {body}"
        );
        assert!(body.contains("method=\"other\""), "{body}");
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
        // The scheme's name is case-insensitive, as scrapers may send it.
        let lower = app
            .client
            .get(app.url("/metrics"))
            .header("authorization", "bearer s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(lower.status().as_u16(), 200);
        assert!(right
            .text()
            .await
            .unwrap()
            .contains("cg_http_requests_total"));
    }
);

/// The metric families `/metrics` serves (`cg_db_jobs` and
/// `cg_db_reads_off_workers` since session 42, the rest from before), as Prometheus's own
/// Python parser names them (a counter's family drops `_total`), with the
/// sample names dashboards query. `cg_db_pool_max` was written without a
/// `# TYPE` line before, so only its name is held to the old list.
const FAMILIES: [(&str, &[&str]); 14] = [
    ("cg_http_requests", &["cg_http_requests_total"]),
    (
        "cg_http_request_duration_seconds",
        &[
            "cg_http_request_duration_seconds_bucket",
            "cg_http_request_duration_seconds_count",
            "cg_http_request_duration_seconds_sum",
        ],
    ),
    ("cg_db_pool_connections", &["cg_db_pool_connections"]),
    ("cg_db_pool_max", &["cg_db_pool_max"]),
    ("cg_db_pool_waiting", &["cg_db_pool_waiting"]),
    ("cg_db_queries", &["cg_db_queries_total"]),
    ("cg_db_jobs", &["cg_db_jobs_total"]),
    (
        "cg_db_reads_off_workers",
        &["cg_db_reads_off_workers_total"],
    ),
    ("cg_signin_code_hashes", &["cg_signin_code_hashes_total"]),
    ("cg_db_up", &["cg_db_up"]),
    ("cg_outbox_messages", &["cg_outbox_messages"]),
    ("cg_live_streams_open", &["cg_live_streams_open"]),
    (
        "cg_sis_last_sync_timestamp_seconds",
        &["cg_sis_last_sync_timestamp_seconds"],
    ),
    (
        "cg_sis_last_sync_succeeded",
        &["cg_sis_last_sync_succeeded"],
    ),
];

/// Reads a scrape with `prometheus_client.parser` (pip `prometheus-client`),
/// an exposition parser that shares no code with ours: one line per sample,
/// `family type sample`. `None` when python or the module is missing outside
/// CI; in CI (`CI=true`, as `.ci/run` sets) that is a failure, never a skip.
fn parse_with_prometheus_client(body: &str) -> Option<Vec<(String, String, String)>> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    const SCRIPT: &str = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n    \
            for sample in family.samples:\n        \
                print(family.name, family.type, sample.name)\n";
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = |why: String| {
        assert!(
            !in_ci,
            "CI must parse /metrics with prometheus_client: {why}"
        );
        println!("skipped: /metrics not parsed with prometheus_client ({why})");
        None
    };
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    match probe {
        Err(e) => return missing(format!("no python3: {e}")),
        Ok(out) if !out.status.success() => {
            return missing(String::from_utf8_lossy(&out.stderr).into_owned())
        }
        Ok(_) => {}
    }
    let mut python = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    python
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client cannot parse /metrics: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| {
                let mut parts = line.split(' ').map(str::to_string);
                let mut next = || parts.next().unwrap();
                (next(), next(), next())
            })
            .collect(),
    )
}

backend_test!(
    async fn metrics_parse_with_an_independent_parser_under_their_old_names(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
        sis::insert_run(
            &mut app.conn(),
            &NewSyncRun {
                id: &SyncRunId::new(),
                term: "1262",
                subjects: "CS",
                status: "failed",
                started_at: clock::now(),
            },
        )
        .unwrap();
        let body = app.get("/metrics").await.text().await.unwrap();

        let Some(samples) = parse_with_prometheus_client(&body) else {
            return;
        };

        let families: std::collections::BTreeSet<&str> = samples
            .iter()
            .map(|(family, _, _)| family.as_str())
            .collect();
        let expected: std::collections::BTreeSet<&str> =
            FAMILIES.iter().map(|(family, _)| *family).collect();
        assert_eq!(families, expected, "{body}");
        for (family, sample_names) in FAMILIES {
            let seen: std::collections::BTreeSet<&str> = samples
                .iter()
                .filter(|(f, _, _)| f == family)
                .map(|(_, _, sample)| sample.as_str())
                .collect();
            let wanted: std::collections::BTreeSet<&str> = sample_names.iter().copied().collect();
            assert_eq!(seen, wanted, "{family}: {body}");
        }
        let type_of = |family: &str| {
            samples
                .iter()
                .find(|(f, _, _)| f == family)
                .map(|(_, t, _)| t.as_str())
        };
        for counter in [
            "cg_http_requests",
            "cg_db_queries",
            "cg_db_jobs",
            "cg_db_reads_off_workers",
            "cg_signin_code_hashes",
        ] {
            assert_eq!(type_of(counter), Some("counter"), "{body}");
        }
        assert_eq!(
            type_of("cg_http_request_duration_seconds"),
            Some("histogram")
        );
        for gauge in [
            "cg_db_pool_connections",
            "cg_db_pool_waiting",
            "cg_db_up",
            "cg_outbox_messages",
            "cg_sis_last_sync_timestamp_seconds",
            "cg_sis_last_sync_succeeded",
        ] {
            assert_eq!(type_of(gauge), Some("gauge"), "{body}");
        }
        // Today's buckets, cumulative, ending in +Inf.
        let bounds: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("cg_http_request_duration_seconds_bucket{route=\"/healthz\""))
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(
            bounds,
            [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "+Inf"
            ],
            "{body}"
        );
    }
);

backend_test!(
    async fn two_apps_in_one_process_count_their_own_requests(backend: Backend) {
        let first = spawn_quiet_app(backend, &[]).await;
        let second = spawn_quiet_app(backend, &[]).await;
        for _ in 0..2 {
            assert_eq!(first.get("/healthz").await.status().as_u16(), 200);
        }
        let healthz = "cg_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}";
        let first_body = first.get("/metrics").await.text().await.unwrap();
        let second_body = second.get("/metrics").await.text().await.unwrap();
        assert_eq!(value(&first_body, healthz), Some(2.0), "{first_body}");
        assert_eq!(value(&second_body, healthz), None, "{second_body}");
    }
);
