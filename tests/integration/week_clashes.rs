//! Issue 20, clashes: joining a section that meets while one of yours does asks
//! first and names the clash; confirming joins; the week and home mark it; a
//! section that only touches (one ends 10:50, the next starts 10:50) joins at
//! once. Over HTTP, on SQLite and PostgreSQL.

use crate::common;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::classes::{self, Class, MeetingId, NewClassMeeting};
use common_grounds::clock;
use common_grounds::friends::FriendshipStatus;

/// A Spring 2026 lecture of `code` meeting `days` from `start` to `end`.
fn section(app: &TestApp, code: &str, days: &str, start: &str, end: &str) -> Class {
    ClassBuilder::new(code, "1262")
        .meets(days, start, end)
        .location("Rice Hall 130")
        .insert(&mut app.conn())
}

/// Presses "Join this class" on the class page (optionally "Join anyway").
async fn join(app: &TestApp, who: &Student, class: &Class, confirm: bool) -> reqwest::Response {
    let page = format!("/classes/{}", class.id);
    let mut fields = vec![("term", "1262"), ("next", "/")];
    if confirm {
        fields.push(("confirm_clash", "1"));
    }
    who.post(
        app,
        &page,
        &format!("/classes/{}/enroll", class.id),
        &fields,
    )
    .await
}

fn takes(app: &TestApp, who: &Student, class: &Class) -> bool {
    classes::is_enrolled(&mut app.conn(), &who.user.id, &class.id).unwrap()
}

fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

backend_test!(
    async fn a_clashing_join_asks_first(backend: Backend) {
        // Arrange: I take CS 3120 Tue Thu 11:00–12:15.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let taken = section(&app, "CS 3120", "TuTh", "11:00", "12:15");
        classes::enroll(&mut app.conn(), &me.user.id, &taken.id, clock::now()).unwrap();
        let wanted = section(&app, "CS 2100", "TuTh", "11:00", "11:50");

        // Act: join CS 2100, which meets at the same time.
        let asked = join(&app, &me, &wanted, false).await;

        // Assert: a page (not a redirect) names the clash; nothing is stored.
        assert_eq!(asked.status().as_u16(), 200, "the confirm page");
        let html = asked.text().await.unwrap();
        assert_eq!(
            texts(&html, ".clash-list li"),
            ["CS 2100 overlaps CS 3120 on Tue Thu 11:00 AM"],
            "{html}"
        );
        assert!(
            !takes(&app, &me, &wanted),
            "nothing joined before confirming"
        );
        let doc = scraper::Html::parse_document(&html);
        let confirm = scraper::Selector::parse(
            "form[action$='/enroll'] input[name=confirm_clash][value='1']",
        )
        .unwrap();
        assert_eq!(
            doc.select(&confirm).count(),
            1,
            "Join anyway re-posts, confirmed"
        );
        assert!(
            html.contains("Join anyway") && html.contains(">Cancel<"),
            "{html}"
        );

        // Act: "Join anyway".
        let joined = join(&app, &me, &wanted, true).await;

        // Assert: joined, and back where the student came from.
        assert_eq!(joined.status().as_u16(), 303);
        assert!(takes(&app, &me, &wanted));
    }
);

backend_test!(
    async fn a_join_that_clashes_with_nothing_needs_no_confirm(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let taken = section(&app, "CS 3120", "TuTh", "11:00", "12:15");
        classes::enroll(&mut app.conn(), &me.user.id, &taken.id, clock::now()).unwrap();
        let apart = section(&app, "MATH 1310", "MoWeFr", "11:00", "11:50");

        let response = join(&app, &me, &apart, false).await;

        assert_eq!(response.status().as_u16(), 303, "joined at once");
        assert!(takes(&app, &me, &apart));
    }
);

backend_test!(
    async fn touching_times_are_not_a_clash(backend: Backend) {
        // 10:00–10:50, then 10:50–11:40 on the same days: they touch, no more.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let first = section(&app, "CS 2100", "MoWeFr", "10:00", "10:50");
        classes::enroll(&mut app.conn(), &me.user.id, &first.id, clock::now()).unwrap();
        let next = section(&app, "CS 2120", "MoWeFr", "10:50", "11:40");

        let response = join(&app, &me, &next, false).await;

        assert_eq!(response.status().as_u16(), 303, "no confirm page");
        assert!(takes(&app, &me, &next));
        let (_, home) = me.get(&app, "/").await;
        assert!(texts(&home, ".clash-list li").is_empty(), "{home}");
        let (_, week) = me.get(&app, "/schedule").await;
        assert!(!week.contains("clash-mark"), "{week}");
    }
);

