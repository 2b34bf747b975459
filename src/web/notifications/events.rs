//! `GET /notifications/events`: the signed-in student's unread count as
//! Server-Sent Events, for the nav of every page (our script puts the number
//! in the nav's `[data-unread-count]` badges). `event: unread` with the count
//! (up to `NAV_COUNT_CAP`, which the page shows as "99+") at once, then each
//! time it changes. A number and nothing else: no notification, no author.
//!
//! Framed like the class stream (`web::chat::events`): the same headers, the
//! same keep-alive, and it ends when the app stops. A count has nothing to
//! replay, so frames carry no id: a reconnecting browser is sent the count
//! again at once.
//!
//! Its streams are counted per session apart from the class streams, with a
//! limit of their own: a class or thread page holds one of each, so sharing
//! the class streams' 4 would leave a student two such tabs and then refuse
//! the class chat itself. Our script also closes this stream while its tab is
//! hidden, so background tabs hold none.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::accounts::{sessions, SessionId, UserId};
use crate::clock;
use crate::live::{StreamTicket, Unread, UnreadSubscription, UNREAD_CAP};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{CurrentUser, NAV_COUNT_CAP};
use crate::web::state::AppState;

// The bus reads the count up to the nav's cap, so "99+" means the same on both.
const _: () = assert!(UNREAD_CAP == NAV_COUNT_CAP);

/// Nav-count streams one session may hold open in this process (a few
/// visible windows; hidden tabs close theirs).
pub const STREAMS_PER_SESSION: usize = 4;
/// A comment this often keeps proxies and browsers from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How often an open stream checks that its session is still live (signed out
/// or suspended: it ends) and reads the count again, which catches what no
/// writer announces: notifications read in another tab, and ones dated later
/// (a suspension's end) that came due.
const RECHECK: Duration = Duration::from_secs(60);
/// Frames a slow client may have queued before the stream waits for it.
const QUEUED_FRAMES: usize = 8;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(unread_events);
}

/// The signed-in student's unread count, now and whenever it changes.
#[get("/notifications/events")]
pub async fn unread_events(
    state: web::Data<AppState>,
    current: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let Some(ticket) = state
        .live
        .open_unread_stream(current.session.id.as_str(), STREAMS_PER_SESSION)
    else {
        return Err(AppError::TooManyRequests {
            message: format!(
                "This session already has {STREAMS_PER_SESSION} live counts open. \
                 Close a window of Common Grounds and the count will update again."
            ),
            retry_after_secs: 30,
        });
    };
    // Subscribed before counting: no change falls in between.
    let subscription = state.live.watch_unread(&current.user.id);
    let first = count_now(&state, &current.user.id).await?;
    let (frames, body) = mpsc::channel::<Bytes>(QUEUED_FRAMES);
    let stream = Stream {
        state: state.clone(),
        viewer: current.user.id.clone(),
        session_id: current.session.id.clone(),
        frames,
        _ticket: ticket,
    };
    actix_web::rt::spawn(stream.run(first, subscription));
    Ok(crate::web::chat::events::sse_response(body))
}

/// The student's count from the database, stamped with when the reading began.
async fn count_now(state: &web::Data<AppState>, user: &UserId) -> Result<Unread, AppError> {
    let counted_at = Instant::now();
    let user = user.clone();
    let count = with_conn(&state.pool, move |conn| {
        Ok(crate::notifications::unread_count(
            conn,
            &user,
            clock::now(),
            UNREAD_CAP,
        )?)
    })
    .await?;
    Ok(Unread { count, counted_at })
}

/// One open stream: whose count it carries and where its frames go.
struct Stream {
    state: web::Data<AppState>,
    viewer: UserId,
    session_id: SessionId,
    frames: mpsc::Sender<Bytes>,
    _ticket: StreamTicket,
}

/// What the stream has sent: the count, and when the reading behind it began.
struct Shown {
    count: Option<i64>,
    counted_at: Instant,
}

