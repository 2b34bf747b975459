//! Issue 21, finding people and suspensions: the users search finds a part of
//! a computing ID, an address or a display name in any case and with or
//! without accents (`%` and `_` are literal); `/admin/suspensions` lists
//! exactly the suspensions running now; the suspend form's 1 day, 1 week and
//! "until a date"; an expired suspension ends by itself; and the two pages in
//! a real Chromium at 375 and 1280 px (axe-core, inputs of a normal height).

use crate::common;
use crate::common::browser;

use chrono::{Duration, NaiveDateTime};
use common::*;
use common_grounds::accounts::{Role, User};
use common_grounds::campus_time::CampusTime;
use common_grounds::clock;
use common_grounds::db::schema::{class_messages, users};
use diesel::prelude::*;

fn set_name(app: &TestApp, who: &Student, name: &str) {
    diesel::update(users::table.find(&who.user.id))
        .set((
            users::display_name.eq(Some(name)),
            users::name_key.eq(common_grounds::accounts::display_name::name_key(name)),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn set_suspension(app: &TestApp, who: &Student, until: Option<NaiveDateTime>) {
    diesel::update(users::table.find(&who.user.id))
        .set((
            users::suspended_until.eq(until),
            users::suspension_reason
                .eq(until.map(|_| format!("Reason for {}", who.user.computing_id))),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

fn until_of(app: &TestApp, who: &Student) -> Option<NaiveDateTime> {
    users::table
        .find(&who.user.id)
        .select(User::as_select())
        .first(&mut app.conn())
        .unwrap()
        .suspended_until
}

/// The computing IDs in the result cards of a users search for `q`.
async fn found(app: &TestApp, staff: &Student, q: &str) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (status, html) = staff.get(app, &format!("/admin/users?q={q}")).await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&html);
    let h2 = scraper::Selector::parse("section.card h2").unwrap();
    let mut ids: Vec<String> = doc
        .select(&h2)
        .map(|h| h.text().next().unwrap_or("").trim().to_string())
        .collect();
    ids.sort();
    ids
}

backend_test!(
    async fn people_by_name(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let ruiz = app.student("ar4x");
        let plain = app.student("ap5y");
        let other = app.student("zz9z");
        set_name(&app, &ruiz, "Ángela Ruiz");
        set_name(&app, &plain, "Angela");
        set_name(&app, &other, "Bob Lee_Name");

        assert_eq!(found(&app, &moderator, "ANGE").await, ["ap5y", "ar4x"]);
        assert_eq!(found(&app, &moderator, "ángel").await, ["ap5y", "ar4x"]);
        assert_eq!(found(&app, &moderator, "ruiz").await, ["ar4x"]);
        // Part of an address, from its middle, in capitals.
        assert_eq!(found(&app, &moderator, "R4X@VIRGINIA").await, ["ar4x"]);
        assert_eq!(found(&app, &moderator, "5y").await, ["ap5y"]);
        // Wildcards are literal: "_" is not "any letter", "%" is not "anything".
        assert_eq!(found(&app, &moderator, "e_n").await, ["zz9z"]);
        assert!(found(&app, &moderator, "a_g").await.is_empty());
        assert!(found(&app, &moderator, "%").await.is_empty());
        let (_, html) = moderator.get(&app, "/admin/users?q=ange").await;
        assert!(html.contains("Computing ID, email or name"));
        assert!(html.contains("Ángela Ruiz"));
    }
);

backend_test!(
    async fn suspensions_listed(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let now = clock::now();
        let (a, b, gone, lifted, never) = (
            app.student("su1a"),
            app.student("su2b"),
            app.student("ex3c"),
            app.student("li4d"),
            app.student("ne5e"),
        );
        set_suspension(&app, &a, Some(now + Duration::days(3)));
        set_suspension(&app, &b, Some(now + Duration::hours(5)));
        set_suspension(&app, &gone, Some(now - Duration::minutes(1)));
        set_suspension(&app, &lifted, Some(now + Duration::days(9)));
        let r = moderator
            .post(&app, "/admin/users?q=li4d", "/admin/users/li4d/lift", &[])
            .await;
        assert_eq!(r.status().as_u16(), 303);

        let (status, html) = moderator.get(&app, "/admin/suspensions").await;
        assert_eq!(status, 200);
        let doc = scraper::Html::parse_document(&html);
        let link = scraper::Selector::parse(".suspension-rows li a").unwrap();
        let listed: Vec<(String, String)> = doc
            .select(&link)
            .map(|a| {
                let text = a.text().collect::<String>();
                (text, a.value().attr("href").unwrap().to_string())
            })
            .collect();
        // What the database holds as running now, soonest end first.
        let running: Vec<String> = users::table
            .filter(users::suspended_until.gt(clock::now()))
            .order(users::suspended_until)
            .select(users::computing_id)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(running, ["su2b", "su1a"]);
        let names: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(names, running);
        assert_eq!(listed[0].1, format!("/admin/users/{}", b.user.id));
        assert!(html.contains("Reason for su1a") && html.contains("Reason for su2b"));
        assert!(
            !html.contains("Reason for ex3c")
                && !html.contains(&gone.user.id.to_string())
                && !html.contains(&lifted.user.id.to_string())
        );
        let campus = CampusTime::default();
        assert!(html.contains(&campus.exact(until_of(&app, &a).unwrap()).title));
        assert!(
            html.contains("href=\"/admin/suspensions\""),
            "linked in the admin menu"
        );

        // A student is not told the page exists.
        let (status, _) = never.get(&app, "/admin/suspensions").await;
        assert!(status == 404 || status == 403, "a student got {status}");
    }
);

backend_test!(
    async fn suspend_lengths(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let campus = CampusTime::default();
        let cases = [
            ("da1y", "day", Duration::days(1)),
            ("we2k", "week", Duration::weeks(1)),
        ];
        for (id, length, span) in cases {
            let s = app.student(id);
            let before = clock::now();
            let r = moderator
                .post(
                    &app,
                    &format!("/admin/users?q={id}"),
                    &format!("/admin/users/{id}/suspend"),
                    &[
                        ("length", length),
                        ("until", ""),
                        ("reason", "Spamming the class chat"),
                    ],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303, "{length}");
            let after = clock::now();
            let until = until_of(&app, &s).expect("suspended");
            assert!(
                until >= before + span && until <= after + span,
                "{length}: {until}"
            );
        }
        // Until a date: as that campus day begins.
        let s = app.student("dt3e");
        let day = campus.date_of(clock::now()) + Duration::days(12);
        let r = moderator
            .post(
                &app,
                "/admin/users?q=dt3e",
                "/admin/users/dt3e/suspend",
                &[
                    ("length", "date"),
                    ("until", &day.format("%Y-%m-%d").to_string()),
                    ("reason", "Spamming the class chat"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(until_of(&app, &s), Some(campus.start_of_day(day)));
        // "Until a date" with no date, or an unknown length: words, nothing stored.
        let t = app.student("nd4f");
        for (length, until) in [("date", ""), ("month", "")] {
            let r = moderator
                .post(
                    &app,
                    "/admin/users?q=nd4f",
                    "/admin/users/nd4f/suspend",
                    &[
                        ("length", length),
                        ("until", until),
                        ("reason", "Spamming the class chat"),
                    ],
                )
                .await;
            assert_eq!(r.status().as_u16(), 400, "{length}");
            let body = r.text().await.unwrap();
            assert!(body.contains("date") || body.contains("1 week"), "{body}");
            assert_eq!(until_of(&app, &t), None);
        }
        // A five-digit year (which SQLite's text timestamps would misorder):
        // refused in words, nothing stored.
        for until in ["+262000-01-01", "+10000-01-01"] {
            let r = moderator
                .post(
                    &app,
                    "/admin/users?q=nd4f",
                    "/admin/users/nd4f/suspend",
                    &[
                        ("length", "date"),
                        ("until", until),
                        ("reason", "Spamming the class chat"),
                    ],
                )
                .await;
            assert_eq!(r.status().as_u16(), 400, "{until}");
            let body = r.text().await.unwrap();
            assert!(body.contains("four-digit year"), "{body}");
            assert_eq!(until_of(&app, &t), None);
        }
        // The form offers the three lengths.
        let (_, html) = moderator.get(&app, "/admin/users?q=nd4f").await;
        for value in ["value=\"day\"", "value=\"week\"", "value=\"date\""] {
            assert!(html.contains(value), "{value}");
        }
    }
);

backend_test!(
    async fn lifting_twice_lifts_once(backend: Backend) {
        // Arrange: a suspended student.
        let app = spawn_quiet_app(backend, &[]).await;
        let moderator = staff(&app, "mo1d", Role::Moderator);
        let s = app.student("li1f");
        set_suspension(&app, &s, Some(clock::now() + Duration::days(3)));

        // Act: two moderators press "Lift" on the same page.
        let mut statuses = Vec::new();
        for _ in 0..2 {
            statuses.push(
                moderator
                    .post_and_follow(&app, "/admin/users?q=li1f", "/admin/users/li1f/lift", &[])
                    .await,
            );
        }

        // Assert: the first lifts; the second says why it changed nothing,
        // back on the list (not a dead-end page), and the log and the
        // student's notices have one lifting.
        assert_eq!(statuses[0].0, 200);
        assert!(
            statuses[0].1.contains("suspension is lifted"),
            "{}",
            statuses[0].1
        );
        assert_eq!(statuses[1].0, 200);
        assert!(statuses[1].1.contains("not suspended"), "{}", statuses[1].1);
        assert!(
            statuses[1].1.contains("/admin/users/li1f/suspend"),
            "the list: {}",
            statuses[1].1
        );
        assert_eq!(until_of(&app, &s), None);
        use common_grounds::db::schema::{audit_log, notifications};
        let lifts: i64 = audit_log::table
            .filter(audit_log::action.eq("lift_suspension"))
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(lifts, 1);
        let ended: i64 = notifications::table
            .filter(notifications::user_id.eq(&s.user.id))
            .filter(notifications::kind.eq("suspension_ended"))
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(ended, 1);

        // An account that is not there is named as such, with nothing changed.
        let r = moderator
            .post(&app, "/admin/users?q=li1f", "/admin/users/zz9zz/lift", &[])
            .await;
        assert_eq!(r.status().as_u16(), 400);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("There is no account by that computing ID"),
            "{body}"
        );

        // Two moderators lifting at the same moment: one lifts, one is told.
        let t = app.student("li2f");
        for _ in 0..3 {
            set_suspension(&app, &t, Some(clock::now() + Duration::days(3)));
            let start = std::sync::Arc::new(std::sync::Barrier::new(2));
            let presses: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, start) = (app.pool.clone(), start.clone());
                    let actor = moderator.user.id.clone();
                    std::thread::spawn(move || {
                        let mut conn = pool.get().unwrap();
                        start.wait();
                        common_grounds::moderation::users::lift_suspension(
                            &mut conn,
                            &actor,
                            "li2f",
                            clock::now(),
                        )
                    })
                })
                .collect();
            let outcomes: Vec<_> = presses.into_iter().map(|p| p.join().unwrap()).collect();
            assert_eq!(
                outcomes.iter().filter(|o| o.is_ok()).count(),
                1,
                "{outcomes:?}"
            );
        }
        let lifts: i64 = audit_log::table
            .filter(audit_log::action.eq("lift_suspension"))
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        assert_eq!(lifts, 1 + 3);
    }
);

backend_test!(
    async fn expired_ends_itself(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let s = app.student("ex1p");
        let class = new_class(&app, "CS 2150", &[&s]);
        let page = format!("/classes/{}", class.id);
        let post = format!("/classes/{}/messages", class.id);
        set_suspension(&app, &s, Some(clock::now() + Duration::days(2)));
        let r = s
            .post(&app, &page, &post, &[("content", "while suspended")])
            .await;
        assert_eq!(r.status().as_u16(), 403, "suspended: refused");
        // Time passes: the end is now in the past, and no staff member did anything.
        set_suspension(&app, &s, Some(clock::now() - Duration::seconds(1)));
        let r = s
            .post(&app, &page, &post, &[("content", "after it ended")])
            .await;
        assert_eq!(r.status().as_u16(), 303, "posting again");
        let texts: Vec<String> = class_messages::table
            .filter(class_messages::user_id.eq(&s.user.id))
            .select(class_messages::content)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(texts, ["after it ended"]);
    }
);

/// The tallest visible text, date or search input on the page, in px.
async fn tallest_input(client: &fantoccini::Client) -> f64 {
    let found = client
        .execute(
            "return Math.max(0, ...[...document.querySelectorAll('input:not([type=hidden]):not([type=radio])')]\
               .map(e => e.getBoundingClientRect().height));",
            vec![],
        )
        .await
        .unwrap();
    found.as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_people_pages_in_a_browser() {
    let Some((driver, chromium)) = browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let moderator = staff(&app, "mo1d", Role::Moderator);
    let ruiz = app.student("ar4x");
    set_name(&app, &ruiz, "Ángela Ruiz");
    let gone = app.student("su1a");
    set_suspension(&app, &gone, Some(clock::now() + Duration::days(3)));
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = browser::open(&driver, &chromium, width, height).await;
        browser::sign_in(&client, &app.address, &moderator.token).await;
        client.goto(&app.url("/admin/users?q=ange")).await.unwrap();
        let shot = browser::screenshot(&client, &format!("admin-users-{width}")).await;
        eprintln!("screenshot: {}", shot.display());
        let source = client.source().await.unwrap();
        assert!(source.contains("ar4x"), "a result");
        let tallest = tallest_input(&client).await;
        assert!(
            tallest > 0.0 && tallest <= 60.0,
            "{width}px: an input {tallest}px tall"
        );
        if let Some(found) = browser::axe_findings(&client).await {
            assert!(found.is_empty(), "users at {width}px: {found:#?}");
        }
        client.goto(&app.url("/admin/suspensions")).await.unwrap();
        browser::screenshot(&client, &format!("admin-suspensions-{width}")).await;
        assert!(client.source().await.unwrap().contains("su1a"));
        if let Some(found) = browser::axe_findings(&client).await {
            assert!(found.is_empty(), "suspensions at {width}px: {found:#?}");
        }
        client.close().await.unwrap();
    }
}

backend_test!(
    async fn a_stale_suspend_form_does_not_replace_a_running_suspension(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        let first = staff(&app, "mo1d", Role::Moderator);
        let second = staff(&app, "mo2d", Role::Moderator);
        let s = app.student("st4l");
        // Both moderators load the page while st4l is not suspended.
        let (_, page) = second.get(&app, "/admin/users?q=st4l").await;
        assert!(page.contains("/admin/users/st4l/suspend"), "{page}");
        let form = |length| {
            [
                ("length", length),
                ("until", ""),
                ("reason", "Spamming the class chat"),
            ]
        };
        let path = "/admin/users/st4l/suspend";
        let done = first
            .post(&app, "/admin/users?q=st4l", path, &form("week"))
            .await;
        assert_eq!(done.status().as_u16(), 303);
        let week = until_of(&app, &s).expect("suspended for a week");
        // The second, from the page that showed no suspension, changes nothing.
        let (status, words) = second
            .post_and_follow(&app, "/admin/users?q=st4l", path, &form("day"))
            .await;
        assert_eq!(status, 200);
        assert!(words.contains("already suspended"), "{words}");
        assert!(
            words.contains("The reason you typed, to paste again: “Spamming the class chat”"),
            "{words}"
        );
        assert_eq!(until_of(&app, &s), Some(week), "the week stands");
    }
);

/// On PostgreSQL, a promotion that commits while a suspension of the same
/// student waits on the account's row is seen by the suspension: staff are
/// never suspended. (The staff check once used the read from before the wait.)
#[tokio::test]
async fn a_promotion_in_flight_is_seen_by_a_suspension_waiting_on_it() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let app = spawn_quiet_app(Backend::Postgres, &[]).await;
    let moderator = staff(&app, "mo3d", Role::Moderator);
    let s = app.student("st5p");
    let (_, page) = moderator.get(&app, "/admin/users?q=st5p").await;
    assert!(page.contains("/admin/users/st5p/suspend"), "{page}");

    // An admin's promotion of st5p, written and not yet committed.
    let mut holder = app.db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; UPDATE users SET role = '{}' WHERE id = '{}'",
            Role::Moderator.as_str(),
            s.user.id
        ))
        .unwrap();
    let release = when_waiting(&app.db, 1, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").unwrap();
    });
    let form = [
        ("length", "week"),
        ("until", ""),
        ("reason", "Spamming the class chat"),
    ];
    let (answer, seen) = tokio::join!(
        moderator.post(
            &app,
            "/admin/users?q=st5p",
            "/admin/users/st5p/suspend",
            &form
        ),
        release,
    );
    assert_eq!(seen.unwrap().0, 1, "the suspension waited on the promotion");
    assert_eq!(answer.status().as_u16(), 400);
    let words = answer.text().await.unwrap();
    assert!(words.contains("cannot be suspended"), "{words}");
    assert_eq!(until_of(&app, &s), None, "no moderator is suspended");
}

