//! Issue 20: a friend's week beside yours on `/friends/{id}`, shown only for
//! an accepted friend while neither hides classes, with Remove and Block on
//! the page; and, in a real Chromium, that it and `/friends/free` pass
//! axe-core and fit a 375 px phone. Helpers here serve `friends_free` too.

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

/// A Spring 2026 section of `code` with its weekly meetings `(days, start, end)`.
pub fn section(app: &TestApp, code: &str, meetings: &[(&str, &str, &str)]) -> Class {
    let mut conn = app.conn();
    let number = uuid::Uuid::new_v4().simple().to_string();
    let class = ClassBuilder::new(code, "1262")
        .sis_class_number(&number[..9])
        .meets(None, None, None)
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
                location: Some("Rice Hall 130"),
                instructor: None,
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
    }
    class
}

/// Enrolls each student in the section.
pub fn take(app: &TestApp, class: &Class, who: &[&Student]) {
    for s in who {
        assert!(classes::enroll(&mut app.conn(), &s.user.id, &class.id, clock::now()).unwrap());
    }
}

/// A friendship row from `a` to `b` (`a` asked, or blocked).
pub fn befriend(app: &TestApp, a: &UserId, b: &UserId, status: FriendshipStatus) {
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

/// Sets a student's "hide my classes from friends".
pub fn hide_classes(app: &TestApp, who: &Student, hide: bool) {
    diesel::update(users::table.find(&who.user.id))
        .set(users::hide_classes.eq(hide))
        .execute(&mut app.conn())
        .unwrap();
}

/// The text of every element matching `selector`.
pub fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<Vec<_>>().join(" "))
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The page's main text, whitespace folded.
pub fn main_text(html: &str) -> String {
    texts(html, "main").join(" ")
}

/// One column ("mine" = 2, "theirs" = 3) of the week table, per day: the
/// course codes in it, each with " Shared" when marked.
fn column(html: &str, nth: usize) -> Vec<(String, Vec<String>)> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse(".week-pair tbody tr").unwrap();
    let day = scraper::Selector::parse("th").unwrap();
    let cell = scraper::Selector::parse(&format!("td:nth-child({nth}) .week-entry")).unwrap();
    let code = scraper::Selector::parse("a").unwrap();
    let shared = scraper::Selector::parse(".shared-badge").unwrap();
    doc.select(&rows)
        .map(|r| {
            let d = r.select(&day).next().unwrap().text().collect::<String>();
            let entries = r
                .select(&cell)
                .map(|e| {
                    let c = e.select(&code).next().unwrap().text().collect::<String>();
                    match e.select(&shared).next() {
                        Some(b) => format!("{c} {}", b.text().collect::<String>()),
                        None => c,
                    }
                })
                .collect();
            (d, entries)
        })
        .collect()
}

/// Me (me1) and an accepted friend (fr1): CS 2100 together Mon Wed, MATH 1310
/// mine Tue Thu, ARTH 1500 theirs Fri.
fn two_weeks(app: &TestApp) -> (Student, Student) {
    let me = app.student("me1");
    let friend = app.student("fr1");
    befriend(
        app,
        &me.user.id,
        &friend.user.id,
        FriendshipStatus::Accepted,
    );
    let cs = section(app, "CS 2100", &[("MoWe", "10:00", "10:50")]);
    let math = section(app, "MATH 1310", &[("TuTh", "9:30", "10:45")]);
    let art = section(app, "ARTH 1500", &[("Fr", "13:00", "14:15")]);
    take(app, &cs, &[&me, &friend]);
    take(app, &math, &[&me]);
    take(app, &art, &[&friend]);
    (me, friend)
}

