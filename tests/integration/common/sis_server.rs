//! A small SIS class search on loopback, for the tests and the benchmark: it
//! serves recorded or generated pages over real HTTP/1.1 (keep-alive) and
//! misbehaves on request the way SIS does under load (5xx, an HTML page with
//! status 200, slow answers, a request that never gets an answer).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the server misbehaves for a request a rule matches.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a short text body.
    Status(u16),
    /// Answer 200 with an HTML login page, as SIS does under load.
    Html,
    /// Never answer (the connection stays open).
    Stall,
    /// Answer normally, after this long.
    Delay(Duration),
}

struct Rule {
    subject: Option<String>,
    page: Option<u32>,
    remaining: Option<u32>,
    fault: Fault,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub options: bool,
    pub term: Option<String>,
    pub subject: Option<String>,
    pub page: Option<u32>,
    pub institution: Option<String>,
    pub user_agent: Option<String>,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    pages: HashMap<(String, String), Vec<String>>,
    options: HashMap<String, String>,
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    in_flight: usize,
    max_in_flight: usize,
}

/// The running server; it stops when dropped.
pub struct SisServer {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl SisServer {
    pub async fn start() -> SisServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, shared.clone()));
            }
        });
        SisServer {
            base_url: format!("http://127.0.0.1:{port}/psc/ihprd/UVSS/SA/s"),
            state,
            task,
        }
    }

    /// The subject list of a term.
    pub fn set_subjects(&self, term: &str, subjects: &[&str]) {
        let list: Vec<Value> = subjects
            .iter()
            .map(|s| json!({"subject": s, "descr": format!("{s} department")}))
            .collect();
        self.set_options_body(term, &json!({ "subjects": list }).to_string());
    }

    pub fn set_options_body(&self, term: &str, body: &str) {
        let mut state = self.state.lock().unwrap();
        state.options.insert(term.to_string(), body.to_string());
    }

    /// A subject's pages, page 1 first, as raw bodies.
    pub fn set_pages(&self, term: &str, subject: &str, bodies: Vec<String>) {
        let mut state = self.state.lock().unwrap();
        state
            .pages
            .insert((term.to_string(), subject.to_string()), bodies);
    }

    /// Misbehaves on searches of `subject` (any when None), on `page` (any when
    /// None), for the next `times` matching requests (forever when None).
    pub fn fail(&self, subject: Option<&str>, page: Option<u32>, times: Option<u32>, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            subject: subject.map(str::to_string),
            page,
            remaining: times,
            fault,
        });
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Searches of one subject, in order, as page numbers.
    pub fn pages_requested(&self, subject: &str) -> Vec<u32> {
        self.requests()
            .iter()
            .filter(|s| s.subject.as_deref() == Some(subject))
            .filter_map(|s| s.page)
            .collect()
    }

    /// The most requests the server was answering at one time.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }
}

impl Drop for SisServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut user_agent = None;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("user-agent") {
                    user_agent = Some(value.trim().to_string());
                }
            }
        }
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let (fault, answer) = {
            let mut s = state.lock().unwrap();
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let seen = parse_target(&target, user_agent);
            let fault = take_fault(&mut s, &seen);
            let answer = answer_for(&s, &seen);
            s.seen.push(seen);
            (fault, answer)
        };
        let _in_flight = InFlight(state.clone());
        let (status, content_type, body) = match fault {
            None => answer,
            Some(Fault::Delay(wait)) => {
                tokio::time::sleep(wait).await;
                answer
            }
            Some(Fault::Stall) => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Some(Fault::Status(code)) => (code, "text/plain", format!("error {code}")),
            Some(Fault::Html) => (
                200,
                "text/html",
                "<!DOCTYPE html>\n<html><head><title>Sign In</title></head><body><form>Campus sign in</form></body></html>".to_string(),
            ),
        };
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Other",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if write.write_all(head.as_bytes()).await.is_err()
            || write.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

