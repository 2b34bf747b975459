//! The people of a demo campus, written in bulk: students with names, their
//! classes (sizes skewed, as a few big lectures and many small sections are),
//! friendships clustered by shared classes, and class chat threads.
//!
//! Everything random comes from one seeded generator, so a `--seed` makes the
//! same campus every time (row ids of the catalog come from the SIS sync).

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngCore};

use super::{words, CampusSpec, Progress};
use crate::accounts::display_name::name_key;
use crate::accounts::{Role, UserId};
use crate::chat::import::{ImportedMessage, ImportedReport};
use crate::chat::{self, pseudonym};
use crate::classes::ClassId;
use crate::db::schema::{friendships, sign_in_days, user_classes, users};
use crate::db::Tx;
use crate::friends::FriendshipStatus;

/// Bind parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 30_000;
/// Rows generated before they are written, so memory stays flat at any size.
const FLUSH_ROWS: usize = 20_000;
/// The demo student everyone can sign in as, and the moderator.
pub const DEMO_STUDENT: &str = "hoo1a";
pub const DEMO_MODERATOR: &str = "mod1a";

/// A section of the synced catalog.
pub struct Section {
    pub id: ClassId,
    pub course: String,
    pub lecture: bool,
}

/// Rows written, by table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub students: usize,
    pub enrollments: usize,
    pub friendships: usize,
    pub messages: usize,
    pub flags: usize,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    email: String,
    computing_id: String,
    email_verified: bool,
    role: &'static str,
    display_name: Option<String>,
    /// `accounts::display_name::name_key` of `display_name`.
    name_key: Option<String>,
    hide_classes: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = user_classes)]
struct EnrollmentRow<'a> {
    user_id: &'a str,
    class_id: &'a str,
    enrolled_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = friendships)]
struct FriendshipRow<'a> {
    id: String,
    user_id_1: &'a str,
    user_id_2: &'a str,
    status: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Inserts rows in statements of as many rows as the bind limit allows.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        for chunk in $rows.chunks(MAX_BINDS / $columns) {
            crate::on_each_backend!($conn, |c| diesel::insert_into($table)
                .values(chunk)
                .execute(c))?;
        }
    }};
}

