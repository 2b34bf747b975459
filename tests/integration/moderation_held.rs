//! Posts that name a person (issue 21, item 4): a classmate's display name or
//! computing ID, an email address or a phone number is warned first (nothing
//! stored), then held if posted anyway: its author sees it marked held, another
//! student's pages and event stream hold nothing of it, and a moderator's
//! release shows it to the class.

use std::time::Duration;

use common_grounds::accounts::Role;
use common_grounds::chat::{self, MessageId};
use common_grounds::classes::ClassId;
use common_grounds::db::schema::{audit_log, class_messages};
use diesel::prelude::*;

use crate::common::sse::EventStream;
use crate::common::*;
use crate::live_stream::{let_post_again, message_with};

/// The wait for a live frame; the marker posted after a held post must arrive.
const WAIT: Duration = Duration::from_secs(30);

const WARNING: &str =
    "Posts that name people are held for a moderator to review before the class sees them.";
const HELD_MARK: &str = "Held for review";

/// Through `accounts::update`, the writer the settings page uses, so the
/// name's `name_key` (what the check looks members up by) comes along.
fn set_display_name(app: &TestApp, who: &Student, name: &str) {
    common_grounds::accounts::update(
        &mut app.conn(),
        &who.user.id,
        &common_grounds::accounts::UserChanges {
            display_name: Some(Some(name)),
            ..Default::default()
        },
    )
    .unwrap();
}

fn stored_messages(app: &TestApp) -> i64 {
    class_messages::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Posts `text` through the compose (or reply) form past "maybe already
/// answered", with or without confirming the naming warning: the status and
/// the page (or the redirect's target).
async fn post(
    app: &TestApp,
    who: &Student,
    class: &ClassId,
    text: &str,
    parent: Option<&MessageId>,
    confirm_naming: bool,
) -> (u16, String) {
    let mut fields = vec![
        ("content", text.to_string()),
        ("confirmed", "1".to_string()),
    ];
    if let Some(parent) = parent {
        fields.push(("parent_id", parent.to_string()));
    }
    if confirm_naming {
        fields.push(("confirm_naming", "1".to_string()));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = who
        .post(
            app,
            &format!("/classes/{class}"),
            &format!("/classes/{class}/messages"),
            &fields,
        )
        .await;
    let status = response.status().as_u16();
    let body = match response.headers().get("location") {
        Some(location) => location.to_str().unwrap().to_string(),
        None => response.text().await.unwrap(),
    };
    let_post_again(&mut app.conn());
    (status, body)
}

/// `message`, shown to its class, held as an edit naming "ÁNGELA" left it
/// before edits stopped holding what the class had read (`chat::edit`): such
/// rows may be stored, and pages must still show them as hidden ones.
fn held_by_an_old_edit(app: &TestApp, message: &MessageId) {
    diesel::update(class_messages::table.find(message))
        .set((
            class_messages::content.eq("ÁNGELA has them"),
            class_messages::held.eq(true),
            class_messages::held_reason.eq(Some("names a classmate")),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

/// The class's live events, as `who`'s open page hears them.
async fn class_stream(app: &TestApp, who: &Student, class: &ClassId) -> EventStream {
    EventStream::open(
        &who.client,
        &app.url(&format!("/classes/{class}/events")),
        None,
    )
    .await
}

/// A class where nam3c goes by "angela", with sta1a's thread "Who has the
/// lab notes" and rep2b's reply to it, "Try the desk" (the app with its
/// background jobs: live pages hear of changes through them).
struct LabNotes {
    app: TestApp,
    starter: Student,
    replier: Student,
    named: Student,
    class: ClassId,
    root: MessageId,
    reply: MessageId,
}

async fn lab_notes(backend: Backend) -> LabNotes {
    let app = spawn_app(backend).await;
    let starter = app.student("sta1a");
    let replier = app.student("rep2b");
    let named = app.student("nam3c");
    set_display_name(&app, &named, "angela");
    let class = new_class(&app, "CS 3240", &[&starter, &replier, &named]).id;
    post(&app, &starter, &class, "Who has the lab notes", None, false).await;
    let root = message_with(&app, "Who has the lab notes");
    post(&app, &replier, &class, "Try the desk", Some(&root), false).await;
    let reply = message_with(&app, "Try the desk");
    LabNotes {
        app,
        starter,
        replier,
        named,
        class,
        root,
        reply,
    }
}

/// The value of the form field `name` on a page (a hidden field included).
fn field_in(html: &str, name: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name={name}]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_string)
}

/// Whether the stored message is held, and why.
fn held_state(app: &TestApp, id: &MessageId) -> (bool, Option<String>) {
    class_messages::table
        .find(id)
        .select((class_messages::held, class_messages::held_reason))
        .first(&mut app.conn())
        .unwrap()
}

/// Warns on `text` (nothing stored), then posts it confirmed: it is held with
/// the reason the author was warned with. Returns its id.
async fn warned_then_held(
    app: &TestApp,
    author: &Student,
    class: &ClassId,
    text: &str,
    parent: Option<&MessageId>,
    words: &str,
) -> MessageId {
    let before = stored_messages(app);
    let (status, page) = post(app, author, class, text, parent, false).await;
    assert_eq!(status, 200, "{text:?} is warned first: {page}");
    assert!(page.contains(&format!("This {words}")), "{text:?}: {page}");
    assert!(page.contains(WARNING), "{page}");
    assert!(page.contains("Post anyway (held for review)"), "{page}");
    assert!(
        page.contains("name=\"confirm_naming\" value=\"1\""),
        "{page}"
    );
    assert_eq!(
        stored_messages(app),
        before,
        "nothing stored before confirming"
    );

    let (status, location) = post(app, author, class, text, parent, true).await;
    assert_eq!(status, 303, "confirmed, {text:?} is posted: {location}");
    let id = message_with(app, text);
    let (held, reason) = held_state(app, &id);
    assert!(held, "{text:?} is held");
    assert_eq!(reason.as_deref(), Some(words));
    id
}

backend_test!(
    async fn naming_posts_are_warned_then_held_for_their_author_only(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let named = app.student("nam3c");
        set_display_name(&app, &named, "Priya Raman");
        let class = new_class(&app, "CS 2150", &[&author, &other, &named]).id;
        let (status, _) = post(&app, &author, &class, "Where is the lab today", None, false).await;
        assert_eq!(status, 303, "a draft that names no one posts at once");
        let open = message_with(&app, "Where is the lab today");

        let by_name = warned_then_held(
            &app,
            &author,
            &class,
            "I think priya raman took the last copy",
            None,
            "names a classmate",
        )
        .await;
        let by_id = warned_then_held(
            &app,
            &author,
            &class,
            "ask NAM3C for the notes",
            Some(&open),
            "names a classmate",
        )
        .await;
        let by_email = warned_then_held(
            &app,
            &author,
            &class,
            "write to someone@example.com for the key",
            Some(&open),
            "contains an email address",
        )
        .await;
        let by_phone = warned_then_held(
            &app,
            &author,
            &class,
            "text me at (434) 555-0123 about it",
            None,
            "contains a phone number",
        )
        .await;
        let held = [
            (&by_name, "priya raman took the last copy"),
            (&by_id, "ask NAM3C for the notes"),
            (&by_email, "someone@example.com"),
            (&by_phone, "555-0123"),
        ];

        // Its author sees each in place, marked held in words.
        let list = format!("/classes/{class}");
        let (_, mine) = author.get(&app, &list).await;
        for thread in [&by_name, &by_phone] {
            assert!(
                mine.contains(thread.as_str()),
                "the author's list shows their held thread"
            );
        }
        assert!(mine.contains("Held for review — only you and moderators can see this"));
        let (_, thread) = author
            .get(&app, &format!("/classes/{class}/threads/{open}"))
            .await;
        assert!(thread.contains("ask NAM3C for the notes"));
        assert!(thread.contains(HELD_MARK));

        // Another student: nothing of it in the list, the thread, the counts.
        let (_, theirs) = other.get(&app, &list).await;
        let (_, their_thread) = other
            .get(&app, &format!("/classes/{class}/threads/{open}"))
            .await;
        for (id, text) in held {
            for html in [&theirs, &their_thread] {
                assert!(!html.contains(id.as_str()), "no id of a held post");
                assert!(!html.contains(text), "no text of a held post: {text}");
            }
        }
        assert!(!theirs.contains(HELD_MARK) && !their_thread.contains(HELD_MARK));
        assert!(
            theirs.contains("No replies"),
            "held replies are not counted: {theirs}"
        );
        let (status, _) = other
            .get(&app, &format!("/classes/{class}/threads/{by_name}"))
            .await;
        assert_eq!(status, 404, "a held thread is not there for others");

        // Nor can they act on it: a vote or a reply finds nothing.
        let vote = other
            .post(
                &app,
                &list,
                &format!("/messages/{by_id}/vote"),
                &[("vote", "up")],
            )
            .await;
        assert_eq!(vote.status().as_u16(), 404);
        let (status, _) = post(
            &app,
            &other,
            &class,
            "replying to it",
            Some(&by_phone),
            false,
        )
        .await;
        assert_eq!(status, 400, "no reply to a held message");
        // Its search does not find it.
        let (_, found) = other
            .get(&app, &format!("/classes/{class}/search?q=copy"))
            .await;
        assert!(!found.contains("last copy"), "{found}");

        // The author's export has it, with its held state.
        let (_, export) = author.get(&app, "/account/export").await;
        assert!(
            export.contains("priya raman took the last copy"),
            "{export}"
        );
        assert!(
            export.contains("\"held\": true") || export.contains("\"held\":true"),
            "{export}"
        );
    }
);

backend_test!(
    async fn a_held_post_reaches_no_classmate_stream_until_released(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let named = app.student("nam3c");
        set_display_name(&app, &named, "Ángela Ruiz");
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let class = new_class(&app, "CS 3240", &[&author, &other, &named]).id;

        let mut stream = class_stream(&app, &other, &class).await;
        assert_eq!(stream.status(), 200);
        // Case and accents do not matter.
        let text = "did ANGELA RUIZ finish the lab";
        let held = warned_then_held(&app, &author, &class, text, None, "names a classmate").await;
        let (status, _) = post(
            &app,
            &author,
            &class,
            "Marker after the held one",
            None,
            false,
        )
        .await;
        assert_eq!(status, 303);
        let marker = message_with(&app, "Marker after the held one");
        loop {
            let frame = stream
                .next_frame(WAIT)
                .await
                .expect("the marker's frame arrives");
            assert!(!frame.data.contains(held.as_str()), "{frame:?}");
            if frame.data.contains(marker.as_str()) {
                break;
            }
        }
        let raw = String::from_utf8_lossy(&stream.raw).to_string();
        assert!(
            !raw.contains(held.as_str()) && !raw.contains("finish the lab"),
            "{raw}"
        );

        // The moderator finds it held in the queue, with its reason.
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        assert!(queue.contains("Held for review"), "{queue}");
        assert!(
            queue.contains(text) && queue.contains("names a classmate"),
            "{queue}"
        );
        let shown = field_in(&queue, "shown").expect("the release form names the text shown");
        // Its author edits it before the moderator presses Release: the text
        // the moderator read is not the text that would go out, so nothing does.
        let edited = "did ANGELA RUIZ finish the lab? her number is 434-555-0199";
        let edit = author
            .post(
                &app,
                &format!("/classes/{class}"),
                &format!("/messages/{held}/edit"),
                &[("content", edited), ("confirm_naming", "1")],
            )
            .await;
        assert_eq!(
            edit.status().as_u16(),
            303,
            "the author edits the held post"
        );
        let (_, stale) = moderator
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/release"),
                &[("shown", &shown)],
            )
            .await;
        assert!(
            stale.contains("edited that post after the queue showed it"),
            "{stale}"
        );
        assert!(held_state(&app, &held).0, "still held");
        assert!(
            stale.contains("her number is"),
            "the queue shows the new text"
        );
        // Released for the text it shows now.
        let shown = field_in(&stale, "shown").unwrap();
        let released = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/release"),
                &[("shown", &shown)],
            )
            .await;
        assert_eq!(released.status().as_u16(), 303);
        assert!(!held_state(&app, &held).0, "released");
        let class_of_row: Option<String> = audit_log::table
            .filter(audit_log::action.eq("release"))
            .filter(audit_log::target_id.eq(held.as_str()))
            .select(audit_log::class_id)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(class_of_row.as_deref(), Some(class.as_str()));
        // Its author, who saw "Held for review", is told it is out.
        let (_, inbox) = author.get(&app, "/notifications").await;
        assert!(
            inbox.contains("A moderator released your held post in CS 3240"),
            "{inbox}"
        );

        // Now the class sees it, live and on the page, first in the list.
        let frame = stream.next_frame(WAIT).await.expect("the release is live");
        assert_eq!(frame.event, "thread");
        assert!(frame.data.contains(held.as_str()));
        let (_, theirs) = other.get(&app, &format!("/classes/{class}")).await;
        assert!(theirs.contains("did ANGELA RUIZ finish the lab"));
        assert!(
            theirs.find(held.as_str()) < theirs.find(marker.as_str()),
            "the released thread is bumped to the top"
        );
        let (status, _) = other
            .get(&app, &format!("/classes/{class}/threads/{held}"))
            .await;
        assert_eq!(status, 200);
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        assert!(!queue.contains(text), "no longer held: {queue}");
    }
);

backend_test!(
    async fn a_removed_held_post_never_shows_to_the_class(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let class = new_class(&app, "CS 3240", &[&author, &other]).id;
        let held = warned_then_held(
            &app,
            &author,
            &class,
            "call 434-555-0199 tonight",
            None,
            "contains a phone number",
        )
        .await;
        let removed = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/delete"),
                &[
                    ("category", "personal_info"),
                    ("reason", "personal details"),
                ],
            )
            .await;
        assert_eq!(removed.status().as_u16(), 303);
        let (held_still, _) = held_state(&app, &held);
        assert!(held_still, "a removed held message stays held");
        let (_, theirs) = other.get(&app, &format!("/classes/{class}")).await;
        assert!(
            !theirs.contains(held.as_str()) && !theirs.contains("[deleted]"),
            "{theirs}"
        );
        // A Release pressed on the card loaded before the removal goes back
        // to the queue, saying so: a removed message cannot be released.
        let (status, release) = moderator
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/release"),
                &[],
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            release.contains(
                "That message is no longer held: another moderator released or removed it."
            ),
            "{release}"
        );
        assert!(release.contains("<h1>Flagged messages</h1>"), "{release}");
        assert!(chat::find(&mut app.conn(), &held).unwrap().unwrap().deleted);
    }
);