backend_test!(
    async fn a_suspension_landing_mid_request_is_read_under_the_hold(backend: Backend) {
        use common::builders::MessageBuilder;
        use common_grounds::chat::{self, ChatError, MessageBody};
        use common_grounds::friends::{requests, Action, ActionError, RequestOutcome};
        // Arrange: a student's page loaded their account unsuspended (the
        // `User` a handler holds); then a moderator suspends them.
        let app = spawn_app(backend).await;
        let s = app.student("mi1d");
        let friend = app.student("fr1d");
        let class = new_class(&app, "CS 2150", &[&s, &friend]);
        let mine = MessageBuilder::new(&class.id, &s.user.id, "Anon_00000001", "My question")
            .created_at(clock::now())
            .insert(&mut app.conn());
        requests::request(
            &mut app.conn(),
            &friend.user,
            "mi1d",
            "virginia.edu",
            clock::now(),
        )
        .unwrap();
        let stale: User = s.user.clone();
        set_suspension(&app, &s, Some(clock::now() + Duration::days(3)));

        // Act and assert: the domain reads the suspension itself, whatever
        // the caller checked: no request, no answer to one, no edit.
        let now = clock::now();
        let sent = requests::request(&mut app.conn(), &stale, "zz9z", "virginia.edu", now).unwrap();
        assert!(matches!(sent, RequestOutcome::Suspended { .. }), "{sent:?}");
        let answered = requests::act(
            &mut app.conn(),
            &stale,
            "fr1d",
            Action::Accept,
            "virginia.edu",
            now,
        );
        assert!(
            matches!(answered, Err(ActionError::Suspended { .. })),
            "{answered:?}"
        );
        let rules = crate::notifications_chat::rules(&app);
        let body = MessageBody::parse("My question, edited").unwrap();
        let edited = chat::edit(&mut app.conn(), &stale.id, &mine.id, &body, &rules, now);
        assert!(
            matches!(edited, Err(ChatError::Suspended { .. })),
            "{edited:?}"
        );
        let stored: String = class_messages::table
            .find(&mine.id)
            .select(class_messages::content)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(stored, "My question");
        // Nor a class joined (a class joined is its chat read).
        let other = crate::common::seed::class(&mut app.conn(), "CS 3100", "1262");
        let term = common_grounds::classes::Term::parse(&other.term).unwrap();
        let joined = common_grounds::classes::join(
            &mut app.conn(),
            &stale,
            &other.id,
            &term,
            &common_grounds::classes::JoinLimits::default(),
            common_grounds::classes::Clash::Allow,
            now,
        );
        assert!(
            matches!(
                joined,
                Err(common_grounds::classes::MembershipError::Suspended { .. })
            ),
            "{joined:?}"
        );
        assert!(
            !common_grounds::classes::is_enrolled(&mut app.conn(), &s.user.id, &other.id).unwrap()
        );
    }
);