impl Shown {
    /// The frame to send for `unread`, if it is newer than what was shown and
    /// says something else.
    fn update(&mut self, unread: Unread) -> Option<Bytes> {
        if unread.counted_at < self.counted_at {
            return None;
        }
        self.counted_at = unread.counted_at;
        if self.count == Some(unread.count) {
            return None;
        }
        self.count = Some(unread.count);
        Some(unread_frame(unread.count))
    }
}

impl Stream {
    async fn run(self, first: Unread, mut subscription: UnreadSubscription) {
        let mut stopping = self.state.live.stopping();
        let mut access = self.state.live.watch_access(&self.viewer);
        let mut shown = Shown {
            count: None,
            counted_at: first.counted_at,
        };
        let mut opening = b"retry: 3000\n\n".to_vec();
        if let Some(frame) = shown.update(first) {
            opening.extend_from_slice(&frame);
        }
        if self.send(Bytes::from(opening)).await.is_err() {
            return;
        }
        let opened = Instant::now();
        let mut keep_alive = tokio::time::interval_at(opened + KEEP_ALIVE, KEEP_ALIVE);
        let mut recheck = tokio::time::interval_at(opened + RECHECK, RECHECK);
        loop {
            if *stopping.borrow() {
                return;
            }
            let unread = tokio::select! {
                unread = subscription.next() => match unread {
                    Some(unread) => unread,
                    None => return,
                },
                _ = keep_alive.tick() => {
                    if self.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
                _ = recheck.tick() => match self.recheck().await {
                    Recheck::Ended => return,
                    Recheck::Live(Some(unread)) => unread,
                    Recheck::Live(None) => continue,
                },
                changed = access.changed() => {
                    if !changed {
                        return;
                    }
                    match self.recheck().await {
                        Recheck::Ended => return,
                        Recheck::Live(Some(unread)) => unread,
                        Recheck::Live(None) => continue,
                    }
                }
                _ = stopping.changed() => return,
                _ = self.frames.closed() => return,
            };
            if let Some(frame) = shown.update(unread) {
                if self.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Whether the session is still live, and the count read again. A
    /// database that cannot answer does not end the stream.
    async fn recheck(&self) -> Recheck {
        let (viewer, session) = (self.viewer.clone(), self.session_id.clone());
        let live = with_conn(&self.state.pool, move |conn| {
            Ok(sessions::list_for_user(conn, &viewer, clock::now())?
                .iter()
                .any(|s| s.id == session))
        })
        .await;
        if matches!(live, Ok(false)) {
            return Recheck::Ended;
        }
        Recheck::Live(count_now(&self.state, &self.viewer).await.ok())
    }

    async fn send(&self, frame: Bytes) -> Result<(), mpsc::error::SendError<Bytes>> {
        self.frames.send(frame).await
    }
}

enum Recheck {
    /// Signed out, suspended or revoked: the stream ends.
    Ended,
    /// Still signed in, with the count if it could be read.
    Live(Option<Unread>),
}

fn unread_frame(count: i64) -> Bytes {
    Bytes::from(format!("event: unread\ndata: {count}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_sends_a_count_once_and_never_an_older_reading() {
        let start = Instant::now();
        let later = |ms| start + Duration::from_millis(ms);
        let mut shown = Shown {
            count: None,
            counted_at: start,
        };
        let first = shown.update(Unread {
            count: 0,
            counted_at: start,
        });
        assert_eq!(first.as_deref(), Some(&b"event: unread\ndata: 0\n\n"[..]));
        let same = shown.update(Unread {
            count: 0,
            counted_at: later(5),
        });
        assert_eq!(same, None, "the same count is not sent again");
        let risen = shown.update(Unread {
            count: 1,
            counted_at: later(10),
        });
        assert_eq!(risen.as_deref(), Some(&b"event: unread\ndata: 1\n\n"[..]));
        let stale = shown.update(Unread {
            count: 0,
            counted_at: later(7),
        });
        assert_eq!(stale, None, "a reading that began earlier is older news");
    }
}
