//! Issue 20: "when are we free" (`GET /friends/free`): exact free stretches
//! for students with fixed weeks, a friend who hides classes left out and
//! named, the same number of statements for 1, 2 and 4 friends, and bad
//! fields answered with a 400 page in words (a non-friend exactly like an
//! unknown id).

use crate::common;
use crate::friends_week::{befriend, hide_classes, main_text, section, take, texts};

use common::{spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::classes::Class;
use common_grounds::friends::FriendshipStatus;

/// Each day row of a slot list: "Mon: 8:00–9:00 AM; 12:15–1:00 PM busy: bo2b".
fn slots(html: &str, list: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let day = scraper::Selector::parse(&format!("{list} .free-day")).unwrap();
    let name = scraper::Selector::parse(".free-day-name").unwrap();
    let slot = scraper::Selector::parse(".free-slot").unwrap();
    let time = scraper::Selector::parse(".slot-time").unwrap();
    let busy = scraper::Selector::parse(".slot-busy").unwrap();
    let text = |e: scraper::ElementRef| e.text().collect::<String>();
    doc.select(&day)
        .map(|d| {
            let found: Vec<String> = d
                .select(&slot)
                .map(|s| {
                    let mut t = text(s.select(&time).next().unwrap());
                    if let Some(b) = s.select(&busy).next() {
                        t = format!("{t} {}", text(b));
                    }
                    t
                })
                .collect();
            format!(
                "{}: {}",
                text(d.select(&name).next().unwrap()),
                found.join("; ")
            )
        })
        .collect()
}

/// Me and three accepted friends: an1a and bo2b share their classes, ca3c hides
/// them (and is busy all Monday, which must not count).
fn four_weeks(app: &TestApp) -> Student {
    let me = app.student("me1");
    let ana = app.student("an1a");
    let bob = app.student("bo2b");
    let cat = app.student("ca3c");
    for f in [&ana, &bob] {
        befriend(app, &me.user.id, &f.user.id, FriendshipStatus::Accepted);
    }
    befriend(app, &cat.user.id, &me.user.id, FriendshipStatus::Accepted);
    hide_classes(app, &cat, true);

    let cs = section(app, "CS 2100", &[("MoWe", "9:00", "10:15")]);
    take(app, &cs, &[&me, &ana]);
    let cs3 = section(app, "CS 3120", &[("Tu", "13:00", "14:00")]);
    take(app, &cs3, &[&me]);
    let math = section(
        app,
        "MATH 1310",
        &[("Mo", "11:00", "12:15"), ("Tu", "8:00", "9:30")],
    );
    take(app, &math, &[&ana]);
    // 10:30: after the 10:15 end, 15 minutes free is too short to offer.
    let art = section(
        app,
        "ARTH 1500",
        &[
            ("Mo", "10:30", "11:00"),
            ("Mo", "13:00", "14:00"),
            ("Tu", "13:30", "15:00"),
        ],
    );
    take(app, &art, &[&bob]);
    let hist = section(app, "HIST 2001", &[("MoTuWeThFr", "8:00", "18:00")]);
    take(app, &hist, &[&cat]);
    me
}

backend_test!(
    async fn free_time_for_three_fixed_weeks(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = four_weeks(&app);

        let path =
            "/friends/free?friend=an1a&friend=bo2b&friend=ca3c&from=Mon&to=Tue&start=8&end=18";
        let (status, page) = me.get(&app, path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            slots(&page, "#all-free"),
            [
                "Mon: 8:00–9:00 AM; 12:15–1:00 PM; 2:00–6:00 PM",
                "Tue: 9:30 AM–1:00 PM; 3:00–6:00 PM",
            ]
        );
        assert_eq!(
            slots(&page, "#all-but-one"),
            [
                "Mon: 10:30–11:00 AM busy: bo2b; 11:00 AM–12:15 PM busy: an1a; 1:00–2:00 PM busy: bo2b",
                "Tue: 8:00–9:30 AM busy: an1a; 1:00–1:30 PM busy: you; 2:00–3:00 PM busy: bo2b",
            ]
        );
        // The friend who hides is left out, named, and nothing of theirs shows.
        assert_eq!(
            texts(&page, ".left-out li"),
            ["ca3c keeps their classes private."]
        );
        let text = main_text(&page);
        assert!(!text.contains("HIST"), "{text}");
        assert!(text.contains("for you, an1a, bo2b."), "{text}");
        // The form keeps what was asked.
        for checked in ["an1a", "bo2b", "ca3c"] {
            let sel = format!("input[name=friend][value={checked}][checked]");
            assert_eq!(texts(&page, &sel).len(), 1, "{checked} stays ticked");
        }

        // Defaults: weekdays 8 AM to 6 PM; Wednesday is like Monday's CS 2100 only.
        let (_, page) = me.get(&app, "/friends/free?friend=an1a").await;
        let days = slots(&page, "#all-free");
        assert_eq!(days.len(), 5, "{days:?}");
        assert_eq!(days[2], "Wed: 8:00–9:00 AM; 10:15 AM–6:00 PM");
        assert_eq!(days[4], "Fri: 8:00 AM–6:00 PM");
        assert!(
            texts(&page, "#all-but-one").is_empty(),
            "two people: no 'all but one'"
        );
        assert!(texts(&page, ".free-results .notice").is_empty());

        // A friend with no classes this term is free all week: said, not implied.
        let dee = app.student("dx4k");
        befriend(&app, &me.user.id, &dee.user.id, FriendshipStatus::Accepted);
        let (_, page) = me.get(&app, "/friends/free?friend=an1a&friend=dx4k").await;
        let said = texts(&page, ".free-results .notice");
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("dx4k has no classes with set times in ")
                && said[0].ends_with(", so they count as free all week."),
            "{said:?}"
        );

        // When I hide my classes, nobody's week is compared and every friend is named as left out.
        hide_classes(&app, &me, true);
        let (status, page) = me.get(&app, path).await;
        assert_eq!(status, 200);
        let text = main_text(&page);
        assert!(
            text.contains("Your classes are hidden from friends")
                && text.contains("an1a, bo2b, ca3c"),
            "{text}"
        );
        assert!(texts(&page, "#all-free").is_empty());
        assert!(
            !text.contains("keeps their classes private"),
            "says nothing else"
        );
    }
);