backend_test!(
    async fn a_remove_pressed_on_a_held_card_after_its_release_is_refused(backend: Backend) {
        // Arrange: a held post, and a second moderator's queue loaded while
        // it was held.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let first = staff(&app, "mod4d", Role::Moderator);
        let second = staff(&app, "mod5e", Role::Moderator);
        let class = new_class(&app, "CS 3240", &[&author, &other]).id;
        let held = warned_then_held(
            &app,
            &author,
            &class,
            "call 434-555-0199 tonight",
            None,
            "contains a phone number",
        )
        .await;
        let (_, queue) = second.get(&app, "/admin/flags").await;
        // The held post is counted on the tab that lists it, as the nav's
        // badge counts it.
        assert!(queue.contains("Waiting (1)</a>"), "{queue}");
        let card = &queue[queue
            .find(&format!("/admin/messages/{held}/delete"))
            .unwrap()..];
        let card = &card[..card.find("</form>").unwrap()];
        assert_eq!(field_in(card, "held").as_deref(), Some("1"), "{card}");

        // Act: the first releases it; then the second presses Remove.
        let (_, page) = first.get(&app, "/admin/flags").await;
        let shown = field_in(&page, "shown").unwrap();
        let released = first
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/release"),
                &[("shown", &shown)],
            )
            .await;
        assert_eq!(released.status().as_u16(), 303);
        let (status, answer) = second
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/delete"),
                &[
                    ("category", "personal_info"),
                    ("reason", "a phone number"),
                    ("held", "1"),
                ],
            )
            .await;

        // Assert: refused, back on the queue with the words to paste; the
        // class still reads the post the first moderator released.
        assert_eq!(status, 200);
        assert!(answer.contains("no longer held"), "{answer}");
        assert!(answer.contains("a phone number"), "{answer}");
        let message = chat::find(&mut app.conn(), &held).unwrap().unwrap();
        assert!(!message.held && !message.deleted, "{message:?}");
        let (_, theirs) = other.get(&app, &format!("/classes/{class}")).await;
        assert!(theirs.contains("434-555-0199"), "{theirs}");
    }
);

