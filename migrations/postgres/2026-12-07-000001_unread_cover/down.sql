DROP INDEX idx_class_messages_replies;
CREATE INDEX idx_class_messages_thread_root ON class_messages (thread_root_id, created_at);
DROP INDEX idx_class_messages_unread;
