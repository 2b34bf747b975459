DROP INDEX idx_class_messages_class_pseudonym;
DROP INDEX idx_class_messages_class_roots;
DROP INDEX idx_class_messages_thread_root;
ALTER TABLE class_messages DROP COLUMN thread_root_id;
