//! `GET /classes/{id}/events`: a class chat's live events as Server-Sent
//! Events, for students who take the class (404 for everyone else, as for an
//! unknown class). What was missed is read from the database (by
//! `Last-Event-ID`, else `?after=`); after that, the app's live bus hands over
//! new events, each shaped for this stream's own student.
//!
//! Framed here over `HttpResponse::streaming`: each frame is three fixed lines
//! (`id`, `event`, one line of JSON), and the keep-alive shares one `select!`
//! with shutdown and the bus, so a framing crate would add little.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{event_data, rules};
use crate::accounts::{sessions, SessionId, UserId};
use crate::chat::live::{self as chat_live, LiveBatch, LiveEvent};
use crate::chat::{events, Rules};
use crate::classes::{self, ClassId};
use crate::clock;
use crate::live::{AccessWatch, StreamTicket, Subscription, Update};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{self, CurrentUser};
use crate::web::state::AppState;

/// Streams one session may hold open in this process (a few tabs).
pub const STREAMS_PER_SESSION: usize = 4;
/// A comment this often keeps proxies and browsers from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How often an open stream checks that its session is still live and its
/// student still takes the class (signed out, suspended or left: it ends).
const RECHECK: Duration = Duration::from_secs(60);
/// More missed events than this and the page is better reloaded.
const REPLAY_LIMIT: i64 = 1000;
/// Frames a slow client may have queued before the stream waits for it.
const QUEUED_FRAMES: usize = 32;

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<i64>,
}

/// A class chat's live events, from `Last-Event-ID` or `?after=` (else from now).
#[get("/classes/{id:[0-9a-f-]{36}}/events")]
pub async fn class_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
    current: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let class_id = ClassId::parse(&path).ok_or(AppError::NotFound)?;
    let asked = last_event_id(&req).or(query.after).filter(|seq| *seq >= 0);
    // Watched before the enrollment check: a leave (or a suspension, or the
    // session ended) committed between the check and the stream's start is
    // seen by the stream, which then looks again and ends.
    let access = state.live.watch_access(&current.user.id);
    let (viewer, class) = (current.user.id.clone(), class_id.clone());
    let found = with_conn(&state.pool, move |conn| {
        if !classes::is_enrolled(conn, &viewer, &class)? {
            return Ok(None);
        }
        Ok(Some((
            events::latest(conn, &class)?,
            events::oldest(conn, &class)?,
        )))
    })
    .await?;
    let Some((latest, oldest)) = found else {
        return Err(AppError::NotFound);
    };
    let Some(ticket) = state
        .live
        .open_stream(current.session.id.as_str(), STREAMS_PER_SESSION)
    else {
        return Err(AppError::TooManyRequests {
            message: format!(
                "This session already has {STREAMS_PER_SESSION} live chat streams open. \
                 Close a tab of Common Grounds and this one will update again."
            ),
            retry_after_secs: 30,
        });
    };
    // Subscribed before reading what was missed: nothing falls in between.
    let subscription = state.live.subscribe(&class_id);
    let after = asked.unwrap_or(latest);
    let start = if must_reload(after, latest, oldest) {
        Start::Reload
    } else {
        Start::After(after)
    };
    let csrf_token = guard::session_csrf_token(
        state.config.secret_key.expose(),
        &current.session.token_hash,
    );
    let (frames, body) = mpsc::channel::<Bytes>(QUEUED_FRAMES);
    let stream = Stream {
        state: state.clone(),
        class_id,
        viewer: current.user.id.clone(),
        session_id: current.session.id.clone(),
        csrf_token,
        rules: rules(&state),
        frames,
        _ticket: ticket,
    };
    actix_web::rt::spawn(stream.run(start, subscription, access));
    Ok(sse_response(body))
}

