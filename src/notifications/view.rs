//! A notification as the inbox and the emails show it: one statement joins
//! each row with what it is about (the class, the message's pseudonym and first
//! lines, the friend's name), and a headline rendered from its kind's template
//! in `templates/notifications/kinds/` (plain text; pages and HTML emails
//! escape it like any other text).

use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Kind, NotificationId};
use crate::accounts::UserId;
use crate::chat::MessageId;
use crate::classes::ClassId;
use crate::db::schema::{
    class_messages, class_mutes, classes, friendships, notifications, user_classes, users,
};
use crate::db::DbConn;

/// One notification, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationView {
    pub id: NotificationId,
    pub kind: Kind,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
    pub class_id: Option<ClassId>,
    pub thread_id: Option<MessageId>,
    pub message_id: Option<MessageId>,
    /// "CS 2100", when it is about a class.
    pub class_code: Option<String>,
    /// The pseudonym the message was posted under (never who wrote it).
    pub pseudonym: Option<String>,
    /// The message's first lines, while it is still shown.
    pub excerpt: Option<String>,
    /// For friend kinds: "Ada Lovelace (al4b)" or the computing ID.
    pub other_name: Option<String>,
    /// The moderator's reason, when one was given.
    pub detail: Option<String>,
    /// About a class the student has left, or muted (for kinds a mute
    /// silences): listed in the inbox, never mailed.
    pub quiet: bool,
}

type Row = (
    (
        NotificationId,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<ClassId>,
        Option<MessageId>,
        Option<MessageId>,
        Option<String>,
    ),
    Option<(String, String)>,
    Option<(String, String, bool, bool, bool)>,
    Option<(String, Option<String>)>,
    (bool, bool, bool),
);

/// Each notification joined with what it is about, and whether the student
/// still takes its class and has not muted it (correlated `EXISTS`, so still
/// one statement). A macro: the query's type is not worth spelling out.
macro_rules! joined {
    () => {
        notifications::table
            .left_join(classes::table.on(classes::id.nullable().eq(notifications::class_id)))
            .left_join(
                class_messages::table
                    .on(class_messages::id.nullable().eq(notifications::message_id)),
            )
            .left_join(users::table.on(users::id.nullable().eq(notifications::other_user_id)))
            .select((
                (
                    notifications::id,
                    notifications::kind,
                    notifications::created_at,
                    notifications::read_at,
                    notifications::class_id,
                    notifications::thread_id,
                    notifications::message_id,
                    notifications::detail,
                ),
                (classes::subject, classes::catalog_number).nullable(),
                (
                    class_messages::anonymous_identifier,
                    class_messages::content,
                    class_messages::hidden,
                    class_messages::held,
                    class_messages::deleted,
                )
                    .nullable(),
                (users::computing_id, users::display_name).nullable(),
                (
                    diesel::dsl::exists(
                        user_classes::table
                            .filter(user_classes::user_id.eq(notifications::user_id))
                            .filter(
                                user_classes::class_id
                                    .nullable()
                                    .eq(notifications::class_id),
                            ),
                    ),
                    diesel::dsl::exists(
                        class_mutes::table
                            .filter(class_mutes::user_id.eq(notifications::user_id))
                            .filter(class_mutes::class_id.nullable().eq(notifications::class_id)),
                    ),
                    // Still friends, or their request to the reader still
                    // waiting: only a choice of theirs shows their name. The
                    // reader's own request (which may sit under their block,
                    // or be declined) must not: the name showing or not would
                    // tell which.
                    diesel::dsl::exists(
                        friendships::table
                            .filter(
                                friendships::user_id_1
                                    .nullable()
                                    .eq(notifications::other_user_id)
                                    .and(friendships::user_id_2.eq(notifications::user_id))
                                    .or(friendships::user_id_2
                                        .nullable()
                                        .eq(notifications::other_user_id)
                                        .and(friendships::user_id_1.eq(notifications::user_id))),
                            )
                            // Two literals, not `= ANY($n)`: PostgreSQL plans an
                            // array afresh on every run (docs/database.md).
                            .filter(
                                friendships::status.eq("ACCEPTED").or(friendships::status
                                    .eq("PENDING")
                                    .and(
                                        friendships::user_id_1
                                            .nullable()
                                            .eq(notifications::other_user_id),
                                    )),
                            ),
                    ),
                ),
            ))
    };
}

