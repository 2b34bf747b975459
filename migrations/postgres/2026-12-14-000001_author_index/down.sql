CREATE INDEX idx_class_messages_user_id ON class_messages (user_id);
DROP INDEX idx_class_messages_author;
