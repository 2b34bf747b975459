//! Pages whose look is the point, in a real headless Chromium: the timetable
//! fits a 375 px phone without sideways scrolling (as an agenda there) and
//! shows overlapping classes side by side on the grid. Screenshots land in target/screenshots/.

use crate::common;
use crate::common::browser;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend};
use common_grounds::classes::{self, ClassId, MeetingId, NewClassMeeting};
use common_grounds::clock;

fn section(
    app: &common::TestApp,
    code: &str,
    sec: &str,
    meetings: &[(&str, &str, &str)],
) -> ClassId {
    let mut conn = app.conn();
    let number = uuid::Uuid::new_v4().simple().to_string();
    let id = ClassBuilder::new(code, "1262")
        .title("A class with a fairly long title to wrap")
        .sis_class_number(&number[..8])
        .section(sec)
        .seats_available(Some(3))
        .meets(None, None, None)
        .location(None)
        .insert(&mut conn)
        .id;
    for (position, (days, start, end)) in meetings.iter().enumerate() {
        classes::insert_meeting(
            &mut conn,
            &NewClassMeeting {
                id: &MeetingId::new(),
                class_id: &id,
                position: position as i32,
                days: Some(days),
                start_time: Some(start),
                end_time: Some(end),
                location: Some("Mechanical Engineering Building 205"),
                instructor: None,
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timetable_fits_a_phone_and_shows_overlaps_side_by_side() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let me = app.student("me1");
    let ids = [
        section(
            &app,
            "MATH 1310",
            "001",
            &[
                ("MoWeFr", "10.00.00.000000-05:00", "10.50.00.000000-05:00"),
                ("Fr", "13.00.00.000000-05:00", "13.50.00.000000-05:00"),
            ],
        ),
        section(&app, "CS 4993", "010", &[("TBA", "", "")]),
        section(&app, "CS 2100", "001", &[("TuTh", "14:00", "15:15")]),
        section(&app, "PHYS 1425", "001", &[("Tu", "14:30", "15:45")]),
        section(&app, "STS 4500", "003", &[("MoWe", "17:00", "18:15")]),
    ];
    for id in &ids {
        classes::enroll(&mut app.conn(), &me.user.id, id, clock::now()).unwrap();
    }

    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = browser::open(&driver, &chromium, width, height).await;
        browser::sign_in(&client, &app.address, &me.token).await;
        client.goto(&app.url("/schedule")).await.unwrap();
        let shot = browser::screenshot(&client, &format!("schedule-{width}")).await;
        eprintln!("screenshot: {}", shot.display());

        let measured = client
            .execute(
                "const tue = [...document.querySelectorAll('section.tt-day[aria-label=Tue] .tt-block')].map(b => b.getBoundingClientRect());\
                 const fri = document.querySelectorAll('section.tt-day[aria-label=Fri] .tt-block').length;\
                 return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth,\
                          tue: tue.map(r => [r.left, r.right, r.top, r.bottom]), fri,\
                          below: document.querySelector('#unscheduled-heading + .rows').innerText };",
                vec![],
            )
            .await
            .unwrap();
        let scroll = measured["scroll"].as_f64().unwrap();
        let inner = measured["inner"].as_f64().unwrap();
        eprintln!("{width}px: scrollWidth {scroll}, innerWidth {inner}");
        assert!(
            scroll <= inner,
            "{width}px: the page scrolls sideways ({scroll} > {inner})"
        );

        if width < 720 {
            // A phone gets the agenda (issue 20): the two Tuesday classes
            // that overlap are listed one after the other.
            let tuesday = client
                .execute(
                    "return [...document.querySelectorAll('.agenda-day')]\
                       .find(h => h.innerText.trim() === 'Tuesday')\
                       .nextElementSibling.innerText;",
                    vec![],
                )
                .await
                .unwrap();
            let tuesday = tuesday.as_str().unwrap();
            assert!(
                tuesday.contains("CS 2100") && tuesday.contains("PHYS 1425"),
                "{tuesday}"
            );
        } else {
            let tue = measured["tue"].as_array().unwrap();
            assert_eq!(tue.len(), 2, "two Tuesday blocks");
            let rect = |i: usize| -> Vec<f64> {
                tue[i]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            };
            let (a, b) = (rect(0), rect(1));
            let side_by_side = a[1] <= b[0] + 0.5 || b[1] <= a[0] + 0.5;
            assert!(
                side_by_side,
                "{width}px: overlapping classes must not cover each other: {a:?} {b:?}"
            );
            assert!(
                a[2] < b[3] && b[2] < a[3],
                "they share rows (overlap in time)"
            );
            assert_eq!(
                measured["fri"].as_u64(),
                Some(2),
                "Friday shows both MATH 1310 meetings"
            );
        }
        assert!(measured["below"].as_str().unwrap().contains("CS 4993"));
        client.close().await.unwrap();
    }
}