backend_test!(
    async fn a_friends_week_shows_beside_mine(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let (me, _friend) = two_weeks(&app);

        let (status, page) = me.get(&app, "/friends/fr1?term=1262").await;
        assert_eq!(status, 200, "{page}");
        let days = |entries: Vec<(String, Vec<String>)>| -> Vec<String> {
            entries
                .into_iter()
                .map(|(d, e)| format!("{d}: {}", e.join(", ")))
                .collect()
        };
        assert_eq!(
            days(column(&page, 2)),
            [
                "Mon: CS 2100 Shared",
                "Tue: MATH 1310",
                "Wed: CS 2100 Shared",
                "Thu: MATH 1310",
                "Fri: "
            ],
            "my column"
        );
        assert_eq!(
            days(column(&page, 3)),
            [
                "Mon: CS 2100 Shared",
                "Tue: ",
                "Wed: CS 2100 Shared",
                "Thu: ",
                "Fri: ARTH 1500"
            ],
            "their column"
        );
        // Shared is styled as well as worded.
        assert_eq!(texts(&page, ".week-entry.shared").len(), 4);
        let mine_tue = texts(&page, ".week-pair tbody tr:nth-child(2) td:nth-child(2)");
        assert!(
            mine_tue[0].contains("9:30–10:45 AM") && mine_tue[0].contains("Rice Hall 130"),
            "times on a 12-hour clock and the place: {mine_tue:?}"
        );
        // The shared-classes list is still there.
        assert!(texts(&page, "#this-term + .class-list .class-title")[0].contains("CS 2100"));
        // Remove and Block, each asked again on its own page; and the way
        // to compare free time.
        assert_eq!(
            texts(&page, "a[href='/friends/fr1/remove']"),
            ["Remove fr1"]
        );
        assert_eq!(texts(&page, "a[href='/friends/fr1/block']"), ["Block fr1"]);
        // For the term shown.
        let doc = scraper::Html::parse_document(&page);
        let free: Vec<&str> = doc
            .select(&scraper::Selector::parse("a[href^='/friends/free?friend=fr1']").unwrap())
            .filter_map(|a| a.value().attr("href"))
            .collect();
        assert_eq!(free, ["/friends/free?friend=fr1&term=1262#results"]);

        // Remove from the page: the friend's week is gone with the friendship.
        let (status, after) = me
            .post_and_follow(
                &app,
                "/friends/fr1",
                "/friends/fr1/remove",
                &[("next", "/friends")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(main_text(&after).contains("Friends"));
        assert_eq!(me.get(&app, "/friends/fr1").await.0, 404);
    }
);

backend_test!(
    async fn the_page_lists_what_we_share_in_every_term(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let (me, friend) = two_weeks(&app);
        // Shared this term too, meeting twice a week.
        let sts = section(
            &app,
            "STS 1500",
            &[("Th", "14:00", "15:15"), ("Tu", "9:00", "9:50")],
        );
        take(&app, &sts, &[&me, &friend]);
        // Other terms: some taken together, some by one of us only.
        let other = |code: &str, term: &str, who: &[&Student]| {
            let class = ClassBuilder::new(code, term).insert(&mut app.conn());
            take(&app, &class, who);
        };
        other("APMA 2120", "1252", &[&me, &friend]);
        other("CS 1110", "1258", &[&me, &friend]);
        other("ENGR 1620", "1258", &[&me]);
        other("CS 3100", "1268", &[&me, &friend]);
        other("MATH 3100", "1268", &[&friend]);

        let (status, page) = me.get(&app, "/friends/fr1?term=1262").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            texts(&page, "#this-term + .class-list .class-title"),
            ["CS 2100 – 001 Lecture", "STS 1500 – 001 Lecture"],
            "this term's shared sections, by course code"
        );
        let sts_card = texts(&page, "#this-term + .class-list > li:nth-child(2)").join(" ");
        let (tue, thu) = (sts_card.find("9:00–9:50 AM"), sts_card.find("2:00–3:15 PM"));
        assert!(
            tue.is_some() && thu.is_some() && thu < tue,
            "both meetings, in their order: {sts_card}"
        );
        let others = texts(&page, "#other-terms + .rows li");
        let codes: Vec<&str> = others
            .iter()
            .map(|row| row.split(" – ").next().unwrap())
            .collect();
        assert_eq!(
            codes,
            ["CS 3100", "CS 1110", "APMA 2120"],
            "the other terms' shared sections, newest term first: {others:?}"
        );

        // Either of us hiding our classes: nothing shared is listed.
        hide_classes(&app, &friend, true);
        let (_, page) = me.get(&app, "/friends/fr1?term=1262").await;
        let text = main_text(&page);
        for code in ["STS 1500", "CS 3100", "CS 1110", "APMA 2120"] {
            assert!(!text.contains(code), "{code} while they hide: {text}");
        }
        hide_classes(&app, &friend, false);
        hide_classes(&app, &me, true);
        let (_, page) = me.get(&app, "/friends/fr1?term=1262").await;
        let text = main_text(&page);
        for code in ["STS 1500", "CS 3100", "CS 1110", "APMA 2120"] {
            assert!(!text.contains(code), "{code} while I hide: {text}");
        }
    }
);

backend_test!(
    async fn no_week_unless_accepted_and_shared(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let (me, friend) = two_weeks(&app);
        let theirs = ["ARTH 1500", "CS 2100"];
        let shows_none_of_theirs = |page: &str| {
            let text = main_text(page);
            theirs.iter().all(|code| !text.contains(code)) && texts(page, ".week-pair").is_empty()
        };

        // The friend hides their classes: a plain sentence, none of their codes.
        hide_classes(&app, &friend, true);
        let (status, page) = me.get(&app, "/friends/fr1?term=1262").await;
        assert_eq!(status, 200);
        assert!(main_text(&page).contains("fr1 keeps their classes private"));
        assert!(shows_none_of_theirs(&page), "{page}");

        // I hide mine: theirs are hidden from me too.
        hide_classes(&app, &friend, false);
        hide_classes(&app, &me, true);
        let (status, page) = me.get(&app, "/friends/fr1?term=1262").await;
        assert_eq!(status, 200);
        assert!(main_text(&page).contains("Your classes are hidden from friends"));
        assert!(shows_none_of_theirs(&page), "{page}");
        hide_classes(&app, &me, false);

        // Pending either way, blocked either way, a stranger, nobody: 404.
        let asked = app.student("pe1p");
        befriend(&app, &asked.user.id, &me.user.id, FriendshipStatus::Pending);
        let asking = app.student("pe2p");
        befriend(
            &app,
            &me.user.id,
            &asking.user.id,
            FriendshipStatus::Pending,
        );
        let blocker = app.student("bl1b");
        befriend(
            &app,
            &blocker.user.id,
            &me.user.id,
            FriendshipStatus::Blocked,
        );
        let blocked = app.student("bl2b");
        befriend(
            &app,
            &me.user.id,
            &blocked.user.id,
            FriendshipStatus::Blocked,
        );
        let stranger = app.student("st1s");
        let art = section(&app, "ARTH 2559", &[("Fr", "13:00", "14:15")]);
        take(
            &app,
            &art,
            &[&asked, &asking, &blocker, &blocked, &stranger],
        );
        // Each said the same way, with the way to the friends page: the
        // page tells nothing of which of them has an account or asked.
        let mut said = Vec::new();
        for who in ["pe1p", "pe2p", "bl1b", "bl2b", "st1s", "nobody9"] {
            let (status, page) = me.get(&app, &format!("/friends/{who}?term=1262")).await;
            assert_eq!(status, 404, "{who}: {page}");
            assert!(!main_text(&page).contains("ARTH 2559"), "{who}");
            assert!(
                main_text(&page).contains("you are not friends with this computing ID"),
                "{who}: {page}"
            );
            assert!(page.contains("href=\"/friends\""), "{who}");
            said.push(main_text(&page));
        }
        assert!(said.windows(2).all(|w| w[0] == w[1]), "{said:?}");

        // And the accepted friend who shares again shows.
        let (_, page) = me.get(&app, "/friends/fr1?term=1262").await;
        assert!(main_text(&page).contains("ARTH 1500"));
    }
);

/// Loads `path` in the browser and checks axe-core and sideways scrolling.
async fn check_page(client: &fantoccini::Client, app: &TestApp, path: &str, width: u32) {
    client.goto(&app.url(path)).await.unwrap();
    let (page, query) = path.split_once('?').unwrap_or((path, ""));
    let asked = if query.is_empty() { "" } else { "-results" };
    let name = format!("{}{asked}-{width}", page[1..].replace('/', "-"));
    let shot = browser::screenshot(client, &name).await;
    eprintln!("screenshot: {}", shot.display());
    let measured = client
        .execute(
            "return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth,\
                      title: document.querySelector('h1').innerText };",
            vec![],
        )
        .await
        .unwrap();
    let scroll = measured["scroll"].as_f64().unwrap();
    let inner = measured["inner"].as_f64().unwrap();
    assert!(
        scroll <= inner,
        "{path} at {width}px scrolls sideways ({scroll} > {inner})"
    );
    if let Some(findings) = browser::axe_findings(client).await {
        assert!(
            findings.is_empty(),
            "{path} at {width}px: axe-core: {findings:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friend_pages_pass_axe_and_fit_a_phone() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let (me, friend) = two_weeks(&app);
    let other = app.student("ot1o");
    befriend(
        &app,
        &me.user.id,
        &other.user.id,
        FriendshipStatus::Accepted,
    );
    let long = section(
        &app,
        "ENGR 1624",
        &[("MoWeFr", "13:00", "13:50"), ("Tu", "15:30", "16:45")],
    );
    take(&app, &long, &[&me, &friend, &other]);
    let private = app.student("pr1p");
    befriend(
        &app,
        &private.user.id,
        &me.user.id,
        FriendshipStatus::Accepted,
    );
    hide_classes(&app, &private, true);

    // Tall windows, so the screenshots show whole pages.
    for (width, height) in [(375u32, 2000u32), (1280, 1400)] {
        let client = browser::open(&driver, &chromium, width, height).await;
        browser::sign_in(&client, &app.address, &me.token).await;
        for path in [
            "/friends/fr1",
            "/friends/pr1p",
            "/friends/free",
            // A refused form (its screenshot is the next one's name: overwritten).
            "/friends/free?friend=fr1&from=Fri&to=Mon&start=18&end=8",
            "/friends/free?friend=fr1&friend=ot1o&friend=pr1p&from=Mon&to=Fri&start=8&end=18",
        ] {
            check_page(&client, &app, path, width).await;
        }
        client.close().await.unwrap();
    }
}
