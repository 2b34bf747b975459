//! Issue 20: leaving a class asks first (home links to a confirm page whose
//! button leaves), and friend requests name the requester (escaped) while a
//! request you sent shows only the computing ID you typed. On SQLite and
//! PostgreSQL.

use crate::common;

use common::builders::ClassBuilder;
use common::{spawn_quiet_app, Backend};
use common_grounds::classes;
use common_grounds::clock;
use common_grounds::friends::FriendshipStatus;

fn hrefs(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr("href").map(str::to_string))
        .collect()
}

backend_test!(
    async fn leaving_asks_on_its_own_page(backend: Backend) {
        // Arrange: I take CS 2100 (001).
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let class = ClassBuilder::new("CS 2100", "1262").insert(&mut app.conn());
        classes::enroll(&mut app.conn(), &me.user.id, &class.id, clock::now()).unwrap();

        // Home links to the confirm page; no form on home leaves at once.
        let (_, home) = me.get(&app, "/").await;
        let leave_path = format!("/classes/{}/leave", class.id);
        let links = hrefs(&home, "a.leave-link");
        assert_eq!(links.len(), 1, "{home}");
        assert!(links[0].starts_with(&leave_path), "{links:?}");
        assert!(
            !home.contains(&format!("action=\"{leave_path}\"")),
            "home must not leave in one tap"
        );
        // Nor does a search result that shows the class as joined.
        let (_, found) = me.get(&app, "/classes/search?q=CS+2100&term=1262").await;
        assert_eq!(hrefs(&found, "a.leave-link").len(), 1, "{found}");
        assert!(
            !found.contains(&format!("action=\"{leave_path}\"")),
            "search must not leave in one tap"
        );

        // The confirm page asks, and holds the form that leaves.
        let (status, page) = me.get(&app, &format!("{leave_path}?next=/")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Leave CS 2100 (001)?"), "{page}");
        assert!(
            page.contains(
                "Its chat stays; you can join again later, counting toward today&#39;s changes."
            ) || page.contains(
                "Its chat stays; you can join again later, counting toward today's changes."
            ),
            "{page}"
        );
        assert!(page.contains(&format!("action=\"{leave_path}\"")), "{page}");
        assert!(
            classes::is_enrolled(&mut app.conn(), &me.user.id, &class.id).unwrap(),
            "looking at the page leaves nothing"
        );

        // Pressing its button leaves.
        let (status, landed) = me
            .post_and_follow(&app, &leave_path, &leave_path, &[("next", "/")])
            .await;
        assert_eq!(status, 200);
        assert!(landed.contains("You left CS 2100"), "{landed}");
        assert!(!classes::is_enrolled(&mut app.conn(), &me.user.id, &class.id).unwrap());

        // Once left, the page says so instead of offering to leave again.
        let (status, gone) = me.get(&app, &leave_path).await;
        assert_eq!(status, 400);
        assert!(gone.contains("You are not in CS 2100."), "{gone}");
        let (status, _) = me.get(&app, "/classes/not-a-class/leave").await;
        assert_eq!(status, 404);
    }
);

backend_test!(
    async fn requests_show_the_requesters_name(backend: Backend) {
        // Arrange: Jane (with a display name holding markup) asks me; I ask
        // someone who also set a display name.
        let app = spawn_quiet_app(backend, &[]).await;
        let me = app.student("me1");
        let jane = app.student("jd4ab");
        let target = app.student("tg9zz");
        for (who, name) in [(&jane, "Jane <b>Doe</b>"), (&target, "Secret Name")] {
            let response = who
                .post(
                    &app,
                    "/account",
                    "/account/privacy",
                    &[("display_name", name)],
                )
                .await;
            assert_eq!(response.status().as_u16(), 303, "display name saved");
        }
        {
            let mut conn = app.conn();
            common::seed::friendship(&mut conn, &jane.user, &me.user, FriendshipStatus::Pending);
            common::seed::friendship(&mut conn, &me.user, &target.user, FriendshipStatus::Pending);
        }

        for path in ["/", "/friends"] {
            let (status, html) = me.get(&app, path).await;
            assert_eq!(status, 200, "{path}");
            // The name shows with the ID, escaped: the markup is text.
            assert!(!html.contains("<b>Doe</b>"), "{path}: unescaped: {html}");
            assert!(
                html.contains("Jane &lt;b&gt;Doe&lt;/b&gt; (jd4ab)")
                    || html.contains("Jane &#60;b&#62;Doe&#60;/b&#62; (jd4ab)"),
                "{path}: {html}"
            );
            let doc = scraper::Html::parse_document(&html);
            let name = scraper::Selector::parse(".request-name").unwrap();
            let shown: Vec<String> = doc.select(&name).map(|e| e.text().collect()).collect();
            assert_eq!(shown, ["Jane <b>Doe</b> (jd4ab)"], "{path}");
            // The answer forms still name the computing ID.
            assert!(html.contains("action=\"/friends/jd4ab/accept\""), "{path}");
            // A request I sent shows only the ID I typed, never its owner's name.
            assert!(!html.contains("Secret Name"), "{path}: {html}");
        }
        let (_, friends) = me.get(&app, "/friends").await;
        assert!(friends.contains("tg9zz"), "{friends}");
        // On a phone the sent requests sit near the top: before the friends list.
        let sent = friends.find("outgoing-heading").unwrap();
        assert!(sent > friends.find("incoming-heading").unwrap());
        assert!(sent < friends.find("friends-heading").unwrap());
    }
);