backend_test!(
    async fn the_week_and_home_mark_a_clash(backend: Backend) {
        // Arrange: two clashing sections joined (confirmed), and one apart.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let a = section(&app, "CS 3120", "TuTh", "11:00", "12:15");
        let b = section(&app, "CS 2100", "TuTh", "11:30", "12:20");
        let apart = section(&app, "MATH 1310", "MoWeFr", "9:00", "9:50");
        for class in [&a, &b, &apart] {
            let response = join(&app, &me, class, true).await;
            assert_eq!(response.status().as_u16(), 303);
        }

        // Home lists the clash at the top, before the class cards.
        let (_, home) = me.get(&app, "/").await;
        assert_eq!(
            texts(&home, ".clash-list li"),
            ["CS 2100 and CS 3120 overlap on Tue Thu 11:30 AM"],
            "{home}"
        );
        assert!(
            home.find("clashes-heading").unwrap() < home.find("class-card").unwrap(),
            "the clash comes first"
        );

        // The grid marks both blocks on both days, in words; not MATH 1310.
        let (status, week) = me.get(&app, "/schedule").await;
        assert_eq!(status, 200);
        for day in ["Tue", "Thu"] {
            let marked = texts(
                &week,
                &format!("section.tt-day[aria-label={day}] .tt-block.tt-clash"),
            );
            assert_eq!(marked.len(), 2, "{day}: {marked:?}");
            for block in &marked {
                assert!(block.contains("Clash"), "{block}");
            }
        }
        let calm = texts(&week, "section.tt-day[aria-label=Mon] .tt-block");
        assert_eq!(calm.len(), 1);
        assert!(!calm[0].contains("Clash"), "{calm:?}");

        // The agenda marks them too, naming the other class.
        let agenda = texts(&week, ".agenda-item.agenda-clash");
        assert_eq!(agenda.len(), 4, "two meetings on Tue and Thu: {agenda:?}");
        assert!(
            agenda
                .iter()
                .any(|t| t.contains("CS 2100") && t.contains("Clash with CS 3120")),
            "{agenda:?}"
        );
    }
);

backend_test!(
    async fn a_section_sis_no_longer_lists_meets_no_more(backend: Backend) {
        use common_grounds::db::schema::classes as sections;
        use diesel::prelude::*;
        // Arrange: SIS renumbered my CS 2100 lecture: the old number is no
        // longer listed, the new one meets at the same time, and I joined it
        // without leaving the old one yet.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let old = section(&app, "CS 2100", "MoWeFr", "10:00", "10:50");
        classes::enroll(&mut app.conn(), &me.user.id, &old.id, clock::now()).unwrap();
        diesel::update(sections::table.find(&old.id))
            .set(sections::active.eq(false))
            .execute(&mut app.conn())
            .unwrap();
        let new = section(&app, "CS 2100", "MoWeFr", "10:00", "10:50");
        let joined = join(&app, &me, &new, false).await;
        assert_eq!(joined.status().as_u16(), 303, "no clash to confirm");

        // Assert: home names no clash and says why the old one is off the week.
        let (_, home) = me.get(&app, "/").await;
        assert!(texts(&home, ".clash-list li").is_empty(), "{home}");
        let notes = texts(&home, ".class-card .notice");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("SIS no longer lists this section"),
            "{notes:?}"
        );

        // The week draws one block a day, unmarked, and lists the old one apart.
        let (status, week) = me.get(&app, "/schedule").await;
        assert_eq!(status, 200);
        for day in ["Mon", "Wed", "Fri"] {
            let blocks = texts(
                &week,
                &format!("section.tt-day[aria-label={day}] .tt-block"),
            );
            assert_eq!(blocks.len(), 1, "{day}: {blocks:?}");
            assert!(!blocks[0].contains("Clash"), "{blocks:?}");
        }
        let apart = texts(&week, ".unscheduled li");
        assert_eq!(apart.len(), 1, "{apart:?}");
        assert!(apart[0].contains("No longer listed by SIS"), "{apart:?}");
    }
);