/// Statements one GET runs.
async fn queries_for(app: &TestApp, who: &Student, path: &str) -> u64 {
    let before = app.query_count();
    let (status, page) = who.get(app, path).await;
    assert_eq!(status, 200, "{path}: {page}");
    app.query_count() - before
}

backend_test!(
    async fn free_time_queries_do_not_grow(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let mut ids = Vec::new();
        for i in 0..4 {
            let friend = app.student(&format!("fr{i}f"));
            befriend(
                &app,
                &me.user.id,
                &friend.user.id,
                FriendshipStatus::Accepted,
            );
            let class = section(
                &app,
                &format!("CS {}", 2100 + i),
                &[("MoWe", "9:00", "9:50"), ("Fr", "14:00", "15:15")],
            );
            take(&app, &class, &[&me, &friend]);
            ids.push(format!("fr{i}f"));
        }
        me.get(&app, "/").await;
        let mut counts = Vec::new();
        for n in [1, 2, 4] {
            let query: Vec<String> = ids[..n].iter().map(|id| format!("friend={id}")).collect();
            let path = format!("/friends/free?{}", query.join("&"));
            counts.push(queries_for(&app, &me, &path).await);
        }
        eprintln!("{backend:?}: 1, 2, 4 friends ran {counts:?} statements");
        assert_eq!(counts[0], counts[1], "{counts:?}");
        assert_eq!(counts[1], counts[2], "{counts:?}");
    }
);

