//! Test data written straight to the database, in the manner of crates.io's
//! `builders/` and Lemmy's `test_data.rs`: each builder starts from a plausible
//! row, a test names only the fields it cares about, and `insert` writes it
//! through the owning module. A change to an insert struct is made here once,
//! not in every test.

use chrono::NaiveDateTime;
use common_grounds::accounts::{self, NewUser, User, UserId};
use common_grounds::chat::{self, ClassMessage, MessageId, NewClassMessage};
use common_grounds::classes::{self, Class, ClassId, NewClass};
use common_grounds::clock;
use common_grounds::db::DbConn;

/// An account: a confirmed student `<computing_id>@virginia.edu`, made now.
pub struct UserBuilder {
    id: Option<UserId>,
    computing_id: String,
    email_verified: bool,
    role: String,
    created_at: Option<NaiveDateTime>,
}

impl UserBuilder {
    pub fn new(computing_id: &str) -> UserBuilder {
        UserBuilder {
            id: None,
            computing_id: computing_id.to_string(),
            email_verified: true,
            role: "student".to_string(),
            created_at: None,
        }
    }

    /// The account's id (a new one by default).
    pub fn id(mut self, id: UserId) -> Self {
        self.id = Some(id);
        self
    }

    /// Whether the address was ever confirmed (by signing in).
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = verified;
        self
    }

    pub fn role(mut self, role: &str) -> Self {
        self.role = role.to_string();
        self
    }

    /// When the account was made (and last changed); now by default.
    pub fn created_at(mut self, at: NaiveDateTime) -> Self {
        self.created_at = Some(at);
        self
    }

    pub fn insert(self, conn: &mut DbConn) -> User {
        let at = self.created_at.unwrap_or_else(clock::now);
        let email = format!("{}@virginia.edu", self.computing_id);
        accounts::insert(
            conn,
            &NewUser {
                id: &self.id.clone().unwrap_or_default(),
                email: &email,
                computing_id: &self.computing_id,
                email_verified: self.email_verified,
                role: &self.role,
                created_at: at,
                updated_at: at,
            },
        )
        .unwrap()
    }
}

/// A class section as a SIS sync leaves it: an active lecture, section 001,
/// meeting MoWeFr 10:00–10:50 in Rice Hall 130, with a random SIS number.
pub struct ClassBuilder {
    subject: String,
    catalog_number: String,
    term: String,
    title: Option<String>,
    description: Option<String>,
    sis_class_number: Option<String>,
    instructor: Option<String>,
    component: Option<String>,
    class_section: Option<String>,
    class_capacity: Option<i32>,
    enrollment_available: Option<i32>,
    days: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    location: Option<String>,
}

fn owned<'s>(value: impl Into<Option<&'s str>>) -> Option<String> {
    value.into().map(str::to_string)
}

impl ClassBuilder {
    /// A section of `code` ("CS 3120") in `term` ("1262").
    pub fn new(code: &str, term: &str) -> ClassBuilder {
        let (subject, catalog) = code
            .split_once(' ')
            .unwrap_or_else(|| panic!("a class code is `SUBJECT NUMBER`, not {code:?}"));
        let number = uuid::Uuid::new_v4().simple().to_string();
        ClassBuilder {
            subject: subject.to_string(),
            catalog_number: catalog.to_string(),
            term: term.to_string(),
            title: Some("A class".to_string()),
            description: None,
            sis_class_number: Some(number[..10].to_string()),
            instructor: Some("Ada Lovelace".to_string()),
            component: Some("LEC".to_string()),
            class_section: Some("001".to_string()),
            class_capacity: Some(100),
            enrollment_available: Some(10),
            days: Some("MoWeFr".to_string()),
            start_time: Some("10:00".to_string()),
            end_time: Some("10:50".to_string()),
            location: Some("Rice Hall 130".to_string()),
        }
    }

