//! Issue 20, "Finding a class": ranking (a course code before title words),
//! instructor names, filters (subject, days, time of day, open seats) kept in
//! paging links, friends in each result, and adding several sections at once
//! by class number; through real HTTP on SQLite and PostgreSQL.

use crate::common;
use crate::common::browser;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend, Student, TestApp};
use common_grounds::accounts::UserId;
use common_grounds::classes::{self, Class, MeetingId, NewClassMeeting};
use common_grounds::clock;
use common_grounds::db::schema::users;
use common_grounds::friends::{self, FriendshipId, FriendshipStatus, NewFriendship};
use diesel::prelude::*;

/// A Spring 2026 section: `code`, section `sec`, `title`, and its weekly
/// meetings `(days, start, end)` as `class_meetings` rows (none: the builder's
/// own row, MoWeFr 10:00).
fn section(
    app: &TestApp,
    builder: ClassBuilder,
    meetings: &[(&str, &str, &str, Option<&str>)],
) -> Class {
    let mut conn = app.conn();
    let class = builder.insert(&mut conn);
    for (position, (days, start, end, instructor)) in meetings.iter().enumerate() {
        classes::insert_meeting(
            &mut conn,
            &NewClassMeeting {
                id: &MeetingId::new(),
                class_id: &class.id,
                position: position as i32,
                days: Some(days),
                start_time: Some(start),
                end_time: Some(end),
                location: Some("Rice Hall 130"),
                instructor: *instructor,
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
    }
    class
}

/// `code` `sec` with `title`, 12 seats open, meeting `days` `start`–`end` on its row.
fn row_section(
    code: &str,
    sec: &str,
    title: &str,
    days: &str,
    start: &str,
    end: &str,
) -> ClassBuilder {
    ClassBuilder::new(code, "1262")
        .title(title)
        .section(sec)
        .seats_available(Some(12))
        .meets(days, start, end)
}

/// The "CODE SEC" of each result, in page order.
fn listed(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let card = scraper::Selector::parse(".class-card .class-title").unwrap();
    let link = scraper::Selector::parse("a").unwrap();
    let sec = scraper::Selector::parse(".muted").unwrap();
    doc.select(&card)
        .map(|h| {
            let code: String = h.select(&link).next().unwrap().text().collect();
            let section: String = h
                .select(&sec)
                .next()
                .map(|s| s.text().collect::<String>())
                .unwrap_or_default();
            format!("{} {}", code.trim(), section.trim_start_matches('–').trim())
        })
        .collect()
}

fn befriend(app: &TestApp, a: &UserId, b: &UserId, status: FriendshipStatus) {
    let now = clock::now();
    friends::insert(
        &mut app.conn(),
        &NewFriendship {
            id: &FriendshipId::new(),
            user_id_1: a,
            user_id_2: b,
            status: status.as_str(),
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap();
}

fn join(app: &TestApp, who: &Student, class: &Class) {
    assert!(classes::enroll(&mut app.conn(), &who.user.id, &class.id, clock::now()).unwrap());
}

fn hide_classes(app: &TestApp, who: &Student) {
    diesel::update(users::table.find(&who.user.id))
        .set(users::hide_classes.eq(true))
        .execute(&mut app.conn())
        .unwrap();
}

backend_test!(
    async fn cs_ranks_codes_first(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        for (code, title) in [
            ("PHYS 1425", "Physics 1"),
            ("ARCH 3010", "Topics in Architecture"),
            ("CS 2100", "Data Structures and Algorithms 1"),
            ("CS 2120", "Discrete Mathematics and Theory 1"),
            ("CS 3120", "Discrete Mathematics and Theory 2"),
            ("CS 1210", "Software Development Essentials"),
            ("MATH 3100", "Probability"),
            ("ENGR 1620", "CSS and the Web"),
            ("ENWR 1510", "Writing 21st Century Lives"),
        ] {
            section(
                &app,
                row_section(code, "001", title, "MoWe", "10:00", "10:50"),
                &[],
            );
        }

        let (status, html) = me.get(&app, "/classes/search?q=cs").await;
        assert_eq!(status, 200);
        assert_eq!(
            listed(&html),
            [
                "CS 1210 001",
                "CS 2100 001",
                "CS 2120 001",
                "CS 3120 001",
                "ENGR 1620 001",
            ],
            "every CS section before a title with a word starting \"cs\"; \
             \"Physics\" and \"Topics\" hold it only inside a word"
        );
        // One page of results says no page number.
        assert!(html.contains("5 sections."), "{html}");

        let (_, html) = me.get(&app, "/classes/search?q=cs21").await;
        assert_eq!(
            listed(&html),
            ["CS 2100 001", "CS 2120 001"],
            "cs21 is CS 21xx"
        );
        let (_, html) = me.get(&app, "/classes/search?q=discrete").await;
        assert_eq!(listed(&html), ["CS 2120 001", "CS 3120 001"]);

        // As people also write a course: hyphenated, or its number alone.
        let (_, html) = me.get(&app, "/classes/search?q=CS-2100").await;
        assert_eq!(listed(&html), ["CS 2100 001"]);
        let (_, html) = me.get(&app, "/classes/search?q=3100").await;
        assert_eq!(
            listed(&html),
            ["MATH 3100 001"],
            "a catalog number in any subject"
        );
        let (_, html) = me.get(&app, "/classes/search?q=21").await;
        assert_eq!(
            listed(&html),
            ["CS 2100 001", "CS 2120 001", "ENWR 1510 001"],
            "catalog numbers starting 21, and a title's word"
        );
    }
);

backend_test!(
    async fn a_class_number_finds_its_section(backend: Backend) {
        // Arrange: two sections of one course, each with its SIS class number.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        for (sec, number) in [("001", "16601"), ("002", "16602")] {
            section(
                &app,
                row_section("CS 2100", sec, "Data Structures", "MoWe", "10:00", "10:50")
                    .sis_class_number(number),
                &[],
            );
        }

        // Act: the number as SIS and the enrollment pages show it.
        let (status, html) = me.get(&app, "/classes/search?q=16602").await;

        // Assert: that section alone, its card showing the number (which
        // "Add several classes at once" takes).
        assert_eq!(status, 200);
        assert_eq!(listed(&html), ["CS 2100 002"]);
        assert!(
            html.contains(r#"<p class="meta">12 seats · Class number 16602</p>"#)
                || html.contains("· Class number 16602</p>"),
            "{html}"
        );
        let (_, html) = me.get(&app, "/classes/search?q=CS+2100").await;
        assert!(html.contains("Class number 16601"), "{html}");
    }
);

backend_test!(
    async fn lovelace_finds_her_sections(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        section(
            &app,
            row_section(
                "CS 2100",
                "001",
                "Data Structures",
                "MoWe",
                "10:00",
                "10:50",
            )
            .instructor("Ada Lovelace"),
            &[],
        );
        // Named only on a meeting: the section's row names someone else.
        section(
            &app,
            row_section("MATH 3100", "002", "Probability", "TuTh", "11:00", "12:15")
                .instructor("Charles Babbage"),
            &[("TuTh", "11:00", "12:15", Some("Ada LOVELACE"))],
        );
        section(
            &app,
            row_section("CS 3120", "001", "Lovely Proofs", "MoWe", "13:00", "13:50")
                .instructor("Alan Turing"),
            &[],
        );
        for q in ["Lovelace", "lovelace", "ada lovelace"] {
            let path = format!(
                "/classes/search?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            let (status, html) = me.get(&app, &path).await;
            assert_eq!(status, 200, "{q}");
            assert_eq!(listed(&html), ["CS 2100 001", "MATH 3100 002"], "{q}");
        }
        let (_, html) = me.get(&app, "/classes/search?q=babbage").await;
        assert_eq!(listed(&html), ["MATH 3100 002"]);

        // Letters beyond ASCII match in any case on both backends (SQLite's own
        // lower() would leave "Á" as it is).
        section(
            &app,
            row_section("SPAN 3010", "001", "Grammar", "Fr", "9:00", "9:50")
                .instructor("ÁNGELA ÖZDEMIR"),
            &[],
        );
        for q in ["ángela", "Ángela", "özdemir"] {
            let path = format!(
                "/classes/search?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            );
            let (status, html) = me.get(&app, &path).await;
            assert_eq!(status, 200, "{q}");
            assert_eq!(listed(&html), ["SPAN 3010 001"], "{q}");
        }
    }
);

backend_test!(
    async fn filters_narrow_results(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        // Row patterns, as the SIS sync writes them (its first meeting).
        section(
            &app,
            row_section("CS 1110", "001", "Intro", "MoWe", "09:00", "09:50"),
            &[],
        );
        section(
            &app,
            row_section("CS 2100", "001", "Data", "TuTh", "14:00", "15:15"),
            &[],
        );
        section(
            &app,
            row_section("CS 2120", "001", "Discrete", "MoWeFr", "18:00", "18:50"),
            &[],
        );
        section(
            &app,
            row_section("CS 3120", "001", "Theory", "TBA", "", ""),
            &[],
        );
        // Meetings only on `class_meetings` rows, one of them on a Saturday.
        section(
            &app,
            row_section("CS 3130", "001", "Systems", "Mo", "10:00", "10:50"),
            &[
                ("Mo", "10:00", "10:50", None),
                ("Sa", "10:00", "11:50", None),
            ],
        );
        section(
            &app,
            ClassBuilder::new("CS 4501", "1262")
                .title("Topics")
                .section("001")
                .seats_available(Some(3))
                .meets(None, None, None),
            &[
                ("We", "10.00.00.000000-05:00", "10.50.00.000000-05:00", None),
                ("Mo", "16.00.00.000000-05:00", "16.50.00.000000-05:00", None),
            ],
        );
        // Full.
        section(
            &app,
            row_section("CS 4750", "001", "Databases", "MoWe", "11:00", "11:50")
                .seats_available(Some(0)),
            &[],
        );
        section(
            &app,
            row_section("MATH 3100", "001", "Probability", "MoWe", "09:00", "09:50"),
            &[],
        );

        let cases: [(&str, &[&str]); 10] = [
            (
                "q=cs&open=1",
                &[
                    "CS 1110 001",
                    "CS 2100 001",
                    "CS 2120 001",
                    "CS 3120 001",
                    "CS 3130 001",
                    "CS 4501 001",
                ],
            ),
            (
                "q=cs&day=mon&day=wed",
                &["CS 1110 001", "CS 4501 001", "CS 4750 001"],
            ),
            (
                "q=cs&day=mon&day=wed&day=fri",
                &["CS 1110 001", "CS 2120 001", "CS 4501 001", "CS 4750 001"],
            ),
            (
                "q=cs&time=morning",
                &["CS 1110 001", "CS 3130 001", "CS 4750 001"],
            ),
            ("q=cs&time=afternoon", &["CS 2100 001"]),
            ("q=cs&time=evening", &["CS 2120 001"]),
            ("day=tue&day=thu", &["CS 2100 001"]),
            ("subject=MATH", &["MATH 3100 001"]),
            (
                "subject=cs&day=mon&day=wed&time=morning&open=1",
                &["CS 1110 001"],
            ),
            (
                "q=data&day=tue&day=thu&time=afternoon&open=1",
                &["CS 2100 001"],
            ),
        ];
        for (query, want) in cases {
            let (status, html) = me.get(&app, &format!("/classes/search?{query}")).await;
            assert_eq!(status, 200, "{query}");
            assert_eq!(listed(&html), want, "{query}");
            let count = format!("{} section", want.len());
            assert!(html.contains(&count), "{query}: the count matches the list");
        }
        // The form shows what was chosen.
        let (_, html) = me
            .get(
                &app,
                "/classes/search?q=cs&day=tue&time=evening&open=1&subject=CS",
            )
            .await;
        assert!(html.contains(r#"value="tue" checked"#), "{html}");
        assert!(html.contains(r#"value="evening" selected"#));
        assert!(html.contains(r#"name="open" value="1" checked"#));
        assert!(html.contains(r#"<option value="CS" selected>"#));

        for (query, words) in [
            ("q=cs&day=sunday", "Days are mon, tue, wed, thu or fri"),
            (
                "q=cs&day=%3Cscript%3E",
                "Days are mon, tue, wed, thu or fri",
            ),
            (
                "q=cs&time=noon",
                "Time of day is morning, afternoon or evening",
            ),
            ("q=cs&open=yes", "Open seats is a checkbox"),
            ("subject=C%24", "A subject is 2 to 8 letters"),
            ("subject=%27%3B--", "A subject is 2 to 8 letters"),
        ] {
            let (status, html) = me.get(&app, &format!("/classes/search?{query}")).await;
            assert_eq!(status, 400, "{query}");
            assert!(html.contains(words), "{query}: {html}");
            assert!(!html.contains("<script>"));
            // Read out where it shows, and tied to the filters it is about.
            assert!(html.contains(r#"id="q-error" role="alert""#), "{query}");
            assert!(
                html.contains(r#"<select id="time" name="time" aria-describedby="q-error">"#),
                "{query}"
            );
        }
    }
);

backend_test!(
    async fn paging_keeps_filters(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        for i in 0..30 {
            let code = format!("CS {}", 1000 + i);
            section(
                &app,
                row_section(&code, "001", "A class", "MoWe", "09:00", "09:50"),
                &[],
            );
        }
        // Left out by each filter in turn.
        section(
            &app,
            row_section("CS 5000", "001", "Full", "MoWe", "09:00", "09:50")
                .seats_available(Some(0)),
            &[],
        );
        section(
            &app,
            row_section("CS 5001", "001", "Friday", "MoWeFr", "09:00", "09:50"),
            &[],
        );
        section(
            &app,
            row_section("CS 5002", "001", "Late", "MoWe", "13:00", "13:50"),
            &[],
        );

        let first = "/classes/search?q=cs&day=mon&day=wed&time=morning&open=1";
        let (status, html) = me.get(&app, first).await;
        assert_eq!(status, 200);
        assert_eq!(listed(&html).len(), 25);
        assert!(html.contains("30 sections, page 1."), "{html}");
        let doc = scraper::Html::parse_document(&html);
        let next = scraper::Selector::parse("a[rel=next]").unwrap();
        let href = doc
            .select(&next)
            .next()
            .expect("a next page")
            .value()
            .attr("href")
            .unwrap()
            .to_string();
        for kept in [
            "day=mon",
            "day=wed",
            "time=morning",
            "open=1",
            "page=2",
            "q=cs",
        ] {
            assert!(href.contains(kept), "{href} keeps {kept}");
        }
        let (status, page2) = me.get(&app, &href).await;
        assert_eq!(status, 200);
        let rest = listed(&page2);
        assert_eq!(rest.len(), 5, "{rest:?}");
        assert!(rest.iter().all(|c| c.starts_with("CS 10")), "{rest:?}");
        assert!(page2.contains("30 sections, page 2."));
        // The join form returns to the same filtered page.
        assert!(page2.contains("open=1&amp;page=2") || page2.contains("open=1&#38;page=2"));

        // A page past the last (an old link) shows the last, with its pager.
        let (status, past) = me.get(&app, &href.replace("page=2", "page=7")).await;
        assert_eq!(status, 200);
        assert_eq!(listed(&past), rest);
        assert!(past.contains("30 sections, page 2."), "{past}");
        assert!(past.contains("rel=\"prev\""), "{past}");
    }
);

backend_test!(
    async fn friends_are_counted(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let ana = app.student("ana1a");
        let pending = app.student("pen1");
        let blocked = app.student("blk1");
        let hider = app.student("hid1");
        befriend(&app, &me.user.id, &ana.user.id, FriendshipStatus::Accepted);
        befriend(
            &app,
            &pending.user.id,
            &me.user.id,
            FriendshipStatus::Pending,
        );
        befriend(
            &app,
            &me.user.id,
            &blocked.user.id,
            FriendshipStatus::Blocked,
        );
        befriend(
            &app,
            &hider.user.id,
            &me.user.id,
            FriendshipStatus::Accepted,
        );
        hide_classes(&app, &hider);
        let class = section(
            &app,
            row_section("CS 2100", "001", "Data", "MoWe", "10:00", "10:50"),
            &[],
        );
        let lonely = section(
            &app,
            row_section("CS 2120", "001", "Discrete", "TuTh", "10:00", "10:50"),
            &[],
        );
        for who in [&ana, &pending, &blocked, &hider] {
            join(&app, who, &class);
        }
        join(&app, &pending, &lonely);

        let (status, html) = me.get(&app, "/classes/search?q=cs").await;
        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse(".class-card").unwrap();
        let cards: Vec<String> = doc.select(&sel).map(|c| c.text().collect()).collect();
        assert_eq!(cards.len(), 2);
        assert!(cards[0].contains("1 friend: ana1a"), "{}", cards[0]);
        for hidden in ["pen1", "blk1", "hid1", "2 friends"] {
            assert!(!html.contains(hidden), "{hidden} must not show");
        }
        assert!(!cards[1].contains("friend"), "{}", cards[1]);

        // A viewer who hides their classes sees no friends in results.
        hide_classes(&app, &me);
        let (_, html) = me.get(&app, "/classes/search?q=cs").await;
        assert_eq!(listed(&html).len(), 2);
        assert!(
            !html.contains("1 friend") && !html.contains("ana1a"),
            "{html}"
        );
    }
);

/// Statements one search page runs.
async fn queries_for(app: &TestApp, who: &Student, path: &str) -> u64 {
    let before = app.query_count();
    let (status, _) = who.get(app, path).await;
    assert_eq!(status, 200, "{path}");
    app.query_count() - before
}

backend_test!(
    async fn search_statements_are_fixed(backend: Backend) {
        let mut counts = Vec::new();
        for n in [1usize, 12] {
            let app = spawn_quiet_app(backend, &[]).await;
            let me = app.student("me1");
            let friends: Vec<Student> = (0..n).map(|i| app.student(&format!("fr{i}"))).collect();
            for f in &friends {
                befriend(&app, &me.user.id, &f.user.id, FriendshipStatus::Accepted);
            }
            for i in 0..n {
                let class = section(
                    &app,
                    row_section(
                        &format!("CS {}", 1000 + i),
                        "001",
                        "A class",
                        "MoWe",
                        "10:00",
                        "10:50",
                    ),
                    &[
                        ("MoWe", "10:00", "10:50", None),
                        ("Fr", "13:00", "13:50", None),
                    ],
                );
                join(&app, &me, &class);
                for f in &friends {
                    join(&app, f, &class);
                }
            }
            me.get(&app, "/").await;
            let mut per_path = Vec::new();
            for path in [
                "/classes/search?q=cs",
                "/classes/search?q=cs&day=mon&day=wed&day=fri&open=1",
                "/classes/search?subject=CS&time=morning",
            ] {
                per_path.push(queries_for(&app, &me, path).await);
            }
            let (_, html) = me.get(&app, "/classes/search?q=cs").await;
            assert_eq!(listed(&html).len(), n);
            let want = if n == 1 {
                "1 friend".to_string()
            } else {
                format!("{n} friends")
            };
            assert!(html.contains(&want), "{want}");
            eprintln!("{backend:?} n={n}: search ran {per_path:?} statements");
            counts.push(per_path);
        }
        assert_eq!(
            counts[0], counts[1],
            "statements must not grow with results or friends"
        );
    }
);

/// The text of each line of the add-by-number result.
fn added_lines(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(".added-line").unwrap();
    doc.select(&sel)
        .map(|l| l.text().collect::<String>().trim().to_string())
        .collect()
}

/// Sections for pasting: CS 2100 and CS 3120 meet at the same time.
fn numbered_sections(app: &TestApp) -> (Class, Class, Class) {
    let numbered = |code: &str, number: &str, days: &str, start: &str, end: &str| {
        section(
            app,
            row_section(code, "001", "A class", days, start, end).sis_class_number(number),
            &[],
        )
    };
    (
        numbered("CS 2100", "16601", "TuTh", "11:00", "12:15"),
        numbered("CS 2120", "16602", "MoWe", "09:00", "09:50"),
        numbered("CS 3120", "17003", "TuTh", "11:00", "12:15"),
    )
}

backend_test!(
    async fn pasted_numbers_report_each(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let (ds, discrete, theory) = numbered_sections(&app);
        // The same number in another term is not this term's.
        section(
            &app,
            ClassBuilder::new("CS 4501", "1258")
                .section("001")
                .sis_class_number("16609"),
            &[],
        );
        let page = "/classes/search?q=cs";
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[
                    ("term", "1262"),
                    ("numbers", "16601 16602, 17003, 99999\n16609 16601 x<b>"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let html = response.text().await.unwrap();
        assert_eq!(
            added_lines(&html),
            [
                "16601: joined CS 2100 (001)",
                "16602: joined CS 2120 (001)",
                "17003: CS 3120 (001) overlaps CS 2100 on Tue Thu 11:00 AM; not added",
                "99999: no such class number in Spring 2026",
                "16609: no such class number in Spring 2026",
                "x<b>: not a class number (class numbers are digits only, up to 9, usually five such as 16601); not tried",
            ]
        );
        assert!(html.contains("x&#60;b&#62;") && !html.contains("x<b>"));
        let mut conn = app.conn();
        assert!(classes::is_enrolled(&mut conn, &me.user.id, &ds.id).unwrap());
        assert!(classes::is_enrolled(&mut conn, &me.user.id, &discrete.id).unwrap());
        assert!(!classes::is_enrolled(&mut conn, &me.user.id, &theory.id).unwrap());
        drop(conn);

        // "Add anyway" confirms the clash through the enroll route.
        let doc = scraper::Html::parse_document(&html);
        let form = scraper::Selector::parse("form[action$='/enroll']").unwrap();
        let forms: Vec<_> = doc.select(&form).collect();
        assert_eq!(forms.len(), 1, "one Add anyway, for the clash");
        assert_eq!(
            forms[0].value().attr("action"),
            Some(format!("/classes/{}/enroll", theory.id).as_str())
        );
        let confirm = scraper::Selector::parse("input[name=confirm_clash][value='1']").unwrap();
        assert!(
            forms[0].select(&confirm).next().is_some(),
            "confirms the clash"
        );
        assert!(forms[0].text().collect::<String>().contains("Add anyway"));
        let (_, after) = me
            .post_and_follow(
                &app,
                page,
                &format!("/classes/{}/enroll", theory.id),
                &[
                    ("term", "1262"),
                    ("confirm_clash", "1"),
                    ("next", "/classes/search?term=1262"),
                ],
            )
            .await;
        assert!(after.contains("You joined CS 3120"), "{after}");
        assert!(classes::is_enrolled(&mut app.conn(), &me.user.id, &theory.id).unwrap());

        // Pasting again says each is already taken; a rule's refusal is in its words.
        section(
            &app,
            row_section("CS 2100", "002", "A class", "Fr", "15:00", "15:50")
                .sis_class_number("16605"),
            &[],
        );
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", "16601 16605")],
            )
            .await;
        let html = response.text().await.unwrap();
        assert_eq!(
            added_lines(&html),
            [
                "16601: you are already in CS 2100 (001)",
                "16605: You already take CS 2100 lecture section 001; leave it first to switch to 002.",
            ]
        );

        // More than twelve: the rest are not tried.
        let many: String = (20000..20014).map(|n| format!("{n} ")).collect();
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", &many)],
            )
            .await;
        let lines = added_lines(&response.text().await.unwrap());
        assert_eq!(lines.len(), 14);
        assert_eq!(
            lines[12],
            "20012: not tried; paste at most 12 class numbers at once"
        );

        // More than the box holds: refused in words before anything is read.
        let flood = "1 ".repeat(300);
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", &flood)],
            )
            .await;
        assert_eq!(response.status().as_u16(), 400);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("Paste at most 500 characters"));

        // Nothing pasted, a bad term, a forged token: refused in words, nothing joined.
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", " , ")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 400);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("Paste one or more class numbers"));
        let response = me
            .post(
                &app,
                page,
                "/classes/add-by-number",
                &[("term", "<x>"), ("numbers", "16602")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 400);
        let forged = me
            .client
            .post(app.url("/classes/add-by-number"))
            .form(&[
                ("csrf_token", "forged"),
                ("term", "1262"),
                ("numbers", "17003"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
    }
);

async fn fits_and_passes_axe(client: &fantoccini::Client, what: &str) {
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
        "{what}: scrolls sideways ({scroll} > {inner})"
    );
    if let Some(found) = browser::axe_findings(client).await {
        assert!(found.is_empty(), "{what}: {found:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_pass_axe_on_phone_and_desktop() {
    use fantoccini::Locator;
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    numbered_sections(&app);
    let me = app.student("me1");
    let ana = app.student("ana1a");
    befriend(&app, &me.user.id, &ana.user.id, FriendshipStatus::Accepted);
    let busy = section(
        &app,
        row_section(
            "CS 4750",
            "001",
            "Database Systems with a rather long title to wrap",
            "MoWe",
            "14:00",
            "15:15",
        )
        .instructor("Ada Lovelace"),
        &[],
    );
    join(&app, &ana, &busy);
    for (width, name) in [(375u32, "phone1"), (1280, "desk1")] {
        let who = app.student(name);
        befriend(&app, &who.user.id, &ana.user.id, FriendshipStatus::Accepted);
        let client = browser::open(&driver, &chromium, width, 900).await;
        browser::sign_in(&client, &app.address, &who.token).await;
        client
            .goto(&app.url("/classes/search?q=cs&day=mon&day=wed&open=1"))
            .await
            .unwrap();
        let text = client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("1 friend: ana1a"), "{text}");
        browser::screenshot(&client, &format!("class-search-{width}")).await;
        fits_and_passes_axe(&client, &format!("{width}px search")).await;

        client
            .find(Locator::Css("#numbers"))
            .await
            .unwrap()
            .send_keys("16601 16602, 17003, 99999")
            .await
            .unwrap();
        client
            .find(Locator::Css(".add-by-number button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Wait for the answer to the POST (reading `main` at once raced it:
        // the old page's element went stale under load).
        client
            .wait()
            .at_most(std::time::Duration::from_secs(10))
            .for_element(Locator::Css(".added-lines"))
            .await
            .expect("the add-by-number answer");
        let text = client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("17003: CS 3120 (001) overlaps CS 2100"),
            "{text}"
        );
        browser::screenshot(&client, &format!("add-by-number-{width}")).await;
        fits_and_passes_axe(&client, &format!("{width}px add by number")).await;
        client.close().await.unwrap();
    }
}

backend_test!(
    async fn suspended_pastes_nothing(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let (ds, _, _) = numbered_sections(&app);
        let until = clock::now() + chrono::Duration::days(3);
        diesel::update(users::table.find(&me.user.id))
            .set(users::suspended_until.eq(Some(until)))
            .execute(&mut app.conn())
            .unwrap();
        let response = me
            .post(
                &app,
                "/classes/search?q=cs",
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", "99999 16601")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 403);
        assert!(response.text().await.unwrap().contains("suspended"));
        assert!(!classes::is_enrolled(&mut app.conn(), &me.user.id, &ds.id).unwrap());
    }
);

backend_test!(
    async fn a_clash_with_another_section_joined_offers_no_add_anyway(backend: Backend) {
        // Arrange: a lecture, and two sections of another course's lecture,
        // the first at the same time as it.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let numbered = |code: &str, sec: &str, number: &str, days: &str, start: &str| {
            section(
                &app,
                row_section(code, sec, "A class", days, start, "09:50").sis_class_number(number),
                &[],
            )
        };
        numbered("APMA 1023", "001", "20001", "MoWe", "09:00");
        numbered("STAT 1068", "001", "20006", "MoWe", "09:00");
        let second = numbered("STAT 1068", "002", "20007", "TuTh", "09:00");

        // Act: all three pasted at once.
        let response = me
            .post(
                &app,
                "/classes/search?q=cs",
                "/classes/add-by-number",
                &[("term", "1262"), ("numbers", "20001 20006 20007")],
            )
            .await;

        // Assert: the clash says which section was joined instead, and
        // offers no "Add anyway" (one section of each course and kind).
        assert_eq!(response.status().as_u16(), 200);
        let html = response.text().await.unwrap();
        let lines = added_lines(&html);
        assert_eq!(lines[2], "20007: joined STAT 1068 (002)", "{lines:?}");
        assert!(
            lines[1].ends_with("not added (you joined STAT 1068 (002) from this list instead)"),
            "{lines:?}"
        );
        let doc = scraper::Html::parse_document(&html);
        let form = scraper::Selector::parse("form[action$='/enroll']").unwrap();
        assert_eq!(doc.select(&form).count(), 0, "{html}");
        assert!(classes::is_enrolled(&mut app.conn(), &me.user.id, &second.id).unwrap());
    }
);
