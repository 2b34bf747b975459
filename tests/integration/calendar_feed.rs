//! The calendar feed (issue 20), read by an independent parser (Python's
//! `icalendar`, occurrences expanded with dateutil): one weekly event per
//! meeting at the right local times across the daylight-saving change, the
//! term's dates from SIS (or the `TERMS` setting), UIDs that survive a re-sync
//! from a real HTTP SIS server while a changed room shows up, the link's
//! lifecycle (replaced and revoked tokens get 404), nothing of a friend in it,
//! the download, and axe-core on the page.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::builders::ClassBuilder;
use common::sis_server::{self, SisServer};
use common::*;
use common_grounds::accounts::UserId;
use common_grounds::classes::{self, Class};
use common_grounds::clock;
use common_grounds::db::schema::{calendar_feeds, classes as classes_table, users};
use common_grounds::db::{self, DbConn};
use common_grounds::friends::{self, FriendshipId, FriendshipStatus, NewFriendship};
use common_grounds::sis::client::{ClientSettings, SisClient};
use common_grounds::sis::sync::{self, Quiet, SyncRequest};
use diesel::prelude::*;
use serde_json::{json, Value};

/// The feed as Python's icalendar reads it; None (with a line saying so) when
/// python3 or icalendar is missing outside CI. In CI that fails the test.
fn parse_ics(body: &str) -> Option<Value> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/calendar/read_ics.py");
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let available = Command::new("python3")
        .args(["-c", "import icalendar, dateutil"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !in_ci,
            "CI=true but python3 with icalendar is missing: pip install icalendar"
        );
        eprintln!("skipping the iCalendar checks: python3 with icalendar is not installed");
        return None;
    }
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "icalendar could not read the feed: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn section(
    nbr: u32,
    catalog: &str,
    component: &str,
    start_dt: &str,
    end_dt: &str,
    meetings: Value,
) -> Value {
    json!({
        "strm": "1262", "class_nbr": nbr, "subject": "CS", "catalog_nbr": catalog,
        "class_section": "001", "component": component, "descr": format!("Course {catalog}"),
        "start_dt": start_dt, "end_dt": end_dt,
        "instructors": [{"name": "Ada Lovelace", "email": "al9x@virginia.edu"}],
        "meetings": meetings,
    })
}

/// Term 1262 as SIS gives it: two regular-session sections (Jan 14 – Apr 28)
/// and a first-half one (Jan 14 – Mar 3) that must not set the term's dates.
fn term_sections(room: &str) -> Vec<Value> {
    vec![
        section(
            16601,
            "2100",
            "LEC",
            "01/14/2026",
            "04/28/2026",
            json!([{
                "days": "MoWeFr", "start_time": "10.00.00.000000-05:00", "end_time": "10.50.00.000000-05:00",
                "facility_descr": room, "instructor": "Ada Lovelace"
            }]),
        ),
        section(
            16602,
            "3120",
            "LEC",
            "01/14/2026",
            "04/28/2026",
            json!([
                {"days": "TuTh", "start_time": "11.00.00.000000-05:00", "end_time": "12.15.00.000000-05:00",
                 "facility_descr": "Olsson Hall 120", "instructor": "Grace Hopper"},
                {"days": "Fr", "start_time": "13.00.00.000000-05:00", "end_time": "13.50.00.000000-05:00",
                 "facility_descr": "Thornton Hall E316", "instructor": "Alan Turing"}
            ]),
        ),
        section(
            16603,
            "4501",
            "SEM",
            "01/14/2026",
            "03/03/2026",
            json!([{
                "days": "Mo", "start_time": "15.00.00.000000-05:00", "end_time": "16.15.00.000000-05:00",
                "facility_descr": "Rice Hall 340", "instructor": "Ada Lovelace"
            }]),
        ),
    ]
}

/// A full sync of term 1262 (every subject SIS lists).
async fn sync_term(app: &TestApp, server: &SisServer) {
    sync_subjects(app, server, &[]).await
}

