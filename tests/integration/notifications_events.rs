//! Issue 19, item 2, on SQLite and PostgreSQL: a friend request and its
//! acceptance, a message hidden by reports, a moderator's restore, a removal
//! with a reason, an answer marked by a moderator, a suspension and its lift
//! each make exactly one notification, for the right student and nobody else
//! (every student's rows are counted before and after).
//!
//! Computing IDs here hold letters past f, so none can turn up by chance
//! inside a hex id.

use std::collections::HashMap;

use crate::common;
use crate::notifications_chat::{post, rules};

use chrono::Duration;
use common::*;
use common_grounds::accounts::{Role, UserId};
use common_grounds::campus_time::CampusTime;
use common_grounds::chat::{self, ClassMessage, FlagReason};
use common_grounds::classes::Class;
use common_grounds::clock;
use common_grounds::db::schema::{notifications, user_classes};
use common_grounds::friends::requests::{self, Action, RequestOutcome};
use common_grounds::moderation;
use common_grounds::notifications::{settings, view, Kind};
use diesel::prelude::*;

// ---------------------------------------------------------------- helpers

/// How many notification rows each student has.
fn counts(app: &TestApp) -> HashMap<UserId, i64> {
    notifications::table
        .group_by(notifications::user_id)
        .select((notifications::user_id, diesel::dsl::count_star()))
        .load::<(UserId, i64)>(&mut app.conn())
        .unwrap()
        .into_iter()
        .collect()
}

/// Runs `event` and asserts that it wrote exactly one row, for `who`, of
/// `kind`, and nothing for anyone else. Returns that row's detail.
async fn exactly_one<F, Fut>(app: &TestApp, who: &Student, kind: Kind, event: F) -> Option<String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = counts(app);
    event().await;
    let after = counts(app);
    let mut changed: Vec<(UserId, i64)> = after
        .iter()
        .map(|(user, n)| (user.clone(), n - before.get(user).copied().unwrap_or(0)))
        .filter(|(_, d)| *d != 0)
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![(who.user.id.clone(), 1)],
        "{kind}: one row for {}, none for anyone else",
        who.user.computing_id
    );
    let (got, detail): (String, Option<String>) = notifications::table
        .filter(notifications::user_id.eq(&who.user.id))
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .select((notifications::kind, notifications::detail))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(got, kind.as_str());
    detail
}

fn nothing_new(app: &TestApp, before: &HashMap<UserId, i64>, what: &str) {
    assert_eq!(&counts(app), before, "{what} notifies nobody");
}

fn joined_days_ago(app: &TestApp, who: &Student, class: &Class, days: i64) {
    diesel::update(user_classes::table.find((&who.user.id, &class.id)))
        .set(user_classes::enrolled_at.eq(clock::now() - Duration::days(days)))
        .execute(&mut app.conn())
        .unwrap();
}

// ---------------------------------------------------------------- friends

