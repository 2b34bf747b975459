-- Questions that get answered (issue 18). Keep in step with the other backend's tree.

-- Upvotes: one row per student per message, never shown per student; the count
-- on the message is kept by chat::votes (their only writer) in the same
-- transaction, so "top" can be listed from an index.
ALTER TABLE class_messages ADD COLUMN vote_count INTEGER NOT NULL DEFAULT 0;
-- On a thread's first message: the reply its starter (or a moderator) marked as the answer.
ALTER TABLE class_messages ADD COLUMN answer_id TEXT REFERENCES class_messages (id) ON DELETE SET NULL;
-- On a thread's first message: when a moderator pinned it (at most 3 per class, kept by chat).
ALTER TABLE class_messages ADD COLUMN pinned_at TIMESTAMP;
CREATE INDEX idx_class_messages_by_votes ON class_messages (class_id, vote_count DESC, last_activity_at DESC, id DESC)
    WHERE parent_message_id IS NULL;
CREATE INDEX idx_class_messages_pinned ON class_messages (class_id, pinned_at)
    WHERE pinned_at IS NOT NULL;

CREATE TABLE message_votes (
    message_id  TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX idx_message_votes_user ON message_votes (user_id, class_id);

-- Memorable pseudonyms: a student's two-word name in a class, taken once and
-- kept for the term. A name stays taken after its student's account is erased
-- (user_id set to NULL), so nobody else ever posts under it in that class.
CREATE TABLE chat_pseudonyms (
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    user_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (class_id, name)
);
CREATE UNIQUE INDEX idx_chat_pseudonyms_user_class ON chat_pseudonyms (user_id, class_id);

-- Moderators pin and unpin threads, audited. SQLite cannot change a CHECK in
-- place: the table is rebuilt (nothing references it).
CREATE TABLE audit_log_new (
    id           TEXT PRIMARY KEY NOT NULL,
    -- NULL once the actor's account is deleted: the entry itself is kept.
    actor_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    action       TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'delete', 'reveal', 'suspend',
                 'lift_suspension', 'role_change', 'sync_started', 'author_delete', 'pin', 'unpin')),
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    reason       TEXT,
    details      TEXT,
    created_at   TIMESTAMP NOT NULL
);
INSERT INTO audit_log_new SELECT id, actor_id, action, target_type, target_id, reason, details, created_at FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX idx_audit_log_created ON audit_log (created_at);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_id, created_at);
CREATE INDEX idx_audit_log_action ON audit_log (action, created_at);
