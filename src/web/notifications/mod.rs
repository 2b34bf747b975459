//! Notification pages: the inbox (`inbox`), the email settings and the
//! one-click unsubscribe (`settings`, `unsubscribe`), and the per-student
//! stream that keeps the nav's count live (`events`).

pub mod events;
pub mod inbox;
pub mod settings;
pub mod unsubscribe;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    events::routes(cfg);
    settings::routes(cfg);
    unsubscribe::routes(cfg);
    inbox::routes(cfg);
}
