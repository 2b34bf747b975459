//! A real headless Chromium, driven over WebDriver (chromedriver on loopback).
//! Outside CI a machine without Chromium skips browser tests with a line
//! saying so; with CI=true a missing browser fails the run.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};

/// A chromedriver process, stopped when dropped.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(var: &str, default: &str) -> Option<String> {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    std::path::Path::new(&path).exists().then_some(path)
}

/// Starts chromedriver, or returns None (after saying why) when this machine has no browser.
pub async fn start() -> Option<(Driver, String)> {
    let (Some(driver), Some(chromium)) = (
        find("CHROMEDRIVER", "/usr/bin/chromedriver"),
        find("CHROMIUM", "/usr/bin/chromium"),
    ) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Chromium/chromedriver are missing: install the chromium and chromium-driver packages");
        }
        eprintln!("skipping the browser test: install chromium and chromium-driver (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((driver, chromium));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not start listening on {port}");
}

/// A headless browser window of the given size.
pub async fn open(driver: &Driver, chromium: &str, width: u32, height: u32) -> Client {
    open_with(driver, chromium, width, height, None).await
}

/// A headless browser window of the given size, with its own fresh profile
/// (cookies are not shared between windows); downloads, when a folder is
/// given, are saved there without asking.
pub async fn open_with(
    driver: &Driver,
    chromium: &str,
    width: u32,
    height: u32,
    downloads: Option<&std::path::Path>,
) -> Client {
    let mut options = chromium_options(chromium, width, height);
    if let Some(dir) = downloads {
        options["prefs"] = serde_json::json!({
            "download.default_directory": dir.display().to_string(),
            "download.prompt_for_download": false,
        });
    }
    session(driver, options, width, height).await
}

/// A headless browser window, like `open`, in which pages run no JavaScript at
/// all (Chromium's own setting, as a person who turned scripts off has it).
/// WebDriver's own commands still work in it.
pub async fn open_without_script(
    driver: &Driver,
    chromium: &str,
    width: u32,
    height: u32,
) -> Client {
    let mut options = chromium_options(chromium, width, height);
    options["prefs"] = serde_json::json!({
        "profile.managed_default_content_settings.javascript": 2,
    });
    session(driver, options, width, height).await
}

fn chromium_options(chromium: &str, width: u32, height: u32) -> serde_json::Value {
    serde_json::json!({
        "binary": chromium,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            format!("--window-size={width},{height}"),
        ],
    })
}

async fn session(driver: &Driver, options: serde_json::Value, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session");
    client
        .set_window_size(width, height)
        .await
        .expect("window size");
    client
}

/// Puts a session cookie in the browser for the app at `base`.
pub async fn sign_in(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/healthz")).await.unwrap();
    let cookie = fantoccini::cookies::Cookie::parse(format!(
        "cg_session={token}; Path=/; Domain=127.0.0.1; HttpOnly; SameSite=Lax"
    ))
    .unwrap();
    client.add_cookie(cookie).await.unwrap();
}

/// Saves a PNG under `target/screenshots/` and returns its path.
pub async fn screenshot(client: &Client, name: &str) -> std::path::PathBuf {
    let png = client.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

/// axe-core's run for serious and critical findings (WCAG 2.1 A/AA and best practice).
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  resultTypes: ['violations'],
}).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
  .catch(e => done(['axe failed: ' + String(e)]));
"#;

/// axe-core's serious and critical findings on the page open in `client`
/// (None when axe-core is not installed outside CI).
pub async fn axe_findings(client: &Client) -> Option<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/node_modules/axe-core/axe.min.js");
    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but axe-core is missing: run `npm ci` in tests/e2e")
        }
        Err(_) => {
            eprintln!("skipping axe-core: run `npm ci` in tests/e2e");
            return None;
        }
    };
    client.execute(&source, vec![]).await.unwrap();
    let found = client.execute_async(AXE_RUN, vec![]).await.unwrap();
    Some(
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or("?").to_string())
            .collect(),
    )
}