backend_test!(
    async fn a_held_reply_under_a_hidden_message_stays_held(backend: Backend) {
        // Arrange: a held reply, then its thread's opening message is hidden.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let class = new_class(&app, "CS 3240", &[&author, &other]).id;
        let (status, _) = post(&app, &other, &class, "Who has the lab notes?", None, false).await;
        assert_eq!(status, 303);
        let thread = message_with(&app, "Who has the lab notes?");
        let text = "call 434-555-0199 for the notes";
        let held = warned_then_held(
            &app,
            &author,
            &class,
            text,
            Some(&thread),
            "contains a phone number",
        )
        .await;
        let hidden = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{thread}/hide"),
                &[("category", "spam"), ("reason", "")],
            )
            .await;
        assert_eq!(hidden.status().as_u16(), 303);

        // Act: a moderator releases the reply, as read.
        let shown = common_grounds::chat::staff::fingerprint(text);
        let (_, page) = moderator
            .post_and_follow(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{held}/release"),
                &[("shown", &shown)],
            )
            .await;

        // Assert: refused in words; it stays held, out of the class's sight.
        assert!(
            page.contains("The message it replies to has been hidden or removed since"),
            "{page}"
        );
        assert!(held_state(&app, &held).0, "still held");
        let (_, theirs) = other
            .get(&app, &format!("/classes/{class}/threads/{thread}"))
            .await;
        assert!(!theirs.contains("434-555-0199"), "{theirs}");
    }
);

backend_test!(
    async fn a_thread_deleted_over_a_held_reply_leaves_the_list(backend: Backend) {
        // Arrange: a thread whose one reply is held.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let starter = app.student("sta2b");
        let reader = app.student("rea3c");
        let class = new_class(&app, "CS 3240", &[&author, &starter, &reader]).id;
        let (status, _) = post(
            &app,
            &starter,
            &class,
            "Anyone selling a lab kit?",
            None,
            false,
        )
        .await;
        assert_eq!(status, 303);
        let thread = message_with(&app, "Anyone selling a lab kit?");
        warned_then_held(
            &app,
            &author,
            &class,
            "call 434-555-0199 for mine",
            Some(&thread),
            "contains a phone number",
        )
        .await;
        let mut authors_list = class_stream(&app, &author, &class).await;
        let mut readers_list = class_stream(&app, &reader, &class).await;

        // Act: the starter deletes the thread.
        let deleted = starter
            .post(
                &app,
                &format!("/classes/{class}/threads/{thread}"),
                &format!("/messages/{thread}/delete"),
                &[],
            )
            .await;

        // Assert: to the starter as to the class, it is gone, as a thread
        // with no replies would be: no "[deleted]" row saying something is
        // held under it, and its page is not there.
        assert_eq!(deleted.status().as_u16(), 303);
        let location = deleted.headers()["location"].to_str().unwrap().to_string();
        assert!(!location.contains(thread.as_str()), "{location}");
        for who in [&starter, &reader] {
            let (_, list) = who.get(&app, &format!("/classes/{class}")).await;
            assert!(
                !list.contains(thread.as_str()) && !list.contains("[deleted]"),
                "{list}"
            );
            let (status, _) = who
                .get(&app, &format!("/classes/{class}/threads/{thread}"))
                .await;
            assert_eq!(status, 404);
        }
        // The held reply's author still has it, in their list as on its
        // page: a "[deleted]" opening post above their own held reply.
        let (status, own_page) = author
            .get(&app, &format!("/classes/{class}/threads/{thread}"))
            .await;
        assert_eq!(status, 200);
        assert!(
            own_page.contains("[deleted]") && own_page.contains("call 434-555-0199 for mine"),
            "{own_page}"
        );
        let (_, own_list) = author.get(&app, &format!("/classes/{class}")).await;
        assert!(
            own_list.contains(thread.as_str()),
            "the list leads to the page the author still has: {own_list}"
        );
        // Open lists agree with a reload: the author's keeps the row, the
        // reader's drops it.
        let theirs = authors_list
            .data_about(thread.as_str(), WAIT)
            .await
            .expect("the delete reaches the author's open list");
        assert!(!theirs["row"].is_null(), "{theirs}");
        let readers = readers_list
            .data_about(thread.as_str(), WAIT)
            .await
            .expect("the delete reaches the reader's open list");
        assert!(readers["row"].is_null(), "{readers}");
    }
);

backend_test!(
    async fn short_names_whole_words_and_non_members_do_not_trigger(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let al = app.student("alx1b");
        set_display_name(&app, &al, "Al");
        let outsider = app.student("out2c");
        set_display_name(&app, &outsider, "Zebulon Quist");
        let class = new_class(&app, "CS 4102", &[&author, &al]).id;
        for text in [
            "I also think the proof is wrong",
            "Al said the same",
            "Zebulon Quist wrote the textbook",
            "class 16601 meets at 10:30 in 2026",
        ] {
            let (status, _) = post(&app, &author, &class, text, None, false).await;
            assert_eq!(status, 303, "{text:?} names no classmate");
            assert!(!held_state(&app, &message_with(&app, text)).0, "{text:?}");
        }
    }
);