    pub fn title<'s>(mut self, title: impl Into<Option<&'s str>>) -> Self {
        self.title = owned(title);
        self
    }

    pub fn description<'s>(mut self, description: impl Into<Option<&'s str>>) -> Self {
        self.description = owned(description);
        self
    }

    pub fn sis_class_number<'s>(mut self, number: impl Into<Option<&'s str>>) -> Self {
        self.sis_class_number = owned(number);
        self
    }

    pub fn instructor<'s>(mut self, instructor: impl Into<Option<&'s str>>) -> Self {
        self.instructor = owned(instructor);
        self
    }

    /// The SIS component: `LEC`, `LAB`, `DIS`...
    pub fn component<'s>(mut self, component: impl Into<Option<&'s str>>) -> Self {
        self.component = owned(component);
        self
    }

    /// The section number within the course and component ("001").
    pub fn section<'s>(mut self, section: impl Into<Option<&'s str>>) -> Self {
        self.class_section = owned(section);
        self
    }

    pub fn capacity(mut self, capacity: Option<i32>) -> Self {
        self.class_capacity = capacity;
        self
    }

    /// Seats still open.
    pub fn seats_available(mut self, seats: Option<i32>) -> Self {
        self.enrollment_available = seats;
        self
    }

    /// When the section meets, as its row's summary (`days` `start`–`end`).
    pub fn meets<'s>(
        mut self,
        days: impl Into<Option<&'s str>>,
        start: impl Into<Option<&'s str>>,
        end: impl Into<Option<&'s str>>,
    ) -> Self {
        self.days = owned(days);
        self.start_time = owned(start);
        self.end_time = owned(end);
        self
    }

    pub fn location<'s>(mut self, location: impl Into<Option<&'s str>>) -> Self {
        self.location = owned(location);
        self
    }

    /// Writes the section, active and synced now.
    pub fn insert(self, conn: &mut DbConn) -> Class {
        let now = clock::now();
        classes::insert(
            conn,
            &NewClass {
                id: &ClassId::new(),
                subject: &self.subject,
                catalog_number: &self.catalog_number,
                term: &self.term,
                title: self.title.as_deref(),
                description: self.description.as_deref(),
                sis_class_number: self.sis_class_number.as_deref(),
                instructor: self.instructor.as_deref(),
                component: self.component.as_deref(),
                class_section: self.class_section.as_deref(),
                class_capacity: self.class_capacity,
                enrollment_available: self.enrollment_available,
                days: self.days.as_deref(),
                start_time: self.start_time.as_deref(),
                end_time: self.end_time.as_deref(),
                location: self.location.as_deref(),
                active: true,
                last_synced_at: Some(now),
                created_at: now,
                updated_at: now,
            },
        )
        .unwrap()
    }
}

/// A message in a class chat, written as it is stored (no posting rules
/// checked): visible, unflagged, posted now, under the pseudonym given.
pub struct MessageBuilder {
    class_id: ClassId,
    author: UserId,
    pseudonym: String,
    content: String,
    parent: Option<(MessageId, MessageId)>,
    created_at: Option<NaiveDateTime>,
    announced: bool,
}

impl MessageBuilder {
    /// `content` by `author` in the chat of `class_id`, as `pseudonym`.
    pub fn new(class_id: &ClassId, author: &UserId, pseudonym: &str, content: &str) -> Self {
        MessageBuilder {
            class_id: class_id.clone(),
            author: author.clone(),
            pseudonym: pseudonym.to_string(),
            content: content.to_string(),
            parent: None,
            created_at: None,
            announced: false,
        }
    }

    /// Records its event too, as every chat writer does (`events::record`):
    /// what a classmate's open page and the pages' held counts of recent
    /// posters learn of a post by.
    pub fn announced(mut self) -> Self {
        self.announced = true;
        self
    }

    /// A reply to `parent`, in the thread `parent` belongs to.
    pub fn reply_to(mut self, parent: &ClassMessage) -> Self {
        let root = parent.thread_root_id.as_ref().unwrap_or(&parent.id);
        self.parent = Some((parent.id.clone(), root.clone()));
        self
    }

    /// A reply to the message `parent`, whose thread starts at `root`.
    pub fn reply_in_thread(mut self, parent: &MessageId, root: &MessageId) -> Self {
        self.parent = Some((parent.clone(), root.clone()));
        self
    }

    /// When it was posted (and last changed); now by default.
    pub fn created_at(mut self, at: NaiveDateTime) -> Self {
        self.created_at = Some(at);
        self
    }

    pub fn insert(self, conn: &mut DbConn) -> ClassMessage {
        let at = self.created_at.unwrap_or_else(clock::now);
        let message = chat::insert(
            conn,
            &NewClassMessage {
                id: &MessageId::new(),
                class_id: &self.class_id,
                user_id: Some(&self.author),
                anonymous_identifier: &self.pseudonym,
                content: &self.content,
                parent_message_id: self.parent.as_ref().map(|(parent, _)| parent),
                thread_root_id: self.parent.as_ref().map(|(_, root)| root),
                flagged_count: 0,
                hidden: false,
                deleted: false,
                created_at: at,
                updated_at: at,
                last_activity_at: at,
            },
        )
        .unwrap();
        // A reply bumps its thread, as chat::post does.
        if let Some((_, root)) = &self.parent {
            use common_grounds::db::schema::class_messages;
            use diesel::prelude::*;
            diesel::update(class_messages::table.find(root))
                .filter(class_messages::last_activity_at.lt(at))
                .set(class_messages::last_activity_at.eq(at))
                .execute(conn)
                .unwrap();
        }
        if self.announced {
            let kind = match self.parent {
                Some(_) => chat::EventKind::Reply,
                None => chat::EventKind::Thread,
            };
            common_grounds::db::write_tx(conn, |tx| {
                chat::events::record(tx, &message, kind, at).map(|_| ())
            })
            .unwrap();
        }
        message
    }
}

/// CS 3120 section 001 in term 1262, Discrete Mathematics, with SIS number
/// `number`: the section the chat and schema tests talk in.
pub fn discrete_math(number: &str) -> ClassBuilder {
    ClassBuilder::new("CS 3120", "1262")
        .title("Discrete Mathematics and Theory 1")
        .description("Proofs, sets, automata.")
        .sis_class_number(number)
        .instructor("Nathan Brunelle")
        .capacity(Some(300))
        .seats_available(Some(12))
}
