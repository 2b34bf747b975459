//! The class page and its anonymous chat: the section's details for anyone
//! signed in; for students who take it, the list of threads by latest activity
//! (what is new to them marked) and each thread's own page (which marks it
//! read). The same fragments render a message and a thread's row on the pages
//! and in live events, so a live insert looks exactly like a reload.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{answer_refusal, html, rules, thread_href};
use crate::campus_time::Stamp;
use crate::chat::anonymity::Anonymity;
use crate::chat::live::LiveEvent;
use crate::chat::threads::{AnswerView, Sort};
use crate::chat::ThreadSummary;
use crate::chat::{self, content, Body, ChatError, Cursor, MessageId, MessageView, Segment};
use crate::classes::{Class, ClassId, ClassMeeting};
use crate::clock;
use crate::notifications;
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CsrfForm, SignedInForm, Visitor};
use crate::web::layout::Layout;
use crate::web::state::{release_request_conn, AppState};
use crate::web::views::{FlashRedirect, SeenForm};

/// A section's details, as both versions of the class page show them.
struct ClassHeader {
    id: String,
    term: String,
    code: String,
    title: String,
    facts: Vec<String>,
    description: Option<String>,
    meetings: Vec<MeetingRow>,
    active: bool,
    /// "12 students": how many added the section. A count only; members are never listed.
    members: String,
}

struct MeetingRow {
    days: String,
    time: String,
    location: String,
    instructor: String,
}

/// A time as the chat shows it: in campus time, relative when recent, inside
/// `<time datetime>` (one formatter for every page, `campus_time`).
fn when(state: &AppState, at: NaiveDateTime, now: NaiveDateTime) -> Stamp {
    state.config.campus_time.stamp(at, now)
}

/// One message, as `chat/_message.html` shows it.
struct MessageRow {
    id: String,
    pseudonym: Option<String>,
    segments: Vec<Segment>,
    /// The raw text, for the edit form (own messages only).
    edit_text: String,
    deleted: bool,
    hidden: bool,
    /// Held for review: shown so to its author (and moderators) only.
    held: bool,
    mine: bool,
    edited: bool,
    /// New to the viewer since they last read the thread.
    new: bool,
    posted: Stamp,
    indent: usize,
    depth: usize,
    replying_to: Option<String>,
    flagged_by_me: bool,
    can_reply: bool,
    can_edit: bool,
    can_delete: bool,
    can_flag: bool,
    /// Upvotes: a count, never who.
    votes: i32,
    voted_by_me: bool,
    can_vote: bool,
    /// A reply by the thread's starter ("OP").
    op: bool,
    is_answer: bool,
    can_mark_answer: bool,
    /// On a thread's first message: its answer, shown first under it.
    answer: Option<AnswerRow>,
}

/// A thread's answer, as its first message shows it.
struct AnswerRow {
    id: String,
    pseudonym: String,
    segments: Vec<Segment>,
}

impl AnswerRow {
    fn of(answer: AnswerView) -> AnswerRow {
        AnswerRow {
            id: answer.id.to_string(),
            pseudonym: answer.pseudonym,
            segments: content::segments(&answer.text),
        }
    }
}

/// A thread's row in the list, as `chat/_thread_row.html` shows it.
struct ThreadRow {
    id: String,
    href: String,
    pseudonym: Option<String>,
    mine: bool,
    /// The opening post's first lines, or what stands in for it.
    excerpt: String,
    removed: bool,
    /// The viewer's own thread, held for review (only they and moderators see it).
    held: bool,
    replies: String,
    last_activity: Stamp,
    unread: usize,
    votes: i32,
    voted_by_me: bool,
    can_vote: bool,
    answered: bool,
    pinned: bool,
    /// The list page a vote on the row comes back to, when not the default one.
    back: String,
}

/// The first lines of a post, for the list: at most 3 lines and 240 characters.
fn excerpt(text: &str) -> String {
    crate::chat::content::excerpt(text, 3, 240)
}

