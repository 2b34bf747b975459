//! `/account/notifications`: a student's email choices per topic, digest hour and muted classes.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
