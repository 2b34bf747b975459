//! The schema on both backends: migrations apply, re-apply as a no-op, and undo
//! cleanly; every table stores and returns a whole row; the database itself
//! enforces the constraints.

use crate::common;
use common::builders::{discrete_math, MessageBuilder, UserBuilder};

use chrono::{Duration, NaiveDateTime};
use common::*;
use common_grounds::accounts::{
    self, MagicLink, MagicLinkId, NewMagicLink, NewSession, Role, Session, SessionId, User, UserId,
};
use common_grounds::chat::{self, ClassMessage, MessageFlag, MessageId, NewClassMessage};
use common_grounds::classes::{
    self, ClassId, ClassMeeting, Enrollment, MeetingId, NewClassMeeting,
};
use common_grounds::clock;
use common_grounds::db::schema::classes as classes_table;
use common_grounds::db::schema::*;
use common_grounds::db::{self, DbConn};
use common_grounds::friends::{
    self, ContactImport, ContactImportId, Friendship, FriendshipId, FriendshipStatus, NewFriendship,
};
use common_grounds::mail::outbox::{self, OutboxMessage, OutboxStatus};
use common_grounds::mail::OutgoingEmail;
use common_grounds::moderation::{self, AuditAction, AuditEntry, AuditId, NewAuditEntry};
use common_grounds::sis::{self, NewSyncRun, SyncRun, SyncRunId, SyncStatus};
use diesel::prelude::*;

/// Every table, index, view, trigger and type the user could see, by name.
fn catalog(conn: &mut DbConn) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT type || ':' || name AS name FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '%diesel_schema_migrations%' ORDER BY 1"
        }
        DbConn::Postgresql(_) => {
            "SELECT c.relkind::text || ':' || c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname NOT LIKE '%diesel_schema_migrations%' \
             UNION ALL SELECT 'type:' || t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = 'public' AND t.typname NOT LIKE '%diesel_schema_migrations%' \
             UNION ALL SELECT 'function:' || p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'public' ORDER BY 1"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

backend_test!(
    async fn every_down_migration_undoes_its_up(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.connect();
        let before = catalog(&mut conn);

        let applied = db::run_migrations(&mut conn).unwrap();
        let during = catalog(&mut conn);
        let reverted = db::revert_all_migrations(&mut conn).unwrap();
        let after = catalog(&mut conn);

        assert!(!applied.is_empty());
        assert_eq!(applied.len(), reverted.len());
        for table in schema_tables() {
            assert!(
                during.iter().any(|n| n.ends_with(&format!(":{table}"))),
                "{table} was not created"
            );
        }
        assert!(
            during.len() > before.len() + schema_tables().len(),
            "indexes were created too"
        );
        assert_eq!(
            before, after,
            "something was left over after every down.sql ran"
        );
    }
);

/// App servers deployed together each migrate at start: on PostgreSQL one
/// applies every migration and the others wait, then find nothing to do (no
/// server exits on "already exists").
#[test]
fn servers_starting_together_migrate_once_and_all_start() {
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let mut conn = db.connect();
            std::thread::spawn(move || db::run_migrations(&mut conn).map_err(|e| e.to_string()))
        })
        .collect();
    let applied: Vec<Vec<String>> = runs
        .into_iter()
        .map(|run| run.join().unwrap().expect("every server starts"))
        .collect();
    let mut all: Vec<&String> = applied.iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "a migration ran twice");
    assert_eq!(
        applied.iter().filter(|a| !a.is_empty()).count(),
        1,
        "one server migrated: {applied:?}"
    );
}

fn schema_tables() -> &'static [&'static str] {
    common_grounds::db::schema::TABLES
}

backend_test!(
    async fn migrating_twice_applies_nothing_the_second_time(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.connect();

        let first = db::run_migrations(&mut conn).unwrap();
        let catalog_after_first = catalog(&mut conn);
        let second = db::run_migrations(&mut conn).unwrap();

        assert!(!first.is_empty());
        assert!(second.is_empty());
        assert_eq!(catalog_after_first, catalog(&mut conn));
        assert_eq!(
            db::schema_version(&mut conn).unwrap(),
            first.iter().max().cloned()
        );
        for table in schema_tables() {
            assert_eq!(db::count_rows(&mut conn, table).unwrap(), 0, "{table}");
        }
    }
);

