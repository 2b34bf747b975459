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

// ------------------------------------------------------------ admin pages

/// Every admin page, as checked at 375 and 1280 px by `admin_pages` and by the
/// browser story (one list, so a new page is checked everywhere at once).
/// `{name}` parts are filled by `fill_page` from the values each test knows.
pub const ADMIN_PAGES: &[&str] = &[
    "/admin",
    "/admin/flags",
    "/admin/users?q={computing_id}",
    "/admin/suspensions",
    "/admin/sis",
    "/admin/audit",
    "/admin/flags?state=hidden",
    "/admin/flags?state=dismissed",
    "/admin/flags?state=removed",
    "/admin/reveals",
    "/admin/users/{user}",
    "/admin/classes/{class}",
    // Not here: a single reveal request's page (checked with axe at both widths
    // by moderation_reveal) and the student-facing `/classes/{id}/moderation`
    // (by moderation_queue), which have no admin nav.
];

/// `page` with each `{name}` replaced by its value from `values`; panics
/// naming a part that no value fills (a page added to `ADMIN_PAGES` whose
/// callers do not know its id yet).
pub fn fill_page(page: &str, values: &[(&str, &str)]) -> String {
    let mut path = page.to_string();
    for (name, value) in values {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !path.contains('{'),
        "{page}: no value for {path:?}; pass it to fill_page"
    );
    path
}

/// For every shown table cell (`th`, `td`) on the page: its longest word,
/// measured with a Range around each word of its text, against the width of
/// the cell's content box. A word wider than that box, or split across lines
/// ("Ter" / "m"), is a fault; so is a table wider than its own box (its
/// columns do not fit, and it scrolls inside). Words are what a reader calls
/// words (Unicode word segments: letters and digits, "virginia.edu" whole), so
/// a line may still break where a browser rightly breaks, after a "/" or "-"
/// of a longer run. Text in a visually hidden element is not laid out for
/// reading and is skipped.
const CELLS_FIT_WORDS: &str = r#"
const faults = [];
const words = new Intl.Segmenter('en', { granularity: 'word' });
const shown = (el) => el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true });
const say = (t) => '"' + t.trim().replace(/\s+/g, ' ').slice(0, 60) + '"';
let cells = 0;
for (const cell of document.querySelectorAll('th, td')) {
  if (!shown(cell)) continue;
  cells += 1;
  const cs = getComputedStyle(cell);
  const px = (v) => parseFloat(v) || 0;
  const box = cell.getBoundingClientRect();
  const room = box.width - px(cs.paddingLeft) - px(cs.paddingRight)
    - px(cs.borderLeftWidth) - px(cs.borderRightWidth);
  let widest = null;
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!shown(parent) || parent.getBoundingClientRect().width <= 1) continue;
    for (const seg of words.segment(node.data)) {
      if (!seg.isWordLike) continue;
      const range = document.createRange();
      range.setStart(node, seg.index);
      range.setEnd(node, seg.index + seg.segment.length);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const width = rects.reduce((sum, r) => sum + r.width, 0);
      const split = rects.length > 1;
      // A split word is the one to name; otherwise the widest.
      if (!widest || (split && !widest.split) || (split === widest.split && width > widest.width)) {
        widest = { word: seg.segment, width, split };
      }
    }
  }
  if (widest && (widest.split || widest.width > room + 0.5)) {
    faults.push(cell.tagName.toLowerCase() + (cell.dataset.label ? ' (' + cell.dataset.label + ')' : '')
      + ' ' + room.toFixed(1) + 'px wide holds the word "' + widest.word + '" ('
      + widest.width.toFixed(1) + 'px' + (widest.split ? ', split across lines' : '') + '); the cell says ' + say(cell.textContent));
  }
}
for (const table of document.querySelectorAll('table')) {
  if (!shown(table)) continue;
  const outer = table.parentElement;
  if (outer.scrollWidth > outer.clientWidth + 1) {
    faults.push('a table ' + outer.scrollWidth + 'px wide scrolls inside its ' + outer.clientWidth
      + 'px box; its first row says ' + say((table.querySelector('tr') || table).textContent));
  }
}
return { faults, cells, scroll: document.documentElement.scrollWidth, inner: window.innerWidth };
"#;

/// What `cells_fit_words` measured on one page at one width.
pub struct CellFit {
    /// Each cell narrower than its longest word (or table wider than its box), in words.
    pub faults: Vec<String>,
    /// How many table cells are shown (a check of an empty table proves nothing).
    pub cells: u64,
    /// The page's width and the window's: wider means it scrolls sideways.
    pub scroll: f64,
    pub inner: f64,
}

/// Measures every table cell of the page open in `client` (see `CELLS_FIT_WORDS`).
pub async fn cells_fit_words(client: &Client) -> CellFit {
    let m = client.execute(CELLS_FIT_WORDS, vec![]).await.unwrap();
    CellFit {
        faults: m["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap_or("?").to_string())
            .collect(),
        cells: m["cells"].as_u64().unwrap_or(0),
        scroll: m["scroll"].as_f64().unwrap_or(0.0),
        inner: m["inner"].as_f64().unwrap_or(0.0),
    }
}

/// The admin-page check, at the window's current width: no table cell is
/// narrower than its longest word, nothing scrolls sideways, and axe-core
/// finds nothing serious or critical. Panics naming the page, the width and
/// each fault; returns how many table cells were measured.
pub async fn admin_page_reads_well(client: &Client, page: &str, width: u32) -> u64 {
    let fit = cells_fit_words(client).await;
    assert!(
        fit.faults.is_empty(),
        "{page} at {width}px: a table cell is narrower than its longest word:\n  {}",
        fit.faults.join("\n  ")
    );
    assert!(
        fit.scroll <= fit.inner,
        "{page} at {width}px scrolls sideways: the page is {}px wide in a {}px window",
        fit.scroll,
        fit.inner
    );
    if let Some(found) = axe_findings(client).await {
        assert!(
            found.is_empty(),
            "{page} at {width}px: axe-core found serious or critical violations:\n  {}",
            found.join("\n  ")
        );
    }
    fit.cells
}