backend_test!(
    async fn a_member_who_hides_their_classes_is_not_given_away_by_a_hold(backend: Backend) {
        // Arrange: the author's friend is in the class and hides their classes;
        // a second classmate does not hide theirs.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let hider = app.student("hid2b");
        set_display_name(&app, &hider, "Rohan Hernandez");
        common_grounds::accounts::update(
            &mut app.conn(),
            &hider.user.id,
            &common_grounds::accounts::UserChanges {
                hide_classes: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let open = app.student("opn3c");
        set_display_name(&app, &open, "Elena Jackson");
        let class = new_class(&app, "CS 3120", &[&author, &hider, &open]).id;

        // Act: the author drafts each name.
        let hidden_name = "are Rohan Hernandez notes up?";
        let (hidden_status, _) = post(&app, &author, &class, hidden_name, None, false).await;
        let (open_status, open_page) = post(
            &app,
            &author,
            &class,
            "are Elena Jackson notes up?",
            None,
            false,
        )
        .await;

        // Assert: the hider's name posts as a stranger's would (the hold would
        // say they take the class); the other classmate's is warned.
        assert_eq!(hidden_status, 303);
        assert!(!held_state(&app, &message_with(&app, hidden_name)).0);
        assert_eq!(open_status, 200);
        assert!(open_page.contains("names a classmate"), "{open_page}");
    }
);

backend_test!(
    async fn invisible_characters_and_look_alike_letters_are_read_through(backend: Backend) {
        // Arrange: a classmate named Fatima Garcia.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = app.student("fgj4ps");
        set_display_name(&app, &named, "Fatima Garcia");
        let class = new_class(&app, "CS 3120", &[&author, &named]).id;

        // Act: drafts that show the ID, a number or the name to readers.
        let drafts = [
            "ask fgj\u{200B}4ps about the lab",
            "call 434\u{200B}555\u{200B}0199",
            "are F\u{430}tima Garcia's notes up?",
            "are \u{FF26}atima Garcia's notes up?",
        ];
        let mut answers = Vec::new();
        for text in drafts {
            answers.push(post(&app, &author, &class, text, None, false).await);
        }

        // Assert: each is warned, and nothing was posted.
        for (text, (status, page)) in drafts.iter().zip(&answers) {
            assert_eq!(*status, 200, "{text:?}");
            assert!(
                page.contains("names a classmate") || page.contains("contains a phone number"),
                "{text:?}: {page}"
            );
        }
        assert_eq!(stored_messages(&app), 0);
    }
);

backend_test!(
    async fn a_name_written_without_its_key_is_caught_once_keys_are_filled(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = app.student("nam2b");
        // A row as it stood before `users.name_key`: a display name, no key.
        diesel::update(common_grounds::db::schema::users::table.find(&named.user.id))
            .set(common_grounds::db::schema::users::display_name.eq(Some("Émile Zola")))
            .execute(&mut app.conn())
            .unwrap();
        let filled = common_grounds::accounts::fill_name_keys(&mut app.conn()).unwrap();
        assert_eq!(filled, 1, "the one row without a key");
        assert_eq!(
            common_grounds::accounts::fill_name_keys(&mut app.conn()).unwrap(),
            0,
            "filling is idempotent"
        );
        let class = new_class(&app, "CS 4610", &[&author, &named]).id;
        warned_then_held(
            &app,
            &author,
            &class,
            "ask emile zola about it",
            None,
            "names a classmate",
        )
        .await;
    }
);

backend_test!(
    async fn an_edit_naming_a_classmate_is_warned_not_held_once_read(backend: Backend) {
        // Arrange: a thread its class has read, and a classmate named "angela".
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let named = app.student("nam3c");
        set_display_name(&app, &named, "angela");
        let class = new_class(&app, "CS 3240", &[&author, &other, &named]).id;
        let (status, _) = post(&app, &author, &class, "Who has the notes", None, false).await;
        assert_eq!(status, 303);
        let id = message_with(&app, "Who has the notes");
        let page = format!("/classes/{class}/threads/{id}");
        let edit = format!("/messages/{id}/edit");
        let stored = || -> String {
            class_messages::table
                .find(&id)
                .select(class_messages::content)
                .first(&mut app.conn())
                .unwrap()
        };

        // Act: its author edits it to name her.
        let warned = author
            .post(&app, &page, &edit, &[("content", "ÁNGELA has the notes")])
            .await;

        // Assert: warned, with the draft kept and no way to hold it: the
        // page says to take the name out, or delete and post again.
        assert_eq!(warned.status().as_u16(), 200);
        let warned = warned.text().await.unwrap();
        assert!(warned.contains("This names a classmate"), "{warned}");
        assert!(
            warned.contains("ÁNGELA has the notes"),
            "the draft: {warned}"
        );
        assert!(
            warned.contains("already shown to the class, so an edit cannot hold it"),
            "{warned}"
        );
        assert!(!warned.contains("confirm_naming"), "{warned}");
        assert!(!warned.contains("held for review)"), "{warned}");
        assert!(warned.contains("Save edit"), "{warned}");
        assert_eq!(stored(), "Who has the notes", "nothing changed");

        // Act: the confirmation sent anyway, as an old page or a hand-made
        // form would.
        let forced = author
            .post(
                &app,
                &page,
                &edit,
                &[("content", "ÁNGELA has the notes"), ("confirm_naming", "1")],
            )
            .await;

        // Assert: the same warning; the class still reads the message as it
        // was, and it is not held.
        assert_eq!(forced.status().as_u16(), 200);
        let forced = forced.text().await.unwrap();
        assert!(forced.contains("an edit cannot hold it"), "{forced}");
        assert!(!held_state(&app, &id).0);
        assert_eq!(stored(), "Who has the notes");
        let (_, theirs) = other.get(&app, &page).await;
        assert!(theirs.contains("Who has the notes"), "{theirs}");

        // Act: the name taken out.
        let saved = author
            .post(&app, &page, &edit, &[("content", "The TA has the notes")])
            .await;

        // Assert: saved, shown.
        assert_eq!(saved.status().as_u16(), 303);
        assert_eq!(stored(), "The TA has the notes");
    }
);

backend_test!(
    async fn a_pinned_thread_held_by_an_old_edit_leaves_the_list(backend: Backend) {
        // Arrange: a thread, pinned by a moderator.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let other = app.student("oth2b");
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let class = new_class(&app, "CS 3240", &[&author, &other]).id;
        let (status, _) = post(
            &app,
            &author,
            &class,
            "Office hours moved today",
            None,
            false,
        )
        .await;
        assert_eq!(status, 303);
        let thread = message_with(&app, "Office hours moved today");
        let pinned = moderator
            .post(
                &app,
                &format!("/classes/{class}"),
                &format!("/classes/{class}/threads/{thread}/pin"),
                &[],
            )
            .await;
        assert_eq!(pinned.status().as_u16(), 303);
        let (_, before) = other.get(&app, &format!("/classes/{class}")).await;
        assert!(before.contains(thread.as_str()), "listed while shown");

        // Act: held, as an edit left it before edits stopped holding what
        // the class had read.
        held_by_an_old_edit(&app, &thread);
        assert!(held_state(&app, &thread).0, "held");

        // Assert: a classmate's list no longer has it, pinned or not; its
        // author's still does.
        let (_, theirs) = other.get(&app, &format!("/classes/{class}")).await;
        assert!(!theirs.contains(thread.as_str()), "{theirs}");
        let (_, own) = author.get(&app, &format!("/classes/{class}")).await;
        assert!(own.contains(thread.as_str()), "{own}");
    }
);

backend_test!(
    async fn a_reply_held_under_replies_is_counted_as_on_the_list(backend: Backend) {
        // Arrange: a reply with a reply under it.
        let LabNotes {
            app,
            starter,
            replier: _,
            named,
            class,
            root,
            reply,
        } = lab_notes(backend).await;
        post(&app, &named, &class, "Which desk?", Some(&reply), false).await;

        // Act: held by an old edit, but kept on the page as hidden, for the
        // reply under it.
        let page = format!("/classes/{class}/threads/{root}");
        held_by_an_old_edit(&app, &reply);
        assert!(held_state(&app, &reply).0);

        // Assert: the thread page counts what the list counts, so the count
        // does not tell the class that the hidden reply is a held one.
        let (_, thread) = starter.get(&app, &page).await;
        assert!(thread.contains("hidden by moderation"), "{thread}");
        assert!(
            thread.contains(r#"<span class="reply-count">1 reply</span>"#),
            "{thread}"
        );
        let (_, list) = starter.get(&app, &format!("/classes/{class}")).await;
        assert!(list.contains("1 reply"), "{list}");
    }
);

backend_test!(
    async fn a_reply_held_by_an_old_edit_leaves_the_inbox_and_the_digest(backend: Backend) {
        use chrono::{TimeZone, Timelike};
        use common_grounds::db::schema::email_outbox;
        use common_grounds::notifications::email::{self, NotificationMail};
        use common_grounds::notifications::settings::{self, DigestHour};

        let app = spawn_app(backend).await;
        let starter = app.student("sta1a");
        let replier = app.student("rep2b");
        let named = app.student("nam3c");
        set_display_name(&app, &named, "angela");
        let class = new_class(&app, "CS 3240", &[&starter, &replier, &named]).id;
        // The starter takes replies as a daily digest at the coming hour (the
        // digest lists what waits at the hour, so everything below is before it).
        let at = (common_grounds::clock::now() + chrono::Duration::hours(1))
            .with_minute(0)
            .unwrap()
            .with_second(0)
            .unwrap();
        let hour = chrono_tz::America::New_York.from_utc_datetime(&at).hour();
        common_grounds::db::write_tx(&mut app.conn(), |tx| {
            settings::set_digest_hour(tx, &starter.user.id, DigestHour::new(hour).unwrap(), at)
        })
        .unwrap();
        let (status, _) = post(&app, &starter, &class, "Who has the lab notes", None, false).await;
        assert_eq!(status, 303);
        let root = message_with(&app, "Who has the lab notes");
        let (status, _) = post(
            &app,
            &replier,
            &class,
            "Try the library desk",
            Some(&root),
            false,
        )
        .await;
        assert_eq!(status, 303);
        let reply = message_with(&app, "Try the library desk");
        let (_, inbox) = starter.get(&app, "/notifications").await;
        assert!(
            inbox.contains("Try the library desk"),
            "the notice shows the reply: {inbox}"
        );

        // Held by an old edit.
        held_by_an_old_edit(&app, &reply);
        assert!(held_state(&app, &reply).0);

        // The starter's inbox still lists the notice, without the held words
        // (still unread: a release would bring the reply back).
        let (status, inbox) = starter.get(&app, "/notifications").await;
        assert_eq!(status, 200);
        assert!(inbox.contains("replied to your message"), "{inbox}");
        let unread: i64 = common_grounds::db::schema::notifications::table
            .filter(common_grounds::db::schema::notifications::user_id.eq(&starter.user.id))
            .filter(common_grounds::db::schema::notifications::read_at.is_null())
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(unread, 1, "kept for a release");
        for secret in [
            "copied the notes",
            "ÁNGELA",
            "angela",
            "Try the library desk",
        ] {
            assert!(
                !inbox.contains(secret),
                "the inbox shows {secret:?}: {inbox}"
            );
        }

        // The digest written at the hour holds none of them either.
        let mail = NotificationMail {
            base_url: "http://cg.test".parse().unwrap(),
            secret: common_grounds::config::SecretKey::from_text(
                "test-secret-key-that-is-long-enough-0123456789",
            )
            .unwrap(),
            campus: common_grounds::campus_time::CampusTime::default(),
        };
        // In that hour: after every notice above.
        let at_hour = at.with_minute(30).unwrap();
        email::run_once(&mut app.conn(), &mail, at_hour).unwrap();
        let bodies: Vec<(String, String, String)> = email_outbox::table
            .filter(email_outbox::to_address.eq(&starter.user.email))
            .select((
                email_outbox::subject,
                email_outbox::body_text,
                email_outbox::body_html,
            ))
            .load(&mut app.conn())
            .unwrap();
        // The notice is about a reply the class no longer sees: quiet while
        // it is held, it is in no digest.
        let digests: Vec<&(String, String, String)> = bodies
            .iter()
            .filter(|(subject, _, _)| subject.contains("digest"))
            .collect();
        assert!(digests.is_empty(), "no digest: {bodies:?}");
        for (subject, text, html) in &bodies {
            for secret in ["copied the notes", "ÁNGELA", "angela"] {
                for part in [subject, text, html] {
                    assert!(
                        !part.contains(secret),
                        "the digest shows {secret:?}: {part}"
                    );
                }
            }
        }

        // Released, the reply speaks through the notice it first sent: one
        // notice about it, not a second.
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        let shown = field_in(&queue, "shown").expect("the held reply is in the queue");
        let released = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{reply}/release"),
                &[("shown", &shown)],
            )
            .await;
        assert_eq!(released.status().as_u16(), 303);
        assert!(!held_state(&app, &reply).0);
        let about: Vec<(String, bool)> = common_grounds::db::schema::notifications::table
            .filter(common_grounds::db::schema::notifications::user_id.eq(&starter.user.id))
            .filter(common_grounds::db::schema::notifications::message_id.eq(&reply))
            .select((
                common_grounds::db::schema::notifications::kind,
                common_grounds::db::schema::notifications::read_at.is_null(),
            ))
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(about, [("reply".to_string(), true)], "one notice, unread");
    }
);

backend_test!(
    async fn a_released_answer_an_old_edit_held_comes_back_live(backend: Backend) {
        // Arrange: a reply marked as its thread's answer, then held by an
        // old edit (it names a classmate).
        let LabNotes {
            app,
            starter,
            replier,
            named: _,
            class,
            root,
            reply,
        } = lab_notes(backend).await;
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let page = format!("/classes/{class}/threads/{root}");
        let marked = starter
            .post(
                &app,
                &page,
                &format!("/messages/{reply}/answer"),
                &[("mark", "yes")],
            )
            .await;
        assert_eq!(marked.status().as_u16(), 303);
        let text = "ÁNGELA has them";
        held_by_an_old_edit(&app, &reply);
        assert!(held_state(&app, &reply).0);
        let mut stream = class_stream(&app, &starter, &class).await;

        // Act: a moderator releases it.
        let shown = common_grounds::chat::staff::fingerprint(text);
        let released = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{reply}/release"),
                &[("shown", &shown)],
            )
            .await;
        assert_eq!(released.status().as_u16(), 303);

        // Assert: the question is redrawn on open pages with its answer box.
        let frame = stream
            .data_about(root.as_str(), WAIT)
            .await
            .expect("the question is redrawn");
        crate::live_stream::assert_names_no_one(&frame.to_string(), &[&starter, &replier]);
        let html = frame["html"].as_str().unwrap_or_default();
        assert!(
            html.contains("answer-first") && html.contains("has them"),
            "{frame}"
        );
    }
);

/// Says what a page would scroll sideways by, if anything.
const SIDEWAYS: &str =
    "return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth };";

/// The warning, the author's held thread and the moderators' queue in a real
/// browser at phone and desktop widths: reached by plain form posts, no
/// sideways scroll, and axe-core finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_held_pages_fit_phone_and_desktop_and_pass_axe() {
    let Some((driver, chromium)) = crate::common::browser::start().await else {
        return;
    };
    let app = spawn_quiet_app(Backend::Sqlite, &[]).await;
    let author = app.student("aut1a");
    let named = app.student("nam3c");
    set_display_name(&app, &named, "Priya Raman");
    let moderator = staff(&app, "mod4d", Role::Moderator);
    let class = new_class(&app, "CS 2150", &[&author, &named]).id;
    let text = "Priya Raman has the lab notes from Tuesday";
    for (width, height) in [(375u32, 900u32), (1280, 900)] {
        let client = crate::common::browser::open(&driver, &chromium, width, height).await;
        crate::common::browser::sign_in(&client, &app.address, &author.token).await;
        client
            .goto(&app.url(&format!("/classes/{class}")))
            .await
            .unwrap();
        let draft = format!("{text} ({width})");
        client
            .find(fantoccini::Locator::Css("#new-message"))
            .await
            .unwrap()
            .send_keys(&draft)
            .await
            .unwrap();
        client
            .find(fantoccini::Locator::Css("form.compose button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .wait()
            .for_element(fantoccini::Locator::Css("#naming-title"))
            .await
            .expect("the warning page");
        check_page(&client, &format!("held-warning-{width}")).await;
        client
            .find(fantoccini::Locator::Css("form.compose button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .wait()
            .for_element(fantoccini::Locator::Css(".held-note"))
            .await
            .expect("the held thread, marked");
        check_page(&client, &format!("held-thread-{width}")).await;
        let_post_again(&mut app.conn());
        client.close().await.unwrap();

        let client = crate::common::browser::open(&driver, &chromium, width, height).await;
        crate::common::browser::sign_in(&client, &app.address, &moderator.token).await;
        client.goto(&app.url("/admin/flags")).await.unwrap();
        let source = client.source().await.unwrap();
        assert!(source.contains(&draft), "the queue holds it");
        check_page(&client, &format!("held-queue-{width}")).await;
        client.close().await.unwrap();
    }
}

async fn check_page(client: &fantoccini::Client, name: &str) {
    let shot = crate::common::browser::screenshot(client, name).await;
    eprintln!("screenshot: {}", shot.display());
    let measured = client.execute(SIDEWAYS, vec![]).await.unwrap();
    let (scroll, inner) = (
        measured["scroll"].as_f64().unwrap(),
        measured["inner"].as_f64().unwrap(),
    );
    assert!(
        scroll <= inner,
        "{name} scrolls sideways ({scroll} > {inner})"
    );
    if let Some(found) = crate::common::browser::axe_findings(client).await {
        assert!(found.is_empty(), "{name}: {found:?}");
    }
}

/// Twelve display names, each a classmate's in `classmates`.
const NAMES: [&str; 12] = [
    "Fatima Garcia",
    "Bruno Bell",
    "Chioma Obi",
    "Dmitri Volkov",
    "Elena Ruiz",
    "Farid Haddad",
    "Grace Liu",
    "Hana Sato",
    "Ivan Petrov",
    "Jade Moreau",
    "Kofi Mensah",
    "Lena Fischer",
];

/// A student for each of `NAMES`, named so.
fn classmates(app: &TestApp) -> Vec<Student> {
    NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let who = app.student(&format!("n{}4ps", (b'a' + i as u8) as char));
            set_display_name(app, &who, name);
            who
        })
        .collect()
}

backend_test!(
    async fn naming_warnings_are_limited_so_the_roster_stays_private(backend: Backend) {
        // Arrange: a class whose members the author could try names against.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = classmates(&app);
        let mut members: Vec<&Student> = named.iter().collect();
        members.push(&author);
        let class = new_class(&app, "CS 3120", &members).id;
        let limit = common_grounds::chat::Rules::new(b"secret", 3).naming_warnings_per_hour;
        let (status, _) = post(&app, &author, &class, "Lab notes at 3", None, false).await;
        assert_eq!(status, 303);
        let own: MessageId = class_messages::table
            .select(class_messages::id)
            .first(&mut app.conn())
            .unwrap();

        // Act: warnings that tell nothing of the roster (an ID shape, a phone
        // number, an address: matched whoever takes the class), then the
        // hour's roster answers: warnings on drafts naming the classmate, and
        // one such draft posted anyway (held).
        for text in [
            "is lab3b due friday",
            "call 434-555-0199",
            "mail ta@example.com",
        ] {
            let (status, page) = post(&app, &author, &class, text, None, false).await;
            assert_eq!(status, 200, "{text}: {page}");
            assert!(page.contains(WARNING), "{text}: {page}");
        }
        // One name written again and again is one answer.
        for n in 0..3 {
            let text = format!("is Fatima Garcia in here? ({n})");
            let (status, page) = post(&app, &author, &class, &text, None, false).await;
            assert_eq!(status, 200, "{text}: {page}");
        }
        for name in &NAMES[1..limit as usize - 1] {
            let text = format!("is {name} in here?");
            let (status, page) = post(&app, &author, &class, &text, None, false).await;
            assert_eq!(status, 200, "{text}: {page}");
            assert!(page.contains("This names a classmate"), "{page}");
        }
        let held = format!("ask {}", NAMES[limit as usize - 1]);
        let (status, _) = post(&app, &author, &class, &held, None, true).await;
        assert_eq!(status, 303, "posted anyway, held");
        // Then a draft that names someone, one that names no one, and one
        // posted past the warning.
        let named_again = post(&app, &author, &class, "and Lena Fischer?", None, false).await;
        let naming_no_one = post(&app, &author, &class, "and Zebulon Quark?", None, false).await;
        let confirmed = post(&app, &author, &class, "Fatima Garcia", None, true).await;
        // Editing one's own message, which leaves no trace while warned.
        let edit = format!("/messages/{own}/edit");
        let edited = author
            .post(
                &app,
                &format!("/classes/{class}"),
                &edit,
                &[("content", "Lab notes at 3, ask Zebulon")],
            )
            .await;
        let edited = (edited.status().as_u16(), edited.text().await.unwrap());

        // Assert: each waits, in the same words, so the answer says nothing
        // about whom the draft names; nothing more was stored.
        for (status, page) in [&named_again, &naming_no_one, &confirmed, &edited] {
            assert_eq!(*status, 429, "{page}");
            assert!(
                page.contains(&format!(
                    "You were warned {limit} times in the last hour that a draft named someone."
                )),
                "{page}"
            );
            assert!(page.contains("Try again after"), "{page}");
            assert!(!page.contains("names a classmate"), "{page}");
        }
        // The same page but for the draft each keeps to send again.
        assert_eq!(
            named_again.1.replace("and Lena Fischer?", "DRAFT"),
            naming_no_one.1.replace("and Zebulon Quark?", "DRAFT")
        );
        assert_eq!(stored_messages(&app), 2, "the first post and the held one");
        let content: String = class_messages::table
            .find(&own)
            .select(class_messages::content)
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(content, "Lab notes at 3");
        // A classmate who was never warned posts as before.
        let (status, _) = post(&app, &named[0], &class, "Lab notes are up", None, false).await;
        assert_eq!(status, 303);
    }
);

backend_test!(
    async fn naming_warnings_sent_at_once_are_counted_one_by_one(backend: Backend) {
        use common_grounds::chat::{ChatError, Draft, MessageBody};
        // Arrange: a classmate named Fatima Garcia, in two of the author's classes.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = classmates(&app);
        let mut members: Vec<&Student> = named.iter().collect();
        members.push(&author);
        let classes = [
            new_class(&app, "CS 3120", &members).id,
            new_class(&app, "CS 4610", &members).id,
        ];
        let rules = common_grounds::chat::Rules::new(b"secret", 3);
        let limit = rules.naming_warnings_per_hour as usize;

        // Act: two more drafts than the hour's answers, each naming another
        // classmate, sent at the same moment to both classes.
        let start = std::sync::Arc::new(std::sync::Barrier::new(limit + 2));
        let drafts: Vec<_> = (0..limit + 2)
            .map(|n| {
                let (pool, start, rules) = (app.pool.clone(), start.clone(), rules.clone());
                let (author, class) = (author.user.clone(), classes[n % 2].clone());
                std::thread::spawn(move || {
                    let text = format!("is {} in here?", NAMES[n]);
                    let body = MessageBody::parse(&text).unwrap();
                    start.wait();
                    let mut conn = pool.get().unwrap();
                    let draft = Draft {
                        class_id: &class,
                        parent_id: None,
                        body: &body,
                    };
                    common_grounds::chat::post(
                        &mut conn,
                        &author,
                        draft,
                        &rules,
                        common_grounds::clock::now(),
                    )
                })
            })
            .collect();
        let outcomes: Vec<_> = drafts.into_iter().map(|d| d.join().unwrap()).collect();

        // Assert: the hour's warnings and not one more; the rest wait.
        let warned = outcomes
            .iter()
            .filter(|o| matches!(o, Err(ChatError::NamesSomeone { .. })))
            .count();
        let waiting = outcomes
            .iter()
            .filter(|o| matches!(o, Err(ChatError::NamingWarnings { .. })))
            .count();
        assert_eq!((warned, waiting), (limit, 2), "{outcomes:?}");
        assert_eq!(stored_messages(&app), 0);
    }
);

backend_test!(
    async fn a_draft_the_limits_refuse_is_refused_before_the_naming_check(backend: Backend) {
        // Arrange: the author has just posted (one post per 5 seconds).
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = app.student("fgj4ps");
        set_display_name(&app, &named, "Fatima Garcia");
        let class = new_class(&app, "CS 3120", &[&author, &named]).id;
        let page = format!("/classes/{class}");
        let action = format!("/classes/{class}/messages");
        let draft = |text: &'static str| {
            let (author, app, page, action) = (&author, &app, &page, &action);
            async move {
                let r = author
                    .post(app, page, action, &[("content", text), ("confirmed", "1")])
                    .await;
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(draft("Lab notes at 3").await.0, 303);

        // Act: within the 5 seconds, a draft naming a member and one naming
        // no one.
        let member = draft("did Fatima Garcia go to lecture").await;
        let stranger = draft("did Zebulon Quark go to lecture").await;

        // Assert: both wait alike; the member's name was not answered.
        assert_eq!(member.0, 429, "{}", member.1);
        assert_eq!(stranger.0, 429, "{}", stranger.1);
        assert!(member.1.contains("You can post once every"), "{}", member.1);
        assert!(!member.1.contains("names a classmate"), "{}", member.1);
        let counted: i64 = common_grounds::db::schema::rate_limit_hits::table
            .filter(
                common_grounds::db::schema::rate_limit_hits::bucket
                    .like(format!("chat-naming-%{}%", author.user.id)),
            )
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(counted, 0);
    }
);

backend_test!(
    async fn a_classmate_named_like_a_common_word_locks_no_one_out(backend: Backend) {
        // Arrange: a classmate whose display name, "Grace", is also a word
        // ("grace period") a class writes often.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = app.student("thx1a");
        set_display_name(&app, &named, "Grace");
        let class = new_class(&app, "CS 3120", &[&author, &named]).id;
        let limit = common_grounds::chat::Rules::new(b"secret", 3).naming_warnings_per_hour;

        // Act: more drafts than the hour's answers, each with "grace".
        let mut answers = Vec::new();
        for n in 0..limit + 2 {
            let text = format!("is the grace period for set {n} two days?");
            answers.push(post(&app, &author, &class, &text, None, false).await);
        }

        // Assert: each is warned (one name, answered once), none refused.
        for (status, page) in &answers {
            assert_eq!(*status, 200, "{page}");
            assert!(page.contains("This names a classmate"), "{page}");
        }
    }
);

backend_test!(
    async fn a_classmate_named_with_everyday_words_holds_no_one_s_posts(backend: Backend) {
        // Arrange: one classmate calls themself "The", another "Is It", a
        // third "11:59" (every word an everyday one or a number); a fourth
        // is "Will Turner".
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let reader = app.student("rea2b");
        let the = app.student("thx1a");
        let is_it = app.student("iix2b");
        let time = app.student("tmx4d");
        let turner = app.student("wtx3c");
        let (_, saved) = the
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "The")],
            )
            .await;
        assert!(
            saved.contains("so class chats cannot tell it from ordinary writing"),
            "its owner is told: {saved}"
        );
        set_display_name(&app, &is_it, "Is It");
        set_display_name(&app, &time, "11:59");
        let (_, saved) = turner
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Will Turner")],
            )
            .await;
        assert!(saved.contains("Saved."), "{saved}");
        assert!(!saved.contains("ordinary writing"), "{saved}");
        let members = [&author, &reader, &the, &is_it, &time, &turner];
        let class = new_class(&app, "CS 3120", &members).id;

        // Act: an ordinary sentence that holds those words.
        let ordinary = "The TA said it is due at 11:59, is it?";
        let (status, location) = post(&app, &author, &class, ordinary, None, false).await;

        // Assert: posted at once, not held, and the class reads it.
        assert_eq!(status, 303, "not warned: {location}");
        let id = message_with(&app, ordinary);
        assert_eq!(held_state(&app, &id), (false, None));
        let (_, page) = reader.get(&app, &format!("/classes/{class}")).await;
        assert!(page.contains("The TA said it is due at 11:59"), "{page}");

        // A name with a word of its own is still looked for.
        let held = warned_then_held(
            &app,
            &author,
            &class,
            "did Will Turner finish the lab?",
            None,
            "names a classmate",
        )
        .await;

        // Moderators read whose name it matched; its author never does.
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        let card = queue
            .split("<section class=\"card flagged\"")
            .find(|c| c.contains("did Will Turner finish the lab?"))
            .unwrap_or_else(|| panic!("no held card: {queue}"));
        let link = format!(
            "the display name of <a href=\"/admin/users/{}\">wtx3c</a>",
            turner.user.id
        );
        assert!(card.contains(&link), "{card}");
        for path in [
            format!("/classes/{class}"),
            format!("/classes/{class}/threads/{held}"),
        ] {
            let (_, page) = author.get(&app, &path).await;
            assert!(page.contains("did Will Turner finish the lab?"), "{page}");
            assert!(!page.contains("wtx3c"), "{path} names the member: {page}");
        }
    }
);

