//! Issue 20 in a real headless Chromium: at 375 px the week is an agenda with
//! every meeting's course, 12-hour time and place, and nothing overflows its
//! box; at 1280 px it is the grid and no block (a 50-minute one included)
//! clips its text. axe-core finds nothing serious on the week, home, the
//! join-clash confirm page and the leave confirm page at both widths.

use crate::common;
use crate::common::browser;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend};
use common_grounds::classes::{self, Class, MeetingId, NewClassMeeting};
use common_grounds::clock;
use common_grounds::friends::FriendshipStatus;

const PLACE: &str = "Mechanical Engineering Building 205";

fn section(app: &common::TestApp, code: &str, meetings: &[(&str, &str, &str)]) -> Class {
    let mut conn = app.conn();
    let class = ClassBuilder::new(code, "1262")
        .title("A class with a fairly long title to wrap")
        .meets(None, None, None)
        .location(None)
        .insert(&mut conn);
    for (position, (days, start, end)) in meetings.iter().enumerate() {
        classes::insert_meeting(
            &mut conn,
            &NewClassMeeting {
                id: &MeetingId::new(),
                class_id: &class.id,
                position: position as i32,
                days: Some(days),
                start_time: Some(start),
                end_time: Some(end),
                location: Some(PLACE),
                instructor: None,
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
    }
    class
}

/// For every element matching `selector` and everything inside it: the ones
/// whose content is wider or taller than their box, described.
const OVERFLOWS: &str = r#"
const found = [];
for (const box of document.querySelectorAll(arguments[0])) {
  for (const e of [box, ...box.querySelectorAll('*')]) {
    if (e.scrollWidth > e.clientWidth + 0.5 || e.scrollHeight > e.clientHeight + 0.5) {
      found.push(`${e.className}: ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x${e.clientHeight}: ${e.textContent.trim().slice(0, 60)}`);
    }
  }
}
return found;
"#;

const SHOWN: &str = r#"
const e = document.querySelector(arguments[0]);
return !!e && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().height > 0;
"#;

async fn shown(client: &fantoccini::Client, selector: &str) -> bool {
    client
        .execute(SHOWN, vec![selector.into()])
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

async fn overflows(client: &fantoccini::Client, selector: &str) -> Vec<String> {
    let found = client
        .execute(OVERFLOWS, vec![selector.into()])
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn no_page_scroll(client: &fantoccini::Client, width: u32) {
    let measured = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (measured[0].as_f64().unwrap(), measured[1].as_f64().unwrap());
    assert!(
        scroll <= inner,
        "{width}px: the page scrolls sideways ({scroll} > {inner})"
    );
}

async fn axe_clean(client: &fantoccini::Client, what: &str, width: u32) {
    if let Some(found) = browser::axe_findings(client).await {
        assert!(found.is_empty(), "{what} at {width}px: {found:#?}");
    }
}

/// The text of every visible element matching `selector`, whitespace collapsed.
async fn visible_texts(client: &fantoccini::Client, selector: &str) -> Vec<String> {
    let found = client
        .execute(
            "return [...document.querySelectorAll(arguments[0])]\
               .filter(e => e.getBoundingClientRect().width > 0)\
               .map(e => e.innerText.replace(/\\s+/g, ' ').trim());",
            vec![selector.into()],
        )
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_week_is_an_agenda_on_a_phone_and_a_grid_on_a_desk() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let me = app.student("me1");
    let friend = app.student("fr1");
    common::seed::friendship(
        &mut app.conn(),
        &me.user,
        &friend.user,
        FriendshipStatus::Accepted,
    );
    // A 50-minute class three times a week, two that clash on Tuesday, an
    // evening one, and a Saturday lab.
    let math = section(&app, "MATH 1310", &[("MoWeFr", "10:00", "10:50")]);
    let cs = section(&app, "CS 2100", &[("TuTh", "14:00", "15:15")]);
    let phys = section(&app, "PHYS 1425", &[("Tu", "14:30", "15:45")]);
    let sts = section(&app, "STS 4500", &[("MoWe", "17:00", "18:15")]);
    let lab = section(&app, "CHEM 1811", &[("Sa", "9:00", "11:50")]);
    for class in [&math, &cs, &phys, &sts, &lab] {
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
    }
    classes::enroll(&mut app.conn(), &friend.user.id, &math.id, clock::now()).unwrap();
    // One more CS 2100-time section, to ask about on the join-clash page.
    let clashing = section(&app, "ECON 2010", &[("TuTh", "14:00", "15:15")]);
    let expected = [
        ("Monday", "MATH 1310", "10:00–10:50 AM"),
        ("Monday", "STS 4500", "5:00–6:15 PM"),
        ("Tuesday", "CS 2100", "2:00–3:15 PM"),
        ("Tuesday", "PHYS 1425", "2:30–3:45 PM"),
        ("Wednesday", "MATH 1310", "10:00–10:50 AM"),
        ("Wednesday", "STS 4500", "5:00–6:15 PM"),
        ("Thursday", "CS 2100", "2:00–3:15 PM"),
        ("Friday", "MATH 1310", "10:00–10:50 AM"),
        ("Saturday", "CHEM 1811", "9:00–11:50 AM"),
    ];

    // 960 px is the narrowest grid for a week with two overlapping meetings.
    for (width, height) in [(375u32, 900u32), (960, 900), (1280, 900)] {
        let client = browser::open(&driver, &chromium, width, height).await;
        browser::sign_in(&client, &app.address, &me.token).await;
        client.goto(&app.url("/schedule")).await.unwrap();
        let shot = browser::screenshot(&client, &format!("week-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        no_page_scroll(&client, width).await;

        if width < 960 {
            assert!(shown(&client, ".week-agenda").await, "the agenda shows");
            assert!(!shown(&client, ".week-grid").await, "the grid is hidden");
            let items = client
                .execute(
                    "return [...document.querySelectorAll('.agenda-item')].map(li => {\
                       let h = li.parentElement.previousElementSibling;\
                       return [h.innerText.trim(), li.innerText.replace(/\\s+/g, ' ')];\
                     });",
                    vec![],
                )
                .await
                .unwrap();
            let items: Vec<(String, String)> = items
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(items.len(), expected.len(), "{items:#?}");
            for (day, code, time) in expected {
                assert!(
                    items.iter().any(|(d, text)| d == day
                        && text.contains(code)
                        && text.contains(time)
                        && text.contains(PLACE)),
                    "{day} {code} {time} {PLACE} in {items:#?}"
                );
            }
            let tuesday: Vec<&String> = items
                .iter()
                .filter(|(d, _)| d == "Tuesday")
                .map(|(_, t)| t)
                .collect();
            assert!(tuesday.iter().all(|t| t.contains("Clash")), "{tuesday:?}");
            assert!(
                items.iter().any(|(_, t)| t.contains("1 friend: fr1")),
                "{items:#?}"
            );
            let clipped = overflows(&client, ".agenda-item").await;
            assert!(clipped.is_empty(), "375px agenda overflows: {clipped:#?}");
        } else {
            assert!(shown(&client, ".week-grid").await, "the grid shows");
            assert!(
                !shown(&client, ".week-agenda").await,
                "the agenda is hidden"
            );
            let monday = visible_texts(&client, "section.tt-day[aria-label=Mon] .tt-block").await;
            assert!(
                monday
                    .iter()
                    .any(|t| t.contains("MATH 1310") && t.contains("10:00–10:50 AM")),
                "the 50-minute block shows its course and time: {monday:?}"
            );
            let tuesday = visible_texts(&client, "section.tt-day[aria-label=Tue] .tt-block").await;
            assert_eq!(tuesday.len(), 2, "{tuesday:?}");
            assert!(tuesday.iter().all(|t| t.contains("Clash")), "{tuesday:?}");
            for t in &tuesday {
                assert!(t.contains("PM"), "a lane shows its time: {t}");
            }
            client
                .execute(
                    "document.querySelector('section.tt-day[aria-label=Tue] .tt-block').scrollIntoView();",
                    vec![],
                )
                .await
                .unwrap();
            let shot = browser::screenshot(&client, &format!("week-{width}-lanes")).await;
            eprintln!("screenshot: {}", shot.display());
            let clipped = overflows(&client, ".tt-block").await;
            assert!(clipped.is_empty(), "{width}px blocks clip: {clipped:#?}");
        }
        axe_clean(&client, "/schedule", width).await;

        client.goto(&app.url("/")).await.unwrap();
        assert!(
            visible_texts(&client, ".clash-list li")
                .await
                .contains(&"CS 2100 and PHYS 1425 overlap on Tue 2:30 PM".to_string()),
            "home lists the clash"
        );
        let shot = browser::screenshot(&client, &format!("week-home-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        no_page_scroll(&client, width).await;
        axe_clean(&client, "/", width).await;

        client
            .goto(&app.url(&format!("/classes/{}/leave?next=/", math.id)))
            .await
            .unwrap();
        assert!(shown(&client, "form[action$='/leave'] button").await);
        no_page_scroll(&client, width).await;
        axe_clean(&client, "the leave confirm page", width).await;

        client
            .goto(&app.url(&format!("/classes/{}", clashing.id)))
            .await
            .unwrap();
        client
            .execute(
                "document.querySelector(\"form[action$='/enroll']\").submit();",
                vec![],
            )
            .await
            .unwrap();
        client
            .wait()
            .for_element(fantoccini::Locator::Css(".clash-list"))
            .await
            .unwrap();
        let said = visible_texts(&client, ".clash-list li").await;
        assert_eq!(
            said,
            [
                "ECON 2010 overlaps CS 2100 on Tue Thu 2:00 PM",
                "ECON 2010 overlaps PHYS 1425 on Tue 2:30 PM"
            ]
        );
        let shot = browser::screenshot(&client, &format!("join-clash-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        no_page_scroll(&client, width).await;
        axe_clean(&client, "the join-clash confirm page", width).await;
        client.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_without_overlaps_is_a_grid_from_720px() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let me = app.student("me1");
    for (code, days, start, end) in [
        ("MATH 1310", "MoWeFr", "10:00", "10:50"),
        ("CHEM 1410", "MoWeFr", "11:00", "11:50"),
        ("CS 2100", "TuTh", "9:30", "10:45"),
        ("ENWR 1510", "TuTh", "12:30", "13:45"),
    ] {
        let class = section(&app, code, &[(days, start, end)]);
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
    }
    for (width, grid) in [(719u32, false), (720, true)] {
        let client = browser::open(&driver, &chromium, width, 900).await;
        browser::sign_in(&client, &app.address, &me.token).await;
        client.goto(&app.url("/schedule")).await.unwrap();
        let shot = browser::screenshot(&client, &format!("week-calm-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        no_page_scroll(&client, width).await;
        assert_eq!(shown(&client, ".week-grid").await, grid, "{width}px");
        assert_eq!(shown(&client, ".week-agenda").await, !grid, "{width}px");
        let boxes = if grid { ".tt-block" } else { ".agenda-item" };
        let clipped = overflows(&client, boxes).await;
        assert!(clipped.is_empty(), "{width}px: {clipped:#?}");
        if grid {
            let monday = visible_texts(&client, "section.tt-day[aria-label=Mon] .tt-block").await;
            assert!(
                monday
                    .iter()
                    .any(|t| t.contains("MATH 1310") && t.contains("10:00–10:50 AM")),
                "{monday:?}"
            );
        }
        client.close().await.unwrap();
    }
}
