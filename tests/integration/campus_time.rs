//! Campus time on the pages: times shown in `CAMPUS_TIME_ZONE` (America/New_York
//! by default) on a 12-hour clock inside `<time datetime>`, across daylight
//! saving, and a zone that is not one refused at start.

use chrono::NaiveDateTime;
use common::builders::{ClassBuilder, MessageBuilder};
use common_grounds::accounts::Role;
use common_grounds::classes::{self, Class, MeetingId, NewClassMeeting};
use common_grounds::sis::{insert_run, NewSyncRun, SyncRunId};

use crate::common;
use common::*;

fn utc(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

/// A class with one message the night before the spring change
/// (2026-03-08 06:30 UTC, 1:30 AM EST) and one the night after
/// (2026-03-09 06:30 UTC, 2:30 AM EDT), and an enrolled student.
fn class_across_the_spring_change(app: &TestApp) -> (Student, Class) {
    let student = app.student("tz1a");
    let class = new_class(app, "CS 2100", &[&student]);
    let mut conn = app.conn();
    for (at, text) in [
        ("2026-03-08 06:30", "before the clocks moved"),
        ("2026-03-09 06:30", "after the clocks moved"),
    ] {
        MessageBuilder::new(&class.id, &student.user.id, "Quiet Otter", text)
            .created_at(utc(at))
            .insert(&mut conn);
    }
    (student, class)
}

/// What a person reads on the page (`<time>` labels and their titles), in one string.
fn times_on(html: &str) -> Vec<(String, String, String)> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("time[datetime]").unwrap();
    doc.select(&sel)
        .map(|t| {
            (
                t.value().attr("datetime").unwrap_or_default().to_string(),
                t.value().attr("title").unwrap_or_default().to_string(),
                t.text().collect(),
            )
        })
        .collect()
}

