//! What every page of the story must be, whatever it shows: usable at 375 px
//! and at 1280 px. At each width: axe-core finds no serious or critical
//! violation, nothing scrolls sideways, no table cell is narrower than its
//! longest word (`browser::cells_fit_words`, the admin pages' check), no line
//! of text runs past 80 characters; and by keyboard, the first Tab reaches a visible "Skip to
//! content" link and every control shows a focus ring.
//!
//! `ergonomics` measures what a thumb needs on the chat pages: at each width
//! the top nav is one line or a closed "Menu" that opens without script, and
//! every nav control and chat action is at least 44×44 px.
//!
//! axe-core comes from npm (`tests/e2e/package.json`; `npm ci` there). Outside
//! CI a missing copy skips the axe part with a line saying so; with CI=true it
//! fails the run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::integration::common::browser;

/// The two widths every page is checked at: a small phone and a laptop.
pub const WIDTHS: [u32; 2] = [375, 1280];
/// The window height used for every check.
pub const HEIGHT: u32 = 900;
/// The longest line of text allowed at 1280 px, in characters (`ch`).
const MAX_LINE_CH: f64 = 80.0;
/// Pages whose look is kept in `docs/screenshots/` (`E2E_UPDATE_SCREENSHOTS=1`).
const REFERENCE_PAGES: [&str; 9] = [
    "sign-in",
    "home",
    "class-search",
    "schedule",
    "friends",
    "friend",
    "class-chat",
    "class-thread",
    "admin-flags",
];

const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  resultTypes: ['violations'],
}).then(r => done({ violations: r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
  nodes: v.nodes.slice(0, 4).map(n => ({ target: n.target.join(' '), summary: n.failureSummary })),
})) })).catch(e => done({ error: String(e) }));
"#;

/// Shared by the measuring scripts: a short name for an element.
const DESCRIBE: &str = r#"
const describe = (el) => el.tagName.toLowerCase()
  + (el.id ? '#' + el.id : '')
  + [...el.classList].map(c => '.' + c).join('')
  + ((el.textContent || '').trim() ? ' "' + el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40) + '"' : '');
"#;

const MEASURE_LAYOUT: &str = r#"
const chWidth = (el) => {
  const cs = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  return ctx.measureText('0').width;
};
const inner = window.innerWidth;
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width > 0 && r.right > inner + 0.5) wide.push(describe(el) + ' ends at ' + Math.round(r.right) + 'px');
}
const long = [];
const main = document.querySelector('main');
for (const el of main ? main.querySelectorAll('*') : []) {
  const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  const display = getComputedStyle(el).display;
  if (own.length < 40 || display.startsWith('inline') || display === 'contents' || display === 'none') continue;
  const range = document.createRange();
  range.selectNodeContents(el);
  const chars = range.getBoundingClientRect().width / chWidth(el);
  if (chars > arguments[0]) long.push(describe(el) + ': ' + Math.round(chars) + 'ch');
}
return {
  scroll: document.documentElement.scrollWidth, inner,
  main: main ? main.getBoundingClientRect().width : -1,
  wide: wide.slice(0, 6), long: long.slice(0, 6),
};
"#;

/// Puts the sequential focus starting point at the very top of the page, as a
/// fresh load does, so that the next Tab goes to the first control.
const FOCUS_TOP: &str = r#"
document.getElementById('e2e-focus-start')?.remove();
const start = document.createElement('span');
start.tabIndex = -1;
start.id = 'e2e-focus-start';
document.body.prepend(start);
start.focus();
"#;

const AFTER_FIRST_TAB: &str = r#"
document.getElementById('e2e-focus-start')?.remove();
const el = document.activeElement;
const r = el.getBoundingClientRect();
const target = (el.getAttribute('href') || '').startsWith('#') ? document.querySelector(el.getAttribute('href')) : null;
return { what: describe(el), skip: el.classList.contains('skip'), target: !!target,
         visible: r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.width > 0 };
"#;

const FOCUS_RINGS: &str = r#"
const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
// Not the controls inside a closed <details>, which nobody can reach.
const all = [...document.querySelectorAll(selector)].filter(el =>
  !el.disabled && el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true }));
