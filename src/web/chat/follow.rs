//! Following a thread and muting a class: plain forms (they work without our
//! script) that say what changed and go back to the page they were on. The
//! rules (only threads and classes the student takes) are in
//! `notifications::chat`; anything else is a 404.

use actix_web::{post, web};

use super::thread_href;
use crate::chat::MessageId;
use crate::classes::ClassId;
use crate::clock;
use crate::notifications::chat::{self as follows, FollowError};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CsrfForm, SignedInForm};
use crate::web::state::AppState;
use crate::web::views::FlashRedirect;

fn refused(error: FollowError) -> AppError {
    match error {
        FollowError::NotFound => AppError::NotFound,
        FollowError::Db(e) => e.into(),
    }
}

/// Follows or unfollows a thread of a class the student takes.
#[post("/classes/{id:[0-9a-f-]{36}}/threads/{thread:[0-9a-f-]{36}}/{action:follow|unfollow}")]
pub async fn follow_thread(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    SignedInForm(current, _form): SignedInForm<CsrfForm>,
) -> Result<FlashRedirect, AppError> {
    let (class, thread, action) = path.into_inner();
    let class_id = ClassId::parse(&class).ok_or(AppError::NotFound)?;
    let thread_id = MessageId::parse(&thread).ok_or(AppError::NotFound)?;
    let following = action == "follow";
    let viewer = current.user.id.clone();
    let staff = current.acts_as_staff();
    let (c, t) = (class_id.clone(), thread_id.clone());
    with_conn(&state.pool, move |conn| {
        follows::choose_following(conn, &viewer, staff, &c, &t, following, clock::now())
            .map_err(refused)
    })
    .await?;
    let said = if following {
        "You follow this thread: replies in it show in your notifications."
    } else {
        "You unfollowed this thread: replies in it no longer notify you, not even replies to you. Replying again follows it again."
    };
    Ok(FlashRedirect::done(
        &thread_href(&class_id, &thread_id),
        said,
    ))
}

/// Where a mute form came from: the class page (default) or the settings
/// page's list of muted classes (`?back=settings`).
#[derive(serde::Deserialize)]
pub struct MuteBack {
    back: Option<String>,
}

/// Mutes or unmutes a class's notifications.
#[post("/classes/{id:[0-9a-f-]{36}}/{action:mute|unmute}")]
pub async fn mute_class(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    back: web::Query<MuteBack>,
    SignedInForm(current, _form): SignedInForm<CsrfForm>,
) -> Result<FlashRedirect, AppError> {
    let (class, action) = path.into_inner();
    let class_id = ClassId::parse(&class).ok_or(AppError::NotFound)?;
    let muting = action == "mute";
    let viewer = current.user.id.clone();
    let c = class_id.clone();
    with_conn(&state.pool, move |conn| {
        if muting {
            follows::mute(conn, &viewer, &c, clock::now()).map_err(refused)
        } else {
            follows::unmute(conn, &viewer, &c)?;
            Ok(())
        }
    })
    .await?;
    let said = if muting {
        "This class is muted: its replies and answers no longer notify you until you unmute it."
    } else {
        "This class is unmuted: new replies in it notify you again."
    };
    let to = match back.back.as_deref() {
        Some("settings") => "/account/notifications".to_string(),
        _ => format!("/classes/{class_id}"),
    };
    Ok(FlashRedirect::done(&to, said))
}
