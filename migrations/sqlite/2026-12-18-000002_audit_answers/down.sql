DELETE FROM audit_log WHERE action IN ('mark_answer', 'unmark_answer');
CREATE TABLE audit_log_new (
    id           TEXT PRIMARY KEY NOT NULL,
    -- NULL once the actor's account is deleted, or for the command line: the entry itself is kept.
    actor_id     TEXT REFERENCES users (id) ON DELETE SET NULL,
    action       TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'delete', 'reveal', 'suspend',
                 'lift_suspension', 'role_change', 'sync_started', 'author_delete', 'pin', 'unpin',
                 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
                 'reveal_urgent', 'release',
                 'export_data', 'erase_account', 'clear_display_name',
                 'end_name_wait')),
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    reason       TEXT,
    details      TEXT,
    created_at   TIMESTAMP NOT NULL,
    -- No foreign key: an entry outlives its class.
    class_id     TEXT,
    category     TEXT CHECK (category IN ('harassment', 'personal_info', 'hate', 'spam',
                 'academic_integrity', 'other', 'reports'))
);
INSERT INTO audit_log_new (id, actor_id, action, target_type, target_id, reason, details, created_at, class_id, category)
    SELECT id, actor_id, action, target_type, target_id, reason, details, created_at, class_id, category
    FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX idx_audit_log_created ON audit_log (created_at);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_id, created_at);
CREATE INDEX idx_audit_log_action ON audit_log (action, created_at);
CREATE INDEX idx_audit_log_class ON audit_log (class_id, created_at) WHERE class_id IS NOT NULL;
CREATE INDEX idx_audit_log_target ON audit_log (target_type, target_id);