fn new_user(conn: &mut DbConn, computing_id: &str) -> User {
    UserBuilder::new(computing_id)
        .role(Role::Student.as_str())
        .insert(conn)
}

fn new_class(conn: &mut DbConn, number: &str) -> classes::Class {
    discrete_math(number).insert(conn)
}

fn is_constraint_error(result: &QueryResult<usize>) -> bool {
    matches!(
        result,
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation
                | diesel::result::DatabaseErrorKind::CheckViolation
                | diesel::result::DatabaseErrorKind::ForeignKeyViolation
                | diesel::result::DatabaseErrorKind::NotNullViolation,
            _
        ))
    )
}

backend_test!(
    async fn every_table_stores_and_returns_a_whole_row(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let now = clock::now();

        // users
        let user = new_user(&mut conn, "mst3k");
        let read = accounts::find(&mut conn, &user.id).unwrap().unwrap();
        assert_eq!(read, user);
        assert_eq!(read.email, "mst3k@virginia.edu");
        assert_eq!(read.role, Role::Student);

        // magic_links
        let link_id = MagicLinkId::new();
        let link = NewMagicLink {
            id: &link_id,
            user_id: &user.id,
            token_hash: "th",
            code_hash: "ch",
            code_attempts: 2,
            expires_at: now + Duration::minutes(15),
            used: false,
            created_at: now,
            requester_hash: Some("rh"),
        };
        diesel::insert_into(magic_links::table)
            .values(&link)
            .execute(&mut conn)
            .unwrap();
        let read: MagicLink = magic_links::table
            .find(&link_id)
            .select(MagicLink::as_select())
            .first(&mut conn)
            .unwrap();
        assert_eq!(
            read,
            MagicLink {
                id: link_id.clone(),
                user_id: user.id.clone(),
                token_hash: "th".into(),
                code_hash: "ch".into(),
                code_attempts: 2,
                expires_at: now + Duration::minutes(15),
                used: false,
                created_at: now,
                requester_hash: Some("rh".into()),
            }
        );

        // sessions
        let session_id = SessionId::new();
        diesel::insert_into(sessions::table)
            .values(NewSession {
                id: &session_id,
                user_id: &user.id,
                token_hash: "sh",
                user_agent: Some("Firefox"),
                expires_at: now + Duration::days(30),
                created_at: now,
                last_used_at: now,
            })
            .execute(&mut conn)
            .unwrap();
        let read: Session = sessions::table
            .find(&session_id)
            .select(Session::as_select())
            .first(&mut conn)
            .unwrap();
        assert_eq!(read.user_agent.as_deref(), Some("Firefox"));
        assert_eq!(read.expires_at, now + Duration::days(30));

        // classes and class_meetings
        let class = new_class(&mut conn, "16601");
        assert_eq!(classes::find(&mut conn, &class.id).unwrap().unwrap(), class);
        assert_eq!(
            class.title.as_deref(),
            Some("Discrete Mathematics and Theory 1")
        );
        assert_eq!(class.class_capacity, Some(300));
        let meeting_id = MeetingId::new();
        classes::insert_meeting(
            &mut conn,
            &NewClassMeeting {
                id: &meeting_id,
                class_id: &class.id,
                position: 0,
                days: Some("MoWeFr"),
                start_time: Some("10:00"),
                end_time: Some("10:50"),
                location: None,
                instructor: Some("A, B"),
                first_day: None,
                last_day: None,
            },
        )
        .unwrap();
        let meetings = classes::meetings_of(&mut conn, std::slice::from_ref(&class.id)).unwrap();
        assert_eq!(
            meetings,
            vec![ClassMeeting {
                id: meeting_id,
                class_id: class.id.clone(),
                position: 0,
                days: Some("MoWeFr".into()),
                start_time: Some("10:00".into()),
                end_time: Some("10:50".into()),
                location: None,
                instructor: Some("A, B".into()),
                first_day: None,
                last_day: None,
            }]
        );

        // user_classes
        assert!(classes::enroll(&mut conn, &user.id, &class.id, now).unwrap());
        assert!(
            !classes::enroll(&mut conn, &user.id, &class.id, now).unwrap(),
            "joining twice is a no-op"
        );
        let read: Enrollment = user_classes::table
            .select(Enrollment::as_select())
            .first(&mut conn)
            .unwrap();
        assert_eq!(read.enrolled_at, now);
        assert_eq!(
            classes::of_user(&mut conn, &user.id, "1262").unwrap(),
            vec![class.clone()]
        );

        // friendships
        let friend = new_user(&mut conn, "abc2d");
        let friendship_id = FriendshipId::new();
        let friendship = friends::insert(
            &mut conn,
            &NewFriendship {
                id: &friendship_id,
                user_id_1: &user.id,
                user_id_2: &friend.id,
                status: FriendshipStatus::Accepted.as_str(),
                created_at: now,
                updated_at: now,
            },
        )
        .unwrap();
        assert_eq!(friendship.status, FriendshipStatus::Accepted);
        assert_eq!(
            friends::between(&mut conn, &friend.id, &user.id).unwrap(),
            Some(friendship.clone())
        );
        let _: Friendship = friendship;

        // class_messages and message_flags
        let message_id = MessageId::new();
        let message = chat::insert(
            &mut conn,
            &NewClassMessage {
                id: &message_id,
                class_id: &class.id,
                user_id: Some(&user.id),
                anonymous_identifier: "Anon_1a2b3c",
                content: "When is the exam? 🎓",
                parent_message_id: None,
                thread_root_id: None,
                flagged_count: 0,
                hidden: false,
                deleted: false,
                created_at: now,
                updated_at: now,
                last_activity_at: now,
            },
        )
        .unwrap();
        assert_eq!(
            chat::find(&mut conn, &message_id).unwrap(),
            Some(message.clone())
        );
        assert_eq!(message.content, "When is the exam? 🎓");
        // chat_events: what happened, by id only, read back in order
        let seq = db::write_tx(&mut conn, |tx| {
            chat::events::record(tx, &message, chat::EventKind::Thread, now)
        })
        .unwrap();
        let events = chat::events::since(&mut conn, &class.id, seq - 1, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (
                events[0].seq,
                &events[0].message_id,
                events[0].kind,
                events[0].created_at
            ),
            (seq, &message_id, chat::EventKind::Thread, now)
        );
        assert_eq!(chat::events::latest(&mut conn, &class.id).unwrap(), seq);
        // chat_class_reads and chat_thread_reads: a student's own read marks
        chat::reads::mark_thread(&mut conn, &user.id, &class.id, &message_id, now).unwrap();
        assert!(chat::reads::mark_class(&mut conn, &user.id, &class.id, None, now).unwrap());
        chat::reads::mark_thread(
            &mut conn,
            &user.id,
            &class.id,
            &message_id,
            now + Duration::seconds(1),
        )
        .unwrap();
        let flag = MessageFlag {
            message_id: message_id.clone(),
            user_id: friend.id.clone(),
            reason: Some("off topic".into()),
            created_at: now,
        };
        assert!(chat::insert_flag(&mut conn, &flag).unwrap());
        assert!(
            !chat::insert_flag(&mut conn, &flag).unwrap(),
            "one flag per student per message"
        );
        let read: MessageFlag = message_flags::table
            .select(MessageFlag::as_select())
            .first(&mut conn)
            .unwrap();
        assert_eq!(read, flag);

        // message_revisions: the text an edit of a reported message replaced.
        db::write_tx(&mut conn, |tx| {
            chat::revisions::keep(tx, &message, chat::RevisionEnd::Edit, now)
        })
        .unwrap();
        let kept =
            chat::revisions::of_messages(&mut conn, std::slice::from_ref(&message_id)).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].content.as_str(),
                kept[0].ended_by,
                kept[0].written_at
            ),
            ("When is the exam? 🎓", chat::RevisionEnd::Edit, now)
        );

        // message_votes: one student's upvote (chat::votes keeps the count).
        diesel::insert_into(message_votes::table)
            .values((
                message_votes::message_id.eq(&message_id),
                message_votes::user_id.eq(&friend.id),
                message_votes::class_id.eq(&message.class_id),
                message_votes::created_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
        let vote: (MessageId, UserId, NaiveDateTime) = message_votes::table
            .select((
                message_votes::message_id,
                message_votes::user_id,
                message_votes::created_at,
            ))
            .first(&mut conn)
            .unwrap();
        assert_eq!(vote, (message_id.clone(), friend.id.clone(), now));

        // chat_pseudonyms: a student's name in a class, kept for the term.
        diesel::insert_into(chat_pseudonyms::table)
            .values((
                chat_pseudonyms::class_id.eq(&message.class_id),
                chat_pseudonyms::name.eq("Violet Heron"),
                chat_pseudonyms::user_id.eq(Some(&friend.id)),
                chat_pseudonyms::created_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
        let name: (String, Option<UserId>) = chat_pseudonyms::table
            .select((chat_pseudonyms::name, chat_pseudonyms::user_id))
            .first(&mut conn)
            .unwrap();
        assert_eq!(name, ("Violet Heron".to_string(), Some(friend.id.clone())));

        // contact_imports
        let import = ContactImport {
            id: ContactImportId::new(),
            user_id: user.id.clone(),
            phone_hash_list: r#"["h1","h2"]"#.into(),
            imported_at: now,
        };
        diesel::insert_into(contact_imports::table)
            .values(&import)
            .execute(&mut conn)
            .unwrap();
        let read: ContactImport = contact_imports::table
            .select(ContactImport::as_select())
            .first(&mut conn)
            .unwrap();
        assert_eq!(read, import);

        // audit_log
        let audit_id = AuditId::new();
        db::write_tx(&mut conn, |tx| {
            moderation::record(
                tx,
                &NewAuditEntry {
                    id: &audit_id,
                    actor_id: Some(&user.id),
                    action: AuditAction::Reveal.as_str(),
                    target_type: "message",
                    target_id: message_id.as_str(),
                    reason: Some("harassment report #12"),
                    details: None,
                    created_at: now,
                    class_id: None,
                    category: None,
                },
            )
        })
        .unwrap();
        let read: Vec<AuditEntry> = moderation::recent(&mut conn, 10).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].action, AuditAction::Reveal);
        assert_eq!(read[0].reason.as_deref(), Some("harassment report #12"));

        // email_outbox
        let email = OutgoingEmail {
            to: "mst3k@virginia.edu".into(),
            subject: "Hello".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
            unsubscribe: None,
            outbox_id: None,
        };
        let outbox_id = db::write_tx(&mut conn, |tx| outbox::enqueue(tx, &email, now)).unwrap();
        let read: OutboxMessage = email_outbox::table
            .find(&outbox_id)
            .select(OutboxMessage::as_select())
            .first(&mut conn)
            .unwrap();
        // Read back, the email names its row (its Message-ID is made of it).
        assert_eq!(
            read.email(),
            OutgoingEmail {
                outbox_id: Some(outbox_id.to_string()),
                ..email
            }
        );
        assert_eq!(read.status, OutboxStatus::Queued);

        // sis_sync_runs
        let run_id = SyncRunId::new();
        let run = sis::insert_run(
            &mut conn,
            &NewSyncRun {
                id: &run_id,
                term: "1262",
                subjects: "CS,MATH",
                status: SyncStatus::Running.as_str(),
                started_at: now,
            },
        )
        .unwrap();
        let read: SyncRun = sis::recent_runs(&mut conn, 1).unwrap().remove(0);
        assert_eq!(read, run);
        assert_eq!(read.status, SyncStatus::Running);

        // rate_limit_hits
        let hit = db::write_tx(&mut conn, |tx| {
            accounts::rate_limit::hit(tx, "login-ip:127.0.0.1", 1, Duration::minutes(10), now)
        })
        .unwrap();
        assert!(hit.is_ok());
        let again = db::write_tx(&mut conn, |tx| {
            accounts::rate_limit::hit(tx, "login-ip:127.0.0.1", 1, Duration::minutes(10), now)
        })
        .unwrap();
        assert_eq!(again.unwrap_err().retry_at, now + Duration::minutes(10));

        // sign_in_days: one row per campus day, counted up
        let campus = common_grounds::campus_time::CampusTime::default();
        accounts::signin::count_sign_in(&mut conn, now, campus).unwrap();
        accounts::signin::count_sign_in(&mut conn, now, campus).unwrap();
        let day: (String, i32) = common_grounds::db::schema::sign_in_days::table
            .select((
                common_grounds::db::schema::sign_in_days::day,
                common_grounds::db::schema::sign_in_days::sign_ins,
            ))
            .first(&mut conn)
            .unwrap();
        assert_eq!(day, (campus.date_of(now).format("%Y-%m-%d").to_string(), 2));
        // sis_sync_locks
        let term = sis::Term::parse("1262").unwrap();
        let claimed = sis::lock::claim(&mut conn, &term, &run_id, "cron-host:4242", now).unwrap();
        assert_eq!(claimed, sis::lock::Claim::Claimed);
        assert_eq!(
            sis::lock::holder_of(&mut conn, &term).unwrap(),
            Some(sis::lock::SyncLock {
                term: "1262".into(),
                run_id: run_id.as_str().into(),
                holder: "cron-host:4242".into(),
                claimed_at: now,
                lease_until: now + sis::lock::LEASE,
            })
        );
        // term_dates and calendar_feeds (issue 20), through their owners
        {
            use common_grounds::calendar::feeds;
            use common_grounds::classes::term_dates::{self, TermSpan};
            let span = TermSpan::new(
                chrono::NaiveDate::from_ymd_opt(2026, 1, 14).unwrap(),
                chrono::NaiveDate::from_ymd_opt(2026, 4, 28).unwrap(),
            )
            .unwrap();
            term_dates::record(&mut conn, "1262", span, now).unwrap();
            assert_eq!(
                term_dates::from_sis(&mut conn).unwrap().get("1262"),
                Some(&span)
            );
            let token = feeds::create_or_replace(&mut conn, &user.id, now).unwrap();
            assert_eq!(
                feeds::owner_of(&mut conn, &token, now).unwrap(),
                Some(user.id.clone())
            );
            assert_eq!(
                feeds::status(&mut conn, &user.id).unwrap(),
                Some(feeds::FeedStatus {
                    created_at: now,
                    last_fetched_at: Some(now),
                })
            );
        }

        // notifications and what decides them: follows, mutes, settings,
        // digest hours, digest claims (tuples: their writers' structs are private)
        let thread = (
            user.id.as_str(),
            message_id.as_str(),
            class.id.as_str(),
            false,
            now,
        );
        diesel::insert_into(thread_follows::table)
            .values((
                thread_follows::user_id.eq(thread.0),
                thread_follows::thread_id.eq(thread.1),
                thread_follows::class_id.eq(thread.2),
                thread_follows::following.eq(thread.3),
                thread_follows::updated_at.eq(thread.4),
            ))
            .execute(&mut conn)
            .unwrap();
        let read: (String, String, String, bool, NaiveDateTime) = thread_follows::table
            .filter(thread_follows::user_id.eq(thread.0))
            .first(&mut conn)
            .unwrap();
        assert_eq!(
            (
                read.0.as_str(),
                read.1.as_str(),
                read.2.as_str(),
                read.3,
                read.4
            ),
            thread
        );
        diesel::insert_into(class_mutes::table)
            .values((
                class_mutes::user_id.eq(&user.id),
                class_mutes::class_id.eq(&class.id),
                class_mutes::created_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
        let read: (String, String, NaiveDateTime) = class_mutes::table.first(&mut conn).unwrap();
        assert_eq!(read, (user.id.0.clone(), class.id.0.clone(), now));
        diesel::insert_into(notification_settings::table)
            .values((
                notification_settings::user_id.eq(&user.id),
                notification_settings::topic.eq("replies"),
                notification_settings::delivery.eq("off"),
                notification_settings::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
        let read: (String, String, String, NaiveDateTime) =
            notification_settings::table.first(&mut conn).unwrap();
        assert_eq!(
            read,
            (user.id.0.clone(), "replies".into(), "off".into(), now)
        );
        diesel::insert_into(notification_schedules::table)
            .values((
                notification_schedules::user_id.eq(&user.id),
                notification_schedules::digest_hour.eq(23),
                notification_schedules::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .unwrap();
        let read: (String, i32, NaiveDateTime) =
            notification_schedules::table.first(&mut conn).unwrap();
        assert_eq!(read, (user.id.0.clone(), 23, now));
        let digest = (
            "7a1f3d0e-0000-4000-8000-000000000001".to_string(),
            user.id.0.clone(),
            "2026-12-04".to_string(),
            5,
            Some(message_id.0.clone()),
            now,
        );
        diesel::insert_into(notification_digests::table)
            .values((
                notification_digests::id.eq(&digest.0),
                notification_digests::user_id.eq(&digest.1),
                notification_digests::campus_date.eq(&digest.2),
                notification_digests::items.eq(digest.3),
                notification_digests::outbox_id.eq(&digest.4),
                notification_digests::created_at.eq(digest.5),
            ))
            .execute(&mut conn)
            .unwrap();
        let read: (String, String, String, i32, Option<String>, NaiveDateTime) =
            notification_digests::table.first(&mut conn).unwrap();
        assert_eq!(read, digest);
        {
            use common_grounds::notifications::{self, Kind, Notice};
            db::write_tx(&mut conn, |tx| {
                notifications::notify(
                    tx,
                    &Notice::new(&friend.id, Kind::Reply, now)
                        .about_message(&class.id, &message_id, &message_id)
                        .with_detail(Some("why")),
                )
            })
            .unwrap();
            let read = notifications::view::list(&mut conn, &friend.id, now, None, 10).unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].kind, Kind::Reply);
            assert_eq!(read[0].class_id.as_ref(), Some(&class.id));
            assert_eq!(read[0].message_id.as_ref(), Some(&message_id));
            assert_eq!(read[0].detail.as_deref(), Some("why"));
            assert_eq!(read[0].created_at, now);
            assert!(read[0].is_unread());
        }

        // reveal_requests (written by moderation's reveals; the row's shape here)
        {
            use common_grounds::db::schema::reveal_requests as rr;
            diesel::insert_into(rr::table)
                .values((
                    rr::id.eq("reveal-1"),
                    rr::message_id.eq(message_id.as_str()),
                    rr::requester_id.eq(Some(user.id.as_str())),
                    rr::reason.eq("a threat against a classmate"),
                    rr::urgent.eq(false),
                    rr::status.eq("approved"),
                    rr::decided_by.eq(Some(friend.id.as_str())),
                    rr::decided_at.eq(Some(now)),
                    rr::decision_note.eq(Some("agreed")),
                    rr::created_at.eq(now),
                ))
                .execute(&mut conn)
                .unwrap();
            let read: (String, Option<String>, bool, String, Option<NaiveDateTime>) = rr::table
                .select((
                    rr::reason,
                    rr::decided_by,
                    rr::urgent,
                    rr::status,
                    rr::decided_at,
                ))
                .first(&mut conn)
                .unwrap();
            assert_eq!(
                read,
                (
                    "a threat against a classmate".to_string(),
                    Some(friend.id.to_string()),
                    false,
                    "approved".to_string(),
                    Some(now)
                )
            );
        }

        for table in schema_tables() {
            assert!(
                db::count_rows(&mut conn, table).unwrap() >= 1,
                "{table} holds the row"
            );
        }
    }
);

backend_test!(
    async fn the_database_enforces_the_constraints(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let now = clock::now();
        let a = new_user(&mut conn, "aaa1a");
        let b = new_user(&mut conn, "bbb2b");

        // Duplicate email, duplicate computing ID.
        let dup_email = diesel::insert_into(users::table)
            .values((
                users::id.eq(UserId::new()),
                users::email.eq("aaa1a@virginia.edu"),
                users::computing_id.eq("other"),
                users::email_verified.eq(true),
                users::phone_verified.eq(false),
                users::role.eq("student"),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&dup_email),
            "duplicate email: {dup_email:?}"
        );
        let dup_cid = diesel::insert_into(users::table)
            .values((
                users::id.eq(UserId::new()),
                users::email.eq("other@virginia.edu"),
                users::computing_id.eq("aaa1a"),
                users::email_verified.eq(true),
                users::phone_verified.eq(false),
                users::role.eq("student"),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&dup_cid),
            "duplicate computing id: {dup_cid:?}"
        );

        // Bad enum values.
        let bad_role = diesel::update(users::table.find(&a.id))
            .set(users::role.eq("superuser"))
            .execute(&mut conn);
        assert!(is_constraint_error(&bad_role), "bad role: {bad_role:?}");
        let friendship = |u1: &UserId, u2: &UserId, status: &str| {
            (
                friendships::id.eq(FriendshipId::new()),
                friendships::user_id_1.eq(u1.clone()),
                friendships::user_id_2.eq(u2.clone()),
                friendships::status.eq(status.to_string()),
                friendships::created_at.eq(now),
                friendships::updated_at.eq(now),
            )
        };
        let bad_status = diesel::insert_into(friendships::table)
            .values(friendship(&a.id, &b.id, "BESTIES"))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&bad_status),
            "bad friendship status: {bad_status:?}"
        );
        let bad_action = diesel::insert_into(audit_log::table)
            .values((
                audit_log::id.eq(AuditId::new()),
                audit_log::action.eq("erase_history"),
                audit_log::target_type.eq("message"),
                audit_log::target_id.eq("x"),
                audit_log::created_at.eq(now),
            ))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&bad_action),
            "bad audit action: {bad_action:?}"
        );
        let email = common_grounds::mail::OutgoingEmail {
            to: "aaa1a@virginia.edu".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            unsubscribe: None,
            outbox_id: None,
        };
        db::write_tx(&mut conn, |tx| outbox::enqueue(tx, &email, now)).unwrap();
        let bad_outbox = diesel::update(email_outbox::table)
            .set(email_outbox::status.eq("lost"))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&bad_outbox),
            "bad outbox status: {bad_outbox:?}"
        );

        // Self-friendship; duplicate pair in either order.
        let own = diesel::insert_into(friendships::table)
            .values(friendship(&a.id, &a.id, "PENDING"))
            .execute(&mut conn);
        assert!(is_constraint_error(&own), "self-friendship: {own:?}");
        diesel::insert_into(friendships::table)
            .values(friendship(&a.id, &b.id, "PENDING"))
            .execute(&mut conn)
            .unwrap();
        let same = diesel::insert_into(friendships::table)
            .values(friendship(&a.id, &b.id, "PENDING"))
            .execute(&mut conn);
        assert!(is_constraint_error(&same), "duplicate pair: {same:?}");
        let reversed = diesel::insert_into(friendships::table)
            .values(friendship(&b.id, &a.id, "PENDING"))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&reversed),
            "duplicate pair, reversed: {reversed:?}"
        );

        // A section's SIS number is unique within its term.
        new_class(&mut conn, "16601");
        let dup_section = diesel::insert_into(classes_table::table)
            .values((
                classes_table::id.eq(ClassId::new()),
                classes_table::subject.eq("CS"),
                classes_table::catalog_number.eq("9999"),
                classes_table::term.eq("1262"),
                classes_table::sis_class_number.eq("16601"),
                classes_table::active.eq(true),
                classes_table::created_at.eq(now),
                classes_table::updated_at.eq(now),
            ))
            .execute(&mut conn);
        assert!(
            is_constraint_error(&dup_section),
            "duplicate section: {dup_section:?}"
        );

        // Foreign keys are on (SQLite needs the pragma on every connection).
        let orphan = diesel::insert_into(sessions::table)
            .values(NewSession {
                id: &SessionId::new(),
                user_id: &UserId::new(),
                token_hash: "orphan",
                user_agent: None,
                expires_at: now,
                created_at: now,
                last_used_at: now,
            })
            .execute(&mut conn);
        assert!(
            is_constraint_error(&orphan),
            "session for no user: {orphan:?}"
        );
    }
);