/// Loads the student's notifications, newest first: at most `limit`, older than
/// the cursor `(created_at, id)` when given, and only those already showing at
/// `now`. One statement; rows of a kind this build does not know are skipped.
pub fn list(
    conn: &mut DbConn,
    user: &UserId,
    now: NaiveDateTime,
    before: Option<(NaiveDateTime, &NotificationId)>,
    limit: i64,
) -> QueryResult<Vec<NotificationView>> {
    let mut query = joined!()
        .filter(notifications::user_id.eq(user))
        .filter(notifications::created_at.le(now))
        .into_boxed();
    if let Some((at, id)) = before {
        query = query.filter(
            notifications::created_at
                .lt(at)
                .or(notifications::created_at
                    .eq(at)
                    .and(notifications::id.lt(id))),
        );
    }
    let rows: Vec<Row> = query
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .limit(limit)
        .load(conn)?;
    Ok(rows.into_iter().filter_map(shape).collect())
}

/// Loads the given notifications of one student, newest first (the digest and
/// immediate emails). One statement.
pub fn by_ids(
    conn: &mut DbConn,
    user: &UserId,
    ids: &[NotificationId],
) -> QueryResult<Vec<NotificationView>> {
    let rows: Vec<Row> = joined!()
        .filter(notifications::user_id.eq(user))
        .filter(notifications::id.eq_any(ids))
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(shape).collect())
}

fn shape(row: Row) -> Option<NotificationView> {
    let (
        (id, kind, created_at, read_at, class_id, thread_id, message_id, detail),
        class,
        message,
        other,
        (member, muted, connected),
    ) = row;
    let kind: Kind = kind.parse().ok()?;
    // A class's chat is for its members: once the student has left it, its
    // notices keep their headline but quote nothing (the message may have
    // been edited since), and none is mailed; nor, once they muted it, is
    // one the mute silences.
    // (A moderator's word on the student's own message still reaches them.)
    let chat = class_id.is_some() && kind.topic() != super::Topic::Moderation;
    let left = chat && !member;
    // Nor is one about a message the class no longer sees (deleted, hidden,
    // held): its line would lead to "[deleted]".
    let gone = chat
        && message
            .as_ref()
            .is_some_and(|(_, _, hidden, held, deleted)| *hidden || *held || *deleted);
    let quiet = left || gone || (chat && muted && kind.follows_mute());
    let (pseudonym, excerpt) = match message {
        Some((pseudonym, content, hidden, held, deleted)) => {
            // Someone else's message shows only while classmates can see it (not
            // hidden, not held for review: a reply held after it was shown,
            // by an edit before `chat::edit` stopped, keeps its notices, which
            // must not carry its new words) and the student
            // still takes the class; the student's own (moderation kinds)
            // until it is removed.
            // A deleted message loses its pseudonym too, as on the thread page.
            let own = kind.topic() == super::Topic::Moderation;
            let shown = !deleted && (own || (!hidden && !held && !left));
            (
                (!deleted).then_some(pseudonym),
                shown.then(|| excerpt(&content)),
            )
        }
        None => (None, None),
    };
    Some(NotificationView {
        id,
        kind,
        created_at,
        read_at,
        class_id,
        thread_id,
        message_id,
        class_code: class.map(|(subject, number)| crate::classes::code(&subject, &number)),
        pseudonym,
        excerpt,
        // A friend's name shows while the two are friends (or their request
        // to the reader waits); once unfriended or blocked, a notice keeps
        // only the computing ID, not a name they may have changed since.
        other_name: other.map(|(computing_id, display_name)| match display_name {
            Some(name) if connected && !name.trim().is_empty() => {
                format!("{name} ({computing_id})")
            }
            _ => computing_id,
        }),
        detail,
        quiet,
    })
}

/// At most 2 lines and 160 characters of a message, its links as the thread
/// page shows them (a look-alike host in punycode): the inbox shows the
/// excerpt as text, and emails carry it, where mail apps make a bare address
/// a link of their own.
fn excerpt(text: &str) -> String {
    let shown: String = crate::chat::content::segments(text)
        .into_iter()
        .map(|segment| segment.text)
        .collect();
    crate::chat::content::excerpt(&shown, 2, 160)
}

impl NotificationView {
    pub fn is_unread(&self) -> bool {
        self.read_at.is_none()
    }