backend_test!(
    async fn a_name_answered_in_one_class_is_a_new_answer_in_another(backend: Backend) {
        use common_grounds::db::schema::rate_limit_hits;
        // Arrange: Fatima Garcia takes two of the author's classes.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let named = app.student("fgj4ps");
        set_display_name(&app, &named, "Fatima Garcia");
        let first = new_class(&app, "CS 3120", &[&author, &named]).id;
        let second = new_class(&app, "CS 4610", &[&author, &named]).id;
        let rows = |prefix: &str| -> i64 {
            rate_limit_hits::table
                .filter(rate_limit_hits::bucket.like(format!("{prefix}:{}%", author.user.id)))
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };

        // Act: her name three times in the first class, once in the second.
        for n in 0..3 {
            let text = format!("is Fatima Garcia in here? ({n})");
            assert_eq!(post(&app, &author, &first, &text, None, false).await.0, 200);
        }
        let in_first = rows("chat-naming-warned");
        let text = "is Fatima Garcia in here?";
        assert_eq!(post(&app, &author, &second, text, None, false).await.0, 200);

        // Assert: one answer a class, one row a name and class, however often.
        assert_eq!(in_first, 1);
        assert_eq!(rows("chat-naming-warned"), 2);
        assert_eq!(rows("chat-naming-name"), 2);
    }
);