backend_test!(
    async fn a_friend_request_and_its_acceptance_each_notify_once(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = app.student("arwy");
        let b = app.student("bryw");
        let c = app.student("cryz");
        let now = clock::now();

        let sent = exactly_one(&app, &b, Kind::FriendRequest, || async {
            let out =
                requests::request(&mut app.conn(), &a.user, "bryw", "virginia.edu", now).unwrap();
            assert!(matches!(out, RequestOutcome::Sent { .. }));
        })
        .await;
        assert_eq!(sent, None);
        let listed = view::list(&mut app.conn(), &b.user.id, clock::now(), None, 10).unwrap();
        assert_eq!(listed[0].headline(), "arwy sent you a friend request");

        // Sending again while it waits changes nothing and tells nobody.
        let before = counts(&app);
        requests::request(&mut app.conn(), &a.user, "bryw", "virginia.edu", now).unwrap();
        nothing_new(&app, &before, "a request sent again");

        exactly_one(&app, &a, Kind::FriendAccepted, || async {
            requests::act(
                &mut app.conn(),
                &b.user,
                "arwy",
                Action::Accept,
                "virginia.edu",
                now,
            )
            .unwrap();
        })
        .await;

        // C blocked A: A's request to C is dropped, and C hears nothing.
        requests::act(
            &mut app.conn(),
            &c.user,
            "arwy",
            Action::Block,
            "virginia.edu",
            now,
        )
        .unwrap();
        let before = counts(&app);
        requests::request(&mut app.conn(), &a.user, "cryz", "virginia.edu", now).unwrap();
        nothing_new(&app, &before, "a request to a student who blocked you");
        // A request to an address nobody confirmed emails no stranger.
        requests::request(&mut app.conn(), &a.user, "nqwz", "virginia.edu", now).unwrap();
        nothing_new(&app, &before, "a request to an unconfirmed address");

        // Asking back someone who asked first accepts: the first asker is told.
        let d = app.student("drwy");
        requests::request(&mut app.conn(), &d.user, "cryz", "virginia.edu", now).unwrap();
        exactly_one(&app, &d, Kind::FriendAccepted, || async {
            let out =
                requests::request(&mut app.conn(), &c.user, "drwy", "virginia.edu", now).unwrap();
            assert!(matches!(out, RequestOutcome::NowFriends { .. }));
        })
        .await;

        // Blocking someone whose request waits takes their request's notice
        // out of the inbox: it no longer counts, nor is it mailed.
        let e = app.student("erwy");
        requests::request(&mut app.conn(), &e.user, "cryz", "virginia.edu", now).unwrap();
        let from_e = || -> i64 {
            notifications::table
                .filter(notifications::user_id.eq(&c.user.id))
                .filter(notifications::other_user_id.eq(&e.user.id))
                .count()
                .get_result(&mut app.conn())
                .unwrap()
        };
        assert_eq!(from_e(), 1);
        requests::act(
            &mut app.conn(),
            &c.user,
            "erwy",
            Action::Block,
            "virginia.edu",
            now,
        )
        .unwrap();
        assert_eq!(from_e(), 0);
    }
);

