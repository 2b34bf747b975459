//! Cleanup removes exactly what has expired, on SQLite and PostgreSQL: each
//! rule is seeded with rows on both sides of its line, and afterwards exactly
//! the expected rows remain, by id. The `cleanup` command says the same.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, NaiveDateTime};
use common::builders::UserBuilder;
use common::*;
use common_grounds::accounts::UserId;
use common_grounds::clock;
use common_grounds::db::schema::{
    email_outbox, friendships, magic_links, rate_limit_hits, sessions, users,
};
use common_grounds::db::DbConn;
use common_grounds::ops::cleanup::{self, CleanupReport};
use diesel::prelude::*;

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn user(conn: &mut DbConn, computing_id: &str, confirmed: bool, created: NaiveDateTime) -> UserId {
    UserBuilder::new(computing_id)
        .email_verified(confirmed)
        .created_at(created)
        .insert(conn)
        .id
}

fn link(conn: &mut DbConn, user: &UserId, expires: NaiveDateTime, used: bool) -> String {
    let id = new_id();
    diesel::insert_into(magic_links::table)
        .values((
            magic_links::id.eq(&id),
            magic_links::user_id.eq(user),
            magic_links::token_hash.eq(new_id()),
            magic_links::code_hash.eq(new_id()),
            magic_links::code_attempts.eq(0),
            magic_links::expires_at.eq(expires),
            magic_links::used.eq(used),
            magic_links::created_at.eq(expires - Duration::minutes(15)),
        ))
        .execute(conn)
        .unwrap();
    id
}

fn session(conn: &mut DbConn, user: &UserId, expires: NaiveDateTime) -> String {
    let id = new_id();
    let created = expires - Duration::days(30);
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&id),
            sessions::user_id.eq(user),
            sessions::token_hash.eq(new_id()),
            sessions::user_agent.eq(None::<String>),
            sessions::expires_at.eq(expires),
            sessions::created_at.eq(created),
            sessions::last_used_at.eq(created),
        ))
        .execute(conn)
        .unwrap();
    id
}

fn friendship(
    conn: &mut DbConn,
    asker: &UserId,
    other: &UserId,
    status: &str,
    updated: NaiveDateTime,
) -> String {
    let id = new_id();
    diesel::insert_into(friendships::table)
        .values((
            friendships::id.eq(&id),
            friendships::user_id_1.eq(asker),
            friendships::user_id_2.eq(other),
            friendships::status.eq(status),
            friendships::created_at.eq(updated - Duration::days(1)),
            friendships::updated_at.eq(updated),
        ))
        .execute(conn)
        .unwrap();
    id
}

fn email(
    conn: &mut DbConn,
    status: &str,
    created: NaiveDateTime,
    sent: Option<NaiveDateTime>,
) -> String {
    let id = new_id();
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::id.eq(&id),
            email_outbox::to_address.eq("someone@virginia.edu"),
            email_outbox::subject.eq("Your sign-in link"),
            email_outbox::body_text.eq("text"),
            email_outbox::body_html.eq("<p>html</p>"),
            email_outbox::status.eq(status),
            email_outbox::attempts.eq(1),
            email_outbox::next_attempt_at.eq(created),
            email_outbox::created_at.eq(created),
            email_outbox::sent_at.eq(sent),
        ))
        .execute(conn)
        .unwrap();
    id
}

fn hit(conn: &mut DbConn, at: NaiveDateTime) -> String {
    let id = new_id();
    diesel::insert_into(rate_limit_hits::table)
        .values((
            rate_limit_hits::id.eq(&id),
            rate_limit_hits::bucket.eq("login-ip:127.0.0.1"),
            rate_limit_hits::created_at.eq(at),
        ))
        .execute(conn)
        .unwrap();
    id
}

/// Ids by table.
type Rows = BTreeMap<&'static str, Vec<String>>;