backend_test!(
    async fn a_moderator_removes_a_display_name_that_holds_a_class_s_posts(backend: Backend) {
        use common_grounds::db::schema::users;
        // Arrange: a student calls themself "Homework", so a classmate's post
        // about the homework is warned and, posted anyway, held.
        let app = spawn_app(backend).await;
        let author = app.student("aut1a");
        let griefer = app.student("grf1a");
        let (_, saved) = griefer
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Homework")],
            )
            .await;
        assert!(saved.contains("Saved."), "{saved}");
        let class = new_class(&app, "CS 3120", &[&author, &griefer]).id;
        warned_then_held(
            &app,
            &author,
            &class,
            "is homework 3 due friday?",
            None,
            "names a classmate",
        )
        .await;
        let moderator = staff(&app, "mod4d", Role::Moderator);
        let (_, queue) = moderator.get(&app, "/admin/flags").await;
        let page = format!("/admin/users/{}", griefer.user.id);
        assert!(
            queue.contains(&format!("<a href=\"{page}\">grf1a</a>")),
            "{queue}"
        );
        let (_, profile) = moderator.get(&app, &page).await;
        assert!(profile.contains("Remove the display name"), "{profile}");
        // The form says which name it removes: the one the page shows.
        let shown = field_in(&profile, "name").expect("the form names the name");
        assert_eq!(shown, "Homework");

        // Act: a form without the name, or too short a reason, is refused;
        // then the name is removed.
        let remove = "/admin/users/grf1a/display-name/remove";
        let unnamed = moderator
            .post(&app, &page, remove, &[("reason", "A long enough reason")])
            .await;
        assert_eq!(unnamed.status().as_u16(), 400);
        let unnamed = unnamed.text().await.unwrap();
        assert!(unnamed.contains("Reload the person"), "{unnamed}");
        let short = moderator
            .post(&app, &page, remove, &[("name", &shown), ("reason", "bad")])
            .await;
        assert_eq!(short.status().as_u16(), 400);
        assert!(short
            .text()
            .await
            .unwrap()
            .contains("Give a reason of 10 to 500 characters"));
        let reason = "A class's common word, chosen to hold classmates' posts";
        // A name other than the one stored (renamed since the page loaded) is
        // not removed: the moderator judged another.
        let stale = moderator
            .post(
                &app,
                &page,
                remove,
                &[("name", "Homwork"), ("reason", reason)],
            )
            .await;
        assert_eq!(stale.status().as_u16(), 400);
        let stale = stale.text().await.unwrap();
        assert!(stale.contains("has changed to “Homework”"), "{stale}");
        let (_, done) = moderator
            .post_and_follow(&app, &page, remove, &[("name", &shown), ("reason", reason)])
            .await;

        // Assert: gone, with a week's wait, told to its owner and audited,
        // and the moderator is back on the person's page.
        assert!(done.contains("<h1>grf1a"), "{done}");
        assert!(
            done.contains("grf1a&#39;s display name is removed; they were told why"),
            "{done}"
        );
        let (name, locked): (Option<String>, Option<chrono::NaiveDateTime>) = users::table
            .find(&griefer.user.id)
            .select((users::display_name, users::display_name_locked_until))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(name, None);
        let wait = locked.expect("a new name waits") - common_grounds::clock::now();
        assert!(
            wait > chrono::Duration::days(6) && wait <= chrono::Duration::days(7),
            "{wait}"
        );
        let entry: (Option<String>, String, Option<String>, Option<String>) = audit_log::table
            .filter(audit_log::action.eq("clear_display_name"))
            .select((
                audit_log::actor_id,
                audit_log::target_id,
                audit_log::reason,
                audit_log::details,
            ))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(entry.0.as_deref(), Some(moderator.user.id.as_str()));
        assert_eq!(entry.1, griefer.user.id.as_str());
        assert_eq!(entry.2.as_deref(), Some(reason));
        // The wait, not the name: an erasure leaves no copy of it.
        let details = entry.3.unwrap();
        assert!(details.starts_with("a new one from "), "{details}");
        assert!(!details.contains("Homework"), "{details}");
        let (_, log) = moderator.get(&app, "/admin/audit").await;
        assert!(log.contains("removed a display name"), "{log}");
        let (_, profile) = moderator.get(&app, &page).await;
        assert!(!profile.contains("Remove the display name"), "{profile}");
        assert!(
            profile.contains("they can choose a new one from"),
            "{profile}"
        );
        assert!(profile.contains("End the wait now"), "{profile}");
        let history = profile
            .split("suspension-history")
            .nth(1)
            .unwrap_or_else(|| panic!("no history: {profile}"));
        assert!(history.contains("removed a display name"), "{history}");
        let again = moderator
            .post(
                &app,
                &page,
                remove,
                &[("name", "Homework"), ("reason", reason)],
            )
            .await;
        assert_eq!(again.status().as_u16(), 400);
        assert!(again.text().await.unwrap().contains("has no display name"));

        // The class's posts about homework go through at once.
        let (status, location) = post(
            &app,
            &author,
            &class,
            "is homework 4 due monday?",
            None,
            false,
        )
        .await;
        assert_eq!(status, 303, "not warned: {location}");

        // Its owner reads why, and cannot choose a name before the week ends;
        // the classes setting sent with it is still saved.
        let (_, inbox) = griefer.get(&app, "/notifications").await;
        assert!(
            inbox.contains("A moderator removed your display name"),
            "{inbox}"
        );
        assert!(inbox.contains("chosen to hold classmates"), "{inbox}");
        assert!(
            !inbox.contains("Reason: You can choose"),
            "said once: {inbox}"
        );
        let (_, account) = griefer.get(&app, "/account").await;
        assert!(
            account.contains("A moderator removed your display name"),
            "{account}"
        );
        assert!(account.contains(" readonly"), "{account}");
        let (_, refused) = griefer
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Grace Farmer"), ("hide_classes", "on")],
            )
            .await;
        assert!(
            refused.contains("a moderator removed your display name"),
            "{refused}"
        );
        let (name, hidden): (Option<String>, bool) = users::table
            .find(&griefer.user.id)
            .select((users::display_name, users::hide_classes))
            .first(&mut app.conn())
            .unwrap();
        assert_eq!(
            (name, hidden),
            (None, true),
            "the classes setting was saved"
        );

        // A removal found mistaken: a moderator ends the wait, the student
        // is told, and a name is theirs to choose again.
        let end = "/admin/users/grf1a/display-name/end-wait";
        let (_, profile) = moderator.get(&app, &page).await;
        let wait = field_in(&profile, "until").expect("the form names the wait");
        // A page showing another wait (an earlier one, or one no page could
        // show: 5000 BC, which PostgreSQL cannot bind) ends nothing.
        for shown in ["2026-01-05T12:00:00", "-5000-01-05T12:00:00"] {
            let other = moderator.post(&app, &page, end, &[("until", shown)]).await;
            assert_eq!(other.status().as_u16(), 400, "{shown}");
            assert!(other.text().await.unwrap().contains("is not waiting"));
        }
        let (_, ended) = moderator
            .post_and_follow(&app, &page, end, &[("until", &wait)])
            .await;
        assert!(
            ended.contains("grf1a can choose a display name again"),
            "{ended}"
        );
        assert!(!ended.contains("End the wait now"), "{ended}");
        let history = ended.split("suspension-history").nth(1).unwrap_or_default();
        assert!(history.contains("ended a removed name"), "{history}");
        let again = moderator.post(&app, &page, end, &[("until", &wait)]).await;
        assert_eq!(again.status().as_u16(), 400);
        assert!(again.text().await.unwrap().contains("is not waiting"));
        let (_, inbox) = griefer.get(&app, "/notifications").await;
        assert!(
            inbox.contains("You can choose a display name again"),
            "{inbox}"
        );
        let (_, saved) = griefer
            .post_and_follow(
                &app,
                "/account",
                "/account/privacy",
                &[("display_name", "Grace Farmer")],
            )
            .await;
        assert!(saved.contains("Saved."), "{saved}");

        // A student cannot reach the action at all.
        let (_, csrf_page) = author.get(&app, "/account").await;
        let csrf = csrf_in(&csrf_page).unwrap();
        let r = post_with(
            &app,
            &author.client,
            remove,
            &[("csrf_token", &csrf), ("reason", reason)],
        )
        .await;
        assert_eq!(r.status().as_u16(), 404);
    }
);