backend_test!(
    async fn a_running_suspension_is_changed_in_place_not_lifted_first(backend: Backend) {
        use common_grounds::db::schema::audit_log;
        // Arrange: a student suspended for three days.
        let app = spawn_app(backend).await;
        let s = app.student("ch1g");
        let moderator = staff(&app, "mc2g", Role::Moderator);
        set_suspension(&app, &s, Some(clock::now() + Duration::days(3)));
        let person = format!("/admin/users/{}", s.user.id);
        let (_, page) = moderator.get(&app, &person).await;
        assert!(page.contains("Change the suspension"), "{page}");

        // A plain suspend form (another moderator's stale page) is refused,
        // back on the list with the words to paste...
        let (status, refused) = moderator
            .post_and_follow(
                &app,
                &person,
                "/admin/users/ch1g/suspend",
                &[("length", "day"), ("reason", "Shorter after an appeal")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(refused.contains("already suspended"), "{refused}");
        assert!(refused.contains("“Shorter after an appeal”"), "{refused}");

        // ...the person page's change form moves the end, in place.
        let changed = moderator
            .post(
                &app,
                &person,
                "/admin/users/ch1g/suspend",
                &[
                    ("length", "day"),
                    ("reason", "Shorter after an appeal"),
                    ("replace", "1"),
                    ("from", "person"),
                ],
            )
            .await;
        assert_eq!(changed.status().as_u16(), 303);
        assert_eq!(changed.headers()["location"], person.as_str());
        let until: Option<NaiveDateTime> = users::table
            .find(&s.user.id)
            .select(users::suspended_until)
            .first(&mut app.conn())
            .unwrap();
        let left = until.unwrap() - clock::now();
        assert!(
            left > Duration::hours(23) && left <= Duration::days(1),
            "{left:?}"
        );
        let lifts: i64 = audit_log::table
            .filter(audit_log::action.eq("lift_suspension"))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(lifts, 0, "never lifted in between");
    }
);