/// Seeds rows on both sides of every rule's line; returns the ids that must
/// survive a cleanup run now.
fn seed_both_sides(conn: &mut DbConn) -> Rows {
    let now = clock::now();
    let days = Duration::days;
    let hours = Duration::hours;
    let mut keep: Rows = BTreeMap::new();
    let mut kept = |table: &'static str, id: String| keep.entry(table).or_default().push(id);

    // Accounts: confirmed ones stay however old; unconfirmed go after a day,
    // unless a live friend request waits for them.
    let owner = user(conn, "owq1a", true, now - days(400));
    let friend = user(conn, "frq2b", true, now - days(400));
    let p2 = user(conn, "ppq2c", true, now - days(400));
    let p3 = user(conn, "ppq3d", true, now - days(400));
    let p4 = user(conn, "ppq4e", true, now - days(400));
    let p5 = user(conn, "ppq5f", true, now - days(400));
    let old_unconfirmed = user(conn, "unq1g", false, now - days(2));
    let young_unconfirmed = user(conn, "unq2h", false, now - hours(12));
    let awaited = user(conn, "unq3i", false, now - days(30));
    let lapsed_target = user(conn, "unq4j", false, now - days(90));
    for id in [
        &owner,
        &friend,
        &p2,
        &p3,
        &p4,
        &p5,
        &young_unconfirmed,
        &awaited,
    ] {
        kept("users", id.0.clone());
    }

    // Friend requests: PENDING ones lapse after 60 days without an update.
    friendship(conn, &owner, &p5, "PENDING", now - days(61));
    kept(
        "friendships",
        friendship(conn, &owner, &p2, "PENDING", now - days(59)),
    );
    kept(
        "friendships",
        friendship(conn, &owner, &friend, "ACCEPTED", now - days(400)),
    );
    kept(
        "friendships",
        friendship(conn, &p3, &owner, "BLOCKED", now - days(400)),
    );
    kept(
        "friendships",
        friendship(conn, &owner, &p4, "REJECTED", now - days(400)),
    );
    kept(
        "friendships",
        friendship(conn, &owner, &awaited, "PENDING", now - days(3)),
    );
    // This one lapses, and then its unconfirmed addressee may go too.
    friendship(conn, &owner, &lapsed_target, "PENDING", now - days(61));

    // Sign-in links: removed once expired for more than 7 days, used or not.
    link(conn, &owner, now - days(8), true);
    link(conn, &owner, now - days(30), false);
    kept("magic_links", link(conn, &owner, now - days(6), false));
    kept("magic_links", link(conn, &owner, now - hours(1), true));
    kept(
        "magic_links",
        link(conn, &owner, now + Duration::minutes(10), false),
    );
    // Goes with its unconfirmed account (not counted as a link).
    link(conn, &old_unconfirmed, now - days(2), false);

    // Sessions: removed once expired.
    session(conn, &owner, now - Duration::minutes(1));
    session(conn, &friend, now - days(45));
    kept("sessions", session(conn, &owner, now + days(29)));
    kept(
        "sessions",
        session(conn, &friend, now + Duration::minutes(1)),
    );

    // Outbox: delivered mail goes after 30 days, and so does mail given up on
    // (by when it was queued); queued mail stays.
    email(conn, "sent", now - days(32), Some(now - days(31)));
    kept(
        "email_outbox",
        email(conn, "sent", now - days(29), Some(now - days(29))),
    );
    kept("email_outbox", email(conn, "queued", now - days(40), None));
    email(conn, "failed", now - days(60), None);
    kept("email_outbox", email(conn, "failed", now - days(29), None));

    // Rate-limit hits: gone after a day.
    hit(conn, now - hours(25));
    hit(conn, now - days(3));
    kept("rate_limit_hits", hit(conn, now - hours(23)));
    kept("rate_limit_hits", hit(conn, now - Duration::minutes(1)));

    for ids in keep.values_mut() {
        ids.sort();
    }
    keep
}

/// What a run over `seed_both_sides` removes.
fn expected_report() -> CleanupReport {
    CleanupReport {
        sign_in_links: 2,
        sessions: 2,
        unconfirmed_accounts: 2,
        rate_limit_hits: 2,
        delivered_emails: 1,
        failed_emails: 1,
        lapsed_friend_requests: 2,
        ..CleanupReport::default()
    }
}

