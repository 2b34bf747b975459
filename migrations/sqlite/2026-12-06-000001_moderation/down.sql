DROP TABLE reveal_requests;
DROP INDEX idx_class_messages_held;
ALTER TABLE class_messages DROP COLUMN held_reason;
ALTER TABLE class_messages DROP COLUMN held;
DELETE FROM audit_log WHERE action IN ('dismiss', 'view_class', 'reveal_request', 'reveal_approve',
    'reveal_decline', 'reveal_urgent', 'release');
CREATE TABLE audit_log_old (
    id           TEXT PRIMARY KEY NOT NULL,
    actor_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    action       TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'delete', 'reveal', 'suspend',
                 'lift_suspension', 'role_change', 'sync_started', 'author_delete', 'pin', 'unpin')),
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
