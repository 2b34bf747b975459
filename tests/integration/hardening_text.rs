//! Names and text that cannot impersonate (issue 15, item 9), over HTTP on
//! SQLite and PostgreSQL: hostile display names are refused with the reason
//! and the old name kept; "Zalgo" and walls of lines are refused and not
//! stored; a link to a look-alike host shows its punycode host. No 500.

use crate::common;
use crate::common::seed;

use common::*;
use common_grounds::accounts;
use common_grounds::db::schema::class_messages;
use common_grounds::friends::FriendshipStatus;
use diesel::prelude::*;
use scraper::{Html, Selector};

/// The name the account page's form holds.
fn name_in_form(html: &str) -> String {
    let doc = Html::parse_document(html);
    let field = Selector::parse("input[name=display_name]").unwrap();
    doc.select(&field)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_default()
        .to_string()
}

/// The error a page shows after a refused form.
fn alert_in(html: &str) -> String {
    let doc = Html::parse_document(html);
    let alert = Selector::parse("[role=alert]").unwrap();
    doc.select(&alert)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

fn stored_name(app: &TestApp, who: &Student) -> Option<String> {
    accounts::find(&mut app.conn(), &who.user.id)
        .unwrap()
        .unwrap()
        .display_name
}

backend_test!(
    async fn display_names_that_impersonate_are_refused_with_the_reason(backend: Backend) {
        let app = spawn_app(backend).await;
        let emily = app.student("ee9k");
        let friend = app.student("fr1e");
        seed::friendship(
            &mut app.conn(),
            &friend.user,
            &emily.user,
            FriendshipStatus::Accepted,
        );
        let (status, saved) = emily
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Emily Evans")],
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(name_in_form(&saved), "Emily Evans");
        let mallory = app.student("xss1");
        seed::friendship(
            &mut app.conn(),
            &friend.user,
            &mallory.user,
            FriendshipStatus::Accepted,
        );

        let hostile = [
            ("\u{3164}", "would look blank"),
            ("\u{2800}\u{2800}\u{2800}", "would look blank"),
            ("\u{200B}", "would look blank"),
            ("Emily\u{2060}Evans", "Unicode character 2060"),
            ("Emily Evans\u{202E}", "text-direction"),
            ("Emily Evans (ee9k)", "a computing ID or an email address"),
            (
                "Emily Evans\u{FF08}ee9k\u{FF09}",
                "a computing ID or an email address",
            ),
            ("Emily Evans - ee9k", "“ee9k”"),
            ("Emily \u{AB}ee9k\u{BB}", "“ee9k”"),
            ("Emily (ee9k@virginia.edu)", "“(ee9k@virginia.edu)”"),
            ("\u{397}\u{3BF}\u{3BF}1\u{3B1}", "a computing ID"),
            ("\u{395}mily Evans", "mixes Greek and Latin"),
            ("Emily Ev\u{430}ns", "mixes Latin and Cyrillic"),
            (
                "UVA IT: reverify at uva-sso.help/login",
                "a web address, such as “uva-sso.help/login”",
            ),
        ];
        for (name, why) in hostile {
            let response = mallory
                .post(
                    &app,
                    "/account",
                    "/account/privacy",
                    &[("display_name", name)],
                )
                .await;
            assert_eq!(response.status().as_u16(), 303, "{name:?}");
            let location = response.headers()["location"].to_str().unwrap().to_string();
            let (status, page) = mallory.get(&app, &location).await;
            assert_eq!(status, 200, "{name:?}");
            let alert = alert_in(&page);
            assert!(alert.contains(why), "{name:?}: {alert}");
            assert_eq!(stored_name(&app, &mallory), None, "{name:?} not stored");
        }

        // The friend sees Emily once, by her real ID, and Mallory only by hers.
        let (status, friends_page) = friend.get(&app, "/friends").await;
        assert_eq!(status, 200);
        assert!(
            friends_page.contains("Emily Evans (ee9k)"),
            "{friends_page}"
        );
        // Once where it shows; the buttons beside it name her only to screen readers.
        let shown: String = {
            let doc = scraper::Html::parse_document(&friends_page);
            let main = scraper::Selector::parse("main").unwrap();
            let main = doc.select(&main).next().unwrap();
            main.descendants()
                .filter_map(|node| {
                    let text = node.value().as_text()?;
                    let hidden = node.ancestors().any(|a| {
                        a.value().as_element().is_some_and(|e| {
                            e.has_class("visually-hidden", scraper::CaseSensitivity::CaseSensitive)
                        })
                    });
                    (!hidden).then(|| text.to_string())
                })
                .collect()
        };
        assert_eq!(shown.matches("Emily").count(), 1, "{friends_page}");
        assert!(friends_page.contains("xss1"));

        // A student who already has a name keeps it when the new one is refused.
        let (_, refused) = emily
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "\u{395}mily Evans")],
            )
            .await;
        assert!(alert_in(&refused).contains("different alphabets"));
        assert_eq!(stored_name(&app, &emily).as_deref(), Some("Emily Evans"));
        // The field holds what was typed, to change; the stored name is as it was.
        assert_eq!(name_in_form(&refused), "\u{395}mily Evans");
        let (_, again) = emily.get(&app, "/account").await;
        assert_eq!(name_in_form(&again), "Emily Evans");
        // A name refused for a filler that shows nothing comes back without
        // it, so the student sees what to fix.
        let (_, refused) = emily
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Emily\u{3164}Evans")],
            )
            .await;
        assert!(!alert_in(&refused).is_empty(), "{refused}");
        assert_eq!(name_in_form(&refused), "EmilyEvans");
    }
);