/// A sync of term 1262 limited to `subjects` (all of them when empty).
async fn sync_subjects(app: &TestApp, server: &SisServer, subjects: &[&str]) {
    let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
    let settings = ClientSettings {
        base_url: server.base_url.parse().unwrap(),
        institution: "UVA01".into(),
        concurrency: 1,
        pause: Duration::ZERO,
        max_retries: 1,
        backoff: Duration::from_millis(2),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        user_agent: "common-grounds-test/1 (calendar tests)".into(),
    };
    let url = app.db.url.clone();
    let runtime = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        let mut conn = db::Manager::new(url).establish().unwrap();
        let client = SisClient::new(settings).unwrap();
        let request = SyncRequest::parse("1262", &subjects, false).unwrap();
        sync::run(&mut conn, &client, &runtime, &request, clock::now(), &Quiet)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(report.succeeded(), "{}", report.summary());
}

fn by_number(conn: &mut DbConn, number: &str) -> Class {
    classes_table::table
        .filter(classes_table::sis_class_number.eq(number))
        .select(Class::as_select())
        .first(conn)
        .unwrap()
}

fn befriend(app: &TestApp, a: &UserId, b: &UserId) {
    let now = clock::now();
    friends::insert(
        &mut app.conn(),
        &NewFriendship {
            id: &FriendshipId::new(),
            user_id_1: a,
            user_id_2: b,
            status: FriendshipStatus::Accepted.as_str(),
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap();
}

/// Makes (or replaces) the student's link; returns its token and the page.
async fn make_link(app: &TestApp, who: &Student) -> (String, String) {
    let response = who
        .post(app, "/account/calendar", "/account/calendar/link", &[])
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    let token = html
        .split("/calendar/")
        .filter_map(|rest| rest.split_once(".ics").map(|(t, _)| t))
        .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no link on the page:\n{html}"))
        .to_string();
    assert!(
        html.contains(&format!("webcal://cg.test/calendar/{token}.ics")),
        "{html}"
    );
    assert!(
        html.contains(&format!("http://cg.test/calendar/{token}.ics")),
        "{html}"
    );
    (token, html)
}

/// The feed as a calendar app fetches it: no cookies.
async fn fetch_feed(app: &TestApp, token: &str) -> (u16, Option<String>, Option<String>, String) {
    let response = common::client()
        .get(app.url(&format!("/calendar/{token}.ics")))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (kind, cache) = (header("content-type"), header("cache-control"));
    let status = response.status().as_u16();
    (status, kind, cache, response.text().await.unwrap())
}

fn event<'a>(parsed: &'a Value, summary: &str, byday: &[&str]) -> &'a Value {
    parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"] == summary && e["byday"] == json!(byday))
        .unwrap_or_else(|| panic!("no {summary} {byday:?} event in {parsed:#}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

backend_test!(
    async fn feed_follows_sis(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS"]);
        server.set_pages(
            "1262",
            "CS",
            sis_server::object_pages(&term_sections("Rice Hall 130"), 2),
        );
        sync_term(&app, &server).await;

        let me = app.student("ab1cd");
        let friend = app.student("ef2gh");
        diesel::update(users::table.find(&friend.user.id))
            .set(users::display_name.eq("Zelda Quartermain"))
            .execute(&mut app.conn())
            .unwrap();
        befriend(&app, &me.user.id, &friend.user.id);
        let (lecture, systems, seminar) = {
            let mut conn = app.conn();
            (
                by_number(&mut conn, "16601"),
                by_number(&mut conn, "16602"),
                by_number(&mut conn, "16603"),
            )
        };
        for class in [&lecture, &systems, &seminar] {
            classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
        }
        // The friend shares the lecture: nothing of theirs may reach my feed.
        classes::enroll(&mut app.conn(), &friend.user.id, &lecture.id, clock::now()).unwrap();

        let (token, _) = make_link(&app, &me).await;
        let (status, kind, cache, body) = fetch_feed(&app, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(kind.as_deref(), Some("text/calendar; charset=utf-8"));
        let cache = cache.unwrap_or_default();
        assert!(cache.starts_with("private, max-age="), "{cache}");
        for secret in [
            "ef2gh",
            "Zelda",
            "Quartermain",
            friend.user.id.as_str(),
            &friend.user.email,
        ] {
            assert!(
                !body.contains(secret),
                "the feed names the friend ({secret}):\n{body}"
            );
        }
        assert!(
            !body.contains(me.user.id.as_str()),
            "the feed carries the student's id"
        );

        let Some(parsed) = parse_ics(&body) else {
            return;
        };
        // One recurring event per meeting: the lecture's one, the systems course's two,
        // the seminar's one.
        let events = parsed["events"].as_array().unwrap();
        assert_eq!(events.len(), 4, "{parsed:#}");
        assert!(
            events.iter().all(|e| e["freq"] == json!(["WEEKLY"])),
            "{parsed:#}"
        );

        let lec = event(&parsed, "CS 2100 Lecture", &["MO", "WE", "FR"]);
        assert_eq!(lec["tzid"], "America/New_York");
        assert_eq!(lec["location"], "Rice Hall 130");
        let about = lec["description"].as_str().unwrap();
        assert!(
            about.contains("Course 2100") && about.contains("Ada Lovelace"),
            "{about}"
        );
        // The term's dates: SIS's regular session, Wed Jan 14 to Tue Apr 28.
        assert_eq!(lec["dtstart"], "2026-01-14T10:00:00-05:00");
        assert_eq!(lec["dtend"], "2026-01-14T10:50:00-05:00");
        assert_eq!(lec["until"], json!(["2026-04-29T03:59:59+00:00"]));
        let local = strings(&lec["local"]);
        let utc = strings(&lec["utc"]);
        assert_eq!(local.first().unwrap(), "2026-01-14T10:00:00-05:00");
        assert_eq!(local.last().unwrap(), "2026-04-27T10:00:00-04:00");
        // 10:00 on campus every time, before and after the clocks change on
        // March 8; in UTC that is 15:00 in February and 14:00 in April.
        assert!(local.iter().all(|o| o.contains("T10:00:00")), "{local:?}");
        let on = |day: &str| {
            let i = local
                .iter()
                .position(|o| o.starts_with(day))
                .unwrap_or_else(|| panic!("no class on {day}"));
            (local[i].clone(), utc[i].clone())
        };
        assert_eq!(
            on("2026-02-16"),
            (
                "2026-02-16T10:00:00-05:00".into(),
                "2026-02-16T15:00:00+00:00".into()
            )
        );
        assert_eq!(
            on("2026-04-13"),
            (
                "2026-04-13T10:00:00-04:00".into(),
                "2026-04-13T14:00:00+00:00".into()
            )
        );
        assert!(!local.iter().any(|o| o.starts_with("2026-04-29")));

        let tuth = event(&parsed, "CS 3120 Lecture", &["TU", "TH"]);
        assert_eq!(
            tuth["dtstart"], "2026-01-15T11:00:00-05:00",
            "first Tue/Thu on or after Jan 14"
        );
        assert_eq!(tuth["location"], "Olsson Hall 120");
        assert!(tuth["description"]
            .as_str()
            .unwrap()
            .contains("Grace Hopper"));
        let friday = event(&parsed, "CS 3120 Lecture", &["FR"]);
        assert_eq!(friday["dtstart"], "2026-01-16T13:00:00-05:00");
        assert!(friday["description"]
            .as_str()
            .unwrap()
            .contains("Alan Turing"));
        // The seminar runs in the first half only (its section's dates; its
        // meeting gives none of its own): it ends then, though the term's
        // dates stay the regular session's.
        let sem = event(&parsed, "CS 4501 Seminar", &["MO"]);
        let mondays = strings(&sem["local"]);
        assert_eq!(mondays.first().unwrap(), "2026-01-19T15:00:00-05:00");
        assert_eq!(mondays.last().unwrap(), "2026-03-02T15:00:00-05:00");
        assert_eq!(mondays.len(), 7, "{mondays:?}");

        // The campus zone's own VTIMEZONE, with the March change in it.
        let zones = parsed["zones"].as_array().unwrap();
        assert_eq!(zones.len(), 1);
        assert_eq!(zones[0]["tzid"], "America/New_York");
        let observances = zones[0]["observances"].as_array().unwrap();
        assert!(
            observances.iter().any(|o| o["kind"] == "DAYLIGHT"
                && o["from"] == "-0500"
                && o["to"] == "-0400"
                && o["dtstart"]
                    .as_str()
                    .unwrap()
                    .starts_with("2026-03-08T02:00")),
            "{observances:?}"
        );

        // SIS moves the lecture; a second sync: same UIDs, the new room, a newer stamp.
        let uids = |p: &Value| {
            let mut all: Vec<String> = p["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["uid"].as_str().unwrap().to_string())
                .collect();
            all.sort();
            all
        };
        let before = uids(&parsed);
        assert_eq!(
            before
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            4,
            "UIDs are unique"
        );
        server.set_pages(
            "1262",
            "CS",
            sis_server::object_pages(&term_sections("Olsson Hall 009"), 2),
        );
        // Stamps are to the second, as iCalendar writes them; syncs are hours apart.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        sync_term(&app, &server).await;
        let (status, _, _, body) = fetch_feed(&app, &token).await;
        assert_eq!(status, 200);
        let again = parse_ics(&body).unwrap();
        assert_eq!(uids(&again), before, "a re-sync keeps every UID");
        let moved = event(&again, "CS 2100 Lecture", &["MO", "WE", "FR"]);
        assert_eq!(moved["location"], "Olsson Hall 009");
        assert!(
            moved["last_modified"].as_str() > lec["last_modified"].as_str(),
            "{moved} vs {lec}"
        );
        let kept = event(&again, "CS 3120 Lecture", &["TU", "TH"]);
        assert_eq!(
            kept["last_modified"], tuth["last_modified"],
            "an unchanged section keeps its stamp"
        );
    }
);

backend_test!(
    async fn feed_link_lifecycle(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("TERMS", "1262:2026-01-14..2026-04-28")]).await;
        let me = app.student("ab1cd");
        let class = ClassBuilder::new("CS 2100", "1262").insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();

        let (_, page) = me.get(&app, "/account/calendar").await;
        assert!(page.contains("Create my calendar link"), "{page}");
        assert!(!page.contains("Not in the calendar"), "{page}");
        // A section SIS gives no days and times for is counted, and named as
        // not in the feed (it has no event there).
        let untimed = ClassBuilder::new("CS 4993", "1262")
            .section("002")
            .meets(None, None, None)
            .insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &untimed.id, clock::now()).unwrap();
        let (_, page) = me.get(&app, "/account/calendar").await;
        assert!(
            page.contains("2 sections")
                && page.contains(
                    "Not in the calendar, as SIS gives no days and times for it yet: CS 4993 002."
                ),
            "{page}"
        );
        let (_, account) = me.get(&app, "/account").await;
        assert!(
            account.contains("href=\"/account/calendar\""),
            "the account page links to Calendar"
        );

        let (first, _) = make_link(&app, &me).await;
        assert_eq!(fetch_feed(&app, &first).await.0, 200);
        // HEAD answers as GET does, without a body (some calendar apps ask first).
        let head = common::client()
            .head(app.url(&format!("/calendar/{first}.ics")))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(
            head.headers().get("content-type").unwrap(),
            "text/calendar; charset=utf-8"
        );
        assert!(head.text().await.unwrap().is_empty());
        // Shown once: the page afterwards cannot show it again, and says so.
        let (_, later) = me.get(&app, "/account/calendar").await;
        assert!(!later.contains(&first), "the token is shown again");
        assert!(
            later.contains("Replace link") && later.contains("Turn off link"),
            "{later}"
        );
        assert!(later.contains("cannot be shown again"), "{later}");
        let stored: String = calendar_feeds::table
            .find(&me.user.id)
            .select(calendar_feeds::token_hash)
            .first(&mut app.conn())
            .unwrap();
        assert_ne!(stored, first, "the token itself is not stored");

        // The export says a feed exists, never its hash.
        let (_, export) = me.get(&app, "/account/export").await;
        let export: Value = serde_json::from_str(&export).unwrap();
        assert!(
            export["calendar_feed"]["created_at"].is_string(),
            "{export:#}"
        );
        assert!(!export.to_string().contains(&stored));

        let (second, _) = make_link(&app, &me).await;
        assert_ne!(first, second);
        assert_eq!(
            fetch_feed(&app, &first).await.0,
            404,
            "a replaced link is dead"
        );
        assert_eq!(fetch_feed(&app, &second).await.0, 200);

        let response = me
            .post(&app, "/account/calendar", "/account/calendar/off", &[])
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(
            fetch_feed(&app, &second).await.0,
            404,
            "a turned-off link is dead"
        );
        let (_, page) = me.get(&app, "/account/calendar").await;
        assert!(page.contains("Create my calendar link"), "{page}");

        // Not a token at all: 404, never a 500.
        for path in [
            "/calendar/nothing.ics",
            &format!("/calendar/{second}"),
            "/calendar/%00.ics",
        ] {
            let status = common::client()
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status.as_u16(), 404, "{path}");
        }

        // Erasure takes the feed with the account.
        make_link(&app, &me).await;
        let response = me
            .post(&app, "/account", "/account/delete", &[("confirm", "ab1cd")])
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let left: i64 = calendar_feeds::table
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(left, 0);
    }
);

backend_test!(
    async fn subject_sync_keeps_dates(backend: Backend) {
        // A full sync sets the term's dates; a later run of one subject whose
        // sections are all half-term must not cut them short.
        let app = spawn_quiet_app(backend, &[]).await;
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS", "MATH"]);
        server.set_pages(
            "1262",
            "CS",
            sis_server::object_pages(&term_sections("Rice Hall 130"), 2),
        );
        let mut calculus = term_sections("Kerchof Hall 317").remove(0);
        calculus["subject"] = json!("MATH");
        calculus["class_nbr"] = json!(17001);
        server.set_pages("1262", "MATH", sis_server::object_pages(&[calculus], 1));
        sync_term(&app, &server).await;
        let span = |app: &TestApp| {
            let spans = classes::term_dates::from_sis(&mut app.conn()).unwrap();
            spans
                .get("1262")
                .map(|s| (s.first_day.to_string(), s.last_day.to_string()))
        };
        let full = Some(("2026-01-14".to_string(), "2026-04-28".to_string()));
        assert_eq!(span(&app), full);

        let half_term: Vec<Value> = term_sections("Rice Hall 130")
            .into_iter()
            .filter(|s| s["end_dt"] == "03/03/2026")
            .collect();
        server.set_pages("1262", "CS", sis_server::object_pages(&half_term, 1));
        sync_subjects(&app, &server, &["CS"]).await;
        assert_eq!(span(&app), full, "a one-subject run left the dates alone");
    }
);

backend_test!(
    async fn download_needs_session(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("TERMS", "1262:2026-01-14..2026-04-28")]).await;
        let me = app.student("ab1cd");
        let class = ClassBuilder::new("CS 2100", "1262").insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();

        let anonymous = common::client()
            .get(app.url("/account/calendar.ics"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status().as_u16(),
            303,
            "signed out: off to sign in"
        );
        assert!(anonymous.headers().get("content-disposition").is_none());

        let response = me
            .client
            .get(app.url("/account/calendar.ics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let disposition = response
            .headers()
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        let kind = response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(kind, "text/calendar; charset=utf-8");
        let body = response.text().await.unwrap();
        let Some(parsed) = parse_ics(&body) else {
            return;
        };
        assert_eq!(parsed["events"].as_array().unwrap().len(), 1, "{parsed:#}");
    }
);

backend_test!(
    async fn terms_setting_fills_in(backend: Backend) {
        // No SIS dates and no TERMS: the page says which term lacks dates and the
        // feed holds no event rather than a guess.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("ab1cd");
        let class = ClassBuilder::new("CS 2100", "1262")
            .meets("TuTh", "09:30", "10:45")
            .insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
        let (_, page) = me.get(&app, "/account/calendar").await;
        assert!(
            page.contains("No first and last day of classes are known for Spring 2026"),
            "{page}"
        );
        let (token, _) = make_link(&app, &me).await;
        let (status, _, _, body) = fetch_feed(&app, &token).await;
        assert_eq!(status, 200);
        if let Some(parsed) = parse_ics(&body) {
            assert!(
                parsed["events"].as_array().unwrap().is_empty(),
                "{parsed:#}"
            );
            assert!(
                parsed["description"]
                    .as_str()
                    .unwrap()
                    .contains("Spring 2026 has no first and last day"),
                "{parsed:#}"
            );
        }

        // The same data with TERMS set: the term's dates come from the setting.
        let db = app.stop().await;
        let app = spawn_app_opts(
            db,
            TestMail::Memory,
            &[("TERMS", "1262:2026-01-20..2026-05-01")],
            false,
        )
        .await;
        let (_, page) = me.get(&app, "/account/calendar").await;
        assert!(
            page.contains("Classes Jan 20, 2026 – May 1, 2026"),
            "{page}"
        );
        let (status, _, _, body) = fetch_feed(&app, &token).await;
        assert_eq!(status, 200);
        let Some(parsed) = parse_ics(&body) else {
            return;
        };
        let tuth = event(&parsed, "CS 2100 Lecture", &["TU", "TH"]);
        assert_eq!(tuth["dtstart"], "2026-01-20T09:30:00-05:00");
        assert_eq!(tuth["until"], json!(["2026-05-02T03:59:59+00:00"]));
        assert_eq!(
            strings(&tuth["local"]).last().unwrap(),
            "2026-04-30T09:30:00-04:00"
        );
    }
);

backend_test!(
    async fn term_breaks_leave_out_their_classes(backend: Backend) {
        // Arrange: Spring 2026 with its spring break (Mar 7-15) set, and a
        // Mon Wed Fri class.
        let app = spawn_quiet_app(
            backend,
            &[
                ("TERMS", "1262:2026-01-14..2026-04-28"),
                ("TERM_BREAKS", "1262:2026-03-07..2026-03-15"),
            ],
        )
        .await;
        let me = app.student("ab1cd");
        let class = ClassBuilder::new("CS 2100", "1262")
            .meets("MoWeFr", "10:00", "10:50")
            .insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
        let (token, _) = make_link(&app, &me).await;

        // Act
        let (status, _, _, body) = fetch_feed(&app, &token).await;

        // Assert: the three classes of the break week are excepted, at
        // campus time; the weeks around it keep theirs.
        assert_eq!(status, 200);
        assert!(
            body.replace("\r\n ", "").contains(
                "EXDATE;TZID=America/New_York:20260309T100000,20260311T100000,20260313T100000\r\n"
            ),
            "{body}"
        );
        // Folded at 75 octets a line, as RFC 5545 asks (the EXDATE list is
        // longer than one line).
        for line in body.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        let Some(parsed) = parse_ics(&body) else {
            return;
        };
        let mwf = event(&parsed, "CS 2100 Lecture", &["MO", "WE", "FR"]);
        let local = strings(&mwf["local"]);
        for skipped in ["2026-03-09", "2026-03-11", "2026-03-13"] {
            assert!(
                !local.iter().any(|o| o.starts_with(skipped)),
                "{skipped} is a break day: {local:?}"
            );
        }
        for kept in ["2026-03-06T10:00:00-05:00", "2026-03-16T10:00:00-04:00"] {
            assert!(local.contains(&kept.to_string()), "{kept}: {local:?}");
        }
        // 15 weeks and a day of Mon Wed Fri from Wed Jan 14 to Tue Apr 28, less three.
        assert_eq!(local.len(), 45 - 3, "{local:?}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_page_passes_axe() {
    let Some((driver, chromium)) = common::browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[("TERMS", "1262:2026-01-14..2026-04-28")]).await;
    let me = app.student("ab1cd");
    let class = ClassBuilder::new("CS 2100", "1262").insert(&mut app.conn());
    classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = common::browser::open(&driver, &chromium, width, height).await;
        common::browser::sign_in(&client, &app.address, &me.token).await;
        client.goto(&app.url("/account/calendar")).await.unwrap();
        // The page as it shows a fresh link (the longest state).
        client
            .find(fantoccini::Locator::Css(
                "form[action='/account/calendar/link'] button",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Wait for the answer to the POST (reading the page at once raced it).
        client
            .wait()
            .at_most(std::time::Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css("a[href^='webcal://']"))
            .await
            .expect("the page with the new link");
        let shown = client.source().await.unwrap();
        assert!(
            shown.contains("webcal://"),
            "the link is shown after creating it"
        );
        let shot = common::browser::screenshot(&client, &format!("calendar-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        let scroll = client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            scroll[0].as_f64() <= scroll[1].as_f64(),
            "{width}px scrolls sideways: {scroll}"
        );
        if let Some(found) = common::browser::axe_findings(&client).await {
            assert!(found.is_empty(), "{width}px: {found:?}");
        }
        client.close().await.unwrap();
    }
}

backend_test!(
    async fn a_meeting_that_ends_at_midnight_is_on_the_week_and_in_the_feed(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let server = SisServer::start().await;
        server.set_subjects("1262", &["CS"]);
        // SIS has no 24:00: a meeting that runs to midnight ends at 00.00.
        let late = section(
            16609,
            "4970",
            "LAB",
            "01/14/2026",
            "04/28/2026",
            json!([{
                "days": "Th", "start_time": "22.00.00.000000-05:00", "end_time": "00.00.00.000000-05:00",
                "facility_descr": "Rice Hall 011", "instructor": "Ada Lovelace"
            }]),
        );
        server.set_pages("1262", "CS", sis_server::object_pages(&[late], 1));
        sync_term(&app, &server).await;
        let me = app.student("ab1cd");
        let lab = by_number(&mut app.conn(), "16609");
        classes::enroll(&mut app.conn(), &me.user.id, &lab.id, clock::now()).unwrap();

        let (status, week) = me.get(&app, "/schedule?term=1262").await;
        assert_eq!(status, 200, "{week}");
        assert!(
            week.contains("10:00 PM\u{2013}midnight"),
            "on the timetable, to midnight: {week}"
        );

        let (token, _) = make_link(&app, &me).await;
        let (status, _, _, body) = fetch_feed(&app, &token).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("DTEND;TZID=America/New_York:20260116T000000"),
            "it ends as Friday begins: {body}"
        );
        let Some(parsed) = parse_ics(&body) else {
            return;
        };
        let lab = event(&parsed, "CS 4970 Lab", &["TH"]);
        assert_eq!(lab["dtstart"], "2026-01-15T22:00:00-05:00");
        assert_eq!(lab["dtend"], "2026-01-16T00:00:00-05:00");
    }
);

backend_test!(
    async fn next_terms_classes_are_in_the_feed_past_an_empty_summer(backend: Backend) {
        // Arrange: Spring is current; Summer and Fall are in the catalog; the
        // student takes a Spring class and a Fall one, nothing in Summer.
        let app = spawn_quiet_app(
            backend,
            &[
                ("CURRENT_TERM", "1262"),
                (
                    "TERMS",
                    "1262:2026-01-14..2026-04-28,1266:2026-05-18..2026-08-07,1268:2026-08-25..2026-12-08",
                ),
            ],
        )
        .await;
        let me = app.student("ab1cd");
        let spring = ClassBuilder::new("CS 2100", "1262")
            .meets("TuTh", "09:30", "10:45")
            .insert(&mut app.conn());
        ClassBuilder::new("CS 2110", "1266")
            .meets("MoWe", "13:00", "14:15")
            .insert(&mut app.conn());
        let fall = ClassBuilder::new("CS 3100", "1268")
            .meets("MoWe", "11:00", "12:15")
            .insert(&mut app.conn());
        for class in [&spring, &fall] {
            classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();
        }

        // Act
        let (token, _) = make_link(&app, &me).await;
        let (status, _, _, body) = fetch_feed(&app, &token).await;

        // Assert: Spring and Fall, not an empty Summer in Fall's place.
        assert_eq!(status, 200);
        assert!(body.contains("CS 2100"), "{body}");
        assert!(
            body.contains("CS 3100"),
            "Fall's class is in the feed: {body}"
        );
        assert!(!body.contains("CS 2110"), "{body}");
    }
);
