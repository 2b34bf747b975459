//! A plain Server-Sent Events reader over reqwest's streamed body, as any HTTP
//! client would read one: the raw bytes as they come, cut into frames.

use std::time::Duration;

use tokio::time::Instant;

/// One frame of an event stream (comments are kept in the raw bytes only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<i64>,
    pub event: String,
    pub data: String,
}

/// An open event stream.
pub struct EventStream {
    response: reqwest::Response,
    /// Every byte received so far.
    pub raw: Vec<u8>,
    buffer: String,
    /// False once the server ended the body.
    pub open: bool,
}

impl EventStream {
    /// Opens `url` with `client`, sending `Last-Event-ID` when given; the
    /// status and the response's headers stay readable on the stream.
    pub async fn open(
        client: &reqwest::Client,
        url: &str,
        last_event_id: Option<i64>,
    ) -> EventStream {
        let mut request = client
            .get(url)
            .header("Accept", "text/event-stream")
            .header("Accept-Encoding", "gzip");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        EventStream {
            response,
            raw: Vec::new(),
            buffer: String::new(),
            open: true,
        }
    }

    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The next frame (not a comment), waiting at most until `deadline`.
    pub async fn next_frame_by(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            if let Some(frame) = self.take_frame() {
                return Some(frame);
            }
            if !self.open {
                return None;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => {
                    self.raw.extend_from_slice(&bytes);
                    self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
                }
                Ok(Ok(None)) | Ok(Err(_)) => self.open = false,
            }
        }
    }

    /// The next frame within `wait`.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Frame> {
        self.next_frame_by(Instant::now() + wait).await
    }

    /// The data of the next frame about `message` (its `message` field),
    /// past frames about others, within `wait`; None if none came.
    pub async fn data_about(&mut self, message: &str, wait: Duration) -> Option<serde_json::Value> {
        let deadline = Instant::now() + wait;
        while let Some(frame) = self.next_frame_by(deadline).await {
            let Ok(data) = serde_json::from_str::<serde_json::Value>(&frame.data) else {
                continue;
            };
            if data["message"] == message {
                return Some(data);
            }
        }
        None
    }

    /// Frames until `n` of them arrived or `wait` ran out.
    pub async fn frames(&mut self, n: usize, wait: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + wait;
        let mut frames = Vec::new();
        while frames.len() < n {
            match self.next_frame_by(deadline).await {
                Some(frame) => frames.push(frame),
                None => break,
            }
        }
        frames
    }

    /// Waits until the server ends the body (true) or `wait` runs out.
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while self.open {
            if self.next_frame_by(deadline).await.is_none() && self.open {
                return false;
            }
        }
        true
    }

    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).to_string()
    }

    fn take_frame(&mut self) -> Option<Frame> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer[..end].to_string();
            self.buffer.drain(..end + 2);
            let mut frame = Frame {
                id: None,
                event: "message".to_string(),
                data: String::new(),
            };
            let mut any = false;
            for line in block.lines() {
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => frame.id = value.parse().ok(),
                    "event" => frame.event = value.to_string(),
                    "data" => {
                        if !frame.data.is_empty() {
                            frame.data.push('\n');
                        }
                        frame.data.push_str(value);
                    }
                    _ => continue,
                }
                any = true;
            }
            if any {
                return Some(frame);
            }
        }
    }
}
