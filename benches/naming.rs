//! Benchmark (not a test): what checking a draft for the people it names
//! (`chat::naming`, issue 21) adds to posting, in a class of 1,000 members with
//! display names, on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL
//! (in a fresh database it drops afterwards). Posts go through `chat::post`
//! with the check on and off, in alternating rounds so drift hits both alike,
//! and the check is also timed alone. Prints µs per post and the difference.
//!
//! `cargo bench --bench naming` (optionally with
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres`).

#[allow(dead_code)]
#[path = "../tests/integration/common/builders.rs"]
mod builders;

use std::time::{Duration, Instant};

use builders::{ClassBuilder, UserBuilder};
use chrono::Duration as Span;
use common_grounds::accounts::User;
use common_grounds::chat::{self, naming, Draft, MessageBody, Rules};
use common_grounds::classes::{self, ClassId};
use common_grounds::config::DatabaseUrl;
use common_grounds::db::{self, schema::users};
use diesel::prelude::*;

const MEMBERS: usize = 1_000;
/// Posts per round; `ROUNDS` rounds each with the check on and off.
const POSTS: usize = 100;
const ROUNDS: usize = 5;
/// The target: the check adds less than this per post.
const TARGET: Duration = Duration::from_millis(1);

const FIRST: [&str; 20] = [
    "Ángela", "Priya", "Marcus", "Wei", "Fatima", "Jonah", "Sofía", "Kwame", "Hannah", "Diego",
    "Aisha", "Liam", "Mei", "Omar", "Chloé", "Tomás", "Grace", "Ravi", "Noor", "Elena",
];
const LAST: [&str; 50] = [
    "Ruiz", "Raman", "Okafor", "Chen", "Haddad", "Miller", "Nguyen", "Mensah", "Schmidt", "García",
    "Khan", "O'Brien", "Li", "Farouk", "Dubois", "Álvarez", "Kim", "Patel", "Ali", "Petrova",
    "Jones", "Smith", "Brown", "Davis", "Wilson", "Moore", "Taylor", "Thomas", "Jackson", "White",
    "Harris", "Martin", "Thompson", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner",
    "Phillips",
];

/// A question of typical length that names no one.
fn draft(n: usize) -> String {
    format!(
        "Question {n}: for problem set 4, does the proof by induction on the number of \
         vertices need the strong hypothesis, or is the ordinary one enough when we remove \
         a leaf? The lecture notes from Tuesday seem to skip that step."
    )
}

fn main() {
    println!("naming benchmark: posting in a class of {MEMBERS} members, check on vs off");
    let mut missed = false;
    let dir = std::env::temp_dir().join(format!("cg-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    missed |= bench("sqlite", &DatabaseUrl::Sqlite(dir.join("bench.db")));
    let _ = std::fs::remove_dir_all(&dir);
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(admin) => {
            let name = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
            db::init_libpq_tls();
            let mut admin_conn = PgConnection::establish(&admin).expect("TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin_conn)
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            missed |= bench("postgres", &DatabaseUrl::Postgres(url.to_string()));
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin_conn)
                .unwrap();
        }
        None => println!(
            "postgres: skipped (set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
        ),
    }
    if missed {
        println!("the check added more than the {TARGET:?} target per post");
    }
}

/// One backend: a class of `MEMBERS`, then posting with the check on and off.
/// True when the check cost more than the target.
fn bench(name: &str, url: &DatabaseUrl) -> bool {
    let mut conn = db::Manager::new(url.clone()).establish().unwrap();
    db::run_migrations(&mut conn).unwrap();
    let class = ClassBuilder::new("CS 2150", "1262").insert(&mut conn);
    let now = common_grounds::clock::now();
    let members: Vec<User> = (0..MEMBERS)
        .map(|i| {
            let user = UserBuilder::new(&format!("bm{i}x")).insert(&mut conn);
            let display = format!("{} {}", FIRST[i % FIRST.len()], LAST[i / FIRST.len()]);
            diesel::update(users::table.find(&user.id))
                .set((
                    users::name_key.eq(common_grounds::accounts::display_name::name_key(&display)),
                    users::display_name.eq(Some(display)),
                ))
                .execute(&mut conn)
                .unwrap();
            classes::enroll(&mut conn, &user.id, &class.id, now).unwrap();
            user
        })
        .collect();
    // What autovacuum does within a minute of 1,000 new rows (and the demo
    // loader does at once): without table statistics PostgreSQL plans for an
    // empty table and scans `users`, comparing each row with every word.
    if let db::DbConn::Postgresql(_) = conn {
        diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
    }

    let mut rules = Rules::new(b"bench-secret-bench-secret-bench-secret", 3);
    rules.post_interval = Span::zero();
    rules.posts_per_hour = u32::MAX / 2;
    rules.posts_per_hour_anywhere = u32::MAX / 2;
    rules.duplicate_window = Span::zero();
    let mut n = 0;
    let mut on = Vec::new();
    let mut off = Vec::new();
    for _ in 0..ROUNDS {
        for check in [true, false] {
            rules.check_naming = check;
            let started = Instant::now();
            for _ in 0..POSTS {
                n += 1;
                post(
                    &mut conn,
                    &members[n % MEMBERS],
                    &class.id,
                    &draft(n),
                    &rules,
                );
            }
            let per_post = started.elapsed() / POSTS as u32;
            if check { &mut on } else { &mut off }.push(per_post);
        }
    }
    let check_alone = {
        let text = draft(0);
        let started = Instant::now();
        for i in 0..POSTS * ROUNDS {
            let found =
                naming::check(&mut conn, &members[i % MEMBERS].id, &class.id, &text).unwrap();
            assert!(found.is_empty());
        }
        started.elapsed() / (POSTS * ROUNDS) as u32
    };
    // The statement the check ran before `users.name_key`: the whole roster.
    // Kept for the comparison in bench/README.md.
    let load_alone = {
        use common_grounds::db::schema::user_classes;
        let started = Instant::now();
        for i in 0..POSTS * ROUNDS {
            let names: Vec<Option<String>> = user_classes::table
                .inner_join(users::table)
                .filter(user_classes::class_id.eq(&class.id))
                .filter(user_classes::user_id.ne(&members[i % MEMBERS].id))
                .filter(users::display_name.is_not_null())
                .select(users::display_name)
                .load(&mut conn)
                .unwrap();
            assert_eq!(names.len(), MEMBERS - 1);
        }
        started.elapsed() / (POSTS * ROUNDS) as u32
    };
    let (on, off) = (median(on), median(off));
    let more = on.as_secs_f64() - off.as_secs_f64();
    println!(
        "{name:>8}: post {:.0} µs with the check, {:.0} µs without: {:+.0} µs per post \
         (median of {ROUNDS} rounds of {POSTS}); the check alone {:.0} µs, against \
         loading the whole roster (the old statement) {:.0} µs",
        on.as_secs_f64() * 1e6,
        off.as_secs_f64() * 1e6,
        more * 1e6,
        check_alone.as_secs_f64() * 1e6,
        load_alone.as_secs_f64() * 1e6,
    );
    // A draft that names a member is caught (the bench measures a real check).
    let caught = naming::check(
        &mut conn,
        &members[0].id,
        &class.id,
        &format!("ask {} {} about it", FIRST[5], LAST[0]),
    )
    .unwrap();
    assert!(!caught.is_empty(), "the check finds a member's name");
    check_alone > TARGET
}

fn post(conn: &mut db::DbConn, author: &User, class_id: &ClassId, text: &str, rules: &Rules) {
    let body = MessageBody::parse(text).unwrap();
    let draft = Draft {
        class_id,
        parent_id: None,
        body: &body,
    };
    chat::post(conn, author, draft, rules, common_grounds::clock::now()).unwrap();
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
