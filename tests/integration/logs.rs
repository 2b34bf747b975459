//! The real binary's logs with `LOG_FORMAT=json` at debug level, through a
//! whole sign-in (link, then code): every line is JSON, and no line holds a
//! secret (link token, code, session cookie or its hash, CSRF token).

use crate::common;
use crate::common::served::Served;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{code_in, csrf_in, token_in};
use common_grounds::accounts::sessions::hash_token;
use common_grounds::mail::OutgoingEmail;
use reqwest::header::SET_COOKIE;

const STUDENT: &str = "mst3k@virginia.edu";

/// The dev mailbox's messages, oldest first, once there are `n`.
async fn mails(dir: &Path, n: usize) -> Vec<OutgoingEmail> {
    for _ in 0..200 {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| {
                        p.extension().is_some_and(|x| x == "json")
                            && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                    })
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= n {
            files.sort();
            return files
                .iter()
                .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} emails in {}", dir.display());
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, url: &str) -> (reqwest::header::HeaderMap, String) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{url}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

/// The value of cookie `name` set by a response.
fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_of_a_whole_sign_in_hold_no_secret() {
    let mut app = Served::start(
        None,
        "127.0.0.1",
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "debug,common_grounds=debug"),
        ],
    );
    app.ready().await;
    let mailbox = app.dir().join("mail");
    let mut secrets: Vec<(&str, String)> = Vec::new();

    // A student asks for a link and confirms it.
    let laptop = client();
    let (headers, login) = page(&laptop, &app.url("/login")).await;
    let pre_session = cookie(&headers, "cg_csrf").expect("a pre-session cookie");
    let csrf = csrf_in(&login).unwrap();
    let asked = laptop
        .post(app.url("/login"))
        .form(&[("csrf_token", csrf.as_str()), ("email", STUDENT)])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status().as_u16(), 303);
    let first = mails(&mailbox, 1).await.remove(0);
    let token = token_in(&first.text).unwrap();
    assert_eq!(token.len(), 64, "{}", first.text);
    let confirm_url = app.url(&format!("/login/confirm?token={token}"));
    let (_, confirm_page) = page(&laptop, &confirm_url).await;
    let confirm_csrf = csrf_in(&confirm_page).unwrap();
    let confirmed = laptop
        .post(app.url("/login/confirm"))
        .form(&[("csrf_token", confirm_csrf.as_str()), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status().as_u16(), 303);
    let link_session = cookie(confirmed.headers(), "cg_session").expect("a session");
    let (_, home) = page(&laptop, &app.url("/")).await;
    let signed_in_csrf = csrf_in(&home).unwrap();
    secrets.extend([
        ("pre-session cookie", pre_session),
        ("CSRF token on /login", csrf),
        ("link token", token),
        ("code in the first email", code_in(&first.text).unwrap()),
        ("CSRF token on the confirm page", confirm_csrf),
        ("session cookie (link)", link_session.clone()),
        ("session hash (link)", hash_token(&link_session)),
        ("CSRF token when signed in", signed_in_csrf),
    ]);

    // On another device, the same student signs in with the emailed code.
    let phone = client();
    let (_, login) = page(&phone, &app.url("/login")).await;
    let phone_csrf = csrf_in(&login).unwrap();
    let asked = phone
        .post(app.url("/login"))
        .form(&[("csrf_token", phone_csrf.as_str()), ("email", STUDENT)])
        .send()
        .await
        .unwrap();
    // POST /login answers with a redirect to the check-email page (as above).
    assert_eq!(asked.status().as_u16(), 303);
    assert_eq!(asked.headers()["location"], "/login/check-email");
    let (_, check_page) = page(&phone, &app.url("/login/check-email")).await;
    let code_csrf = csrf_in(&check_page).unwrap();
    let second = mails(&mailbox, 2).await.remove(1);
    let code = code_in(&second.text).unwrap();
    let signed_in = phone
        .post(app.url("/login/code"))
        .form(&[
            ("csrf_token", code_csrf.as_str()),
            ("email", STUDENT),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let code_session = cookie(signed_in.headers(), "cg_session").expect("a session");
    let (_, account) = page(&phone, &app.url("/account")).await;
    assert!(account.contains(STUDENT));
    secrets.extend([
        ("CSRF token on the phone", phone_csrf),
        ("CSRF token on the code form", code_csrf),
        ("second link token", token_in(&second.text).unwrap()),
        ("code", code),
        ("session cookie (code)", code_session.clone()),
        ("session hash (code)", hash_token(&code_session)),
    ]);

    let (stdout, stderr) = app.stop();
    let output = format!("{stdout}\n{stderr}");

    // Every line is a JSON object.
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
    }
    // The requests were logged, by route pattern only.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(r#""route":"/login/confirm""#) && l.contains(r#""status":200"#)),
        "the confirm page's request line: {output}"
    );
    let mailbox_text = serde_json::to_string(&mailbox.display().to_string()).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("dev mailbox") && l.contains(mailbox_text.trim_matches('"'))),
        "the dev mailer's line names the file: {output}"
    );
    assert!(
        lines.iter().any(|l| l.contains(r#""level":"DEBUG""#)),
        "debug logging was on: {output}"
    );
    // No secret on any line.
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what}: {secret:?}");
        for line in &lines {
            assert!(
                !line.contains(secret.as_str()),
                "{what} is in the log: {line}"
            );
        }
    }
    assert!(!output.contains("token="), "a link in the log: {output}");
    println!("{} log lines checked", lines.len());
}

/// A server whose stdout and stderr were closed (the supervisor reading them
/// went away) still stops on SIGTERM: its "stopping" log line cannot be
/// written, and that must not take the stop down with it (it did: the
/// subscriber reported the failed write with `eprintln!`, which panicked the
/// signal task, and the server served on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_on_sigterm_with_its_output_closed() {
    let mut app = Served::start_unread(None, "127.0.0.1", &[("RUST_LOG", "info")]);
    app.ready().await;
    app.close_output();
    let status = tokio::task::block_in_place(|| app.terminate(Duration::from_secs(15)))
        .expect("still serving 15 s after SIGTERM, its output closed");
    assert!(status.success(), "stopped with {status}");
}
