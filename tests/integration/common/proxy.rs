//! A TCP proxy in front of PostgreSQL that can cut every connection and refuse
//! new ones, then come back on the same port: a database outage on demand.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Backend, TestDb};
use common_grounds::config::DatabaseUrl;

pub struct Proxy {
    pub port: u16,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(forward(listener, target.clone()));
        Proxy {
            port,
            target,
            task: Some(task),
        }
    }

    /// Drops the listener and every connection through it.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
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

/// A proxy in front of a PostgreSQL test database, and a handle on that
/// database whose URL goes through the proxy (the original still drops it).
pub async fn in_front_of(db: &TestDb) -> (Proxy, TestDb) {
    assert_eq!(db.backend, Backend::Postgres, "the proxy is for PostgreSQL");
    let DatabaseUrl::Postgres(direct) = db.url.clone() else {
        unreachable!()
    };
    let direct = url::Url::parse(&direct).unwrap();
    let target = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(target).await;
    let mut through_proxy = direct.clone();
    through_proxy.set_host(Some("127.0.0.1")).unwrap();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    let mut proxied = TestDb::borrowed(db);
    proxied.url = DatabaseUrl::Postgres(through_proxy.to_string());
    (proxy, proxied)
}
