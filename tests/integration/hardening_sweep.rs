//! Every route, sent hostile input, on SQLite and PostgreSQL: ids that name
//! nothing or are not ids, over-long, empty, NUL-bearing and right-to-left
//! fields, markup, a wrong CSRF token and a body that is not a form, each by a
//! visitor, a student and an admin. The app must answer each with a status a
//! person can act on (never a 5xx, never a dropped connection), must echo no
//! markup it was sent, and must go on serving afterwards.
//!
//! The routes are read from the handlers' own attributes in `src/web` and the
//! field names from the templates' forms, so a route or a field added later is
//! swept without anyone remembering to list it here. A second sweep takes every
//! form the pages serve, fills it as a person who pressed its button would,
//! and sends it again with control characters and markup added to one field at
//! a time, so each handler's own checks pass and the value reaches the database.
//! Then races: every served form sent sixteen times at once (a double click on
//! a slow network), and friend requests and blocks racing their twins, which
//! on PostgreSQL interleave where SQLite's writers take turns.

use crate::common;
use crate::common::seed;

use common::*;
use common_grounds::accounts::Role;
use common_grounds::db::schema::{
    audit_log, class_messages, friendships, message_flags, reveal_requests, sessions, users,
};
use common_grounds::friends::{Friendship, FriendshipStatus};
use diesel::prelude::*;
use std::path::Path;

/// The markup every hostile value carries; seen raw in a page, it would run.
const MARKER: &str = "<script>alert(\"sweep\")</script>";

/// One route: its method and its path template (`{name}` or `{name:regex}`).
struct Route {
    method: &'static str,
    path: String,
}

/// Every file under the project's `dir`, with its path and text.
fn files_under(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &Path, found: &mut Vec<(std::path::PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                found.push((path, text));
            }
        }
    }
    let mut found = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut found);
    found
}

/// Reads `#[get("…")]` and `#[post("…")]` off every handler under `src/web`;
/// the admin pages sit under one `/admin` scope (`src/web/admin/mod.rs`).
fn routes() -> Vec<Route> {
    let mut found = Vec::new();
    for (path, text) in files_under("src/web") {
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let prefix = if path.components().any(|c| c.as_os_str() == "admin") {
            "/admin"
        } else {
            ""
        };
        for (method, open) in [("GET", "#[get(\""), ("POST", "#[post(\"")] {
            for (at, _) in text.match_indices(open) {
                let rest = &text[at + open.len()..];
                let end = rest.find("\")]").expect("a route attribute ends");
                found.push(Route {
                    method,
                    path: format!("{prefix}{}", &rest[..end]),
                });
            }
        }
    }
    // Routes that end a session (or the account) go last, so the rest are
    // swept signed in.
    found.sort_by_key(|r| (ends_a_session(&r.path), r.path.clone(), r.method));
    found
}