backend_test!(
    async fn free_time_refuses_bad_fields(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = four_weeks(&app);
        let refused = [
            ("from=Fri&to=Mon", "comes after the last day"),
            ("start=18&end=8", "must start before they end"),
            ("start=9&end=9", "must start before they end"),
            ("start=25", "is not an hour of the day"),
            ("end=abc", "is not an hour of the day"),
            ("from=Funday", "is not a day"),
            ("friend=zz9z", "“zz9z” is not one of your friends"),
            ("friend=%3Cb%3Ex", "is not one of your friends"),
        ];
        for (query, words) in refused {
            let (status, page) = me
                .get(&app, &format!("/friends/free?friend=an1a&{query}"))
                .await;
            assert_eq!(status, 400, "{query}: {page}");
            assert!(
                main_text(&page).contains(words),
                "{query}: {}",
                main_text(&page)
            );
            assert!(!page.contains("<b>x"), "escaped");
        }
        // Days and hours are refused on the form itself, shown back as sent
        // so the student can mend them: picks and ticks kept, every fault
        // told beside its part of the form, and no results.
        let picked = |page: &str, name: &str| -> String {
            let doc = scraper::Html::parse_document(page);
            let selector =
                scraper::Selector::parse(&format!("select[name={name}] option[selected]")).unwrap();
            let options: Vec<_> = doc.select(&selector).collect();
            assert_eq!(options.len(), 1, "{name}: {page}");
            options[0].value().attr("value").unwrap().to_string()
        };
        let (status, page) = me
            .get(
                &app,
                "/friends/free?friend=an1a&from=Fri&to=Mon&start=18&end=8",
            )
            .await;
        assert_eq!(status, 400, "{page}");
        assert_eq!(
            texts(&page, r#"fieldset[aria-describedby="free-days-error"] #free-days-error[role=alert]"#),
            ["The first day (Fri) comes after the last day (Mon). Pick days from Monday towards Sunday."]
        );
        assert_eq!(
            texts(&page, r#"fieldset[aria-describedby="free-hours-error"] #free-hours-error[role=alert]"#),
            ["The hours must start before they end (from 6:00 PM to 8:00 AM). Pick a later end or an earlier start."]
        );
        assert_eq!(
            ["from", "to", "start", "end"].map(|name| picked(&page, name)),
            ["Fri", "Mon", "18", "8"],
            "the form as it was sent"
        );
        assert!(page.contains(r#"value="an1a" checked"#), "{page}");
        assert!(!page.contains("When all of you are free"), "{page}");
        // With no friend ticked as well: both told.
        let (status, page) = me.get(&app, "/friends/free?start=18&end=8").await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains(r#"id="free-hours-error""#), "{page}");
        assert!(
            main_text(&page).contains("Tick at least one friend"),
            "{page}"
        );
        // Told as an error, beside the friends to tick, not below the form.
        let friends_box = &page[page.find("<legend>Friends</legend>").unwrap()..];
        let friends_box = &friends_box[..friends_box.find("</fieldset>").unwrap()];
        assert!(
            friends_box.contains(
                r#"<p class="alert" id="free-friends-error" role="alert">Tick at least one friend"#
            ),
            "{friends_box}"
        );
        // A stranger is refused as ever, whatever else is wrong.
        let (status, page) = me
            .get(&app, "/friends/free?friend=zz9z&from=Fri&to=Mon")
            .await;
        assert_eq!(status, 400, "{page}");
        assert!(
            main_text(&page).contains("“zz9z” is not one of your friends"),
            "{page}"
        );
        // A week that does not read is no fault while every week is the
        // same (as here: no half-term classes).
        let (status, page) = me.get(&app, "/friends/free?friend=an1a&week=someday").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("When all of you are free"), "{page}");

        let many: Vec<String> = (0..21).map(|i| format!("friend=ab{i}c")).collect();
        let (status, page) = me
            .get(&app, &format!("/friends/free?{}", many.join("&")))
            .await;
        assert_eq!(status, 400);
        assert!(main_text(&page).contains("compare at most 20"), "{page}");

        // Pending, blocked either way, or a stranger: told exactly what an unknown id is told.
        let strangers = [
            ("pe1p", Some(FriendshipStatus::Pending), true),
            ("pe2p", Some(FriendshipStatus::Pending), false),
            ("bl1b", Some(FriendshipStatus::Blocked), true),
            ("bl2b", Some(FriendshipStatus::Blocked), false),
            ("st1s", None, true),
        ];
        let masked = |page: &str, who: &str| {
            let text = main_text(page).replace(who, "WHO");
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let (status, unknown) = me.get(&app, "/friends/free?friend=no1n").await;
        assert_eq!(status, 400);
        let unknown = masked(&unknown, "no1n");
        let hist = section(&app, "HIST 3001", &[("Mo", "8:00", "9:00")]);
        for (who, status, they_asked) in strangers {
            let student = app.student(who);
            if let Some(status) = status {
                let (a, b) = if they_asked {
                    (&student.user.id, &me.user.id)
                } else {
                    (&me.user.id, &student.user.id)
                };
                befriend(&app, a, b, status);
            }
            take(&app, &hist, &[&student]);
            let (code, page) = me.get(&app, &format!("/friends/free?friend={who}")).await;
            assert_eq!(code, 400, "{who}");
            assert_eq!(masked(&page, who), unknown, "{who} is treated as unknown");
        }
    }
);

/// Spring 2026 (Jan 14 to Apr 28) with no classes on Monday Feb 16: me1,
/// my friend an1a, and a COMM 2010 section meeting Mon Wed 2:00-3:15 PM
/// that nobody takes yet.
async fn spring_with_a_monday_off(backend: Backend) -> (TestApp, Student, Student, Class) {
    let app = spawn_quiet_app(
        backend,
        &[
            ("CURRENT_TERM", "1262"),
            ("TERMS", "1262:2026-01-14..2026-04-28"),
            ("TERM_BREAKS", "1262:2026-02-16..2026-02-16"),
        ],
    )
    .await;
    let me = app.student("me1");
    let ana = app.student("an1a");
    befriend(&app, &me.user.id, &ana.user.id, FriendshipStatus::Accepted);
    let course = section(&app, "COMM 2010", &[("MoWe", "14:00", "15:15")]);
    (app, me, ana, course)
}

backend_test!(
    async fn a_day_without_classes_is_free_in_its_week(backend: Backend) {
        // Arrange: Spring 2026 with no classes on Monday Feb 16; my friend's
        // course meets Mon Wed 2:00-3:15 PM all term (no half-term class).
        let (app, me, ana, course) = spring_with_a_monday_off(backend).await;
        take(&app, &course, &[&ana]);
        let ask = |week: &str| {
            format!("/friends/free?friend=an1a&from=Mon&to=Mon&start=13&end=16&week={week}")
        };

        // Act + Assert: the break's week offers itself, and that Monday is
        // free; the week before is not.
        let (status, page) = me.get(&app, &ask("2026-02-16")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            texts(&page, "select[name=week] option[selected]"),
            ["Week of Feb 16"]
        );
        assert_eq!(slots(&page, "#all-free"), ["Mon: 1:00–4:00 PM"]);
        let (_, page) = me.get(&app, &ask("2026-02-09")).await;
        assert_eq!(
            slots(&page, "#all-free"),
            ["Mon: 1:00–2:00 PM; 3:15–4:00 PM"]
        );
    }
);

backend_test!(
    async fn a_half_term_class_counts_only_in_its_weeks(backend: Backend) {
        use common_grounds::db::schema::class_meetings;
        use diesel::prelude::*;
        // Arrange: Spring 2026 runs Jan 14 to Apr 28, with no classes on
        // Monday Feb 16; my friend's course meets Mon Wed 2:00-3:15 PM in the
        // first half only (Jan 14 to Mar 4).
        let (app, me, ana, half) = spring_with_a_monday_off(backend).await;
        diesel::update(class_meetings::table.filter(class_meetings::class_id.eq(&half.id)))
            .set((
                class_meetings::first_day.eq(chrono::NaiveDate::from_ymd_opt(2026, 1, 14)),
                class_meetings::last_day.eq(chrono::NaiveDate::from_ymd_opt(2026, 3, 4)),
            ))
            .execute(&mut app.conn())
            .unwrap();
        take(&app, &half, &[&ana]);
        let ask = |week: &str| {
            format!("/friends/free?friend=an1a&from=Mon&to=Mon&start=13&end=16&week={week}")
        };
        let chosen = |page: &str| texts(page, "select[name=week] option[selected]");

        // Act + Assert: a week in its first half: busy 2:00-3:15.
        let (status, page) = me.get(&app, &ask("2026-02-11")).await;
        assert_eq!(status, 200, "{page}");
        // The form answers at its results, below it (on a phone, out of view).
        assert!(
            page.contains(r##"<form method="get" action="/friends/free#results""##)
                && page.contains(r#"<div id="results">"#),
            "{page}"
        );
        assert_eq!(
            slots(&page, "#all-free"),
            ["Mon: 1:00–2:00 PM; 3:15–4:00 PM"]
        );
        assert_eq!(chosen(&page), ["Week of Feb 9"], "any day picks its week");
        assert!(main_text(&page).contains("the week of Feb 9"));
        // The week of the day without classes: that Monday is free.
        let (_, page) = me.get(&app, &ask("2026-02-16")).await;
        assert_eq!(slots(&page, "#all-free"), ["Mon: 1:00–4:00 PM"]);
        assert_eq!(chosen(&page), ["Week of Feb 16"]);
        // A week after it: the whole afternoon.
        let (_, page) = me.get(&app, &ask("2026-03-16")).await;
        assert_eq!(slots(&page, "#all-free"), ["Mon: 1:00–4:00 PM"]);
        assert_eq!(chosen(&page), ["Week of Mar 16"]);
        // No week asked (today is outside the term): the term's first, whose
        // Monday comes before the course's first day.
        let (_, page) = me
            .get(
                &app,
                "/friends/free?friend=an1a&from=Mon&to=Mon&start=13&end=16",
            )
            .await;
        assert_eq!(chosen(&page), ["Week of Jan 12"]);
        assert_eq!(slots(&page, "#all-free"), ["Mon: 1:00–4:00 PM"]);
        // Nonsense is refused in words, beside the week list, which is
        // still there to pick from; no results.
        let (status, page) = me.get(&app, &ask("%3Cb%3Esoon")).await;
        assert_eq!(status, 400);
        assert_eq!(
            texts(&page, "#free-week-error[role=alert]"),
            ["“<b>soon” is not a week. Pick a week from the list."]
        );
        assert!(!page.contains("<b>soon"), "escaped");
        assert!(
            page.contains(r#"aria-describedby="free-week-error free-week-hint""#),
            "{page}"
        );
        assert_eq!(chosen(&page), ["Week of Jan 12"]);
        assert!(slots(&page, "#all-free").is_empty(), "{page}");
    }
);
