//! The per-student stream (server-sent events) that keeps the nav's unread count live.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