fn ends_a_session(path: &str) -> bool {
    ["/logout", "/account/delete", "/account/sessions/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Every `name="…"` a template's form sends.
fn field_names() -> Vec<String> {
    let mut found = Vec::new();
    for (_, text) in files_under("templates") {
        for (at, _) in text.match_indices("name=\"") {
            let rest = &text[at + 6..];
            let name = &rest[..rest.find('"').unwrap()];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                found.push(name.to_string());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The parts of a path template: literal text, and parameters with their
/// name and their regex, if any (`{id:[0-9a-f-]{36}}` nests braces).
enum Part {
    Text(String),
    Param { name: String, regex: Option<String> },
}

impl Part {
    /// A parameter that is a list of words (`{action:hide|restore}`): the words.
    fn words(&self) -> Option<Vec<&str>> {
        let Part::Param {
            regex: Some(regex), ..
        } = self
        else {
            return None;
        };
        let words: Vec<&str> = regex.split('|').collect();
        words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
            .then_some(words)
    }
}

fn parts(template: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '{' {
            text.push(c);
            continue;
        }
        out.push(Part::Text(std::mem::take(&mut text)));
        let (mut depth, mut inner) = (1, String::new());
        for c in chars.by_ref() {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                break;
            }
            inner.push(c);
        }
        let (name, regex) = match inner.split_once(':') {
            Some((name, regex)) => (name.to_string(), Some(regex.to_string())),
            None => (inner, None),
        };
        out.push(Part::Param { name, regex });
    }
    out.push(Part::Text(text));
    out
}

/// The campus's real ids, so a sweep reaches past "not found" into handlers.
struct Ids {
    class: String,
    thread: String,
    /// The student's own question.
    own_thread: String,
    reply: String,
    reveal: String,
    friend_id: String,
    friend: String,
    session: String,
}

/// The hostile values, one per variant; a path parameter's variant 0 is a
/// real id instead.
fn hostile(variant: usize) -> String {
    match variant % VARIANTS {
        0 => "1262".into(),
        1 => "00000000-0000-0000-0000-000000000000".into(),
        2 => format!("x\u{0}y{MARKER}"),
        3 => "\u{202e}ǝpᴉsdn \u{1F4A5}".into(),
        4 => "-99999999999999999999".into(),
        5 => format!("{}{MARKER}", "ä".repeat(3000)),
        _ => String::new(),
    }
}
const VARIANTS: usize = 7;

/// A concrete path for a template: each parameter either a real id (variant
/// 0) or the variant's hostile value, percent-encoded; a parameter that is a
/// list of words takes the `choice`-th of them.
fn fill(template: &str, variant: usize, choice: usize, ids: &Ids) -> String {
    let mut path = String::new();
    let mut before = String::new();
    for part in parts(template) {
        match &part {
            Part::Text(text) => {
                before = text
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .into();
                path.push_str(text);
            }
            Part::Param { ref name, .. } => {
                let value = match (part.words(), variant) {
                    (Some(words), _) => words[choice % words.len()].to_string(),
                    (None, 0) => match (name.as_str(), before.as_str()) {
                        ("thread", _) => ids.thread.clone(),
                        ("action", _) => "decline".into(), // a friend request's answer
                        ("computing_id" | "who", _) => ids.friend.clone(),
                        ("user", _) => ids.friend_id.clone(),
                        ("id", "classes") => ids.class.clone(),
                        ("id", "messages") => ids.reply.clone(),
                        ("id", "reveals") => ids.reveal.clone(),
                        ("id", "users") => ids.friend_id.clone(),
                        ("id", "sessions") => ids.session.clone(),
                        _ => hostile(1),
                    },
                    // A path of several long parameters would pass what a client
                    // sends (hyper's 64 kB); a few hundred characters make the point.
                    (None, v) => {
                        let value = hostile(v);
                        let keep = value.floor_char_boundary(600);
                        format!(
                            "{}{}",
                            &value[..keep],
                            if keep < value.len() { MARKER } else { "" }
                        )
                    }
                };
                path.push_str(
                    &url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
                );
            }
        }
    }
    path
}

/// How many ways a template's word parameter (`{action:hide|restore}`) goes.
fn choices(template: &str) -> usize {
    parts(template)
        .iter()
        .filter_map(|p| p.words().map(|w| w.len()))
        .max()
        .unwrap_or(1)
}

fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The requests sent so far, and what went wrong with them.
#[derive(Default)]
struct Sweep {
    sent: usize,
    failures: Vec<String>,
    /// Answers past the door (not 403, 404 or a redirect to sign in): the
    /// sweep reached handlers' own checks, not only the CSRF and sign-in guards.
    inside: usize,
}

impl Sweep {
    /// Sends one request: a 5xx, no answer, or the markup echoed raw is a
    /// failure. Returns the status, when there was an answer.
    async fn check(&mut self, what: &str, request: reqwest::RequestBuilder) -> Option<u16> {
        self.sent += 1;
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let error = error.to_string();
                let error = &error[..error.floor_char_boundary(200)];
                self.failures.push(format!("{what}: no answer ({error})"));
                return None;
            }
        };
        let status = response.status().as_u16();
        let to_sign_in = response
            .headers()
            .get("location")
            .is_some_and(|l| l.as_bytes().starts_with(b"/login"));
        if status != 403 && status != 404 && !to_sign_in {
            self.inside += 1;
        }
        if status >= 500 {
            self.failures.push(format!("{what}: {status}"));
        }
        let streams = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
        if streams {
            return Some(status); // an open event stream: its status is the answer
        }
        if response.text().await.unwrap_or_default().contains(MARKER) {
            self.failures
                .push(format!("{what}: echoed the markup unescaped"));
        }
        Some(status)
    }
}

/// The campus both sweeps run on: a student, a friend who posted a question
/// and a reply in their shared class (reported, and asked to be revealed), and
/// an admin.
struct Campus {
    app: TestApp,
    /// A browser with no session yet (a cookie jar for the pre-session token).
    visitor: reqwest::Client,
    student: Student,
    admin: Student,
    ids: Ids,
}

impl Campus {
    /// Each person's browser, by role.
    fn people(&self) -> [(&'static str, &reqwest::Client); 3] {
        [
            ("visitor", &self.visitor),
            ("student", &self.student.client),
            ("admin", &self.admin.client),
        ]
    }
}

async fn campus(backend: Backend) -> Campus {
    let app = spawn_quiet_app(backend, &[]).await;
    let student = app.student("swqstu");
    let friend = app.student("swqfrd");
    let admin = staff(&app, "swqadm", Role::Admin);
    let class = new_class(&app, "SWEEP 1010", &[&student, &friend]);
    let (thread, reply, own) = {
        let mut conn = app.conn();
        seed::friendship(
            &mut conn,
            &student.user,
            &friend.user,
            FriendshipStatus::Accepted,
        );
        let thread = seed::message(
            &mut conn,
            &friend.user,
            &class,
            "Violet Heron",
            "When is the midterm?",
            None,
        );
        let reply = seed::message(
            &mut conn,
            &friend.user,
            &class,
            "Violet Heron",
            "Thursday, I think",
            Some(&thread),
        );
        seed::flag(&mut conn, &student.user, &reply, "spam");
        // The student's own question, answered by the friend: its page shows
        // the author's edit and delete forms and the starter's "answered" form.
        let own = seed::message(
            &mut conn,
            &student.user,
            &class,
            "Amber Finch",
            "Is the lab due Friday?",
            None,
        );
        seed::message(
            &mut conn,
            &friend.user,
            &class,
            "Violet Heron",
            "Yes, by noon",
            Some(&own),
        );
        (thread, reply, own)
    };
    let asked = admin
        .post(
            &app,
            "/admin/flags",
            &format!("/admin/messages/{}/reveal", reply.id),
            &[("reason", "a threat against the class, sweep")],
        )
        .await;
    assert_eq!(asked.status().as_u16(), 303, "asking to reveal");
    let reveal = asked.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let session: String = sessions::table
        .filter(sessions::user_id.eq(&student.user.id))
        .select(sessions::id)
        .first(&mut app.conn())
        .unwrap();
    let ids = Ids {
        class: class.id.to_string(),
        thread: thread.id.to_string(),
        own_thread: own.id.to_string(),
        reply: reply.id.to_string(),
        reveal,
        friend_id: friend.user.id.to_string(),
        friend: friend.user.computing_id.clone(),
        session,
    };

    Campus {
        app,
        visitor: client(),
        student,
        admin,
        ids,
    }
}

backend_test!(
    async fn every_route_answers_hostile_input_without_a_server_error(backend: Backend) {
        let campus = campus(backend).await;
        let Campus { app, ids, .. } = &campus;

        let routes = routes();
        assert!(
            routes.len() > 60
                && ["/", "/admin", "/classes/{id}/enroll", "/admin/flags"]
                    .iter()
                    .all(|p| routes.iter().any(|r| r.path == *p)),
            "the routes were not read off the handlers: {:?}",
            routes.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
        let fields = field_names();
        assert!(
            ["content", "csrf_token", "reason", "term", "q"]
                .iter()
                .all(|f| fields.iter().any(|n| n == f)),
            "the field names were not read off the templates: {fields:?}"
        );
        let mut who = Vec::new();
        for (role, client) in campus.people() {
            // The visitor has no session, so no token to send.
            let (_, account) = get_with(app, client, "/account").await;
            who.push((role, client, csrf_in(&account).unwrap_or_default()));
        }

        let mut sweep = Sweep::default();
        for (at, route) in routes.iter().enumerate() {
            for variant in 0..VARIANTS {
                for choice in 0..choices(&route.path) {
                    let path = fill(&route.path, variant, choice, ids);
                    let value = hostile(variant);
                    for (role, client, csrf) in &who {
                        let (role, csrf) = (*role, csrf.as_str());
                        let what = format!(
                            "{role} {} {}",
                            route.method,
                            &path[..path.floor_char_boundary(120)]
                        );
                        let url = app.url(&path);
                        if route.method == "GET" {
                            // A long value in every field would make a URL no client
                            // sends; it goes in two fields at a time, in turn.
                            let take = if value.len() > 100 { 2 } else { fields.len() };
                            let pairs = fields.iter().cycle().skip(sweep.sent % fields.len());
                            let query =
                                query(pairs.take(take).map(|f| (f.as_str(), value.as_str())));
                            sweep
                                .check(&what, client.get(format!("{url}?{query}")))
                                .await;
                        } else {
                            let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf)];
                            form.extend(fields.iter().map(|f| (f.as_str(), value.as_str())));
                            sweep.check(&what, client.post(&url).form(&form)).await;
                        }
                        if variant != 0 || role == "visitor" {
                            continue;
                        }
                        // With real ids, each field alone: a handler that refuses the
                        // first bad field of a full form never reaches the others.
                        for (i, field) in fields.iter().enumerate() {
                            let value = hostile(i + at);
                            let request = if route.method == "GET" {
                                client.get(format!(
                                    "{url}?{}",
                                    query([(field.as_str(), value.as_str())])
                                ))
                            } else {
                                client
                                    .post(&url)
                                    .form(&[("csrf_token", csrf), (field.as_str(), value.as_str())])
                            };
                            sweep.check(&format!("{what} ({field})"), request).await;
                        }
                        if route.method == "POST" && role == "student" {
                            let wrong = [("csrf_token", "nope"), ("content", MARKER)];
                            sweep.check(&what, client.post(&url).form(&wrong)).await;
                            let not_a_form = client
                                .post(&url)
                                .header("content-type", "application/x-www-form-urlencoded")
                                .body(b"%%%&&==\xff\xfe;csrf_token".to_vec());
                            sweep.check(&what, not_a_form).await;
                        } else if route.method == "GET" {
                            sweep.check(&what, client.get(&url)).await;
                        }
                    }
                }
            }
        }
        let Sweep {
            sent,
            failures,
            inside,
        } = sweep;
        assert!(
            failures.is_empty(),
            "{} of {sent} hostile requests went wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(sent > 5_000, "only {sent} requests were sent");
        eprintln!("{inside} of {sent} hostile requests got past the guards");
        assert!(
            inside * 2 > sent,
            "only {inside} of {sent} requests got past the guards: the sweep is not signed in"
        );

        // Still serving: a student the sweep never touched signs in to a page.
        let fresh = app.student("swqnew");
        let (status, home) = fresh.get(app, "/").await;
        assert_eq!(status, 200, "{home}");
        assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    }
);

/// A form as a page serves it: where it posts and the values it would send.
struct ServedForm {
    action: String,
    fields: Vec<(String, String)>,
    /// The fields a person types into or a page fills in (not the CSRF token,
    /// not a choice among fixed options).
    typed: Vec<String>,
}

/// The POST forms of a page, each with the values a person who pressed its
/// button without typing would send: hidden values, checked boxes, the
/// selected option, a textarea's text, and for an empty text box a sentence
/// long enough to pass a length check.
fn forms_in(html: &str) -> Vec<ServedForm> {
    let doc = scraper::Html::parse_document(html);
    let form_sel = scraper::Selector::parse("form[method=post], form[method=POST]").unwrap();
    let field_sel = scraper::Selector::parse("input[name], textarea[name], select[name]").unwrap();
    let option_sel = scraper::Selector::parse("option").unwrap();
    let mut forms = Vec::new();
    for form in doc.select(&form_sel) {
        let Some(action) = form.value().attr("action") else {
            continue;
        };
        let (mut fields, mut typed) = (Vec::new(), Vec::new());
        let mut pressed = false;
        for field in form.select(&field_sel) {
            let el = field.value();
            let name = el.attr("name").unwrap().to_string();
            let kind = el.attr("type").unwrap_or("text");
            let value = match (el.name(), kind) {
                ("select", _) => field
                    .select(&option_sel)
                    .find(|o| o.value().attr("selected").is_some())
                    .or_else(|| field.select(&option_sel).next())
                    .and_then(|o| o.value().attr("value").map(str::to_string)),
                ("textarea", _) => Some(field.text().collect()),
                (_, "checkbox" | "radio") => el
                    .attr("checked")
                    .map(|_| el.attr("value").unwrap_or("on").to_string()),
                (_, "submit") if !pressed => {
                    pressed = true;
                    el.attr("value").map(str::to_string)
                }
                (_, "submit" | "button" | "file") => None,
                _ => Some(el.attr("value").unwrap_or("").to_string()),
            };
            let Some(mut value) = value else { continue };
            let free = el.name() == "textarea"
                || matches!(kind, "text" | "search" | "email" | "hidden" | "url" | "tel");
            if free && name != "csrf_token" {
                if value.is_empty() && (kind == "email" || name == "email") {
                    value = "swqvis@virginia.edu".into();
                } else if value.is_empty() && kind != "hidden" {
                    value = "Sweep text long enough to count".into();
                }
                typed.push(name.clone());
            }
            fields.push((name, value));
        }
        forms.push(ServedForm {
            action: action.to_string(),
            fields,
            typed,
        });
    }
    forms
}

/// A form's action with its ids taken out, so one reply form stands for all.
fn shape(action: &str) -> String {
    action
        .split('/')
        .map(|part| {
            if part.len() == 36 && part.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                "{id}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Who sent a form, the client (their cookies) and the form.
type Sent<'a> = (&'static str, &'a reqwest::Client, ServedForm);

/// Every distinct POST form (by action, ids aside, and fields) on the pages a
/// visitor, the student and the admin see, as that person would send it; the
/// forms that take the student out of the class or the friendship last, and
/// none that ends a session.
async fn served_forms(campus: &Campus) -> Vec<Sent<'_>> {
    let Campus { app, ids, .. } = campus;
    let mut forms: Vec<Sent<'_>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let own_thread = format!("/classes/{}/threads/{}", ids.class, ids.own_thread);
    let pages = routes()
        .iter()
        .filter(|r| r.method == "GET")
        .filter(|r| !r.path.ends_with("/events") && !r.path.starts_with("/static"))
        .map(|r| fill(&r.path, 0, 0, ids))
        .chain([own_thread])
        .collect::<Vec<_>>();
    for path in pages {
        for (role, who) in campus.people() {
            let (status, html) = get_with(app, who, &path).await;
            if status != 200 {
                continue;
            }
            for form in forms_in(&html) {
                if ends_a_session(&form.action) {
                    continue;
                }
                let mut names: Vec<&str> = form.fields.iter().map(|f| f.0.as_str()).collect();
                names.sort();
                let key = format!("{role} {} {}", shape(&form.action), names.join(","));
                if seen.insert(key) {
                    forms.push((role, who, form));
                }
            }
        }
    }
    assert!(
        forms.len() > 25,
        "only {} forms were found on the pages: {:?}",
        forms.len(),
        forms.iter().map(|f| &f.2.action).collect::<Vec<_>>()
    );
    forms.sort_by_key(|(_, _, f)| {
        ["leave", "delete", "remove", "block", "decline"]
            .iter()
            .any(|w| f.action.contains(w))
    });
    forms
}

backend_test!(
    async fn every_served_form_takes_control_characters_and_markup_in_each_field(backend: Backend) {
        let campus = campus(backend).await;
        let forms = served_forms(&campus).await;
        let Campus { app, student, .. } = &campus;
        let mut sweep = Sweep::default();
        let mut accepted = 0;
        for (role, who, form) in &forms {
            // As served first: the form must work, or the sweep below proves
            // nothing past its refusal (and a 5xx here fails like any other).
            let plain = who.post(app.url(&form.action)).form(&form.fields);
            let what = format!("{role} POST {} (as served)", form.action);
            if sweep.check(&what, plain).await.is_some_and(|s| s < 400) {
                accepted += 1;
            }
            for field in &form.typed {
                for tail in [format!("\u{0}{MARKER}"), "\u{1}\u{7f}\u{9f}".to_string()] {
                    let fields: Vec<(&str, String)> = form
                        .fields
                        .iter()
                        .map(|(name, value)| {
                            let value = if name == field {
                                format!("{value}{tail}")
                            } else {
                                value.clone()
                            };
                            (name.as_str(), value)
                        })
                        .collect();
                    let what = format!("{role} POST {} ({field})", form.action);
                    sweep
                        .check(&what, who.post(app.url(&form.action)).form(&fields))
                        .await;
                }
            }
        }
        let Sweep { sent, failures, .. } = sweep;
        assert!(
            failures.is_empty(),
            "{} of {sent} requests went wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );
        eprintln!(
            "{sent} requests to {} forms, {accepted} of which took their values as served",
            forms.len()
        );
        assert!(sent > 60, "only {sent} requests were sent");
        assert!(
            accepted * 3 > forms.len() * 2,
            "only {accepted} of {} forms worked as served",
            forms.len()
        );
        // What was kept holds no control character (SQLite would keep a NUL
        // that PostgreSQL refuses): the typed text of people, messages and
        // moderation.
        let mut conn = app.conn();
        let kept: Vec<Option<String>> = [
            users::table.select(users::display_name).load(&mut conn),
            users::table
                .select(users::suspension_reason)
                .load(&mut conn),
            audit_log::table.select(audit_log::reason).load(&mut conn),
            audit_log::table.select(audit_log::details).load(&mut conn),
            message_flags::table
                .select(message_flags::reason)
                .load(&mut conn),
            class_messages::table
                .select(class_messages::content.nullable())
                .load(&mut conn),
            reveal_requests::table
                .select(reveal_requests::reason.nullable())
                .load(&mut conn),
        ]
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
        let bad: Vec<&String> = kept
            .iter()
            .flatten()
            .filter(|t| t.chars().any(|c| c.is_control() && c != '\n'))
            .collect();
        assert!(bad.is_empty(), "stored with control characters: {bad:?}");
        let (status, _) = student.get(app, "/").await;
        assert_eq!(status, 200, "the student is still signed in");
    }
);

backend_test!(
    async fn every_form_sent_many_times_at_once_answers_without_a_5xx(backend: Backend) {
        // A double click on a slow network, or a client retrying: the same
        // form, as served, sixteen times at once. Each copy may succeed or be
        // refused (already voted, already a friend), never fail as a 5xx, as a
        // write that lost a race with its twin would.
        let campus = campus(backend).await;
        let forms = served_forms(&campus).await;
        let Campus { app, student, .. } = &campus;
        let mut failures = Vec::new();
        for (role, who, form) in &forms {
            let request = who.post(app.url(&form.action)).form(&form.fields);
            let mut statuses = Vec::new();
            for answer in copies_at_once(request).await {
                match answer {
                    Ok(status) => statuses.push(status),
                    Err(error) => {
                        failures.push(format!("{role} {}: no answer ({error})", form.action))
                    }
                }
            }
            if statuses.iter().any(|s| *s >= 500) {
                failures.push(format!("{role} POST {}: {statuses:?}", form.action));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} forms went wrong:\n{}",
            failures.len(),
            forms.len(),
            failures.join("\n")
        );
        let (status, _) = student.get(app, "/").await;
        assert_eq!(status, 200, "the student is still signed in");
    }
);

/// How many copies of one request go at once in the race tests: enough that
/// PostgreSQL interleaves two of them nearly every run.
const COPIES: usize = 16;

/// Sends `COPIES` copies of `request` at once: each copy's status, or why it
/// had no answer; sorted.
async fn copies_at_once(request: reqwest::RequestBuilder) -> Vec<Result<u16, String>> {
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..COPIES {
        let copy = request.try_clone().expect("a form body can be sent again");
        copies.spawn(async move {
            copy.send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        });
    }
    let mut answers = copies.join_all().await;
    answers.sort();
    answers
}

/// Posts `fields` (with `who`'s CSRF token) to `path`, `COPIES` times at once;
/// the statuses, sorted.
async fn at_once(app: &TestApp, who: &Student, path: &str, fields: &[(&str, &str)]) -> Vec<u16> {
    let csrf = csrf_in(&who.get(app, "/account").await.1).expect("a csrf_token on /account");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let request = who.client.post(app.url(path)).form(&form);
    let answers = copies_at_once(request).await;
    answers.into_iter().map(|a| a.expect("an answer")).collect()
}

fn pairs_between(app: &TestApp, a: &Student, b: &Student) -> Vec<Friendship> {
    friendships::table
        .filter(
            (friendships::user_id_1
                .eq(&a.user.id)
                .and(friendships::user_id_2.eq(&b.user.id)))
            .or(friendships::user_id_1
                .eq(&b.user.id)
                .and(friendships::user_id_2.eq(&a.user.id))),
        )
        .select(Friendship::as_select())
        .load(&mut app.conn())
        .unwrap()
}

backend_test!(
    async fn racing_friend_requests_and_blocks_answer_and_keep_one_pair(backend: Backend) {
        let app = spawn_quiet_app(backend, &[]).await;
        // Two students asking each other at the same moment, each with a double
        // click: every copy answers, and they end as friends, one pair.
        for round in 0..3 {
            let a = app.student(&format!("swqra{round}"));
            let b = app.student(&format!("swqrb{round}"));
            let (ask_b, ask_a) = (
                [("who", b.user.computing_id.as_str())],
                [("who", a.user.computing_id.as_str())],
            );
            let (from_a, from_b) = tokio::join!(
                at_once(&app, &a, "/friends", &ask_b),
                at_once(&app, &b, "/friends", &ask_a),
            );
            for statuses in [&from_a, &from_b] {
                assert!(
                    statuses.iter().all(|s| *s < 500),
                    "round {round}: {statuses:?}"
                );
            }
            let pairs = pairs_between(&app, &a, &b);
            assert_eq!(pairs.len(), 1, "round {round}");
            assert_eq!(pairs[0].status, FriendshipStatus::Accepted, "round {round}");
        }

        // Three students adding the same newcomer at once: one account for
        // them, a request from each.
        let askers: Vec<Student> = (0..3).map(|i| app.student(&format!("swqask{i}"))).collect();
        let (first, second, third) = tokio::join!(
            at_once(&app, &askers[0], "/friends", &[("who", "swqnewc")]),
            at_once(&app, &askers[1], "/friends", &[("who", "swqnewc")]),
            at_once(&app, &askers[2], "/friends", &[("who", "swqnewc")]),
        );
        for statuses in [&first, &second, &third] {
            assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
        }
        let newcomers: Vec<String> = users::table
            .filter(users::computing_id.eq("swqnewc"))
            .select(users::id)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(newcomers.len(), 1);
        let requests: i64 = friendships::table
            .filter(friendships::user_id_2.eq(&newcomers[0]))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(requests, 3);

        // A block, double clicked, while the other asks to be friends: every
        // copy answers and the pair ends blocked by the one who blocked.
        let blocker = app.student("swqblk");
        let pest = app.student("swqpst");
        let block = format!("/friends/{}/block", pest.user.computing_id);
        let ask_blocker = [("who", blocker.user.computing_id.as_str())];
        let (blocks, asks) = tokio::join!(
            at_once(&app, &blocker, &block, &[]),
            at_once(&app, &pest, "/friends", &ask_blocker),
        );
        for statuses in [&blocks, &asks] {
            assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
        }
        let pairs = pairs_between(&app, &blocker, &pest);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            (pairs[0].status, &pairs[0].user_id_1),
            (FriendshipStatus::Blocked, &blocker.user.id)
        );
        assert!(
            !pairs[0].blocked_back,
            "the pest never blocked: a double click must not read as a block back"
        );
    }
);

backend_test!(
    async fn every_get_route_answers_head_as_get_without_the_body(backend: Backend) {
        // Load balancers' health checks, link checkers and calendar apps send
        // HEAD; every general-purpose server answers it as GET, headers only.
        let campus = campus(backend).await;
        let Campus { app, ids, .. } = &campus;
        let mut checked = 0;
        let mut wrong = Vec::new();
        for route in routes().iter().filter(|r| r.method == "GET") {
            if route.path.ends_with("/events") {
                continue; // a stream: its GET never ends
            }
            let path = fill(&route.path, 0, 0, ids);
            for (role, who) in campus.people() {
                let got = who.get(app.url(&path)).send().await.unwrap();
                let head = who.head(app.url(&path)).send().await.unwrap();
                let (get_status, head_status) = (got.status(), head.status());
                let kind = |r: &reqwest::Response| r.headers().get("content-type").cloned();
                let (get_kind, head_kind) = (kind(&got), kind(&head));
                let body = head.bytes().await.unwrap();
                if get_status != head_status || get_kind != head_kind || !body.is_empty() {
                    wrong.push(format!(
                        "{role} {path}: GET {get_status} {get_kind:?}, HEAD {head_status} \
                         {head_kind:?} with {} bytes",
                        body.len()
                    ));
                }
                checked += 1;
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked > 100, "only {checked} HEAD requests");
        // The health check a load balancer sends.
        let health = client().head(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status().as_u16(), 200);
    }
);
