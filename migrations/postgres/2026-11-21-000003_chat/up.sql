-- Chat threads and pseudonyms. Keep in step with the other backend's tree.

-- Each reply names the first message of its thread (NULL on a thread's first
-- message), so one indexed query loads every reply of a page of threads, however
-- deep. Written by chat::post; filled here for rows that predate it.
ALTER TABLE class_messages ADD COLUMN thread_root_id TEXT;

WITH RECURSIVE tree (id, root_id) AS (
    SELECT id, id FROM class_messages WHERE parent_message_id IS NULL
    UNION ALL
    SELECT m.id, tree.root_id FROM class_messages m JOIN tree ON m.parent_message_id = tree.id
)
UPDATE class_messages
SET thread_root_id = (SELECT root_id FROM tree WHERE tree.id = class_messages.id)
WHERE parent_message_id IS NOT NULL;

CREATE INDEX idx_class_messages_thread_root ON class_messages (thread_root_id, created_at);
-- The chat page's keyset over a class's threads, without stepping over replies.
CREATE INDEX idx_class_messages_class_roots ON class_messages (class_id, created_at DESC, id DESC)
    WHERE parent_message_id IS NULL;
-- Pseudonym clash checks: is this identifier already someone's in this class?
CREATE INDEX idx_class_messages_class_pseudonym ON class_messages (class_id, anonymous_identifier);
