//! Rows made directly in the database, for tests that need a populated campus.

use common_grounds::accounts::{self, NewUser, User, UserId};
use common_grounds::chat::{self, ClassMessage, MessageFlag, MessageId, NewClassMessage};
use common_grounds::classes::{self, Class, ClassId, NewClass};
use common_grounds::clock;
use common_grounds::db::DbConn;
use common_grounds::friends::{self, FriendshipId, FriendshipStatus, NewFriendship};

pub fn user(conn: &mut DbConn, computing_id: &str) -> User {
    let now = clock::now();
    let email = format!("{computing_id}@virginia.edu");
    accounts::insert(
        conn,
        &NewUser {
            id: &UserId::new(),
            email: &email,
            computing_id,
            email_verified: true,
            role: "student",
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap()
}

pub fn class(conn: &mut DbConn, code: &str, term: &str) -> Class {
    let (subject, catalog) = code.split_once(' ').unwrap();
    let now = clock::now();
    let number = uuid::Uuid::new_v4().simple().to_string();
    classes::insert(
        conn,
        &NewClass {
            id: &ClassId::new(),
            subject,
            catalog_number: catalog,
            term,
            title: Some("A class"),
            description: None,
            sis_class_number: Some(&number[..10]),
            instructor: Some("Ada Lovelace"),
            component: Some("LEC"),
            class_section: Some("001"),
            class_capacity: Some(100),
            enrollment_available: Some(10),
            days: Some("MoWeFr"),
            start_time: Some("10:00"),
            end_time: Some("10:50"),
            location: Some("Rice Hall 130"),
            active: true,
            last_synced_at: Some(now),
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap()
}

pub fn enroll(conn: &mut DbConn, user: &User, class: &Class) {
    classes::enroll(conn, &user.id, &class.id, clock::now()).unwrap();
}

pub fn friendship(conn: &mut DbConn, a: &User, b: &User, status: FriendshipStatus) {
    let now = clock::now();
    friends::insert(
        conn,
        &NewFriendship {
            id: &FriendshipId::new(),
            user_id_1: &a.id,
            user_id_2: &b.id,
            status: status.as_str(),
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap();
}

pub fn message(
    conn: &mut DbConn,
    author: &User,
    class: &Class,
    pseudonym: &str,
    content: &str,
    parent: Option<&ClassMessage>,
) -> ClassMessage {
    let now = clock::now();
    chat::insert(
        conn,
        &NewClassMessage {
            id: &MessageId::new(),
            class_id: &class.id,
            user_id: Some(&author.id),
            anonymous_identifier: pseudonym,
            content,
            parent_message_id: parent.map(|p| &p.id),
            thread_root_id: parent.map(|p| p.thread_root_id.as_ref().unwrap_or(&p.id)),
            flagged_count: 0,
            hidden: false,
            deleted: false,
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap()
}

pub fn flag(conn: &mut DbConn, by: &User, message: &ClassMessage, reason: &str) {
    chat::insert_flag(
        conn,
        &MessageFlag {
            message_id: message.id.clone(),
            user_id: by.id.clone(),
            reason: Some(reason.to_string()),
            created_at: clock::now(),
        },
    )
    .unwrap();
}
