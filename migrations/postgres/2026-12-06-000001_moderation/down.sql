DROP TABLE reveal_requests;
DROP INDEX idx_class_messages_held;
ALTER TABLE class_messages DROP COLUMN held_reason;
ALTER TABLE class_messages DROP COLUMN held;
DROP INDEX idx_audit_log_target;
DROP INDEX idx_audit_log_class;
ALTER TABLE audit_log DROP COLUMN category;
ALTER TABLE audit_log DROP COLUMN class_id;
DELETE FROM audit_log WHERE action IN ('dismiss', 'view_class', 'reveal_request', 'reveal_approve',
    'reveal_decline', 'reveal_urgent', 'release');
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin'));