fn parse_target(target: &str, user_agent: Option<String>) -> Seen {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    Seen {
        options: path.ends_with("IScript_ClassSearchOptions"),
        term: params.get("term").cloned(),
        subject: params.get("subject").cloned(),
        page: params.get("page").and_then(|p| p.parse().ok()),
        institution: params.get("institution").cloned(),
        user_agent,
        at: Instant::now(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn take_fault(state: &mut State, seen: &Seen) -> Option<Fault> {
    if seen.options {
        return None;
    }
    for rule in state.rules.iter_mut() {
        let subject_ok = rule.subject.is_none() || rule.subject == seen.subject;
        let page_ok = rule.page.is_none() || rule.page == seen.page;
        if !subject_ok || !page_ok || rule.remaining == Some(0) {
            continue;
        }
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        return Some(rule.fault.clone());
    }
    None
}

fn answer_for(state: &State, seen: &Seen) -> (u16, &'static str, String) {
    let term = seen.term.clone().unwrap_or_default();
    if seen.options {
        let body = state
            .options
            .get(&term)
            .cloned()
            .unwrap_or_else(|| r#"{"subjects":[]}"#.to_string());
        return (200, "application/json", body);
    }
    let (Some(subject), Some(page)) = (seen.subject.clone(), seen.page) else {
        return (404, "text/plain", "no such search".to_string());
    };
    match state.pages.get(&(term, subject)) {
        None => (
            200,
            "application/json",
            r#"{"classes":[],"pageCount":0}"#.to_string(),
        ),
        Some(bodies) => match bodies.get(page.saturating_sub(1) as usize) {
            Some(body) => (200, "application/json", body.clone()),
            None if bodies
                .first()
                .is_some_and(|b| b.trim_start().starts_with('[')) =>
            {
                (200, "application/json", "[]".to_string())
            }
            None => (
                200,
                "application/json",
                json!({"classes": [], "pageCount": bodies.len()}).to_string(),
            ),
        },
    }
}

/// A plausible section (shaped like the samples), numbered `class_nbr`.
pub fn generated_section(term: &str, subject: &str, class_nbr: u32, seats: i32) -> Value {
    let days = ["MoWeFr", "TuTh", "MoWe", "Th", "TBA"][(class_nbr % 5) as usize];
    let (start, end) = if days == "TBA" {
        (String::new(), String::new())
    } else {
        let hour = 8 + class_nbr % 10;
        (
            format!("{hour:02}.00.00.000000-05:00"),
            format!("{hour:02}.50.00.000000-05:00"),
        )
    };
    let mut meetings = vec![json!({
        "days": days, "start_time": start, "end_time": end,
        "start_dt": "01/14/2026", "end_dt": "04/28/2026",
        "bldg_cd": "RICE", "facility_descr": if class_nbr.is_multiple_of(7) { "***".to_string() } else { format!("Rice Hall {}", 100 + class_nbr % 300) },
        "room": "130", "instructor": format!("Prof {class_nbr},\n\rTA {class_nbr}")
    })];
    if class_nbr.is_multiple_of(3) {
        meetings.push(json!({
            "days": "Fr", "start_time": "13.00.00.000000-05:00", "end_time": "13.50.00.000000-05:00",
            "facility_descr": "Thornton Hall E316", "instructor": format!("TA {class_nbr}")
        }));
    }
    json!({
        "index": class_nbr, "crse_id": format!("{:06}", class_nbr % 100000), "strm": term,
        "class_section": format!("{:03}", class_nbr % 1000), "class_nbr": class_nbr,
        "component": if class_nbr.is_multiple_of(4) { "LAB" } else { "LEC" },
        "subject": subject, "catalog_nbr": format!("{}", 1000 + class_nbr % 9000),
        "class_capacity": 100, "enrollment_total": 100 - seats, "enrollment_available": seats,
        "units": if class_nbr.is_multiple_of(11) { "1 - 12" } else { "3" },
        "topic": if class_nbr.is_multiple_of(13) { "A Special Topic" } else { "" },
        "descr": format!("{subject} course {class_nbr}"), "section_type": "Lecture",
        "instructors": [{"name": format!("Prof {class_nbr}"), "email": "p@virginia.edu"},
                        {"name": format!("TA {class_nbr}"), "email": "t@virginia.edu"}],
        "meetings": meetings, "reserve_caps": []
    })
}

/// Pages in the current shape: `{"classes": [...], "pageCount": N}`.
pub fn object_pages(sections: &[Value], per_page: usize) -> Vec<String> {
    let chunks: Vec<&[Value]> = sections.chunks(per_page.max(1)).collect();
    let count = chunks.len();
    chunks
        .into_iter()
        .map(|chunk| json!({"classes": chunk, "pageCount": count}).to_string())
        .collect()
}

/// Pages in the older shape: bare arrays, then `[]`.
pub fn array_pages(sections: &[Value], per_page: usize) -> Vec<String> {
    let mut pages: Vec<String> = sections
        .chunks(per_page.max(1))
        .map(|chunk| Value::Array(chunk.to_vec()).to_string())
        .collect();
    pages.push("[]".to_string());
    pages
}