fn thread_row(
    state: &AppState,
    class_id: &ClassId,
    t: &ThreadSummary,
    now: NaiveDateTime,
) -> ThreadRow {
    let (excerpt, removed) = match &t.opening.body {
        // As the thread page shows it: a link by its real (punycode) host.
        Body::Text(text) => {
            let shown: String = content::segments(text)
                .into_iter()
                .map(|seg| seg.text)
                .collect();
            (excerpt(&shown), false)
        }
        Body::Deleted => ("[deleted]".to_string(), true),
        Body::Hidden => ("hidden by moderation".to_string(), true),
    };
    ThreadRow {
        // Copied, not written through `format!` (50 rows a page).
        id: t.opening.id.as_str().to_owned(),
        href: thread_href(class_id, &t.opening.id),
        pseudonym: t.opening.pseudonym.clone(),
        mine: t.opening.mine,
        excerpt,
        removed,
        replies: match t.replies {
            0 => "No replies".to_string(),
            1 => "1 reply".to_string(),
            n => n.to_string() + " replies",
        },
        last_activity: when(state, t.last_activity_at, now),
        unread: t.unread,
        votes: t.opening.votes,
        voted_by_me: t.opening.voted_by_me,
        can_vote: t.opening.can_vote,
        answered: t.answered,
        pinned: t.pinned,
        held: t.opening.held,
        // The default list is where a vote comes back to without saying.
        back: String::new(),
    }
}

fn term_name(term: &str) -> String {
    crate::classes::Term::parse(term)
        .map(|t| t.name())
        .unwrap_or_else(|| format!("Term {term}"))
}

fn header_of(class: &Class, meetings: &[ClassMeeting]) -> ClassHeader {
    let mut facts = Vec::new();
    if let Some(section) = class.class_section.as_deref().filter(|s| !s.is_empty()) {
        let kind = class.component.as_deref().unwrap_or("Section");
        facts.push(format!("{kind} {section}"));
    }
    facts.push(term_name(&class.term));
    if let Some(instructor) = class.instructor.as_deref().filter(|s| !s.is_empty()) {
        facts.push(instructor.to_string());
    }
    if let Some(number) = class.sis_class_number.as_deref().filter(|s| !s.is_empty()) {
        facts.push(format!("Class number {number}"));
    }
    let row = |days: Option<&str>,
               start: Option<&str>,
               end: Option<&str>,
               place: Option<&str>,
               who: Option<&str>| {
        let view = crate::web::views::meeting_view(days, start, end, place);
        MeetingRow {
            days: view.days,
            time: view.time,
            location: view.place.unwrap_or_else(|| "Place to be announced".into()),
            instructor: who
                .filter(|w| !w.trim().is_empty())
                .unwrap_or_default()
                .to_string(),
        }
    };
    let mut rows: Vec<MeetingRow> = meetings
        .iter()
        .map(|m| {
            row(
                m.days.as_deref(),
                m.start_time.as_deref(),
                m.end_time.as_deref(),
                m.location.as_deref(),
                m.instructor.as_deref(),
            )
        })
        .collect();
    // Sections synced before meetings were kept separately carry one on the class.
    if rows.is_empty() && (class.days.is_some() || class.location.is_some()) {
        rows.push(row(
            class.days.as_deref(),
            class.start_time.as_deref(),
            class.end_time.as_deref(),
            class.location.as_deref(),
            None,
        ));
    }
    ClassHeader {
        id: class.id.to_string(),
        term: class.term.clone(),
        code: class.code(),
        title: class.title.clone().unwrap_or_default(),
        facts,
        description: class.description.clone().filter(|d| !d.trim().is_empty()),
        meetings: rows,
        active: class.active,
        members: String::new(),
    }
}

fn row_of(state: &AppState, view: MessageView, new: bool, now: NaiveDateTime) -> MessageRow {
    let (segments, edit_text, deleted, hidden) = match view.body {
        Body::Text(text) => (content::segments(&text), text, false, false),
        Body::Deleted => (Vec::new(), String::new(), true, false),
        Body::Hidden => (Vec::new(), String::new(), false, true),
    };
    MessageRow {
        id: view.id.to_string(),
        pseudonym: view.pseudonym,
        segments,
        edit_text: if view.can_edit {
            edit_text
        } else {
            String::new()
        },
        deleted,
        hidden,
        held: view.held,
        mine: view.mine,
        edited: view.edited,
        new,
        posted: when(state, view.created_at, now),
        indent: view.indent,
        depth: view.depth,
        replying_to: view.replying_to,
        flagged_by_me: view.flagged_by_me,
        can_reply: view.can_reply,
        can_edit: view.can_edit,
        can_delete: view.can_delete,
        can_flag: view.can_flag,
        votes: view.votes,
        voted_by_me: view.voted_by_me,
        can_vote: view.can_vote,
        is_answer: view.is_answer,
        op: view.op,
        can_mark_answer: view.can_mark_answer,
        answer: view.answer.map(AnswerRow::of),
    }
}

