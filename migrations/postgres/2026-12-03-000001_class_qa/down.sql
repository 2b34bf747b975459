DELETE FROM audit_log WHERE action IN ('pin', 'unpin');
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete'));
DROP TABLE chat_pseudonyms;
DROP TABLE message_votes;
DROP INDEX idx_class_messages_pinned;
DROP INDEX idx_class_messages_by_votes;
ALTER TABLE class_messages DROP COLUMN pinned_at;
ALTER TABLE class_messages DROP COLUMN answer_id;
ALTER TABLE class_messages DROP COLUMN vote_count;