/// Every id now in the tables cleanup touches.
fn remaining(conn: &mut DbConn) -> Rows {
    let mut rows: Rows = BTreeMap::new();
    rows.insert(
        "users",
        users::table
            .select(users::id)
            .order(users::id)
            .load(conn)
            .unwrap(),
    );
    rows.insert(
        "friendships",
        friendships::table
            .select(friendships::id)
            .order(friendships::id)
            .load(conn)
            .unwrap(),
    );
    rows.insert(
        "magic_links",
        magic_links::table
            .select(magic_links::id)
            .order(magic_links::id)
            .load(conn)
            .unwrap(),
    );
    rows.insert(
        "sessions",
        sessions::table
            .select(sessions::id)
            .order(sessions::id)
            .load(conn)
            .unwrap(),
    );
    rows.insert(
        "email_outbox",
        email_outbox::table
            .select(email_outbox::id)
            .order(email_outbox::id)
            .load(conn)
            .unwrap(),
    );
    rows.insert(
        "rate_limit_hits",
        rate_limit_hits::table
            .select(rate_limit_hits::id)
            .order(rate_limit_hits::id)
            .load(conn)
            .unwrap(),
    );
    // Sorted the same way on both backends (collations differ).
    for ids in rows.values_mut() {
        ids.sort();
    }
    rows
}

backend_test!(
    async fn cleanup_removes_exactly_the_expired_rows(backend: Backend) {
        // Arrange
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let keep = seed_both_sides(&mut conn);

        // Act
        let report = cleanup::run(&mut conn, clock::now()).unwrap();

        // Assert: the counts, and exactly the expected rows remain.
        assert_eq!(report, expected_report());
        assert_eq!(remaining(&mut conn), keep);

        // A second run finds nothing more.
        let again = cleanup::run(&mut conn, clock::now()).unwrap();
        assert_eq!(again, CleanupReport::default());
        assert_eq!(remaining(&mut conn), keep);
    }
);

// A rule that fails (here its table is gone; on a busy server, a lock held
// past the timeout) does not stop the others, and the failure names it.
backend_test!(
    async fn a_failing_rule_does_not_stop_the_others(backend: Backend) {
        use diesel::connection::SimpleConnection;
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let keep = seed_both_sides(&mut conn);
        conn.batch_execute("DROP TABLE chat_events").unwrap();

        let failed = cleanup::run(&mut conn, clock::now()).unwrap_err();

        assert_eq!(failed.report, expected_report());
        assert_eq!(remaining(&mut conn), keep);
        assert_eq!(failed.failures.len(), 1, "{failed}");
        assert!(
            failed.failures[0].starts_with("week-old chat events: "),
            "{failed}"
        );
    }
);

/// PostgreSQL: a block of a never-confirmed account written while cleanup
/// runs. The blocker holds the account's row (`FOR SHARE`, as `find_held`
/// does) and writes the block; cleanup's delete, judging the account from
/// before the block, waited on that hold and then cascaded the block away.
#[tokio::test]
async fn a_block_written_while_cleanup_runs_keeps_its_account() {
    use diesel::connection::SimpleConnection;
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres);
    let mut conn = db.migrated();
    let now = clock::now();
    let blocker = UserBuilder::new("blk1q").insert(&mut conn);
    let unconfirmed = UserBuilder::new("unc2q")
        .email_verified(false)
        .created_at(now - Duration::days(2))
        .insert(&mut conn);
    let mut holder = db.connect();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM users WHERE id = '{u}' FOR SHARE; \
             INSERT INTO friendships (id, user_id_1, user_id_2, status, created_at, updated_at, blocked_back) \
             VALUES ('{f}', '{b}', '{u}', 'BLOCKED', now(), now(), FALSE)",
            u = unconfirmed.id,
            b = blocker.id,
            f = new_id(),
        ))
        .unwrap();
    let commit = when_waiting(&db, 1, std::time::Duration::from_secs(4), move || {
        holder.batch_execute("COMMIT").map_err(|e| e.to_string())
    });
    let mut cleaner = db.connect();
    let cleaned = tokio::task::spawn_blocking(move || cleanup::run(&mut cleaner, now));

    let (seen, committed) = commit.await.unwrap();
    let report = cleaned.await.unwrap().unwrap();

    assert_eq!(seen, 1, "cleanup waited on the blocker");
    assert_eq!(committed, Ok(()));
    assert_eq!(report.unconfirmed_accounts, 0);
    let blocks: i64 = friendships::table
        .filter(friendships::user_id_2.eq(&unconfirmed.id))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(blocks, 1, "the block was cascaded away with its account");
}

