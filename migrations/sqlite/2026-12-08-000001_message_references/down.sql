DROP INDEX idx_class_messages_answer;
DROP INDEX idx_class_messages_parent_id;
CREATE INDEX idx_class_messages_parent_id ON class_messages (parent_message_id);