backend_test!(
    async fn names_in_one_script_are_welcome_and_stored_composed(backend: Backend) {
        let app = spawn_app(backend).await;
        let student = app.student("nt4a");
        for (typed, stored) in [
            ("\u{41D}\u{430}\u{442}\u{430}\u{448}\u{430}", "Наташа"),
            ("王小明", "王小明"),
            ("  Jose\u{301}\u{3000}Ruiz ", "José Ruiz"),
            ("Emily Evans (she/her)", "Emily Evans (she/her)"),
        ] {
            let (status, page) = student
                .post_and_follow(
                    &app,
                    "/account",
                    "/account/privacy",
                    &[("display_name", typed)],
                )
                .await;
            assert_eq!(status, 200, "{typed:?}");
            assert!(alert_in(&page).is_empty(), "{typed:?}: {}", alert_in(&page));
            assert_eq!(stored_name(&app, &student).as_deref(), Some(stored));
            // Four names in a row: past the day's allowance, which
            // `a_display_name_changes_three_times_a_day` covers.
            let_rename_again(&app);
        }
        // An empty box still clears the name.
        student
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "  ")],
            )
            .await;
        assert_eq!(stored_name(&app, &student), None);
    }
);

/// Forgets every display-name change (the day's allowance starts again).
fn let_rename_again(app: &TestApp) {
    use common_grounds::db::schema::rate_limit_hits;
    diesel::delete(rate_limit_hits::table.filter(rate_limit_hits::bucket.like("display-name:%")))
        .execute(&mut app.conn())
        .unwrap();
}

backend_test!(
    async fn a_display_name_changes_three_times_a_day(backend: Backend) {
        let app = spawn_app(backend).await;
        let student = app.student("nt5a");
        let save = |name: &'static str, hide: bool| {
            let student = &student;
            let app = &app;
            async move {
                let mut fields = vec![("display_name", name)];
                if hide {
                    fields.push(("hide_classes", "on"));
                }
                let (status, page) = student
                    .post_and_follow(app, "/account", "/account/privacy", &fields)
                    .await;
                assert_eq!(status, 200, "{name:?}");
                page
            }
        };
        assert_eq!(accounts::NAME_CHANGES_PER_DAY, 3);

        // Three names, and between them the same name saved again, the
        // classes hidden, and the name cleared: none of those counts.
        for (name, hide) in [
            ("Nia Torres", false),
            ("Nia Torres", true),
            ("N. Torres", true),
            ("", true),
            ("Nia T.", false),
        ] {
            let page = save(name, hide).await;
            assert!(alert_in(&page).is_empty(), "{name:?}: {}", alert_in(&page));
        }
        assert_eq!(stored_name(&app, &student).as_deref(), Some("Nia T."));

        // A fourth new name that day is refused, with when; the classes
        // setting sent with it is still saved.
        let page = save("Homework", true).await;
        let alert = alert_in(&page);
        assert!(
            alert.contains("Your display name was not changed: you can change it 3 times a day")
                && alert.contains("You can change it again after")
                && alert.contains("Your classes are hidden from friends"),
            "{alert}"
        );
        assert_eq!(stored_name(&app, &student).as_deref(), Some("Nia T."));
        // The field holds what was typed, marked as in error, to keep or change.
        assert_eq!(name_in_form(&page), "Homework");
        let doc = Html::parse_document(&page);
        let field = doc
            .select(&Selector::parse("input[name=display_name]").unwrap())
            .next()
            .unwrap();
        assert_eq!(field.value().attr("aria-invalid"), Some("true"));
        assert!(field
            .value()
            .attr("aria-describedby")
            .is_some_and(|d| d.split(' ').any(|id| id == "flash")));
        let hidden = accounts::find(&mut app.conn(), &student.user.id)
            .unwrap()
            .unwrap()
            .hide_classes;
        assert!(hidden, "the classes setting was saved");
        // The same name, or none, is still saved.
        let page = save("Nia T.", true).await;
        assert!(alert_in(&page).is_empty(), "{}", alert_in(&page));
        let page = save("", false).await;
        assert!(alert_in(&page).is_empty(), "{}", alert_in(&page));
        assert_eq!(stored_name(&app, &student), None);
    }
);