const bad = [];
for (const el of all) {
  el.focus({ preventScroll: true });
  if (document.activeElement !== el) { bad.push(describe(el) + ': cannot take focus'); continue; }
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) || (cs.boxShadow && cs.boxShadow !== 'none');
  if (!el.matches(':focus-visible') || !ring) bad.push(describe(el) + ': no visible focus (outline ' + cs.outlineStyle + ' ' + cs.outlineWidth + ')');
}
document.activeElement && document.activeElement.blur();
window.scrollTo(0, 0);
return { count: all.length, bad: bad.slice(0, 8) };
"#;

/// The smallest tap target allowed, in CSS px, both ways (WCAG 2.5.5; Apple's
/// and Google's guides ask for 44 and 48).
pub const MIN_TARGET: f64 = 44.0;

/// Every tap target of the top bar and of the chat, by kind; the forms behind
/// the actions are opened (as a tap would) to measure their buttons and links,
/// then closed again. Hidden controls (in a closed menu) are not counted.
const MEASURE_TARGETS: &str = r#"
const min = arguments[0];
const kinds = [
  ['nav', 'header.topbar a, header.topbar button, header.topbar summary'],
  ['action', 'details.msg-action > summary'],
  ['form button', 'details.msg-action button'],
  ['cancel', 'details.msg-action a.cancel'],
  ['thread link', 'a.thread-link'],
  ['mark all read', 'section.chat form[action$="/read"] button'],
  ['pager', 'section.chat nav.pager a'],
  ['chat button', 'section.chat button'],
];
const shown = (el) => el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true });
const closed = [...document.querySelectorAll('details.msg-action:not([open])')];
closed.forEach(d => { d.open = true; });
const seen = new Set();
const counts = {};
const small = [];
let narrowest = null;
let shortest = null;
for (const [kind, selector] of kinds) {
  counts[kind] = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (seen.has(el) || !shown(el)) continue;
    seen.add(el);
    counts[kind] += 1;
    const r = el.getBoundingClientRect();
    const what = kind + ' ' + describe(el);
    if (!narrowest || r.width < narrowest.size) narrowest = { what, size: r.width };
    if (!shortest || r.height < shortest.size) shortest = { what, size: r.height };
    if (r.width + 0.01 < min || r.height + 0.01 < min) small.push(what + ': ' + r.width.toFixed(1) + '×' + r.height.toFixed(1) + ' px');
  }
}
closed.forEach(d => { d.open = false; });
const say = (m) => m ? m.what + ' (' + m.size.toFixed(1) + ' px)' : 'none';
return { counts, small, smallest: 'narrowest ' + say(narrowest) + ', shortest ' + say(shortest) };
"#;

/// The top bar as a person sees it: its height, how many rows its visible
/// controls take, and whether the links are folded into a "Menu" disclosure.
const NAV_STATE: &str = r#"
const shown = (el) => el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true });
const header = document.querySelector('header.topbar');
const summary = header.querySelector('nav details > summary');
const links = [...header.querySelectorAll('nav a, nav button')];
const visible = [...header.querySelectorAll('a, button, summary')].filter(shown);
const rects = visible.map(e => e.getBoundingClientRect());
const tallest = Math.max(0, ...rects.map(r => r.height));
const tops = rects.map(r => r.top);
return {
  header: Math.round(header.getBoundingClientRect().height),
  tallest: Math.round(tallest),
  one_row: tops.length > 0 && Math.max(...tops) - Math.min(...tops) < tallest / 2,
  menu: summary && shown(summary) ? summary.textContent.trim() : null,
  open: !!(summary && summary.parentElement.open),
  links: links.length,
  links_shown: links.filter(shown).length,
};
"#;

/// Where each action of one message sits (its summary's box), and where the
/// open form (if any) starts: opening a form must move no action. In page
/// coordinates: a form opened near the bottom of the window is scrolled into
/// view, which moves nothing on the page.
const ACTION_ROW: &str = r#"
const row = document.querySelector(arguments[0]);
const y = window.scrollY, x = window.scrollX;
const boxes = [...row.querySelectorAll(':scope > details.msg-action > summary')].map(s => {
  const r = s.getBoundingClientRect();
  return { name: s.textContent.trim(), left: r.left + x, top: r.top + y, bottom: r.bottom + y };
});
const open = row.querySelector(':scope > details.msg-action[open] > :not(summary)');
return { boxes, form_top: open ? open.getBoundingClientRect().top + y : null };
"#;