fn cleanup_command(database_url: &str, data_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_common-grounds"))
        .arg("cleanup")
        .env_remove("APP_ENV")
        .env(
            "SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789",
        )
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

backend_test!(
    async fn the_cleanup_command_prints_what_it_removed(backend: Backend) {
        // Arrange
        let db = TestDb::new(backend);
        let keep = seed_both_sides(&mut db.migrated());
        let data =
            std::env::temp_dir().join(format!("cg-cleanup-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).unwrap();

        // Act
        let out = cleanup_command(&db.url_string(), &data);

        // Assert
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.trim(),
            "cleanup: removed 2 sign-in links, 2 sessions, 2 unconfirmed addresses, \
             2 rate-limit hits, 1 delivered emails, 1 failed emails, 2 lapsed friend requests, \
             0 old notifications, 0 old digest claims, 0 week-old chat events"
        );
        assert_eq!(remaining(&mut db.connect()), keep);
        let _ = std::fs::remove_dir_all(&data);
    }
);

/// SQLite keeps no planner statistics by itself; without them a friend's week
/// started from the term's every section. The hourly cleanup gathers them.
#[test]
fn the_cleanup_gives_sqlite_the_planner_statistics_it_lacks() {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let db = TestDb::with_schema(Backend::Sqlite);
    let mut conn = db.connect();
    let me = crate::common::builders::UserBuilder::new("me1aa").insert(&mut conn);
    for i in 0..20 {
        let class = crate::common::seed::class(&mut conn, &format!("CS {}", 1000 + i), "1262");
        crate::common::seed::enroll(&mut conn, &me, &class);
    }
    let analyzed = |conn: &mut common_grounds::db::DbConn| -> i64 {
        diesel::sql_query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'")
            .get_result::<Count>(conn)
            .unwrap()
            .n
    };
    assert_eq!(analyzed(&mut conn), 0, "a new database has no statistics");
    cleanup::run(&mut conn, clock::now()).unwrap();
    assert_eq!(analyzed(&mut conn), 1, "the cleanup analyzed the tables");
    let rows = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_stat1 WHERE tbl IN ('classes', 'user_classes')",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n;
    assert!(
        rows >= 2,
        "classes and user_classes have statistics ({rows} rows)"
    );
}

/// The hourly cleanup's deletes of sent mail and unconfirmed accounts read
/// only their rows through partial indexes. SQLite plans without looking at
/// bound values (`.cargo/config.toml`: the planner stability guarantee), so
/// a bound `status = ?` or `email_verified = ?` would read the whole table
/// at every run; the statements spell those conditions as the indexes do.
#[test]
fn the_cleanup_deletes_read_their_partial_indexes_on_sqlite() {
    let db = TestDb::with_schema(Backend::Sqlite);
    let manager = common_grounds::db::Manager::new(db.url.clone());
    let queries = manager.query_counter();
    // As the pool opens it: counted, so its statements can be read back.
    let mut conn = diesel::r2d2::ManageConnection::connect(&manager).unwrap();
    queries.record();
    cleanup::run(&mut conn, clock::now()).unwrap();
    let ran = queries.take_recorded();
    // Most mail is sent and most students confirmed, which only statistics say.
    crate::common::plans::use_scale_statistics(&mut conn);
    for (table, index) in [
        ("email_outbox", "idx_email_outbox_sent"),
        ("users", "idx_users_unverified_created"),
    ] {
        let sql = ran
            .iter()
            .find(|sql| sql.starts_with(&format!("DELETE FROM `{table}`")))
            .unwrap_or_else(|| panic!("no delete from {table} among {ran:?}"));
        let plan = crate::common::plans::plan_of(&mut conn, sql);
        assert!(
            plan.first()
                .is_some_and(|step| step.contains(&format!("INDEX {index}"))),
            "{sql}\n{plan:?}"
        );
    }
}