/// One of the list's orders, as a tab of `chat/_sort.html`.
struct SortTab {
    href: String,
    label: &'static str,
    current: bool,
}

fn sort_tabs(class_id: &str, current: Sort) -> Vec<SortTab> {
    Sort::ALL
        .into_iter()
        .map(|sort| SortTab {
            href: list_href(class_id, sort),
            label: match sort {
                Sort::Activity => "Latest activity",
                Sort::Top => "Top",
                Sort::Unanswered => "Unanswered",
            },
            current: sort == current,
        })
        .collect()
}

/// The class's thread list in one order (the default has no `?sort=`).
fn list_href(class_id: &str, sort: Sort) -> String {
    match sort {
        Sort::Activity => format!("/classes/{class_id}"),
        other => format!("/classes/{class_id}?sort={}", other.as_str()),
    }
}

#[derive(Template)]
#[template(path = "chat/show.html")]
struct ShowClassPage {
    layout: Layout,
    class: ClassHeader,
    friends: Vec<String>,
    /// The viewer hides their classes, so no friend is shown to them.
    hides_classes: bool,
    threads: Vec<ThreadRow>,
    older_href: Option<String>,
    /// The first page in this page's order (Top stays Top).
    first_href: String,
    newest: bool,
    unread: usize,
    max_chars: usize,
    events_href: String,
    /// The campus time zone's IANA name: the script keeps "2 h ago" only
    /// within the campus day, as the server does.
    campus_zone: &'static str,
    /// Beside the compose box: the viewer's name and the class's recent posters.
    anonymity: Option<Anonymity>,
    /// The list's orders, as tabs; and the one shown.
    sorts: Vec<SortTab>,
    sort_label: &'static str,
    /// The order's `?sort=` value, for the script: only the activity order
    /// moves a row to the top when its thread has news.
    sort_key: &'static str,
    /// For the rows' vote buttons (the same token as the layout's).
    csrf_token: String,
    /// The student muted this class's notifications.
    muted: bool,
    /// When the page was made (`SeenForm::stamp`): "Mark all read" marks what
    /// was posted by then, not a thread posted since that the student never
    /// saw. The script empties it once the list takes rows live.
    seen: String,
}

#[derive(Template)]
#[template(path = "chat/thread.html")]
struct ShowThreadPage {
    layout: Layout,
    class_id: String,
    class_code: String,
    class_title: String,
    thread_id: String,
    back: String,
    messages: Vec<MessageRow>,
    replies: usize,
    events_href: String,
    /// As on the class page.
    campus_zone: &'static str,
    csrf_token: String,
    /// Above the replies: the viewer's name and the class's recent posters.
    anonymity: Option<Anonymity>,
    pinned: bool,
    /// Staff see pin and unpin buttons.
    can_pin: bool,
    /// The student follows the thread (its replies notify them).
    following: bool,
    /// The start of the first message, for the page's title: every thread
    /// page was "Thread · CS 1010", alike in tabs, history and to a screen
    /// reader. Empty when the message is not shown (deleted, hidden).
    topic: String,
    /// The first message new to the viewer in reading order, and how many
    /// are new: a long thread's "Jump to the first new reply".
    first_new: Option<String>,
    new_count: usize,
}

/// The first words of a message shown on one line, for a title: at most
/// `TOPIC_BYTES` of them (a window title stays short in a tab and when read
/// out; the browser story holds every title to 80 bytes), cut at a word
/// where it can be.
fn topic_of(row: &MessageRow) -> String {
    const TOPIC_BYTES: usize = 32;
    if row.deleted || row.hidden {
        return String::new();
    }
    let text: String = row.segments.iter().map(|s| s.text.as_str()).collect();
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.len() <= TOPIC_BYTES {
        return words;
    }
    let mut end = 0;
    for (at, c) in words.char_indices() {
        if at + c.len_utf8() > TOPIC_BYTES {
            break;
        }
        end = at + c.len_utf8();
    }
    let cut = &words[..end];
    let cut = match cut.rfind(' ') {
        Some(space) if space > TOPIC_BYTES / 2 => &cut[..space],
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

#[derive(Template)]
#[template(path = "chat/join.html")]
struct JoinClassPage {
    layout: Layout,
    class: ClassHeader,
    friends: Vec<String>,
    /// The viewer hides their classes, so no friend is shown to them.
    hides_classes: bool,
}

/// One message, for a live event.
#[derive(Template)]
#[template(path = "chat/_message.html")]
struct MessageFragment<'a> {
    m: &'a MessageRow,
    class_id: &'a str,
    back: &'a str,
    csrf_token: &'a str,
}

/// One thread row, for a live event.
#[derive(Template)]
#[template(path = "chat/_thread_row.html")]
struct ThreadRowFragment<'a> {
    t: &'a ThreadRow,
    csrf_token: &'a str,
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    /// `top` or `unanswered`; anything else is the default (latest activity).
    sort: Option<String>,
}

