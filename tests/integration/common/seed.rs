//! Rows made directly in the database, for tests that need a populated campus.

use super::builders::{ClassBuilder, MessageBuilder, UserBuilder};
use common_grounds::accounts::User;
use common_grounds::chat::{self, ClassMessage, MessageFlag};
use common_grounds::classes::{self, Class};
use common_grounds::clock;
use common_grounds::db::DbConn;
use common_grounds::friends::{self, FriendshipId, FriendshipStatus, NewFriendship};

pub fn user(conn: &mut DbConn, computing_id: &str) -> User {
    UserBuilder::new(computing_id).insert(conn)
}

pub fn class(conn: &mut DbConn, code: &str, term: &str) -> Class {
    ClassBuilder::new(code, term).insert(conn)
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
    let message = MessageBuilder::new(&class.id, &author.id, pseudonym, content);
    match parent {
        Some(parent) => message.reply_to(parent),
        None => message,
    }
    .insert(conn)
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

/// A queued email to `to`, as the outbox queues one (`body` as its text, and
/// in a paragraph as its HTML); its id.
pub fn mail(conn: &mut DbConn, to: &str, subject: &str, body: &str) -> String {
    let email = common_grounds::mail::OutgoingEmail {
        to: to.into(),
        subject: subject.into(),
        text: body.into(),
        html: format!("<p>{body}</p>"),
        unsubscribe: None,
        outbox_id: None,
    };
    common_grounds::db::write_tx(conn, |tx| {
        common_grounds::mail::outbox::enqueue(tx, &email, clock::now())
    })
    .unwrap()
    .to_string()
}