/// A v4 UUID from the seeded generator, so ids repeat with the seed.
fn uuid(rng: &mut StdRng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Writes the students, the moderator, enrollments, friendships, messages and
/// flags, all in the caller's one write transaction.
// Stays whole: the stages in the order their foreign keys need, each a call
// plus its progress line.
pub fn populate(
    tx: &mut Tx<'_>,
    secret: &[u8],
    spec: &CampusSpec,
    sections: &[Section],
    now: NaiveDateTime,
    rng: &mut StdRng,
    progress: &dyn Progress,
) -> QueryResult<Counts> {
    let mut counts = Counts::default();
    let students = make_students(spec.students as usize, rng, now);
    progress.stage("students", students.len() as u64 + 1);
    let moderator = UserRow {
        id: uuid(rng),
        email: format!("{DEMO_MODERATOR}@virginia.edu"),
        computing_id: DEMO_MODERATOR.into(),
        email_verified: true,
        role: Role::Moderator.as_str(),
        display_name: Some("Demo Moderator".into()),
        name_key: name_key("Demo Moderator"),
        hide_classes: false,
        created_at: now - Duration::days(120),
        updated_at: now - Duration::days(120),
    };
    insert_rows!(tx, users::table, std::slice::from_ref(&moderator), 10);
    for chunk in students.chunks(FLUSH_ROWS) {
        insert_rows!(tx, users::table, chunk, 10);
        progress.advance(chunk.len() as u64);
    }
    progress.advance(1);
    counts.students = students.len();

    let members = enroll(spec, sections, students.len(), rng);
    let enrolled: usize = members.iter().map(Vec::len).sum();
    progress.stage("enrollments", enrolled as u64);
    let mut rows = Vec::with_capacity(FLUSH_ROWS);
    for (section, people) in sections.iter().zip(&members) {
        for &s in people {
            rows.push(EnrollmentRow {
                user_id: &students[s as usize].id,
                class_id: section.id.as_str(),
                enrolled_at: now - Duration::days(rng.random_range(1..60)),
            });
            if rows.len() == FLUSH_ROWS {
                insert_rows!(tx, user_classes::table, rows, 3);
                progress.advance(rows.len() as u64);
                rows.clear();
            }
        }
    }
    insert_rows!(tx, user_classes::table, rows, 3);
    progress.advance(rows.len() as u64);
    counts.enrollments = enrolled;

    let pairs = befriend(spec, &members, students.len(), rng);
    progress.stage("friendships", pairs.len() as u64);
    let mut rows = Vec::with_capacity(FLUSH_ROWS);
    for &(a, b, status) in &pairs {
        // A request waits at most its lifetime (60 days); a friendship may be older.
        let hours = match status {
            FriendshipStatus::Pending => 24 * 30,
            _ => 24 * 90,
        };
        let when = now - Duration::hours(rng.random_range(1..hours));
        rows.push(FriendshipRow {
            id: uuid(rng),
            user_id_1: &students[a as usize].id,
            user_id_2: &students[b as usize].id,
            status: status.as_str(),
            created_at: when,
            updated_at: when,
        });
        if rows.len() == FLUSH_ROWS {
            insert_rows!(tx, friendships::table, rows, 6);
            progress.advance(rows.len() as u64);
            rows.clear();
        }
    }
    insert_rows!(tx, friendships::table, rows, 6);
    progress.advance(rows.len() as u64);
    counts.friendships = pairs.len();

    let (messages, flags) = chat(
        tx, secret, spec, sections, &members, &students, now, rng, progress,
    )?;
    counts.messages = messages;
    counts.flags = flags;

    // Thirty days of sign-ins for the admin overview.
    let days: Vec<_> = (0..30)
        .map(|d| {
            let day = (now - Duration::days(d)).format("%Y-%m-%d").to_string();
            let n = (spec.students as f64 * rng.random_range(0.15..0.4)) as i32;
            (
                sign_in_days::day.eq(day),
                sign_in_days::sign_ins.eq(n.max(1)),
            )
        })
        .collect();
    crate::on_each_backend!(tx, |c| diesel::insert_into(sign_in_days::table)
        .values(&days)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(counts)
}

fn make_students(n: usize, rng: &mut StdRng, now: NaiveDateTime) -> Vec<UserRow> {
    let mut taken: HashSet<String> = HashSet::with_capacity(n * 2);
    taken.insert(DEMO_MODERATOR.into());
    let mut students = Vec::with_capacity(n);
    for i in 0..n {
        let (name, computing_id) = if i == 0 {
            ("Demo Student".to_string(), DEMO_STUDENT.to_string())
        } else {
            let first = words::FIRST_NAMES.choose(rng).expect("names");
            let last = words::LAST_NAMES.choose(rng).expect("names");
            let initials = format!(
                "{}{}",
                first[..1].to_ascii_lowercase(),
                last[..1].to_ascii_lowercase()
            );
            let id = loop {
                let middle = if rng.random_bool(0.4) {
                    ((b'a' + rng.random_range(0..26u8)) as char).to_string()
                } else {
                    String::new()
                };
                let tail: String = (0..rng.random_range(1..=2))
                    .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
                    .collect();
                let candidate = format!("{initials}{middle}{}{tail}", rng.random_range(0..10));
                if candidate != DEMO_STUDENT && !taken.contains(&candidate) {
                    break candidate;
                }
            };
            (format!("{first} {last}"), id)
        };
        taken.insert(computing_id.clone());
        let joined = now - Duration::days(rng.random_range(7..400));
        students.push(UserRow {
            id: uuid(rng),
            email: format!("{computing_id}@virginia.edu"),
            computing_id,
            email_verified: true,
            role: Role::Student.as_str(),
            name_key: name_key(&name),
            display_name: Some(name),
            hide_classes: i != 0 && rng.random_bool(0.02),
            created_at: joined,
            updated_at: joined,
        });
    }
    students
}

/// Each section's students. A section's pull is `1 / (rank + 5)^0.8` for a
/// random rank (lectures before discussions and labs), so a few lectures hold
/// hundreds and most sections a handful; the sample CS lectures rank first.
fn enroll(
    spec: &CampusSpec,
    sections: &[Section],
    students: usize,
    rng: &mut StdRng,
) -> Vec<Vec<u32>> {
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.shuffle(rng);
    order.sort_by_key(|&i| (!sections[i].course.starts_with("CS "), !sections[i].lecture));
    let mut weight = vec![0f64; sections.len()];
    for (rank, &i) in order.iter().enumerate() {
        let lab = if sections[i].lecture { 1.0 } else { 0.3 };
        weight[i] = lab / (rank as f64 + 5.0).powf(0.8);
    }
    let mut cumulative = Vec::with_capacity(weight.len());
    let mut total = 0.0;
    for w in &weight {
        total += w;
        cumulative.push(total);
    }
    let per_student = (spec.per_student as usize).min(sections.len());
    let mut members = vec![Vec::new(); sections.len()];
    let must: Vec<usize> = ["CS 3120", "CS 2100"]
        .iter()
        .filter_map(|c| sections.iter().position(|s| s.lecture && s.course == *c))
        .collect();
    for s in 0..students {
        let mut chosen: Vec<usize> = if s == 0 { must.clone() } else { Vec::new() };
        chosen.truncate(per_student);
        let mut tries = 0;
        while chosen.len() < per_student && tries < 200 {
            tries += 1;
            let x = rng.random::<f64>() * total;
            let i = cumulative
                .partition_point(|&c| c < x)
                .min(sections.len() - 1);
            if chosen
                .iter()
                .any(|&c| c == i || sections[c].course == sections[i].course)
            {
                continue;
            }
            chosen.push(i);
        }
        for i in chosen {
            members[i].push(s as u32);
        }
    }
    members
}

/// Friend pairs `(asked, was asked, status)`: `friends` per student on average, four
/// in five met in a shared class, the rest anywhere. A few are still pending,
/// including two requests waiting for the demo student.
fn befriend(
    spec: &CampusSpec,
    members: &[Vec<u32>],
    students: usize,
    rng: &mut StdRng,
) -> Vec<(u32, u32, FriendshipStatus)> {
    let mut classes_of: Vec<Vec<u32>> = vec![Vec::new(); students];
    for (c, people) in members.iter().enumerate() {
        for &s in people {
            classes_of[s as usize].push(c as u32);
        }
    }
    let target = (spec.friends as usize).min(students.saturating_sub(1));
    let cap = target + target / 2 + 1;
    let mut degree = vec![0usize; students];
    let mut seen: HashSet<u64> = HashSet::with_capacity(students * target);
    let mut pairs = Vec::with_capacity(students * target / 2 + 8);
    let key = |a: u32, b: u32| (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
    let mut order: Vec<u32> = (0..students as u32).collect();
    order.shuffle(rng);
    // Each student asks half their friends (alternately rounding up and down),
    // and is asked by the others: `friends` on average, spread as in life.
    for (n, s) in order.into_iter().enumerate() {
        let asks = (target + n % 2) / 2;
        let (mut asked, mut tries) = (0, 0);
        while asked < asks && tries < target * 6 {
            tries += 1;
            let mine = &classes_of[s as usize];
            let other = if !mine.is_empty() && rng.random_bool(0.8) {
                let class = mine[rng.random_range(0..mine.len())] as usize;
                members[class][rng.random_range(0..members[class].len())]
            } else {
                rng.random_range(0..students as u32)
            };
            if other == s || degree[other as usize] >= cap || !seen.insert(key(s, other)) {
                continue;
            }
            asked += 1;
            degree[s as usize] += 1;
            degree[other as usize] += 1;
            let status = if rng.random_bool(0.03) {
                FriendshipStatus::Pending
            } else {
                FriendshipStatus::Accepted
            };
            pairs.push((s, other, status));
        }
    }
    // Requests waiting for the demo student, so the friends page shows some.
    let mut waiting = 0;
    let mut candidate = 1u32;
    while waiting < 2 && (candidate as usize) < students {
        if seen.insert(key(0, candidate)) {
            pairs.push((candidate, 0, FriendshipStatus::Pending));
            waiting += 1;
        }
        candidate += 1;
    }
    pairs
}

/// A recent thread of a class's chat as it is generated: replies go to these.
struct Thread {
    root: String,
    replies: Vec<String>,
}

// Stays whole: a generator of plausible threads whose loops share the random
// state and the running counts; it is demo data, not a rule of the service.
#[allow(clippy::too_many_arguments)]
fn chat(
    tx: &mut Tx<'_>,
    secret: &[u8],
    spec: &CampusSpec,
    sections: &[Section],
    members: &[Vec<u32>],
    students: &[UserRow],
    now: NaiveDateTime,
    rng: &mut StdRng,
    progress: &dyn Progress,
) -> QueryResult<(usize, usize)> {
    // Classes with someone to talk to (a chat needs two), and their seats.
    let classes: Vec<usize> = (0..members.len())
        .filter(|&c| members[c].len() >= 2)
        .collect();
    let total_members: usize = classes.iter().map(|&c| members[c].len()).sum();
    let total = spec.messages as usize;
    progress.stage("messages", total as u64);
    if total_members == 0 || total == 0 {
        return Ok((0, 0));
    }
    let span = Duration::days(90).num_seconds();
    let mut messages: Vec<ImportedMessage> = Vec::with_capacity(FLUSH_ROWS);
    let mut flags: Vec<ImportedReport> = Vec::new();
    let (mut written, mut flagged) = (0usize, 0usize);
    let mut assigned = 0usize;
    // Every author's name in every class, recorded as taken.
    let mut taken: Vec<pseudonym::ImportedName> = Vec::new();
    // Messages made so far, over all classes: picks the few that carry reports.
    let mut seq = 0usize;
    for (n, &c) in classes.iter().enumerate() {
        let people = &members[c];
        // This class's share of all messages, by its size; the last class takes the rest.
        let share = if n + 1 == classes.len() {
            total - assigned
        } else {
            ((total as f64) * people.len() as f64 / total_members as f64).round() as usize
        }
        .min(total - assigned);
        assigned += share;
        let class_id = sections[c].id.as_str();
        let course = &sections[c].course;
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut used: HashSet<String> = HashSet::new();
        let mut recent: Vec<Thread> = Vec::new();
        for i in 0..share {
            let author = people[rng.random_range(0..people.len())];
            let alias = names
                .entry(author)
                .or_insert_with(|| {
                    // As a first post would: the first candidate no one holds.
                    let user = UserId(students[author as usize].id.clone());
                    let name = pseudonym::Candidates::new(secret, &user, &sections[c].id)
                        .find(|name| !used.contains(name))
                        .expect("the stream never ends");
                    used.insert(name.clone());
                    taken.push(pseudonym::ImportedName {
                        class_id: class_id.to_string(),
                        name: name.clone(),
                        user_id: Some(user.0),
                        created_at: now,
                    });
                    name
                })
                .clone();
            let id = uuid(rng);
            let at = now - Duration::seconds(span - span * (i as i64 + 1) / (share as i64 + 1))
                + Duration::seconds(rng.random_range(0..60));
            let new_thread = recent.is_empty() || rng.random_bool(0.25);
            let (parent, root, content) = if new_thread {
                let text = words::OPENERS
                    .choose(rng)
                    .expect("openers")
                    .replace("{c}", course);
                recent.push(Thread {
                    root: id.clone(),
                    replies: Vec::new(),
                });
                if recent.len() > 12 {
                    recent.remove(0);
                }
                (None, None, text)
            } else {
                // Recent threads draw most replies.
                let len = recent.len();
                let back = (rng.random::<f64>().powi(2) * len as f64) as usize;
                let thread = &mut recent[len - 1 - back.min(len - 1)];
                let parent = if !thread.replies.is_empty() && rng.random_bool(0.3) {
                    thread.replies[rng.random_range(0..thread.replies.len())].clone()
                } else {
                    thread.root.clone()
                };
                if thread.replies.len() < 20 {
                    thread.replies.push(id.clone());
                }
                let text = words::REPLIES.choose(rng).expect("replies").to_string();
                (Some(parent), Some(thread.root.clone()), text)
            };
            // A few messages carry reports, a very few enough to be hidden.
            seq += 1;
            let reports = if people.len() >= 5 && seq.is_multiple_of(4999) {
                3
            } else if people.len() >= 3 && seq.is_multiple_of(997) {
                1
            } else {
                0
            };
            let mut reporters: Vec<u32> = Vec::new();
            while reporters.len() < reports {
                let r = people[rng.random_range(0..people.len())];
                if r != author && !reporters.contains(&r) {
                    reporters.push(r);
                }
            }
            for &r in &reporters {
                flags.push(ImportedReport {
                    message_id: id.clone(),
                    user_id: &students[r as usize].id,
                    reason: Some("spam"),
                    created_at: at + Duration::minutes(30),
                });
            }
            messages.push(ImportedMessage {
                id,
                class_id,
                user_id: Some(&students[author as usize].id),
                anonymous_identifier: alias,
                content,
                parent_message_id: parent,
                thread_root_id: root,
                flagged_count: reports as i32,
                hidden: reports >= 3,
                deleted: false,
                created_at: at,
                updated_at: at,
                last_activity_at: at,
            });
            if messages.len() == FLUSH_ROWS {
                chat::import::import(tx, &messages, &flags)?;
                progress.advance(messages.len() as u64);
                written += messages.len();
                flagged += flags.len();
                messages.clear();
                flags.clear();
            }
        }
    }
    chat::import::import(tx, &messages, &flags)?;
    pseudonym::import(tx, &taken)?;
    progress.advance(messages.len() as u64);
    Ok((written + messages.len(), flagged + flags.len()))
}