/// The class page: details and meetings for anyone signed in; the thread list
/// only for students who take the class.
// Stays whole: one read of the page (class, threads, friends, members) then one render, in the order the page shows them.
#[get("/classes/{id:[0-9a-f-]{36}}")]
pub async fn show_class(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    // Refused only once signed in (inside the job), as before: signed out, any
    // link asks to sign in first.
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound);
    let sort = query
        .sort
        .as_deref()
        .and_then(Sort::parse)
        .unwrap_or_default();
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        None => Ok(None),
        // A cursor of another order (an edited link) is refused like a broken one.
        Some(raw) => Cursor::parse(raw)
            .filter(|c| c.fits(sort))
            .map(Some)
            .ok_or_else(|| {
                AppError::BadRequest(
                    "This page link is broken. Open the class again to see its latest threads."
                        .into(),
                )
            }),
    };
    // An older page's forms come back to it (the first page's send no
    // `back`, to keep its fifty rows small).
    let older_page = match &before {
        Ok(Some(cursor)) => Some(cursor.encode()),
        _ => None,
    };
    let rules = rules(&state);
    let (current, (page, friends, anonymity)) = visitor
        .only_reads()
        .signed_in(move |conn, current| {
            let (class_id, before) = (class_id?, before?);
            let viewer = &current.user.id;
            let now = clock::now();
            let page = chat::threads::class_page_by(
                conn,
                viewer,
                &class_id,
                sort,
                before.as_ref(),
                &rules,
                now,
            )
            .map_err(|e| match e {
                ChatError::ClassNotFound => AppError::NotFound,
                other => AppError::Internal(other.into()),
            })?;
            // Only where the compose box shows: a member's latest threads.
            let anonymity = match &page.chat {
                Some(list) if list.newest => Some(Anonymity::from_head(
                    conn,
                    &page.head,
                    viewer,
                    &class_id,
                    &rules.secret,
                    rules.anonymity_min_posters,
                )?),
                _ => None,
            };
            // Friends are named here, beside the chat, never inside it.
            let friends: Vec<String> = crate::friends::friends_in_classes(
                conn,
                &current.user,
                std::slice::from_ref(&class_id),
            )?
            .remove(&class_id)
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.label())
            .collect();
            Ok((page, friends, anonymity))
        })
        .await?;
    let members = page.head.members;
    let muted = page.chat.is_some() && page.head.muted;
    let mut layout = Layout::new(&req, Some(&current));
    let mut class = header_of(&page.class, &page.meetings);
    class.members = students(members);
    let Some(list) = page.chat else {
        let body = JoinClassPage {
            layout,
            class,
            friends,
            hides_classes: current.user.hide_classes,
        }
        .render()?;
        return Ok(html(StatusCode::OK, body));
    };
    let now = clock::now();
    let id = page.class.id.to_string();
    let here = list_href(&id, list.sort);
    let older_href = list.older.as_ref().map(|c| {
        let join = if here.contains('?') { '&' } else { '?' };
        format!("{here}{join}before={}", c.encode())
    });
    let back = match &older_page {
        Some(cursor) => {
            let join = if here.contains('?') { '&' } else { '?' };
            format!("{here}{join}before={cursor}")
        }
        None if list.sort == Sort::Activity => String::new(),
        None => here.clone(),
    };
    let threads: Vec<ThreadRow> = list
        .threads
        .iter()
        .map(|t| ThreadRow {
            back: back.clone(),
            ..thread_row(&state, &page.class.id, t, now)
        })
        .collect();
    let unread = threads.iter().map(|t| t.unread).sum();
    layout.unread |= unread > 0;
    let csrf_token = layout.csrf_token.clone();
    let sorts = sort_tabs(&id, list.sort);
    let sort_label = sorts
        .iter()
        .find(|s| s.current)
        .map(|s| s.label)
        .unwrap_or_default();
    let body = ShowClassPage {
        layout,
        csrf_token,
        sorts,
        sort_label,
        sort_key: list.sort.as_str(),
        events_href: format!("/classes/{id}/events?after={}", list.latest_event),
        campus_zone: state.config.campus_time.zone_name(),
        class,
        friends,
        hides_classes: current.user.hide_classes,
        threads,
        older_href,
        first_href: here.clone(),
        newest: list.newest,
        unread,
        max_chars: content::MAX_CHARS,
        anonymity,
        muted,
        seen: SeenForm::stamp(now),
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// One thread with all its replies and their actions; showing it marks it read.
#[get("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}")]
pub async fn show_thread(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    // Refused only once signed in (inside the job): signed out, any link asks
    // to sign in first.
    let ids = ClassId::parse(&path.0)
        .zip(MessageId::parse(&path.1))
        .ok_or(AppError::NotFound);
    let rules = rules(&state);
    let domain_rules = rules.clone();
    let (current, result) = visitor
        .signed_in(move |conn, current| {
            let (class_id, thread_id) = ids?;
            let viewer = &current.user.id;
            let now = clock::now();
            let page = match chat::thread_page(
                conn,
                viewer,
                current.acts_as_staff(),
                &class_id,
                &thread_id,
                &domain_rules,
                now,
            ) {
                Ok(page) => page,
                Err(error) => return Ok(Err(error)),
            };
            // Only a student with unread notifications has any about this
            // thread to mark read: everyone else's view stays free of writes.
            let read_notices = if current.notifications > 0 && page.unread_notices {
                // What the inbox said about this thread has now been seen.
                notifications::chat::mark_thread_read(conn, viewer, &thread_id, now)?
            } else {
                0
            };
            let anonymity = Anonymity::from_head(
                conn,
                &page.head,
                viewer,
                &class_id,
                &domain_rules.secret,
                domain_rules.anonymity_min_posters,
            )?;
            let following = page.following;
            Ok(Ok((page, anonymity, following, read_notices)))
        })
        .await?;
    // A thread has no cap on replies, so its page may be long to build: the
    // connection goes back to the pool first (nothing below reads the database).
    release_request_conn();
    let (page, anonymity, following, read_notices) = match result {
        Ok(found) => found,
        Err(error) => return answer_refusal(&req, &current, &rules, error),
    };
    if read_notices > 0 {
        state.live.unread_changed(&current.user.id);
    }
    let staff = current.acts_as_staff();
    let now = clock::now();
    let layout = Layout::new(&req, Some(&current));
    let id = page.class.id.to_string();
    let thread = page.thread.messages.first().map(|m| m.id.clone());
    let thread_id = thread.map(|t| t.to_string()).unwrap_or_default();
    let replies = page.replies;
    let pinned = page.pinned;
    // "Jump to the first new reply (N new)" counts replies: the question
    // heads the page, and a thread new to the student counted it too ("3
    // new" under "2 replies", the link leading to where the page starts).
    let new_replies = || {
        page.thread
            .messages
            .iter()
            .filter(|m| m.parent_id.is_some() && page.new_ids.contains(&m.id))
    };
    let first_new = new_replies().next().map(|m| m.id.to_string());
    let new_count = new_replies().count();
    let messages: Vec<MessageRow> = page
        .thread
        .messages
        .into_iter()
        .map(|m| {
            let new = page.new_ids.contains(&m.id);
            row_of(&state, m, new, now)
        })
        .collect();
    let csrf_token = layout.csrf_token.clone();
    let topic = messages.first().map(topic_of).unwrap_or_default();
    let body = ShowThreadPage {
        layout,
        topic,
        back: format!("/classes/{id}/threads/{thread_id}"),
        events_href: format!("/classes/{id}/events?after={}", page.latest_event),
        campus_zone: state.config.campus_time.zone_name(),
        class_code: page.class.code(),
        class_title: page.class.title.clone().unwrap_or_default(),
        class_id: id,
        thread_id,
        messages,
        replies,
        csrf_token,
        anonymity: Some(anonymity),
        pinned,
        can_pin: staff,
        following,
        first_new,
        new_count,
    }
    .render()?;
    Ok(html(StatusCode::OK, body))
}

/// "Mark all read" for one class.
#[post("/classes/{id:[0-9a-f-]{36}}/read")]
pub async fn mark_all_read(
    state: web::Data<AppState>,
    path: web::Path<String>,
    SignedInForm(current, form): SignedInForm<SeenForm>,
) -> Result<FlashRedirect, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let viewer = current.user.id.clone();
    let class = class_id.clone();
    let seen = form.seen();
    let marked = with_conn(&state.pool, move |conn| {
        Ok(chat::reads::mark_class(
            conn,
            &viewer,
            &class,
            seen,
            clock::now(),
        )?)
    })
    .await?;
    if !marked {
        return Err(AppError::NotFound);
    }
    // Said, as the inbox's and the mute's are: the button is gone after.
    Ok(FlashRedirect::done(
        &format!("/classes/{class_id}"),
        "Every thread in this class is marked read.",
    ))
}