/// A Spring 2026 section of `code` whose one meeting (Tue Thu 11:00–12:15)
/// runs only from `first` to `last` (a half-term course, as SIS gives it).
fn half_term(app: &TestApp, code: &str, first: (u32, u32), last: (u32, u32)) -> Class {
    let class = ClassBuilder::new(code, "1262")
        .meets(None, None, None)
        .location(None)
        .insert(&mut app.conn());
    let day = |(m, d): (u32, u32)| chrono::NaiveDate::from_ymd_opt(2026, m, d);
    classes::insert_meeting(
        &mut app.conn(),
        &NewClassMeeting {
            id: &MeetingId::new(),
            class_id: &class.id,
            position: 0,
            days: Some("TuTh"),
            start_time: Some("11:00"),
            end_time: Some("12:15"),
            location: Some("Rouss Robertson Hall 120"),
            instructor: None,
            first_day: day(first),
            last_day: day(last),
        },
    )
    .unwrap();
    class
}

backend_test!(
    async fn half_terms_in_one_slot(backend: Backend) {
        // Arrange: the term runs Jan 14 – Apr 28; I take a first-half course
        // on Tue Thu 11:00.
        let app = spawn_quiet_app(backend, &[("TERMS", "1262:2026-01-14..2026-04-28")]).await;
        let me = app.student("me1");
        let first = half_term(&app, "COMM 3410", (1, 14), (3, 3));
        classes::enroll(&mut app.conn(), &me.user.id, &first.id, clock::now()).unwrap();

        // Act and assert: the second-half course in the same slot joins at
        // once (they never meet in the same week) ...
        let second = half_term(&app, "COMM 3420", (3, 16), (4, 28));
        let joined = join(&app, &me, &second, false).await;
        assert_eq!(joined.status().as_u16(), 303, "joined without asking");
        assert!(takes(&app, &me, &second));

        // ... but one that runs in the first half too asks first.
        let overlapping = half_term(&app, "COMM 3430", (2, 2), (3, 27));
        let asked = join(&app, &me, &overlapping, false).await;
        assert_eq!(asked.status().as_u16(), 200, "the confirm page");
        let html = asked.text().await.unwrap();
        assert_eq!(
            texts(&html, ".clash-list li"),
            [
                "COMM 3430 overlaps COMM 3410 on Tue Thu 11:00 AM",
                "COMM 3430 overlaps COMM 3420 on Tue Thu 11:00 AM"
            ],
            "{html}"
        );

        // The week marks no clash, and says when each half-term course runs.
        let (status, week) = me.get(&app, "/schedule").await;
        assert_eq!(status, 200);
        assert!(texts(&week, ".tt-block.tt-clash").is_empty(), "{week}");
        assert!(texts(&week, ".clash-card").is_empty(), "{week}");
        let agenda = texts(&week, "section.week-agenda .agenda-item");
        assert!(
            agenda
                .iter()
                .any(|t| t.contains("COMM 3410") && t.contains("Jan 14 – Mar 3 only")),
            "{agenda:?}"
        );
        assert!(
            agenda
                .iter()
                .any(|t| t.contains("COMM 3420") && t.contains("Mar 16 – Apr 28 only")),
            "{agenda:?}"
        );

        // Home's cards and the class search say so too.
        let (_, home) = me.get(&app, "/").await;
        assert_eq!(
            texts(&home, ".class-card .meeting-dates"),
            ["· Jan 14 – Mar 3 only", "· Mar 16 – Apr 28 only"],
            "{home}"
        );
        let (_, found) = me.get(&app, "/classes/search?q=COMM+3410").await;
        assert_eq!(
            texts(&found, ".meeting-dates"),
            ["· Jan 14 – Mar 3 only"],
            "{found}"
        );

        // A friend's page sets the two weeks side by side: each half-term
        // meeting says when it runs, on both sides.
        let friend = app.student("fr2nd");
        classes::enroll(&mut app.conn(), &friend.user.id, &first.id, clock::now()).unwrap();
        crate::friends_week::befriend(
            &app,
            &me.user.id,
            &friend.user.id,
            FriendshipStatus::Accepted,
        );
        let (status, pair) = me.get(&app, "/friends/fr2nd").await;
        assert_eq!(status, 200);
        let tuesday = texts(&pair, ".week-pair tbody tr:nth-child(2) .week-entry");
        assert_eq!(tuesday.len(), 3, "{pair}");
        for (code, dates) in [
            ("COMM 3410", "Jan 14 – Mar 3 only"),
            ("COMM 3420", "Mar 16 – Apr 28 only"),
        ] {
            assert!(
                tuesday
                    .iter()
                    .any(|t| t.contains(code) && t.contains(dates)),
                "{tuesday:?}"
            );
        }
        let theirs = texts(
            &pair,
            ".week-pair tbody tr:nth-child(2) td:nth-child(3) .week-dates",
        );
        assert_eq!(theirs, ["Jan 14 – Mar 3 only"], "{pair}");
    }
);