backend_test!(
    async fn deleting_a_user_cascades_as_the_schema_says(backend: Backend) {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let now = clock::now();
        let gone = new_user(&mut conn, "gone1");
        let stays = new_user(&mut conn, "stay2");
        let class = new_class(&mut conn, "1");
        classes::enroll(&mut conn, &gone.id, &class.id, now).unwrap();
        classes::enroll(&mut conn, &stays.id, &class.id, now).unwrap();
        diesel::insert_into(sessions::table)
            .values(NewSession {
                id: &SessionId::new(),
                user_id: &gone.id,
                token_hash: "s1",
                user_agent: None,
                expires_at: now,
                created_at: now,
                last_used_at: now,
            })
            .execute(&mut conn)
            .unwrap();
        diesel::insert_into(magic_links::table)
            .values(NewMagicLink {
                id: &MagicLinkId::new(),
                user_id: &gone.id,
                token_hash: "t1",
                code_hash: "c1",
                code_attempts: 0,
                expires_at: now,
                used: false,
                created_at: now,
                requester_hash: None,
            })
            .execute(&mut conn)
            .unwrap();
        friends::insert(
            &mut conn,
            &NewFriendship {
                id: &FriendshipId::new(),
                user_id_1: &stays.id,
                user_id_2: &gone.id,
                status: "ACCEPTED",
                created_at: now,
                updated_at: now,
            },
        )
        .unwrap();
        let message_id = MessageBuilder::new(&class.id, &gone.id, "Anon_x", "hello")
            .created_at(now)
            .insert(&mut conn)
            .id;
        chat::insert_flag(
            &mut conn,
            &MessageFlag {
                message_id: message_id.clone(),
                user_id: gone.id.clone(),
                reason: None,
                created_at: now,
            },
        )
        .unwrap();
        db::write_tx(&mut conn, |tx| {
            moderation::record(
                tx,
                &NewAuditEntry {
                    id: &AuditId::new(),
                    actor_id: Some(&gone.id),
                    action: "hide",
                    target_type: "message",
                    target_id: message_id.as_str(),
                    reason: None,
                    details: None,
                    created_at: now,
                    class_id: None,
                    category: None,
                },
            )
        })
        .unwrap();

        diesel::delete(users::table.find(&gone.id))
            .execute(&mut conn)
            .unwrap();

        let owned_by_gone = |conn: &mut DbConn| -> Vec<i64> {
            vec![
                sessions::table
                    .filter(sessions::user_id.eq(&gone.id))
                    .count()
                    .get_result(conn)
                    .unwrap(),
                magic_links::table
                    .filter(magic_links::user_id.eq(&gone.id))
                    .count()
                    .get_result(conn)
                    .unwrap(),
                user_classes::table
                    .filter(user_classes::user_id.eq(&gone.id))
                    .count()
                    .get_result(conn)
                    .unwrap(),
                friendships::table.count().get_result(conn).unwrap(),
                message_flags::table.count().get_result(conn).unwrap(),
            ]
        };
        assert_eq!(owned_by_gone(&mut conn), vec![0, 0, 0, 0, 0]);
        // The other student's enrollment is untouched.
        assert!(classes::is_enrolled(&mut conn, &stays.id, &class.id).unwrap());
        // Messages lose their author (the account-deletion code decides what stays);
        // audit entries keep their row with no actor.
        let message: ClassMessage = chat::find(&mut conn, &message_id).unwrap().unwrap();
        assert_eq!(message.user_id, None);
        let audit = moderation::recent(&mut conn, 10).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].actor_id, None);
    }
);