/// The thread page's script, after showing replies live: they count as read,
/// as they would after a reload, and so do the notifications about them.
/// 204, or 404 for a thread the student cannot see.
#[post("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}/read")]
pub async fn mark_thread_read(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    SignedInForm(current, _form): SignedInForm<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path.0).ok_or(AppError::NotFound)?;
    let thread_id = MessageId::parse(&path.1).ok_or(AppError::NotFound)?;
    let viewer = current.user.id.clone();
    let staff = current.acts_as_staff();
    let marked = with_conn(&state.pool, move |conn| {
        let marked = chat::reads::mark_thread_seen(conn, &viewer, staff, &class_id, &thread_id)?;
        let read_notices = if marked {
            notifications::chat::mark_thread_read(conn, &viewer, &thread_id, clock::now())?
        } else {
            0
        };
        Ok((marked, read_notices))
    })
    .await?;
    let (marked, read_notices) = marked;
    if !marked {
        return Err(AppError::NotFound);
    }
    if read_notices > 0 {
        state.live.unread_changed(&current.user.id);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// What one live event carries to the page: ids to place it, and the same
/// HTML a reload would show (rendered for the stream's own student).
#[derive(Serialize)]
struct EventData<'a> {
    kind: &'static str,
    thread: &'a str,
    message: &'a str,
    parent: Option<&'a str>,
    /// The message, for the thread page; None when it is gone.
    html: Option<String>,
    /// The thread's row, for the list page; None when the thread is gone.
    row: Option<String>,
    /// A new thread or reply by someone else: counts as new on the page.
    new: bool,
    /// The thread's replies as its list row and page count them, for the
    /// page's count; None when the thread is gone.
    replies: Option<usize>,
}

