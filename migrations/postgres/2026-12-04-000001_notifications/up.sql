-- Notifications (issue 19). Keep in step with the other backend's tree.
-- Every table here is written only by `notifications`; the writers of what
-- happened (chat, friends, moderation) call it inside their own transactions.

-- Threads a student follows: the ones they start or reply to, and any they
-- follow by hand. `following = FALSE` is an explicit unfollow: no reply in that
-- thread notifies them, not even a reply to their own message, until they
-- follow again (by hand, or by replying once more).
CREATE TABLE thread_follows (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    thread_id   TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    following   BOOLEAN NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, thread_id)
);
CREATE INDEX idx_thread_follows_thread ON thread_follows (thread_id, following);
CREATE INDEX idx_thread_follows_class ON thread_follows (class_id);

-- Everyone already follows the threads they started or replied to.
INSERT INTO thread_follows (user_id, thread_id, class_id, following, updated_at)
SELECT user_id, COALESCE(thread_root_id, id), class_id, TRUE, MAX(created_at)
FROM class_messages
WHERE user_id IS NOT NULL
GROUP BY user_id, COALESCE(thread_root_id, id), class_id;

-- A muted class notifies its student of nothing (rows are not even written).
CREATE TABLE class_mutes (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, class_id)
);
CREATE INDEX idx_class_mutes_class ON class_mutes (class_id);

-- How a student wants to hear of each topic by email; a missing row means the
-- default (README: replies by digest, the rest immediately).
CREATE TABLE notification_settings (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    delivery    TEXT NOT NULL CHECK (delivery IN ('off', 'immediate', 'digest')),
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, topic)
);

-- The hour (campus time, 0-23) a student's daily digest goes out; a missing
-- row means the default hour.
CREATE TABLE notification_schedules (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest_hour  INTEGER NOT NULL CHECK (digest_hour BETWEEN 0 AND 23),
    updated_at   TIMESTAMP NOT NULL
);

-- One row per digest window claimed: a student's digest for a campus date is
-- claimed once (the unique key), in the transaction that queues its email in
-- `email_outbox` and stamps the notifications it lists, so a crash or a second
-- app process can neither drop nor double it.
CREATE TABLE notification_digests (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    campus_date  TEXT NOT NULL,
    items        INTEGER NOT NULL,
    outbox_id    TEXT,
    created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_notification_digests_window ON notification_digests (user_id, campus_date);

-- What happened for whom: one row per event per student, written in the
-- event's transaction. No CHECK on `kind`: a new kind is one Rust enum value
-- and one template, and a row of a kind this build does not know is skipped.
-- Chat kinds carry message and thread ids, never who wrote the message;
-- `other_user_id` is only for friend kinds, where the name is the point.
-- `created_at` may be in the future: a suspension's end is written when the
-- suspension is, and shows (and mails) from then.
-- `delivery` is how it is to be emailed, fixed from the student's settings
-- when written (a settings change rewrites the rows still waiting);
-- `emailed_at` is when its immediate email was queued or its digest claimed.
CREATE TABLE notifications (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    class_id       TEXT REFERENCES classes (id) ON DELETE CASCADE,
    thread_id      TEXT REFERENCES class_messages (id) ON DELETE CASCADE,
    message_id     TEXT REFERENCES class_messages (id) ON DELETE CASCADE,
    other_user_id  TEXT REFERENCES users (id) ON DELETE CASCADE,
    detail         TEXT,
    delivery       TEXT NOT NULL CHECK (delivery IN ('off', 'immediate', 'digest')),
    emailed_at     TIMESTAMP,
    digest_id      TEXT REFERENCES notification_digests (id) ON DELETE SET NULL,
    created_at     TIMESTAMP NOT NULL,
    read_at        TIMESTAMP
);
CREATE INDEX idx_notifications_user ON notifications (user_id, created_at DESC, id DESC);
-- The nav's count (unread and showing): the partial index holds the time too.
CREATE INDEX idx_notifications_unread ON notifications (user_id, created_at) WHERE read_at IS NULL;
-- What the email worker still has to look at. The predicate has no value a
-- query would bind (SQLite uses a partial index only when the query repeats
-- its WHERE terms literally).
CREATE INDEX idx_notifications_to_email ON notifications (delivery, created_at)
    WHERE emailed_at IS NULL;
CREATE INDEX idx_notifications_created ON notifications (created_at);
CREATE INDEX idx_notifications_class ON notifications (class_id);
CREATE INDEX idx_notifications_thread ON notifications (thread_id);
CREATE INDEX idx_notifications_message ON notifications (message_id);
CREATE INDEX idx_notifications_other_user ON notifications (other_user_id);
CREATE INDEX idx_notifications_digest ON notifications (digest_id);

-- Emails other than sign-in carry a one-click unsubscribe URL (RFC 8058).
ALTER TABLE email_outbox ADD COLUMN list_unsubscribe TEXT;
