//! The inbox: `GET /notifications`, opening one (marks it read), mark all read.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