/// The JSON `data:` of one live event for `csrf_token`'s student.
pub fn event_data(
    event: &LiveEvent,
    class_id: &ClassId,
    csrf_token: &str,
    state: &AppState,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let class = class_id.to_string();
    let thread = event.thread_id.to_string();
    let message = event.message_id.to_string();
    let parent = event.parent_id.as_ref().map(|p| p.to_string());
    let back = thread_href(class_id, &event.thread_id);
    let html = match &event.message {
        Some(view) => {
            let row = row_of(state, view.clone(), event.new_for_viewer, now);
            Some(
                MessageFragment {
                    m: &row,
                    class_id: &class,
                    back: &back,
                    csrf_token,
                }
                .render()?,
            )
        }
        None => None,
    };
    let row = match &event.thread {
        Some(summary) => {
            let mut t = thread_row(state, class_id, summary, now);
            t.unread = usize::from(event.new_for_viewer);
            Some(ThreadRowFragment { t: &t, csrf_token }.render()?)
        }
        None => None,
    };
    let data = EventData {
        kind: event.kind.as_str(),
        thread: &thread,
        message: &message,
        parent: parent.as_deref(),
        html,
        row,
        new: event.new_for_viewer,
        replies: event.thread.as_ref().map(|summary| summary.replies),
    };
    serde_json::to_string(&data).map_err(|e| AppError::Internal(e.into()))
}

/// "1 student", "12 students".
fn students(n: i64) -> String {
    if n == 1 {
        "1 student".into()
    } else {
        format!("{n} students")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sis_terms_read_as_seasons() {
        assert_eq!(term_name("1262"), "Spring 2026");
        assert_eq!(term_name("1258"), "Fall 2025");
        assert_eq!(term_name("1266"), "Summer 2026");
        assert_eq!(term_name("9999"), "Term 9999");
    }
}