    /// Where it is about, as a path: the message in its thread, the friends
    /// page, or the account page.
    pub fn target(&self) -> String {
        match (&self.class_id, &self.thread_id, &self.message_id) {
            (Some(class), Some(thread), Some(message)) if self.kind != Kind::MessageRemoved => {
                format!("/classes/{class}/threads/{thread}#m-{message}")
            }
            (Some(class), Some(thread), _) => format!("/classes/{class}/threads/{thread}"),
            (Some(class), None, _) => format!("/classes/{class}"),
            _ => match self.kind.topic() {
                super::Topic::Friends => "/friends".to_string(),
                _ => "/account".to_string(),
            },
        }
    }

    /// The path that marks it read and then goes to `target` (inbox and email links).
    pub fn open_path(&self) -> String {
        format!("/notifications/{}", self.id)
    }

    /// One line saying what happened, from the kind's template (plain text).
    pub fn headline(&self) -> String {
        headline(self).unwrap_or_else(|_| "Something happened in Common Grounds".to_string())
    }

    fn class(&self) -> &str {
        self.class_code.as_deref().unwrap_or("a class")
    }

    fn who(&self) -> &str {
        self.pseudonym.as_deref().unwrap_or("A classmate")
    }

    fn friend(&self) -> &str {
        self.other_name.as_deref().unwrap_or("A student")
    }
}

/// Declares one headline template per kind; the match is exhaustive, so a new
/// `Kind` does not compile until its template is named here.
macro_rules! headlines {
    ($($kind:ident => $path:literal),+ $(,)?) => {
        mod templates {
            $(
                #[derive(askama::Template)]
                #[template(path = $path)]
                // A headline may need nothing from the view ("Your account was suspended").
                #[allow(dead_code)]
                pub struct $kind<'a> {
                    pub n: &'a super::NotificationView,
                }
            )+
        }

        fn headline(n: &NotificationView) -> askama::Result<String> {
            match n.kind {
                $(Kind::$kind => templates::$kind { n }.render(),)+
            }
        }
    };
}