backend_test!(
    async fn an_address_beside_a_name_tells_nothing_of_the_roster(backend: Backend) {
        let app = spawn_app(backend).await;
        let author = app.student("aut2b");
        let named = classmates(&app);
        let mut members: Vec<&Student> = named.iter().collect();
        members.push(&author);
        let class = new_class(&app, "CS 3120", &members).id;
        let member = format!("is {} here? ta@example.com", NAMES[0]);
        let stranger = "is Zebulon Quark here? ta@example.com";
        let (status, with_member) = post(&app, &author, &class, &member, None, false).await;
        assert_eq!(status, 200, "{with_member}");
        let (status, with_stranger) = post(&app, &author, &class, stranger, None, false).await;
        assert_eq!(status, 200, "{with_stranger}");
        assert!(
            with_member.contains("contains an email address"),
            "{with_member}"
        );
        assert!(!with_member.contains("names a classmate"), "{with_member}");
        assert_eq!(
            with_member.replace(&member, "DRAFT"),
            with_stranger.replace(stranger, "DRAFT"),
            "the warning differs by whether the name takes the class"
        );
        // Posted anyway, it is held for everything it holds.
        let (status, _) = post(&app, &author, &class, &member, None, true).await;
        assert_eq!(status, 303);
        let reason: Option<String> = class_messages::table
            .filter(class_messages::held.eq(true))
            .select(class_messages::held_reason)
            .first(&mut app.conn())
            .unwrap();
        let reason = reason.unwrap_or_default();
        assert!(reason.contains("names a classmate"), "{reason}");
    }
);

