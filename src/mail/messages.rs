//! The emails we send, rendered from `templates/email/` as plain text and HTML.

use askama::Template;

use super::{MailError, OutgoingEmail};

#[derive(Template)]
#[template(path = "email/signin.txt")]
struct SignInText<'a> {
    link: &'a str,
    code: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "email/signin.html")]
struct SignInHtml<'a> {
    link: &'a str,
    code: &'a str,
    minutes: i64,
}

/// The sign-in email: a link and a code, both valid for `minutes`.
pub struct SignInEmail<'a> {
    pub link: &'a str,
    pub code: &'a str,
    pub minutes: i64,
}

impl SignInEmail<'_> {
    pub fn render(&self, to: &str) -> Result<OutgoingEmail, MailError> {
        Ok(OutgoingEmail {
            to: to.to_string(),
            // Never the code: lock screens and notifications show subjects.
            subject: "Your Common Grounds sign-in link".to_string(),
            text: SignInText {
                link: self.link,
                code: self.code,
                minutes: self.minutes,
            }
            .render()?,
            html: SignInHtml {
                link: self.link,
                code: self.code,
                minutes: self.minutes,
            }
            .render()?,
        })
    }
}