/// The bundled SQLite is built as `.cargo/config.toml` says: no memory
/// statistics (one process-wide mutex on every malloc), no memory management
/// (one page cache, behind one global mutex, for every connection of the
/// pool), no STAT4 and the planner stability guarantee (without them,
/// statements are planned again for new values, or on every run when they
/// bind a LIMIT). All showed up under load; if the build flags are lost, this
/// fails rather than the bench quietly slowing down.
#[test]
fn the_bundled_sqlite_is_built_as_configured() {
    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let db = TestDb::new(Backend::Sqlite);
    let mut conn = db.connect();
    let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
        .load::<CompileOption>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|o| o.compile_options)
        .collect();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "memory statistics are on: {options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "the page caches share one mutex: {options:?}"
    );
    assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
    assert!(
        !options.iter().any(|o| o == "ENABLE_STAT4"),
        "statements are planned again for each new value: {options:?}"
    );
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "statements with a bound LIMIT are planned again on every run: {options:?}"
    );
}

// Deleting a row makes the database find every row that references it (to
// cascade, set null or refuse): without an index on the referencing column
// that is a read of the whole referencing table, under the writer's locks.
// `class_messages.answer_id` had none, and each message delete read all of
// class_messages (1.6 s at scale). Two references are left unindexed on
// purpose, each with its reason.
backend_test!(
    async fn every_foreign_key_can_be_followed_by_an_index(backend: Backend) {
        #[derive(QueryableByName)]
        struct Reference {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        // Both read the first column of each reference (all are single-column)
        // and look for an index, partial or not, that starts with it.
        let sql = match backend {
            Backend::Sqlite => {
                "SELECT m.name || '.' || f.\"from\" AS name \
                 FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table' AND NOT EXISTS ( \
                   SELECT 1 FROM pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
                   WHERE ii.seqno = 0 AND ii.name = f.\"from\") \
                 ORDER BY 1"
            }
            Backend::Postgres => {
                "SELECT c.conrelid::regclass::text || '.' || a.attname AS name \
                 FROM pg_constraint c \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                 WHERE c.contype = 'f' AND NOT EXISTS ( \
                   SELECT 1 FROM pg_index i \
                   WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
                 ORDER BY 1"
            }
        };
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let unindexed: Vec<String> = diesel::sql_query(sql)
            .load::<Reference>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let on_purpose = [
            // Classes are never deleted (a section SIS stops listing stays,
            // with its chat); an index here would cost every vote a write.
            "message_votes.class_id",
            // A moderator's deletion sets null on the few reveal requests
            // they decided; the table holds one row per reveal asked.
            "reveal_requests.decided_by",
        ];
        let missing: Vec<&String> = unindexed
            .iter()
            .filter(|name| !on_purpose.contains(&name.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{backend:?}: references with no index to follow: {missing:?}"
        );
    }
);
