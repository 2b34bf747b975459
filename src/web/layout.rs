//! What every page's frame needs: who is signed in (for the nav) and the CSRF
//! token for the sign-out form.

use actix_web::HttpRequest;

use super::guard::{self, CurrentUser};

/// The parts of `templates/base.html` that depend on the request.
pub struct Layout {
    pub signed_in_as: Option<String>,
    pub is_staff: bool,
    pub csrf_token: String,
    pub show_dev_mailbox: bool,
    /// A message left by the form that redirected here.
    pub flash: Option<guard::Flash>,
    /// Which nav entry is this page's, for `aria-current`.
    pub section: &'static str,
    /// Something in one of the student's classes is new to them (the nav's dot).
    pub unread: bool,
    /// Unread notifications (the nav's count; 0 shows none).
    pub notifications: i64,
    /// For staff: reports waiting in the flag queue (the Admin link's badge).
    pub waiting_reports: i64,
    /// For staff: reveal requests waiting for their decision (the nav's Reveals count).
    pub waiting_reveals: i64,
    /// For a suspended student: what they can and cannot do, until when, and
    /// the moderators' reason, atop every page (the forms are still there,
    /// and a refused one keeps what was typed).
    pub suspended: Option<String>,
}

impl Layout {
    /// Where the stylesheet is, with its version (`assets`).
    pub fn css_href(&self) -> &'static str {
        super::assets::css_href()
    }

    /// Where our script is, with its version.
    pub fn js_href(&self) -> &'static str {
        super::assets::js_href()
    }

    /// Where the timetable's placement sheet is, with its version.
    pub fn schedule_css_href(&self) -> &'static str {
        super::assets::schedule_css_href()
    }

    /// The frame for pages rendered without the request (error pages).
    pub fn bare() -> Layout {
        Layout {
            signed_in_as: None,
            is_staff: false,
            csrf_token: String::new(),
            show_dev_mailbox: false,
            flash: None,
            section: "",
            unread: false,
            notifications: 0,
            waiting_reports: 0,
            waiting_reveals: 0,
            suspended: None,
        }
    }

    /// A page headed `title`: one that is itself about the student's
    /// suspension (a refusal) says it once, without the notice atop it.
    pub fn titled(mut self, title: &str) -> Layout {
        if title == super::error::SUSPENDED_TITLE {
            self.suspended = None;
        }
        self
    }

    /// Marks the page's place in the nav.
    pub fn at(mut self, section: &'static str) -> Layout {
        self.section = section;
        self
    }

    pub fn new(req: &HttpRequest, current: Option<&CurrentUser>) -> Layout {
        let state = guard::state(req);
        Layout {
            signed_in_as: current.map(|c| c.user.computing_id.clone()),
            is_staff: current.is_some_and(|c| c.acts_as_staff()),
            csrf_token: guard::csrf_token(req, current),
            show_dev_mailbox: !state.config.is_production() && state.mailer_is_directory,
            flash: guard::flash(req),
            section: "",
            unread: current.is_some_and(|c| c.unread),
            notifications: current.map_or(0, |c| c.notifications),
            waiting_reports: current
                .filter(|c| c.acts_as_staff())
                .map_or(0, |c| c.waiting_reports),
            waiting_reveals: current
                .filter(|c| c.acts_as_staff())
                .map_or(0, |c| c.waiting_reveals),
            suspended: current.and_then(|c| {
                let until = c.user.suspended_at(crate::clock::now())?;
                let reason = c.user.suspension_reason.as_deref();
                Some(super::error::suspended_notice(
                    until,
                    reason,
                    state.config.campus_time,
                ))
            }),
        }
    }

    /// The Admin link's spoken label: "1 report waiting", "7 reports waiting".
    pub fn waiting_label(&self) -> String {
        match self.waiting_reports {
            1 => "1 report waiting".into(),
            n => format!("{n} reports waiting"),
        }
    }

    /// The nav's count as shown: "3", or "99+" beyond the cap.
    pub fn notification_count(&self) -> String {
        if self.notifications >= guard::NAV_COUNT_CAP {
            format!("{}+", guard::NAV_COUNT_CAP - 1)
        } else {
            self.notifications.to_string()
        }
    }
}
