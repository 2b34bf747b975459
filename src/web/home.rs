//! The front page: a welcome for visitors, the student's own start page once signed in.

use actix_web::{get, HttpRequest, HttpResponse};
use askama::Template;

use super::error::AppError;
use super::guard::MaybeUser;
use super::layout::Layout;

#[derive(Template)]
#[template(path = "home/welcome.html")]
struct Welcome {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "home/show.html")]
struct Home {
    layout: Layout,
    email: String,
}

#[get("/")]
pub async fn show_home(req: HttpRequest, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let body = match &user.0 {
        None => Welcome {
            layout: Layout::new(&req, None),
        }
        .render()?,
        Some(current) => Home {
            layout: Layout::new(&req, Some(current)),
            email: current.user.email.clone(),
        }
        .render()?,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}
