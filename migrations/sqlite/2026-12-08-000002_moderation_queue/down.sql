DROP INDEX idx_class_messages_hidden;
