DELETE FROM audit_log WHERE action = 'author_delete';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started'));

DROP TABLE message_revisions;
DROP INDEX idx_message_flags_pending;
ALTER TABLE message_flags DROP COLUMN reported_again_at;
ALTER TABLE message_flags DROP COLUMN cleared_at;
ALTER TABLE message_flags DROP COLUMN counted;