/// Opens each action of the message row `row` (a `.msg-actions` selector) with
/// a tap, at each width: no action moves, the form shows below the whole row,
/// and a second tap closes it. Returns how many were opened.
pub async fn actions_stay_put(
    client: &Client,
    label: &str,
    row: &str,
    restore_width: u32,
) -> usize {
    let mut opened = 0;
    for width in WIDTHS {
        resize(client, width, HEIGHT).await;
        let before = client.execute(ACTION_ROW, vec![row.into()]).await.unwrap();
        let count = before["boxes"].as_array().unwrap().len();
        assert!(count > 0, "{label}: {row} has no actions");
        for i in 1..=count {
            let summary = format!("{row} > details.msg-action:nth-of-type({i}) > summary");
            let tap = client.find(Locator::Css(&summary)).await.unwrap();
            tap.click().await.unwrap();
            let after = client.execute(ACTION_ROW, vec![row.into()]).await.unwrap();
            let name = before["boxes"][i - 1]["name"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            for (was, now) in before["boxes"]
                .as_array()
                .unwrap()
                .iter()
                .zip(after["boxes"].as_array().unwrap())
            {
                let moved = (was["left"].as_f64().unwrap() - now["left"].as_f64().unwrap()).abs()
                    + (was["top"].as_f64().unwrap() - now["top"].as_f64().unwrap()).abs();
                assert!(
                    moved < 0.5,
                    "{label} at {width}px: opening {name:?} moved {:?} by {moved:.1}px ({was} -> {now})",
                    was["name"]
                );
            }
            let row_bottom = after["boxes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["bottom"].as_f64().unwrap())
                .fold(0.0, f64::max);
            let form_top = after["form_top"]
                .as_f64()
                .unwrap_or_else(|| panic!("{label} at {width}px: tapping {name:?} opened no form"));
            assert!(
                form_top >= row_bottom - 0.5,
                "{label} at {width}px: {name:?}'s form starts at {form_top:.1}px, above the bottom of the actions row ({row_bottom:.1}px)"
            );
            tap.click().await.unwrap();
            let closed = client.execute(ACTION_ROW, vec![row.into()]).await.unwrap();
            assert!(
                closed["form_top"].is_null(),
                "{label} at {width}px: a second tap on {name:?} should close its form"
            );
            opened += 1;
        }
    }
    resize(client, restore_width, HEIGHT).await;
    opened
}

/// What `ergonomics` found at one width.
#[derive(Debug, Clone)]
pub struct Fit {
    pub width: u32,
    /// "one line" or "a closed menu", with the bar's height.
    pub nav: String,
    /// Tap targets measured, by kind.
    pub counts: BTreeMap<String, u64>,
    pub smallest: String,
}

impl Fit {
    pub fn measured(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl std::fmt::Display for Fit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        write!(
            f,
            "{} px: nav {}; {} tap targets ({}); {}",
            self.width,
            self.nav,
            self.measured(),
            kinds.join(", "),
            self.smallest
        )
    }
}

/// At each width: the top nav is one line, or a closed "Menu" whose links show
/// when it is tapped (no script needed); and every nav control and chat action
/// on the page is at least `MIN_TARGET` px both ways. Puts the window back to
/// `restore_width`; panics naming the page, the width and every offender.
pub async fn ergonomics(client: &Client, label: &str, restore_width: u32) -> Vec<Fit> {
    let mut fits = Vec::new();
    for width in WIDTHS {
        resize(client, width, HEIGHT).await;
        let nav = client.execute(NAV_STATE, vec![]).await.unwrap();
        let header = nav["header"].as_u64().unwrap_or(0);
        let folded = nav["menu"].as_str().is_some_and(|m| m.starts_with("Menu"));
        let described = if folded {
            assert!(
                nav["open"] == Value::Bool(false) && nav["links_shown"].as_u64() == Some(0),
                "{label} at {width}px: the menu should start closed with its links hidden: {nav}"
            );
            let summary = client
                .find(Locator::Css("header.topbar nav details > summary"))
                .await
                .unwrap();
            summary.click().await.unwrap();
            let opened = client.execute(NAV_STATE, vec![]).await.unwrap();
            assert!(
                opened["open"] == Value::Bool(true)
                    && opened["links_shown"] == opened["links"]
                    && opened["links"].as_u64() > Some(0),
                "{label} at {width}px: tapping \"Menu\" should show every nav link: {opened}"
            );
            format!("a closed menu ({header} px tall)")
        } else {
            let tallest = nav["tallest"].as_u64().unwrap_or(0);
            assert!(
                nav["one_row"] == Value::Bool(true) && header <= tallest + 24,
                "{label} at {width}px: the top nav should fit on one line or fold into a \"Menu\"; it is {header}px tall: {nav}"
            );
            format!("one line ({header} px tall)")
        };
        let measured = client
            .execute(
                &format!("{DESCRIBE}{MEASURE_TARGETS}"),
                vec![MIN_TARGET.into()],
            )
            .await
            .unwrap();
        if folded {
            let summary = client
                .find(Locator::Css("header.topbar nav details > summary"))
                .await
                .unwrap();
            summary.click().await.unwrap();
        }
        let small: Vec<&str> = measured["small"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            small.is_empty(),
            "{label} at {width}px: tap targets smaller than {MIN_TARGET}×{MIN_TARGET} px:\n  {}",
            small.join("\n  ")
        );
        let counts = measured["counts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(kind, n)| (kind.clone(), n.as_u64().unwrap_or(0)))
            .collect();
        fits.push(Fit {
            width,
            nav: described,
            counts,
            smallest: measured["smallest"].as_str().unwrap_or("none").to_string(),
        });
    }
    resize(client, restore_width, HEIGHT).await;
    fits
}

/// Counts of what was checked, for the report at the end.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub pages: Vec<String>,
    pub axe_runs: usize,
    pub layout_checks: usize,
    /// Table cells whose longest word was measured against the cell.
    pub table_cells: u64,
    pub focus_checked: usize,
    pub minor_findings: Vec<String>,
}

/// The checks, with axe-core's source loaded once.
pub struct Checks {
    axe: Option<String>,
    reference_dir: Option<PathBuf>,
    tally: Mutex<Tally>,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl Checks {
    /// Loads axe-core; `reference` saves the main pages into docs/screenshots/.
    pub fn new(reference: bool) -> Checks {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/e2e/node_modules/axe-core/axe.min.js");
        let axe = match std::fs::read_to_string(&path) {
            Ok(source) => Some(source),
            Err(_) if in_ci() => panic!(
                "CI=true but axe-core is missing ({}): run `npm ci` in tests/e2e",
                path.display()
            ),
            Err(_) => {
                eprintln!(
                    "skipping the axe-core checks: {} is missing (run `npm ci` in tests/e2e)",
                    path.display()
                );
                None
            }
        };
        let reference_dir = reference.then(|| {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            dir
        });
        Checks {
            axe,
            reference_dir,
            tally: Mutex::new(Tally::default()),
        }
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    /// Checks the page the window shows, at both widths, then puts the window
    /// back to `restore_width`. Panics naming the page, the width and each problem.
    pub async fn page(&self, client: &Client, label: &str, restore_width: u32) {
        let title = client.title().await.unwrap();
        assert!(
            title.ends_with(" · Common Grounds") && title.len() <= 80 && !title.contains('<'),
            "{label}: the window title should name the page, got {title:?}"
        );
        self.keyboard(client, label).await;
        for width in WIDTHS {
            resize(client, width, HEIGHT).await;
            self.layout(client, label, width).await;
            self.axe(client, label, width).await;
            self.reference(client, label, width).await;
        }
        resize(client, restore_width, HEIGHT).await;
        self.tally.lock().unwrap().pages.push(label.to_string());
    }

    async fn keyboard(&self, client: &Client, label: &str) {
        focus_top(client).await;
        press(client, Key::Tab).await;
        let first = client
            .execute(&format!("{DESCRIBE}{AFTER_FIRST_TAB}"), vec![])
            .await
            .unwrap();
        assert!(
            first["skip"].as_bool() == Some(true)
                && first["target"].as_bool() == Some(true)
                && first["visible"].as_bool() == Some(true),
            "{label}: the first Tab should land on a visible \"Skip to content\" link to the main content; it reached {first}"
        );
        let rings = client
            .execute(&format!("{DESCRIBE}{FOCUS_RINGS}"), vec![])
            .await
            .unwrap();
        let bad: Vec<&str> = rings["bad"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            bad.is_empty(),
            "{label}: controls without a visible focus ring:\n  {}",
            bad.join("\n  ")
        );
        self.tally.lock().unwrap().focus_checked += rings["count"].as_u64().unwrap_or(0) as usize;
    }

    async fn layout(&self, client: &Client, label: &str, width: u32) {
        let m = client
            .execute(
                &format!("{DESCRIBE}{MEASURE_LAYOUT}"),
                vec![MAX_LINE_CH.into()],
            )
            .await
            .unwrap();
        let (scroll, inner) = (m["scroll"].as_f64().unwrap(), m["inner"].as_f64().unwrap());
        assert!(
            scroll <= inner,
            "{label} at {width}px scrolls sideways: the page is {scroll}px wide in a {inner}px window; too wide: {}",
            m["wide"]
        );
        let cells = browser::cells_fit_words(client).await;
        assert!(
            cells.faults.is_empty(),
            "{label} at {width}px: a table cell is narrower than its longest word:\n  {}",
            cells.faults.join("\n  ")
        );
        self.tally.lock().unwrap().table_cells += cells.cells;
        if width >= 1280 {
            let long: Vec<&str> = m["long"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                long.is_empty(),
                "{label} at {width}px has lines longer than {MAX_LINE_CH}ch:\n  {}",
                long.join("\n  ")
            );
            let main = m["main"].as_f64().unwrap();
            assert!(
                main > 0.0 && main <= 960.0,
                "{label} at {width}px: the main column is {main}px wide (at most 960px)"
            );
        }
        self.tally.lock().unwrap().layout_checks += 1;
    }

    async fn axe(&self, client: &Client, label: &str, width: u32) {
        let Some(source) = &self.axe else { return };
        let loaded = client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .unwrap();
        if loaded != Value::Bool(true) {
            client.execute(source, vec![]).await.unwrap();
        }
        let result = client.execute_async(AXE_RUN, vec![]).await.unwrap();
        if let Some(error) = result.get("error") {
            panic!("{label} at {width}px: axe-core failed to run: {error}");
        }
        let mut blocking = Vec::new();
        for v in result["violations"].as_array().unwrap() {
            let impact = v["impact"].as_str().unwrap_or("unknown");
            let line = format!(
                "{} ({impact}, {} element(s)): {}{}",
                v["id"].as_str().unwrap_or("?"),
                v["count"],
                v["help"].as_str().unwrap_or(""),
                v["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| format!(
                        "\n      at {}: {}",
                        n["target"].as_str().unwrap_or("?"),
                        n["summary"].as_str().unwrap_or("").replace('\n', " ")
                    ))
                    .collect::<String>()
            );
            if matches!(impact, "serious" | "critical") {
                blocking.push(line);
            } else {
                let note = format!("{label} at {width}px: {line}");
                eprintln!("axe (not blocking): {note}");
                self.tally.lock().unwrap().minor_findings.push(note);
            }
        }
        assert!(
            blocking.is_empty(),
            "{label} at {width}px: axe-core found serious or critical violations:\n  {}",
            blocking.join("\n  ")
        );
        self.tally.lock().unwrap().axe_runs += 1;
    }

    /// With `E2E_UPDATE_SCREENSHOTS=1`, saves the whole page as
    /// `docs/screenshots/<label>-<width>.png`.
    async fn reference(&self, client: &Client, label: &str, width: u32) {
        let Some(dir) = &self.reference_dir else {
            return;
        };
        if !REFERENCE_PAGES.contains(&label) {
            return;
        }
        whole_page(client, width).await;
        let png = client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{label}-{width}.png")), png).unwrap();
        resize(client, width, HEIGHT).await;
    }
}

/// Makes the window as tall as the page (up to 4000 px), for a picture of all of it.
pub async fn whole_page(client: &Client, width: u32) {
    // The window's height is the page's plus the browser's own bars.
    let sizes = client
        .execute(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let page = sizes[0].as_u64().unwrap_or(HEIGHT as u64).clamp(400, 4000);
    let bars = sizes[1].as_u64().unwrap_or(0);
    resize(client, width, (page + bars) as u32).await;
}

/// Resizes the window and waits until the page has laid itself out at the new
/// width (the page's height is the window's less the browser's own bars).
pub async fn resize(client: &Client, width: u32, height: u32) {
    client.set_window_size(width, height).await.unwrap();
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = client
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap();
        if seen.as_u64() == Some(width as u64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the window did not become {width}px wide (the page sees {seen}px)");
}

/// Moves the keyboard focus to the top of the page, as after a fresh load.
pub async fn focus_top(client: &Client) {
    client.execute(FOCUS_TOP, vec![]).await.unwrap();
}

/// Presses and releases one key, as a person at a keyboard does.
pub async fn press(client: &Client, key: Key) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    client.perform_actions(keys).await.unwrap();
}