fn messages_in(app: &TestApp, class: &common_grounds::classes::Class) -> i64 {
    class_messages::table
        .filter(class_messages::class_id.eq(&class.id))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

backend_test!(
    async fn zalgo_and_walls_of_lines_are_refused_and_not_stored(backend: Backend) {
        let app = spawn_app(backend).await;
        let writer = app.student("zz9z");
        let class = {
            let mut conn = app.conn();
            let class = seed::class(&mut conn, "CS 2100", "1262");
            seed::enroll(&mut conn, &writer.user, &class);
            class
        };
        let page = format!("/classes/{}", class.id);
        let post_to = format!("/classes/{}/messages", class.id);
        let wall = format!("a{}b", "\n".repeat(1990));
        let crlf_wall = "x\r\n".repeat(61);
        let zalgo = "\u{301}".repeat(2000);
        let tower = format!("Z{}algo", "\u{336}\u{321}\u{35C}".repeat(2));
        let refused = [
            (
                wall.as_str(),
                "A message can have at most 60 lines; yours has 1991",
            ),
            (crlf_wall.as_str(), "at most 60 lines; yours has 61"),
            (
                zalgo.as_str(),
                "Too many accent marks stacked on one letter",
            ),
            (
                tower.as_str(),
                "Too many accent marks stacked on one letter",
            ),
        ];
        for (text, why) in refused {
            let response = writer
                .post(&app, &page, &post_to, &[("content", text)])
                .await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_eq!(status, 400, "{why}: {body}");
            assert!(body.contains(why), "{why}: {body}");
        }
        assert_eq!(messages_in(&app, &class), 0, "nothing stored");

        // Sixty lines, and accents as Vietnamese uses them, still post.
        let sixty = vec!["line"; 60].join("\n");
        let response = writer
            .post(&app, &page, &post_to, &[("content", &sixty)])
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(messages_in(&app, &class), 1);
    }
);

backend_test!(
    async fn a_link_to_a_look_alike_host_shows_its_punycode_host(backend: Backend) {
        let app = spawn_app(backend).await;
        let writer = app.student("ph1s");
        let reader = app.student("rd2r");
        let class = {
            let mut conn = app.conn();
            let class = seed::class(&mut conn, "CS 2100", "1262");
            seed::enroll(&mut conn, &writer.user, &class);
            seed::enroll(&mut conn, &reader.user, &class);
            class
        };
        let page = format!("/classes/{}", class.id);
        let look_alike = "http://v\u{456}rginia.edu/login";
        let response = writer
            .post(
                &app,
                &page,
                &format!("/classes/{}/messages", class.id),
                &[(
                    "content",
                    &format!("Grades are posted at {look_alike} today"),
                )],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);

        let html = chat_as_seen(&app, &reader.client, &page).await;
        assert!(html.contains("xn--"), "the punycode host is on the page");
        assert!(
            !html.contains("v\u{456}rginia"),
            "the look-alike host is shown nowhere"
        );
        let doc = Html::parse_document(&html);
        let links: Vec<_> = doc
            .select(&Selector::parse(".msg-text a").unwrap())
            .collect();
        assert_eq!(links.len(), 1);
        let text: String = links[0].text().collect();
        let href = links[0].value().attr("href").unwrap();
        let host = url::Url::parse(href)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        assert!(host.starts_with("xn--") && host.ends_with(".edu"), "{host}");
        assert_eq!(text, format!("http://{host}/login"));
        assert!(text.is_ascii(), "the link text shows the real host: {text}");
        let message_text: String = doc
            .select(&Selector::parse(".msg-text").unwrap())
            .next()
            .unwrap()
            .text()
            .collect();
        assert_eq!(
            message_text,
            format!("Grades are posted at http://{host}/login today")
        );
    }
);
