//! `AppError`: every way a request can fail, mapped to a status and a page a
//! person can act on. Unexpected errors are logged with their chain and shown
//! as a plain page with a reference, never a stack trace.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::state::Database;
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("the form expired or did not come from this site")]
    Csrf,
    #[error("too many requests")]
    TooManyRequests {
        message: String,
        retry_after_secs: i64,
    },
    #[error("the database is unavailable")]
    Unavailable,
    /// A suspended student tried to change something (they may only read).
    #[error("suspended")]
    Suspended {
        until: chrono::NaiveDateTime,
        reason: Option<String>,
    },
    #[error("sign in required")]
    SignInRequired { next: String },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection within the checkout timeout");
        AppError::Unavailable
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    layout: super::layout::Layout,
    title: &'a str,
    message: &'a str,
    action: Option<(&'a str, &'a str)>,
    reference: Option<&'a str>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Suspended { .. } => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::SignInRequired { next } = self {
            let target = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        let reference = match self {
            AppError::Internal(error) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference = %reference, error = ?error, "request failed");
                Some(reference)
            }
            _ => None,
        };
        let (title, message, action): (&str, String, Option<(&str, &str)>) = match self {
            AppError::NotFound => (
                "Page not found",
                "There is nothing here. Check the address, or go back to your classes.".into(),
                Some(("/", "Go to my classes")),
            ),
            AppError::BadRequest(message) => ("That did not work", message.clone(), None),
            AppError::Csrf => (
                "This form has expired",
                "The form was open too long, or it did not come from this site. Nothing was changed. Go back, reload the page and try again.".into(),
                Some(("/", "Start over")),
            ),
            AppError::TooManyRequests { message, .. } => ("Please wait", message.clone(), None),
            AppError::Unavailable => (
                "Try again shortly",
                "Common Grounds cannot reach its database right now. Nothing you sent was lost or half-saved; try again in a minute.".into(),
                None,
            ),
            AppError::Suspended { until, reason } => (
                "Your account is suspended",
                format!(
                    "You can still read, but until {} UTC you cannot post, edit, report, join or leave classes, change your display name or act on friend requests.{}",
                    until.format("%B %-d, %Y %H:%M"),
                    reason
                        .as_deref()
                        .map(|r| format!(" The moderators' reason: {r}"))
                        .unwrap_or_default()
                ),
                Some(("/", "Go to my classes")),
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "We could not finish that request. It has been logged; please try again.".into(),
                None,
            ),
            AppError::SignInRequired { .. } => unreachable!("handled above"),
        };
        let page = ErrorPage {
            layout: super::layout::Layout::bare(),
            title,
            message: &message,
            action,
            reference: reference.as_deref(),
        };
        let body = page.render().unwrap_or_else(|_| message.clone());
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("text/html; charset=utf-8");
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.max(&1).to_string()));
        }
        if matches!(self, AppError::Unavailable) {
            response.insert_header((header::RETRY_AFTER, "30"));
        }
        response.body(body)
    }
}

/// Runs blocking database work off the async executor, with a pooled
/// connection of this app's database.
pub async fn with_conn<T, F>(db: &Arc<Database>, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, AppError> + Send + 'static,
{
    // At most as many database jobs as the pool has connections: the rest wait
    // here, as futures, instead of as blocked threads queueing on the pool
    // (64 connections under load made 90 threads, each with its own malloc
    // arena, and twice the context switches; see bench/README.md).
    // Waiting here counts against the same limit as waiting for a connection.
    let _permit = match tokio::time::timeout(db.connection_timeout(), db.gate().acquire()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(closed)) => return Err(AppError::Internal(closed.into())),
        Err(_) => {
            tracing::warn!("no database connection became free in time");
            return Err(AppError::Unavailable);
        }
    };
    let db = Arc::clone(db);
    actix_web::web::block(move || {
        let mut conn = db.count_waiting(|| db.pool().get())?;
        f(&mut conn)
    })
    .await?
}
