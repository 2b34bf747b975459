DELETE FROM audit_log WHERE action IN ('pin', 'unpin');
CREATE TABLE audit_log_old (
    id           TEXT PRIMARY KEY NOT NULL,
    -- NULL once the actor's account is deleted: the entry itself is kept.
    actor_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    action       TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'delete', 'reveal', 'suspend',
                 'lift_suspension', 'role_change', 'sync_started', 'author_delete')),
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    reason       TEXT,
    details      TEXT,
    created_at   TIMESTAMP NOT NULL
);
INSERT INTO audit_log_old SELECT id, actor_id, action, target_type, target_id, reason, details, created_at FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_old RENAME TO audit_log;
CREATE INDEX idx_audit_log_created ON audit_log (created_at);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_id, created_at);
CREATE INDEX idx_audit_log_action ON audit_log (action, created_at);
DROP TABLE chat_pseudonyms;
DROP TABLE message_votes;
DROP INDEX idx_class_messages_pinned;
DROP INDEX idx_class_messages_by_votes;
ALTER TABLE class_messages DROP COLUMN pinned_at;
ALTER TABLE class_messages DROP COLUMN answer_id;
ALTER TABLE class_messages DROP COLUMN vote_count;
