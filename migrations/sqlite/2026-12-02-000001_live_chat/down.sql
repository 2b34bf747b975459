DROP TABLE chat_thread_reads;
DROP TABLE chat_class_reads;
DROP TABLE chat_events;
DROP INDEX idx_class_messages_by_activity;
ALTER TABLE class_messages DROP COLUMN last_activity_at;