backend_test!(
    async fn a_held_reply_shown_as_hidden_leaves_live_with_what_held_it(backend: Backend) {
        // Arrange: a classmate's reply under the replier's, then the
        // replier's held by an old edit: shown to the class as a hidden one,
        // above the classmate's.
        let LabNotes {
            app,
            starter,
            replier: _,
            named,
            class,
            root,
            reply,
        } = lab_notes(backend).await;
        post(&app, &named, &class, "Thanks", Some(&reply), false).await;
        let thanks = message_with(&app, "Thanks");
        let page = format!("/classes/{class}/threads/{root}");
        held_by_an_old_edit(&app, &reply);
        let (_, thread) = starter.get(&app, &page).await;
        assert!(thread.contains(&format!("m-{reply}")), "{thread}");
        let mut stream = class_stream(&app, &starter, &class).await;

        // Act: the classmate deletes the reply that kept it on the page.
        let deleted = named
            .post(&app, &page, &format!("/messages/{thanks}/delete"), &[])
            .await;
        assert_eq!(deleted.status().as_u16(), 303);

        // Assert: open pages drop the hidden one too, as a reload does.
        let data = stream
            .data_about(reply.as_str(), WAIT)
            .await
            .expect("the hidden reply's leaving reaches the open page");
        assert!(data["html"].is_null(), "{data}");
        let (_, thread) = starter.get(&app, &page).await;
        assert!(!thread.contains(&format!("m-{reply}")), "{thread}");
    }
);

backend_test!(
    async fn a_held_message_shown_as_hidden_answers_as_a_hidden_one(backend: Backend) {
        // Arrange: two replies of the same shape, each with a classmate's
        // reply under it; one held by an old edit (the class sees it as hidden
        // above the reply), the other hidden by a moderator.
        let LabNotes {
            app,
            starter,
            replier,
            named,
            class,
            root,
            reply: held,
        } = lab_notes(backend).await;
        let moderator = staff(&app, "mod4d", Role::Moderator);
        post(
            &app,
            &replier,
            &class,
            "Or ask at the front",
            Some(&root),
            false,
        )
        .await;
        let hidden = message_with(&app, "Or ask at the front");
        post(
            &app,
            &named,
            &class,
            "Found them, thanks",
            Some(&held),
            false,
        )
        .await;
        post(
            &app,
            &named,
            &class,
            "Asked, they had some",
            Some(&hidden),
            false,
        )
        .await;
        let page = format!("/classes/{class}/threads/{root}");
        held_by_an_old_edit(&app, &held);
        assert!(held_state(&app, &held).0);
        let hid = moderator
            .post(
                &app,
                "/admin/flags",
                &format!("/admin/messages/{hidden}/hide"),
                &[("category", "spam"), ("reason", "")],
            )
            .await;
        assert_eq!(hid.status().as_u16(), 303);
        let (_, seen) = starter.get(&app, &page).await;
        assert_eq!(
            seen.matches("hidden by moderation").count(),
            2,
            "the starter's page shows both as hidden: {seen}"
        );

        // Act: the thread's starter tries every action on each.
        let mut answers = Vec::new();
        for message in [&held, &hidden] {
            let mut each = Vec::new();
            for (action, fields) in [
                ("edit", vec![("content", "Edited by someone else")]),
                ("delete", vec![]),
                ("vote", vec![("vote", "up")]),
                ("vote", vec![("vote", "take_back")]),
                ("answer", vec![("mark", "yes")]),
                ("flag", vec![("reason", "spam"), ("back", page.as_str())]),
            ] {
                let response = starter
                    .post(
                        &app,
                        &page,
                        &format!("/messages/{message}/{action}"),
                        &fields,
                    )
                    .await;
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().replace(message.as_str(), "ID"));
                let body = response
                    .text()
                    .await
                    .unwrap()
                    .replace(message.as_str(), "ID");
                each.push((action, status, location, body));
            }
            answers.push(each);
        }

        // Assert: the same answer for each, word for word: nothing tells the
        // class which one is held rather than hidden.
        for (of_held, of_hidden) in answers[0].iter().zip(&answers[1]) {
            assert_eq!(of_held, of_hidden);
        }
        // A vote on a hidden message is refused without saying it cannot be
        // reported (it can: the report went through).
        let (_, _, _, vote) = &answers[1][2];
        assert!(
            vote.contains("deleted or hidden, so this can no longer be done to it")
                && !vote.contains("reported"),
            "{vote}"
        );
        assert!(
            answers[1].iter().all(|(_, status, ..)| *status != 404),
            "each was answered as a hidden message, not as none: {:?}",
            answers[1]
        );
    }
);

backend_test!(
    async fn reports_on_a_held_message_shown_as_hidden_wait_and_hide_nothing(backend: Backend) {
        use common_grounds::db::schema::{message_flags, user_classes};
        // Arrange: a reply with a classmate's reply under it, edited into
        // held (the class sees it as hidden); three classmates of long
        // standing, enough reports to hide a message.
        let LabNotes {
            app,
            starter,
            replier: _,
            named,
            class,
            root,
            reply,
        } = lab_notes(backend).await;
        let third = app.student("thi4d");
        assert!(common_grounds::classes::enroll(
            &mut app.conn(),
            &third.user.id,
            &class,
            common_grounds::clock::now()
        )
        .unwrap());
        diesel::update(user_classes::table.filter(user_classes::class_id.eq(&class)))
            .set(
                user_classes::enrolled_at
                    .eq(common_grounds::clock::now() - chrono::Duration::days(3)),
            )
            .execute(&mut app.conn())
            .unwrap();
        post(
            &app,
            &named,
            &class,
            "Found them, thanks",
            Some(&reply),
            false,
        )
        .await;
        let page = format!("/classes/{class}/threads/{root}");
        held_by_an_old_edit(&app, &reply);
        let mut stream = class_stream(&app, &starter, &class).await;

        // Act: each reports it.
        for who in [&starter, &named, &third] {
            let reported = who
                .post(
                    &app,
                    &page,
                    &format!("/messages/{reply}/flag"),
                    &[("reason", "spam"), ("back", page.as_str())],
                )
                .await;
            assert_eq!(reported.status().as_u16(), 303);
        }

        // Assert: the reports wait for the moderators, counting toward no
        // hide: no hide by reports (which no hidden message could get
        // again), no event, no log line.
        let (hidden, count): (bool, i32) = class_messages::table
            .find(&reply)
            .select((class_messages::hidden, class_messages::flagged_count))
            .first(&mut app.conn())
            .unwrap();
        assert!(!hidden && count == 0, "hidden {hidden}, counted {count}");
        let waiting: i64 = message_flags::table
            .filter(message_flags::message_id.eq(&reply))
            .filter(message_flags::cleared_at.is_null())
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(waiting, 3);
        let logged: i64 = audit_log::table
            .filter(audit_log::target_id.eq(reply.as_str()))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(logged, 0);
        assert!(
            stream
                .data_about(reply.as_str(), Duration::from_secs(3))
                .await
                .is_none(),
            "no live event about it"
        );
    }
);