backend_test!(
    async fn the_class_chat_shows_campus_time_across_daylight_saving(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let (student, class) = class_across_the_spring_change(&app);

        let (status, page) = student.get(&app, &format!("/classes/{}", class.id)).await;

        assert_eq!(status, 200);
        assert!(page.contains("1:30 AM"), "EST before the change");
        assert!(page.contains("2:30 AM"), "EDT after the change");
        assert!(page.contains(r#"datetime="2026-03-08T06:30:00Z""#));
        assert!(page.contains(r#"datetime="2026-03-09T06:30:00Z""#));
    }
);

backend_test!(
    async fn another_campus_time_zone_shifts_the_chat_times(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("CAMPUS_TIME_ZONE", "America/Los_Angeles")]).await;
        let (student, class) = class_across_the_spring_change(&app);

        let (status, page) = student.get(&app, &format!("/classes/{}", class.id)).await;

        assert_eq!(status, 200);
        // 06:30 UTC is 10:30 PM PST on Mar 7, and 11:30 PM PDT on Mar 8.
        assert!(
            page.contains("10:30 PM") && page.contains("11:30 PM"),
            "{page}"
        );
        assert!(!page.contains("1:30 AM") && !page.contains("2:30 AM"));
        assert!(page.contains(r#"datetime="2026-03-08T06:30:00Z""#));
    }
);

backend_test!(
    async fn another_campus_time_zone_shifts_the_account_and_admin_pages(backend: Backend) {
        let app = spawn_quiet_app(backend, &[("CAMPUS_TIME_ZONE", "America/Los_Angeles")]).await;
        let admin = staff(&app, "tzad1", Role::Admin);
        insert_run(
            &mut app.conn(),
            &NewSyncRun {
                id: &SyncRunId::new(),
                term: "1262",
                subjects: "",
                status: "running",
                // 1:30 AM EST in New York; 10:30 PM PST the evening before here.
                started_at: utc("2026-03-08 06:30"),
            },
        )
        .unwrap();

        let (_, sis) = admin.get(&app, "/admin/sis").await;
        let (_, sessions) = admin.get(&app, "/account/sessions").await;

        let started = times_on(&sis);
        assert!(
            started
                .iter()
                .any(|(iso, title, _)| iso == "2026-03-08T06:30:00Z"
                    && title == "Mar 7, 2026, 10:30 PM PST"),
            "{started:?}"
        );
        let zone_now = times_on(&sessions);
        assert!(
            !zone_now.is_empty()
                && zone_now
                    .iter()
                    .all(|(_, title, _)| title.ends_with(" PST") || title.ends_with(" PDT")),
            "{zone_now:?}"
        );
    }
);

backend_test!(
    async fn account_and_admin_pages_show_campus_time_on_a_twelve_hour_clock(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let admin = staff(&app, "tzad2", Role::Admin);
        let (student, class) = class_across_the_spring_change(&app);
        let reporter = app.student("tzrp2");
        {
            let mut conn = app.conn();
            let message =
                MessageBuilder::new(&class.id, &student.user.id, "Quiet Otter", "report me")
                    .created_at(utc("2026-03-09 17:05"))
                    .insert(&mut conn);
            seed::flag(
                &mut conn,
                &reporter.user,
                &message,
                "off topic for this class",
            );
            insert_run(
                &mut conn,
                &NewSyncRun {
                    id: &SyncRunId::new(),
                    term: "1262",
                    subjects: "",
                    status: "running",
                    started_at: utc("2026-03-08 06:30"),
                },
            )
            .unwrap();
        }
        // A suspension to a campus date writes the audit log and its page.
        let suspended = admin
            .post(
                &app,
                "/admin/users?q=tz1a",
                "/admin/users/tz1a/suspend",
                &[
                    ("until", "2099-03-08"),
                    ("reason", "repeated spam in the class chat"),
                ],
            )
            .await;
        assert_eq!(suspended.status(), 303);

        // The form says how its date is read; the end shown is campus midnight.
        let (_, form) = admin.get(&app, "/admin/users?q=tzrp2").await;
        assert!(form.contains("A campus date (America/New_York)"), "{form}");
        let (_, users) = admin.get(&app, "/admin/users?q=tz1a").await;
        assert!(
            users.contains(r#"datetime="2099-03-08T05:00:00Z""#),
            "{users}"
        );
        assert!(users.contains("Mar 8, 2099, 12:00 AM"), "{users}");

        for path in [
            "/account/sessions",
            "/admin/audit",
            "/admin/sis",
            "/admin/flags",
            "/admin",
            "/admin/users?q=tz1a",
        ] {
            let (status, page) = admin.get(&app, path).await;
            assert_eq!(status, 200, "{path}");
            assert!(!page.contains("UTC"), "{path} shows UTC: {page}");
            assert!(
                page.contains(" AM") || page.contains(" PM"),
                "{path}: {page}"
            );
            let times = times_on(&page);
            assert!(!times.is_empty(), "{path} has no <time datetime>: {page}");
            for (iso, title, label) in &times {
                assert!(iso.ends_with('Z') && iso.len() == 20, "{path}: {iso}");
                assert!(
                    title.ends_with(" EST") || title.ends_with(" EDT"),
                    "{path}: {title}"
                );
                assert!(!label.is_empty(), "{path}");
            }
        }

        let (_, audit) = admin.get(&app, "/admin/audit").await;
        assert!(audit.contains("until Mar 8, 2099, 12:00 AM EST"), "{audit}");
        let (_, flags) = admin.get(&app, "/admin/flags").await;
        assert!(
            times_on(&flags)
                .iter()
                .any(|(iso, title, _)| iso == "2026-03-09T17:05:00Z"
                    && title == "Mar 9, 2026, 1:05 PM EDT"),
            "{flags}"
        );
        let (_, sis) = admin.get(&app, "/admin/sis").await;
        assert!(sis.contains("Mar 8, 2026, 1:30 AM EST"), "{sis}");
    }
);

backend_test!(
    async fn the_schedule_shows_meetings_on_a_twelve_hour_clock(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let student = app.student("tzsc1");
        {
            let mut conn = app.conn();
            for (code, days, start, end) in [
                ("CS 2150", "MoWeFr", "10:00", "10:50"),
                ("CS 3100", "TuTh", "11:00", "12:15"),
            ] {
                let class = ClassBuilder::new(code, "1262")
                    .meets(None, None, None)
                    .insert(&mut conn);
                classes::insert_meeting(
                    &mut conn,
                    &NewClassMeeting {
                        id: &MeetingId::new(),
                        class_id: &class.id,
                        position: 0,
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
                seed::enroll(&mut conn, &student.user, &class);
            }
        }

        let (status, page) = student.get(&app, "/schedule?term=1262").await;

        assert_eq!(status, 200);
        assert!(page.contains("10:00–10:50 AM"), "{page}");
        assert!(page.contains("11:00 AM–12:15 PM"), "{page}");
        assert!(
            page.contains(">12 PM<") && page.contains(">8 AM<"),
            "hour marks: {page}"
        );
        assert!(!page.contains("UTC") && !page.contains("13:00"), "{page}");
    }
);

/// A `CAMPUS_TIME_ZONE` that is not an IANA zone stops the binary at start,
/// with a line naming the variable and an example.
#[test]
fn a_bad_campus_time_zone_stops_the_start_naming_the_variable() {
    let stderr = common::served::refused_start(&[("CAMPUS_TIME_ZONE", "Eastern Time")]);
    assert!(
        stderr.contains("CAMPUS_TIME_ZONE")
            && stderr.contains("Eastern Time")
            && stderr.contains("America/New_York"),
        "{stderr}"
    );
}
