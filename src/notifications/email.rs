//! Email for notifications: immediate emails and daily digests, claimed in the database and queued through mail's outbox, each with a signed one-click unsubscribe link (RFC 8058).