backend_test!(
    async fn withdrawing_and_asking_again_emails_the_addressee_once_a_day(backend: Backend) {
        // Arrange: A asked B, and B was emailed (no worker runs here: the
        // claim is written as the worker writes it).
        let app = spawn_quiet_app(backend, &[]).await;
        let a = app.student("arwy");
        let b = app.student("bryw");
        let c = app.student("crwz");
        let now = clock::now();
        exactly_one(&app, &b, Kind::FriendRequest, || async {
            requests::request(&mut app.conn(), &a.user, "bryw", "virginia.edu", now).unwrap();
        })
        .await;
        diesel::update(notifications::table.filter(notifications::user_id.eq(&b.user.id)))
            .set(notifications::emailed_at.eq(Some(now)))
            .execute(&mut app.conn())
            .unwrap();
        let first: String = notifications::table
            .filter(notifications::user_id.eq(&b.user.id))
            .select(notifications::id)
            .first(&mut app.conn())
            .unwrap();
        let delivery_to_b = |from: &Student| -> String {
            notifications::table
                .filter(notifications::user_id.eq(&b.user.id))
                .filter(notifications::other_user_id.eq(&from.user.id))
                .select(notifications::delivery)
                .first(&mut app.conn())
                .unwrap()
        };

        // Act: A withdraws and asks again, eight times within the hour.
        let mut inboxes = Vec::new();
        for i in 1..=8 {
            let at = now + Duration::minutes(i);
            requests::act(
                &mut app.conn(),
                &a.user,
                "bryw",
                Action::Remove,
                "virginia.edu",
                at,
            )
            .unwrap();
            inboxes.push(
                view::list(&mut app.conn(), &b.user.id, at, None, 10)
                    .unwrap()
                    .len(),
            );
            requests::request(&mut app.conn(), &a.user, "bryw", "virginia.edu", at).unwrap();
        }

        // Assert: the first email's link, to a notice withdrawn with its
        // request, says so (404) and leads to the inbox.
        let (status, page) = b.get(&app, &format!("/notifications/{first}")).await;
        assert_eq!(status, 404);
        assert!(page.contains("This notification is gone"), "{page}");
        assert!(page.contains(r#"href="/notifications""#), "{page}");
        // Each withdrawal emptied B's inbox; the request asked last waits
        // there, and no request asked again in the day is emailed.
        assert_eq!(inboxes, vec![0; 8]);
        assert_eq!(counts(&app).get(&b.user.id), Some(&1));
        let later = now + Duration::minutes(9);
        assert_eq!(
            view::list(&mut app.conn(), &b.user.id, later, None, 10)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(delivery_to_b(&a), "off", "in the inbox only");
        // B saving the email settings page (every topic, as it stands) does
        // not wake it into an email.
        let choices = settings::load(&mut app.conn(), &b.user.id).unwrap();
        settings::save(&mut app.conn(), &b.user.id, &choices, later).unwrap();
        assert_eq!(delivery_to_b(&a), "off", "still in the inbox only");

        // C's request, withdrawn before anything told B of it (its email
        // not sent yet): asked again, it is emailed as B chose.
        requests::request(&mut app.conn(), &c.user, "bryw", "virginia.edu", now).unwrap();
        let at = now + Duration::minutes(1);
        requests::act(
            &mut app.conn(),
            &c.user,
            "bryw",
            Action::Remove,
            "virginia.edu",
            at,
        )
        .unwrap();
        requests::request(&mut app.conn(), &c.user, "bryw", "virginia.edu", at).unwrap();
        assert_eq!(delivery_to_b(&c), "immediate");

        // A day later A's request is emailed again.
        let tomorrow = now + Duration::days(1) + Duration::minutes(10);
        requests::act(
            &mut app.conn(),
            &a.user,
            "bryw",
            Action::Remove,
            "virginia.edu",
            tomorrow,
        )
        .unwrap();
        exactly_one(&app, &b, Kind::FriendRequest, || async {
            requests::request(&mut app.conn(), &a.user, "bryw", "virginia.edu", tomorrow).unwrap();
        })
        .await;
        assert_eq!(delivery_to_b(&a), "immediate");
    }
);

// ---------------------------------------------------------------- moderation

backend_test!(
    async fn reports_and_moderators_decisions_each_notify_the_author_once(backend: Backend) {
        let app = spawn_app(backend).await;
        let rules = rules(&app);
        let author = app.student("aumz");
        let reporters: Vec<Student> = ["rpxa", "rpxb", "rpxc"]
            .iter()
            .map(|c| app.student(c))
            .collect();
        let moderator = staff(&app, "mdrz", Role::Moderator);
        let mut members: Vec<&Student> = reporters.iter().collect();
        members.push(&author);
        let class = new_class(&app, "PHIL 1000", &members);
        for r in &reporters {
            joined_days_ago(&app, r, &class, 3);
        }
        let message = post(
            &mut app.conn(),
            &rules,
            &author,
            &class,
            None,
            "Something rude.",
        );

        // Two reports: nothing yet. The third hides it: its author is told, once.
        let before = counts(&app);
        let reason = FlagReason::parse(Some("rude")).unwrap();
        for r in &reporters[..2] {
            chat::flag(
                &mut app.conn(),
                &r.user.id,
                &message.id,
                &reason,
                &rules,
                clock::now(),
            )
            .unwrap();
        }
        nothing_new(&app, &before, "reports below the threshold");
        let detail = exactly_one(&app, &author, Kind::MessageHidden, || async {
            let (_, out) = chat::flag(
                &mut app.conn(),
                &reporters[2].user.id,
                &message.id,
                &reason,
                &rules,
                clock::now(),
            )
            .unwrap();
            assert_eq!(out, chat::FlagOutcome::Flagged { hidden: true });
        })
        .await;
        assert_eq!(detail, None, "the author is not told who reported, or why");

        exactly_one(&app, &author, Kind::MessageRestored, || async {
            moderation::messages::restore(
                &mut app.conn(),
                &moderator.user.id,
                &message.id,
                None,
                clock::now(),
            )
            .unwrap();
        })
        .await;
        // Dismissing reports on a message already shown changes nothing for
        // its author (the report dismissed came after the restore).
        common::seed::flag(&mut app.conn(), &moderator.user, &message, "still rude");
        let before = counts(&app);
        moderation::messages::dismiss(
            &mut app.conn(),
            &moderator.user.id,
            &message.id,
            None,
            clock::now(),
        )
        .unwrap();
        nothing_new(&app, &before, "a dismissal of a shown message");

        // A moderator's hide says why.
        let detail = exactly_one(&app, &author, Kind::MessageHidden, || async {
            moderation::messages::hide(
                &mut app.conn(),
                &moderator.user.id,
                &message.id,
                &common_grounds::moderation::messages::Reason::new(
                    common_grounds::moderation::ReasonCategory::Harassment,
                    Some("Under review for harassment"),
                )
                .unwrap(),
                clock::now(),
            )
            .unwrap();
        })
        .await;
        assert_eq!(
            detail.as_deref(),
            Some("Harassment or bullying: Under review for harassment")
        );

        // The removal, through the queue's form with its reason's category
        // and words (in the Hidden tab: the hide was a decision).
        let (status, queue) = moderator.get(&app, "/admin/flags?state=hidden").await;
        assert_eq!(status, 200);
        assert!(queue.contains("Why remove it"));
        let detail = exactly_one(&app, &author, Kind::MessageRemoved, || async {
            let r = moderator
                .post(
                    &app,
                    "/admin/flags",
                    &format!("/admin/messages/{}/delete", message.id),
                    &[
                        ("category", "harassment"),
                        ("reason", "Personal attack on a classmate"),
                    ],
                )
                .await;
            assert_eq!(r.status().as_u16(), 303);
        })
        .await;
        assert_eq!(
            detail.as_deref(),
            Some("Harassment or bullying: Personal attack on a classmate")
        );
        let listed = view::list(&mut app.conn(), &author.user.id, clock::now(), None, 10).unwrap();
        assert_eq!(listed[0].kind, Kind::MessageRemoved);
        assert_eq!(
            listed[0].detail.as_deref(),
            Some("Harassment or bullying: Personal attack on a classmate")
        );
        // Removed for good: a second press is refused and tells nobody.
        let before = counts(&app);
        let again = moderation::messages::delete(
            &mut app.conn(),
            &moderator.user.id,
            &message.id,
            &common_grounds::moderation::messages::Reason::new(
                common_grounds::moderation::ReasonCategory::Spam,
                None,
            )
            .unwrap(),
            clock::now(),
        );
        assert!(matches!(
            again,
            Err(moderation::messages::ActionError::Deleted)
        ));
        nothing_new(&app, &before, "removing a removed message");
    }
);

backend_test!(
    async fn answer_marks_tell_the_starter_and_the_chosen(backend: Backend) {
        let app = spawn_app(backend).await;
        let rules = rules(&app);
        let starter = app.student("stqz");
        let helper = app.student("hlqz");
        let mut moderator = staff(&app, "mdqz", Role::Moderator);
        // `staff` sets the role in the database; the domain reads it from the row it is handed.
        moderator.user.role = Role::Moderator;
        let class = new_class(&app, "MATH 3100", &[&starter, &helper]);
        let thread = post(
            &mut app.conn(),
            &rules,
            &starter,
            &class,
            None,
            "How to prove this lemma?",
        );
        let first = post(
            &mut app.conn(),
            &rules,
            &helper,
            &class,
            Some(&thread),
            "By induction.",
        );
        let second = post(
            &mut app.conn(),
            &rules,
            &helper,
            &class,
            Some(&thread),
            "Or by contradiction.",
        );
        let own = post(
            &mut app.conn(),
            &rules,
            &starter,
            &class,
            Some(&thread),
            "Found it: page 12.",
        );
        let mark = |who: &Student, reply: &ClassMessage, on: bool| {
            chat::answers::mark(
                &mut app.conn(),
                &who.user,
                &reply.id,
                on,
                clock::now(),
                |_, _, _| Ok(0),
            )
            .unwrap();
        };

        // The starter's mark tells the reply's author, not the starter.
        exactly_one(&app, &helper, Kind::AnswerChosen, || async {
            mark(&starter, &first, true)
        })
        .await;
        // Unmarking and marking again tells no one while that notice is unread.
        let before = counts(&app);
        mark(&starter, &first, false);
        mark(&starter, &first, true);
        mark(&starter, &first, false);
        nothing_new(&app, &before, "unmarking and marking again");

        // A moderator's mark tells the starter too; an unmark tells no one.
        let before = counts(&app);
        mark(&moderator, &second, true);
        let after = counts(&app);
        for who in [&starter, &helper] {
            assert_eq!(
                after[&who.user.id] - before.get(&who.user.id).unwrap_or(&0),
                1
            );
        }
        let kinds: Vec<String> = notifications::table
            .filter(notifications::message_id.eq(&second.id))
            .filter(notifications::kind.ne("reply"))
            .order(notifications::kind)
            .select(notifications::kind)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(kinds, ["answer_chosen", "answered"]);
        let before = counts(&app);
        mark(&moderator, &second, false);
        nothing_new(&app, &before, "an unmark");
        // The starter's own reply, chosen by a moderator: told once, as the starter.
        exactly_one(&app, &starter, Kind::Answered, || async {
            mark(&moderator, &own, true)
        })
        .await;
        mark(&moderator, &own, false);

        // Nor does anyone who left the class hear of it (the notice quotes
        // the answer, which is for the class's members).
        for who in [&starter, &helper] {
            diesel::delete(user_classes::table.find((&who.user.id, &class.id)))
                .execute(&mut app.conn())
                .unwrap();
        }
        let before = counts(&app);
        mark(&moderator, &second, true);
        nothing_new(&app, &before, "an answer marked after both left");
    }
);

/// What the student's inbox shows at `at`: kinds and details, newest first.
fn shown(app: &TestApp, who: &Student, at: chrono::NaiveDateTime) -> Vec<(Kind, Option<String>)> {
    view::list(&mut app.conn(), &who.user.id, at, None, 20)
        .unwrap()
        .into_iter()
        .map(|n| (n.kind, n.detail))
        .collect()
}

backend_test!(
    async fn a_suspension_notifies_now_and_at_its_end_a_lift_replaces_it(backend: Backend) {
        let app = spawn_app(backend).await;
        let student = app.student("suqz");
        let bystander = app.student("byqz");
        let admin = staff(&app, "adqz", Role::Admin);
        let campus = CampusTime::default();
        let now = clock::now();
        let until = now + Duration::days(3);
        let reason = "Repeated harassment in CS 2100";

        let before = counts(&app);
        moderation::users::suspend_account(
            &mut app.conn(),
            &admin.user.id,
            "suqz",
            until,
            reason,
            false,
            now,
            campus,
        )
        .unwrap();
        let after = counts(&app);
        assert_eq!(
            after.get(&bystander.user.id),
            before.get(&bystander.user.id)
        );
        assert_eq!(after.get(&admin.user.id), before.get(&admin.user.id));
        let expected = format!("Until {}. Reason: {reason}", campus.exact(until).title);
        assert_eq!(
            shown(&app, &student, now),
            vec![(Kind::Suspended, Some(expected.clone()))],
            "one notification now, saying until when and why"
        );
        assert_eq!(
            shown(&app, &student, until)[0].0,
            Kind::SuspensionEnded,
            "and one more from the moment it ends"
        );
        assert_eq!(shown(&app, &student, until).len(), 2);

        // A longer suspension replaces the end it announced.
        let later = now + Duration::days(7);
        let now2 = now + Duration::seconds(1);
        moderation::users::suspend_account(
            &mut app.conn(),
            &admin.user.id,
            "suqz",
            later,
            reason,
            true,
            now2,
            campus,
        )
        .unwrap();
        let at_first_end: Vec<Kind> = shown(&app, &student, until)
            .into_iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(
            at_first_end,
            vec![Kind::Suspended, Kind::Suspended],
            "no end on the old date"
        );

        // Lifted early: it ends now, once; the pending end is gone.
        let now3 = now + Duration::seconds(2);
        let before = counts(&app);
        moderation::users::lift_suspension(&mut app.conn(), &admin.user.id, "suqz", now3).unwrap();
        assert_eq!(
            counts(&app).get(&bystander.user.id),
            before.get(&bystander.user.id)
        );
        let kinds: Vec<Kind> = shown(&app, &student, later + Duration::days(1))
            .into_iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(
            kinds,
            vec![Kind::SuspensionEnded, Kind::Suspended, Kind::Suspended],
            "exactly one end, dated at the lift"
        );
        assert_eq!(shown(&app, &student, now3)[0].0, Kind::SuspensionEnded);
        // Lifting a suspension that is not running is refused and tells
        // nobody anything.
        let before = counts(&app);
        let again =
            moderation::users::lift_suspension(&mut app.conn(), &admin.user.id, "suqz", now3);
        assert!(matches!(
            again,
            Err(moderation::users::AccountActionError::NotSuspended)
        ));
        nothing_new(&app, &before, "a lift with no suspension");
    }
);