/// The response of an event stream: its frames as they come, never cached,
/// buffered or compressed on the way. The class stream and the nav's count
/// stream both answer with it.
pub(crate) fn sse_response(mut frames: mpsc::Receiver<Bytes>) -> HttpResponse {
    let body = futures_util::stream::poll_fn(move |cx| {
        frames
            .poll_recv(cx)
            .map(|frame| frame.map(Ok::<_, Infallible>))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx and its kind would hold the frames back otherwise.
        .insert_header(("X-Accel-Buffering", "no"))
        // The Compress middleware leaves a response that names its encoding
        // alone: a gzip stream would hold frames until its buffer fills, and
        // a compressor per open stream costs hundreds of kB.
        .insert_header((
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        ))
        .streaming(body)
}

/// The `Last-Event-ID` a reconnecting browser sends, if it is a number.
fn last_event_id(req: &HttpRequest) -> Option<i64> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a page that saw events up to `after` must reload rather than take
/// up from there: what followed may have been pruned, or `after` is past the
/// class's newest event (`latest`), which happens only when the database went
/// back in time (restored from a snapshot): nothing numbered after it would
/// reach the page until the numbers caught up.
fn must_reload(after: i64, latest: i64, oldest: Option<i64>) -> bool {
    after > latest || pruned_past(after, oldest)
}

/// Whether events after `after` may have been pruned: `after` was an event of
/// this class (0 means the class had none yet) that is no longer kept.
fn pruned_past(after: i64, oldest: Option<i64>) -> bool {
    after > 0 && oldest.is_none_or(|oldest| after < oldest)
}

enum Start {
    After(i64),
    Reload,
}

/// One open stream: who it is for and where its frames go.
struct Stream {
    state: web::Data<AppState>,
    class_id: ClassId,
    viewer: UserId,
    session_id: SessionId,
    csrf_token: String,
    rules: Rules,
    frames: mpsc::Sender<Bytes>,
    _ticket: StreamTicket,
}

/// Why a stream stopped sending.
enum End {
    /// The client went away or the app is stopping.
    Gone,
}

impl Stream {
    async fn run(self, start: Start, mut subscription: Subscription, mut access: AccessWatch) {
        let mut stopping = self.state.live.stopping();
        let mut sent = match start {
            Start::After(after) => after,
            Start::Reload => {
                let _ = self.send(reload_frame()).await;
                return;
            }
        };
        if self
            .send(Bytes::from_static(b"retry: 3000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        // What was missed, from the database.
        match self.catch_up(sent).await {
            Ok(Some(last)) => sent = last,
            Ok(None) => {}
            Err(End::Gone) => return,
        }
        let opened = tokio::time::Instant::now();
        let mut keep_alive = tokio::time::interval_at(opened + KEEP_ALIVE, KEEP_ALIVE);
        let mut recheck = tokio::time::interval_at(opened + RECHECK, RECHECK);
        loop {
            if *stopping.borrow() {
                return;
            }
            let update = tokio::select! {
                update = subscription.next() => update,
                _ = keep_alive.tick() => {
                    if self.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
                _ = recheck.tick() => {
                    if !self.still_allowed().await {
                        return;
                    }
                    continue;
                }
                changed = access.changed() => {
                    if !changed || !self.still_allowed().await {
                        return;
                    }
                    continue;
                }
                _ = stopping.changed() => return,
                _ = self.frames.closed() => return,
            };
            let outcome = match update {
                Some(Update::Batch(batch)) => self.send_batch(&batch, sent).await,
                Some(Update::Reload) => self.catch_up(sent).await,
                None => return,
            };
            match outcome {
                Ok(Some(last)) => sent = last,
                Ok(None) => {}
                Err(End::Gone) => return,
            }
        }
    }

    /// Whether the session is still live and its student still takes the
    /// class. A database that cannot answer does not end the stream.
    async fn still_allowed(&self) -> bool {
        let (viewer, session, class) = (
            self.viewer.clone(),
            self.session_id.clone(),
            self.class_id.clone(),
        );
        let checked = with_conn(&self.state.pool, move |conn| {
            let live = sessions::list_for_user(conn, &viewer, clock::now())?
                .iter()
                .any(|s| s.id == session);
            Ok(live && classes::is_enrolled(conn, &viewer, &class)?)
        })
        .await;
        checked.unwrap_or(true)
    }

    /// Reads the class's events after `after` from the database and sends
    /// them; a page that missed too many is told to reload.
    async fn catch_up(&self, after: i64) -> Result<Option<i64>, End> {
        let class_id = self.class_id.clone();
        let loaded = with_conn(&self.state.pool, move |conn| {
            Ok(chat_live::load(conn, &class_id, after, REPLAY_LIMIT)?)
        })
        .await;
        let batch = match loaded {
            Ok(batch) => batch,
            Err(error) => {
                // The browser reconnects with its Last-Event-ID and tries again.
                tracing::warn!(%error, "live stream: reading missed events failed");
                return Err(End::Gone);
            }
        };
        let now = clock::now();
        let views = batch.views_for(&self.viewer, after, &self.rules, now);
        if views.len() as i64 >= REPLAY_LIMIT {
            let _ = self.send(reload_frame()).await;
            return Err(End::Gone);
        }
        self.send_views(views, now).await
    }

    /// Sends the batch's events after `after`, shaped for this stream's student.
    async fn send_batch(&self, batch: &LiveBatch, after: i64) -> Result<Option<i64>, End> {
        let now = clock::now();
        let views = batch.views_for(&self.viewer, after, &self.rules, now);
        self.send_views(views, now).await
    }

    async fn send_views(
        &self,
        views: Vec<LiveEvent>,
        now: chrono::NaiveDateTime,
    ) -> Result<Option<i64>, End> {
        let mut last = None;
        for event in views {
            let frame = match self.frame(&event, now) {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::warn!(%error, "live stream: an event could not be rendered");
                    return Err(End::Gone);
                }
            };
            self.send(frame).await.map_err(|_| End::Gone)?;
            last = Some(event.seq);
        }
        Ok(last)
    }

    fn frame(&self, event: &LiveEvent, now: chrono::NaiveDateTime) -> Result<Bytes, AppError> {
        let data = event_data(event, &self.class_id, &self.csrf_token, &self.state, now)?;
        let mut frame = format!("id: {}\nevent: {}\n", event.seq, event.kind.as_str());
        // JSON has no raw line breaks; split anyway so a frame can never be cut short.
        for line in data.lines() {
            frame.push_str("data: ");
            frame.push_str(line);
            frame.push('\n');
        }
        frame.push('\n');
        Ok(Bytes::from(frame))
    }

    async fn send(&self, frame: Bytes) -> Result<(), mpsc::error::SendError<Bytes>> {
        self.frames.send(frame).await
    }
}

fn reload_frame() -> Bytes {
    Bytes::from_static(b"event: reload\ndata: {}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_from_before_the_oldest_kept_event_reloads() {
        assert!(pruned_past(40, Some(51)));
        assert!(pruned_past(40, None));
        assert!(!pruned_past(51, Some(51)));
        assert!(!pruned_past(60, Some(51)));
        // A page of a class with no events yet missed nothing that was pruned.
        assert!(!pruned_past(0, Some(51)));
        assert!(!pruned_past(0, None));
    }

    #[test]
    fn a_page_from_after_the_newest_event_reloads() {
        // A database restored from a snapshot numbers events from 70 again.
        assert!(must_reload(120, 70, Some(51)));
        assert!(!must_reload(70, 70, Some(51)));
        assert!(!must_reload(60, 70, Some(51)));
        assert!(must_reload(40, 70, Some(51)), "pruned");
    }
}
