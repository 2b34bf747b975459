//! Issue 20, clashes: joining a section that meets while one of yours does asks
//! first and names the clash; confirming joins; the week and home mark it; a
//! section that only touches (one ends 10:50, the next starts 10:50) joins at
//! once. Over HTTP, on SQLite and PostgreSQL.

use crate::common;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::classes::{self, Class};
use common_grounds::clock;

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
