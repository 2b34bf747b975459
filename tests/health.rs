//! Liveness and readiness: `/readyz` follows the database down and back up
//! without a restart.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse
/// new ones, then come back on the same port.
struct Proxy {
    port: u16,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(forward(listener, target.clone()));
        Proxy {
            port,
            target,
            task: Some(task),
        }
    }

    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.task = Some(tokio::spawn(forward(listener, self.target.clone())));
    }
}

async fn forward(listener: TcpListener, target: String) {
    let mut pipes = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        pipes.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

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
    let common_grounds::config::DatabaseUrl::Postgres(direct) = db.url.clone() else {
        unreachable!()
    };
    let direct = url::Url::parse(&direct).unwrap();
    let target = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let mut proxy = Proxy::start(target).await;
    let mut through_proxy = direct.clone();
    through_proxy.set_host(Some("127.0.0.1")).unwrap();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    let mut proxied = TestDb::borrowed(&db);
    proxied.url = common_grounds::config::DatabaseUrl::Postgres(through_proxy.to_string());
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