headlines! {
    Reply => "notifications/kinds/reply.txt",
    ThreadReply => "notifications/kinds/thread_reply.txt",
    Answered => "notifications/kinds/answered.txt",
    AnswerChosen => "notifications/kinds/answer_chosen.txt",
    FriendRequest => "notifications/kinds/friend_request.txt",
    FriendAccepted => "notifications/kinds/friend_accepted.txt",
    MessageHidden => "notifications/kinds/message_hidden.txt",
    MessageRestored => "notifications/kinds/message_restored.txt",
    MessageRemoved => "notifications/kinds/message_removed.txt",
    MessageReleased => "notifications/kinds/message_released.txt",
    Suspended => "notifications/kinds/suspended.txt",
    SuspensionEnded => "notifications/kinds/suspension_ended.txt",
    DisplayNameRemoved => "notifications/kinds/display_name_removed.txt",
    NameWaitEnded => "notifications/kinds/name_wait_ended.txt",
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(kind: Kind) -> NotificationView {
        NotificationView {
            id: NotificationId::new(),
            kind,
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
            read_at: None,
            class_id: Some(ClassId::new()),
            thread_id: Some(MessageId::new()),
            message_id: Some(MessageId::new()),
            class_code: Some("CS 2100".into()),
            pseudonym: Some("Violet Heron".into()),
            excerpt: Some("hi".into()),
            other_name: Some("Ada <b> (al4b)".into()),
            detail: None,
            quiet: false,
        }
    }

    #[test]
    fn every_kind_has_a_headline_naming_only_the_pseudonym_or_friend() {
        for kind in Kind::ALL {
            let line = view(*kind).headline();
            assert!(!line.trim().is_empty(), "{kind}");
            assert!(!line.contains('\n'), "{kind}: {line:?}");
            // A chat notice may name the pseudonym, a friend notice the
            // friend; nothing else names anyone (the view has both names).
            use crate::notifications::Topic;
            let (pseudonym, friend) = match kind.topic() {
                Topic::Replies => (matches!(kind, Kind::Reply | Kind::ThreadReply), false),
                Topic::Friends => (false, true),
                Topic::Answers | Topic::Moderation => (false, false),
            };
            assert_eq!(line.contains("Violet Heron"), pseudonym, "{kind}: {line}");
            assert_eq!(line.contains("al4b"), friend, "{kind}: {line}");
        }
        assert_eq!(
            view(Kind::Reply).headline(),
            "Violet Heron replied to your message in CS 2100"
        );
        // Reports hid it (no reason), or a moderator did (with one).
        assert_eq!(
            view(Kind::MessageHidden).headline(),
            "Your message in CS 2100 is hidden while moderators review it"
        );
        let decided = NotificationView {
            detail: Some("Spam".into()),
            ..view(Kind::MessageHidden)
        };
        assert_eq!(
            decided.headline(),
            "A moderator hid your message in CS 2100"
        );
        assert_eq!(
            view(Kind::AnswerChosen).headline(),
            "Your reply was marked as the answer in CS 2100"
        );
        // Plain text: the page escapes it, so nothing is escaped twice here.
        assert_eq!(
            view(Kind::FriendRequest).headline(),
            "Ada <b> (al4b) sent you a friend request"
        );
    }

    #[test]
    fn a_removed_message_links_to_its_thread_not_the_message() {
        let v = view(Kind::MessageRemoved);
        assert!(!v.target().contains("#m-"));
        assert!(view(Kind::Reply).target().contains("#m-"));
        let mut friend = view(Kind::FriendAccepted);
        friend.class_id = None;
        friend.thread_id = None;
        friend.message_id = None;
        assert_eq!(friend.target(), "/friends");
    }

    #[test]
    fn a_deleted_message_shows_neither_its_text_nor_its_pseudonym() {
        let row = |hidden: bool, held: bool, deleted: bool| -> Row {
            row_of("reply", hidden, held, deleted, (true, false))
        };
        fn row_of(
            kind: &str,
            hidden: bool,
            held: bool,
            deleted: bool,
            (member, muted): (bool, bool),
        ) -> Row {
            (
                (
                    NotificationId::new(),
                    kind.into(),
                    chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
                    None,
                    Some(ClassId::new()),
                    Some(MessageId::new()),
                    Some(MessageId::new()),
                    None,
                ),
                Some(("CS".into(), "2100".into())),
                Some((
                    "Violet Heron".into(),
                    "the text".into(),
                    hidden,
                    held,
                    deleted,
                )),
                None,
                (member, muted, true),
            )
        }
        let shown = shape(row(false, false, false)).unwrap();
        assert_eq!(shown.pseudonym.as_deref(), Some("Violet Heron"));
        assert_eq!(shown.excerpt.as_deref(), Some("the text"));
        // A reply held after its notice went out (by an old edit): the notice must
        // not carry the new words.
        let held = shape(row(false, true, false)).unwrap();
        assert_eq!(held.excerpt, None, "a held reply's text is not repeated");
        let hidden = shape(row(true, false, false)).unwrap();
        assert_eq!(hidden.pseudonym.as_deref(), Some("Violet Heron"));
        assert_eq!(
            hidden.excerpt, None,
            "a hidden reply's text is not repeated"
        );
        let deleted = shape(row(false, false, true)).unwrap();
        assert_eq!((deleted.pseudonym, deleted.excerpt), (None, None));
        assert_eq!(
            shape(row(false, false, true)).unwrap().headline(),
            "A classmate replied to your message in CS 2100"
        );

        // Left the class: the headline stays, the words go, and it is not
        // mailed; muted: the words stay (still a member), not mailed either.
        let left = shape(row_of("reply", false, false, false, (false, false))).unwrap();
        assert_eq!((left.excerpt, left.quiet), (None, true));
        let muted = shape(row_of("reply", false, false, false, (true, true))).unwrap();
        assert_eq!(
            (muted.excerpt.as_deref(), muted.quiet),
            (Some("the text"), true)
        );
        // One about a message the class no longer sees is not mailed; a
        // shown one is.
        assert!(!shown.quiet);
        for (hidden, held, deleted) in [
            (true, false, false),
            (false, true, false),
            (false, false, true),
        ] {
            assert!(shape(row(hidden, held, deleted)).unwrap().quiet);
        }
        // A moderator's word on the student's own message is silenced by
        // neither, and still quotes it.
        for gone in [(true, true), (false, false)] {
            let own = shape(row_of("message_hidden", true, false, false, gone)).unwrap();
            assert_eq!(
                (own.excerpt.as_deref(), own.quiet),
                (Some("the text"), false)
            );
        }
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("a\n\nb\nc"), "a\nb…");
        assert_eq!(excerpt(&"x".repeat(200)).chars().count(), 161);
    }
}
