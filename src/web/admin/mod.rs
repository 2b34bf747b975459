//! The admin area for moderators and admins (everyone else gets 404), one file
//! per page: the overview, users (roles, suspensions, a person's page), the
//! audit log, the report queue (tabs; hide, restore, dismiss, remove with a
//! reason category; release or remove a held post), two-person reveals, reading
//! a class as staff, and SIS syncs. Every action is a CSRF-checked POST; the
//! domain writes its audit entry in the change's transaction.

mod audit;
mod class_reads;
mod flags;
mod overview;
mod reveals;
mod sis;
mod users;

use actix_web::{web, HttpRequest};

use super::guard::{self, Staff};
use super::layout::Layout;

/// The page layout of an admin page, with its section marked in the admin menu.
fn staff_layout(req: &HttpRequest, staff: &Staff, section: &'static str) -> Layout {
    let mut layout = Layout::new(req, Some(&staff.0)).at("admin");
    layout.section = section;
    layout
}

/// Registers the admin pages under one `/admin` scope, guarded once: anyone
/// but a signed-in moderator or admin gets 404 (the area is not advertised).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(actix_web::middleware::from_fn(guard::staff_only))
            .service(overview::overview)
            .service(users::users)
            .service(users::user_page)
            .service(users::change_role)
            .service(users::suspend)
            .service(users::lift)
            .service(users::remove_display_name)
            .service(users::end_name_wait)
            .service(users::suspensions)
            .service(audit::audit)
            .service(flags::flags)
            .service(reveals::ask)
            .service(reveals::list_reveals)
            .service(reveals::reveal_page)
            .service(reveals::decide)
            .service(class_reads::read_class)
            .service(flags::message_action)
            .service(flags::release_message)
            .service(sis::sis_page)
            .service(sis::sync_now),
    );
}

/// The reason a moderator typed, quoted back beside a refusal to paste
/// again (nothing when they typed none). A flash holds 400 characters: the
/// refusal and the quote fit whole, a long reason up to its first 150 (its
/// line breaks become spaces, as a flash has none).
fn to_paste_again(reason: Option<&str>) -> String {
    let typed = reason.map(str::trim).unwrap_or_default();
    if typed.is_empty() {
        return String::new();
    }
    let quoted: String = typed
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(150)
        .collect();
    let more = if typed.chars().count() > 150 {
        "…"
    } else {
        ""
    };
    format!(" The reason you typed, to paste again: “{quoted}{more}”")
}
