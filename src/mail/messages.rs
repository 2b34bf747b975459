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
            // Sign-in emails are the one kind without an unsubscribe link.
            unsubscribe: None,
            outbox_id: None,
        })
    }
}

/// One notification as an email lists it: what happened, the message's first
/// lines when it is about one, when, and the link that opens it (and marks it
/// read). Plain values: `mail` knows nothing of notifications.
#[derive(Debug, Clone)]
pub struct NotificationItem {
    pub headline: String,
    pub excerpt: Option<String>,
    /// What the inbox says under it: a moderator's reason ("Reason: …"), or
    /// a note such as until when a suspension runs.
    pub detail: Option<String>,
    /// "Mar 8, 2026, 1:30 AM EST".
    pub when: String,
    pub link: String,
}

/// The links every notification email ends with: the settings page and the
/// one-click unsubscribe of the topics the email is about.
#[derive(Debug, Clone)]
pub struct NotificationFooter {
    pub settings_link: String,
    pub unsubscribe_link: String,
    /// "replies" or "replies and friend requests": what the unsubscribe link stops.
    pub unsubscribe_what: String,
}

#[derive(Template)]
#[template(path = "email/notification.txt")]
struct NotificationText<'a> {
    item: &'a NotificationItem,
    footer: &'a NotificationFooter,
}

#[derive(Template)]
#[template(path = "email/notification.html")]
struct NotificationHtml<'a> {
    item: &'a NotificationItem,
    footer: &'a NotificationFooter,
}

#[derive(Template)]
#[template(path = "email/digest.txt")]
struct DigestText<'a> {
    items: &'a [NotificationItem],
    /// Listed and left out together.
    total: usize,
    more: &'a Option<More>,
    footer: &'a NotificationFooter,
}

#[derive(Template)]
#[template(path = "email/digest.html")]
struct DigestHtml<'a> {
    items: &'a [NotificationItem],
    /// Listed and left out together.
    total: usize,
    more: &'a Option<More>,
    footer: &'a NotificationFooter,
}

/// One notification, emailed right away; its subject is its headline.
pub fn notification_email(
    to: &str,
    item: &NotificationItem,
    footer: &NotificationFooter,
) -> Result<OutgoingEmail, MailError> {
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: one_line(&item.headline),
        text: NotificationText { item, footer }.render()?,
        html: NotificationHtml { item, footer }.render()?,
        unsubscribe: Some(footer.unsubscribe_link.clone()),
        outbox_id: None,
    })
}

/// What a digest leaves out: how many more notices, and where they all are.
#[derive(Debug, Clone)]
pub struct More {
    pub count: usize,
    pub inbox_link: String,
}

/// The day's digest: its notices in one email, the first `items` listed
/// and `more` counted with the inbox's link (the subject counts them all).
pub fn digest_email(
    to: &str,
    items: &[NotificationItem],
    more: Option<More>,
    footer: &NotificationFooter,
) -> Result<OutgoingEmail, MailError> {
    let total = items.len() + more.as_ref().map_or(0, |m| m.count);
    let more = &more;
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: digest_subject(total),
        text: DigestText {
            items,
            total,
            more,
            footer,
        }
        .render()?,
        html: DigestHtml {
            items,
            total,
            more,
            footer,
        }
        .render()?,
        unsubscribe: Some(footer.unsubscribe_link.clone()),
        outbox_id: None,
    })
}

/// "Your Common Grounds digest: 5 new".
pub fn digest_subject(count: usize) -> String {
    format!("Your Common Grounds digest: {count} new")
}

/// A subject is one line, whatever a headline holds.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(headline: &str) -> NotificationItem {
        NotificationItem {
            headline: headline.into(),
            excerpt: Some("<b>hi</b>".into()),
            detail: Some("Reason: <i>rude</i>".into()),
            when: "Mar 8, 2026, 1:30 AM EST".into(),
            link: "https://cg.example.edu/notifications/1".into(),
        }
    }

    fn footer() -> NotificationFooter {
        NotificationFooter {
            settings_link: "https://cg.example.edu/account/notifications".into(),
            unsubscribe_link: "https://cg.example.edu/notifications/unsubscribe/u/replies/s".into(),
            unsubscribe_what: "replies".into(),
        }
    }

    #[test]
    fn a_digest_lists_every_item_with_its_link_and_the_footer() {
        let items = vec![item("One"), item("Two")];
        let email = digest_email("a@virginia.edu", &items, None, &footer()).unwrap();
        assert_eq!(email.subject, "Your Common Grounds digest: 2 new");
        for part in [&email.text, &email.html] {
            assert!(part.contains("One") && part.contains("Two"));
            assert!(part.contains("https://cg.example.edu/notifications/1"));
            assert!(part.contains("https://cg.example.edu/account/notifications"));
            assert!(part.contains("https://cg.example.edu/notifications/unsubscribe/u/replies/s"));
        }
        // The HTML part escapes what students wrote, and a moderator's words.
        assert!(!email.html.contains("<b>hi"), "{}", email.html);
        assert!(email.html.contains("&#60;b&#62;hi"), "{}", email.html);
        assert!(!email.html.contains("<i>rude"), "{}", email.html);
        assert!(
            email.html.contains("Reason: &#60;i&#62;rude"),
            "{}",
            email.html
        );
        assert!(email.text.contains("Reason: <i>rude</i>"), "{}", email.text);
        assert!(email.unsubscribe.is_some());
    }

    #[test]
    fn one_notification_says_what_the_inbox_says_under_it() {
        let email = notification_email("a@virginia.edu", &item("Hidden"), &footer()).unwrap();
        assert!(
            email.text.contains("\nReason: <i>rude</i>\n"),
            "{}",
            email.text
        );
        assert!(
            email.html.contains("Reason: &#60;i&#62;rude"),
            "{}",
            email.html
        );
    }

    #[test]
    fn a_long_digest_counts_what_it_leaves_out_and_links_the_inbox() {
        let items = vec![item("One")];
        let more = More {
            count: 70,
            inbox_link: "https://cg.example.edu/notifications".into(),
        };
        let email = digest_email("a@virginia.edu", &items, Some(more), &footer()).unwrap();
        assert_eq!(email.subject, "Your Common Grounds digest: 71 new");
        assert!(
            email
                .text
                .contains("And 70 more in your inbox: https://cg.example.edu/notifications\n"),
            "{}",
            email.text
        );
        assert!(
            email
                .html
                .contains("href=\"https://cg.example.edu/notifications\"")
                && email.html.contains("70 more"),
            "{}",
            email.html
        );
    }

    #[test]
    fn one_notification_is_its_own_subject_on_one_line() {
        let email = notification_email("a@virginia.edu", &item("Ada\nsent"), &footer()).unwrap();
        assert_eq!(email.subject, "Ada sent");
    }
}
