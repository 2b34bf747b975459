//! The one-click unsubscribe of RFC 8058: a signed per-student, per-topic URL that works without signing in.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
