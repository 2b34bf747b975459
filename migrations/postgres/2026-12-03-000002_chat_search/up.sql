-- Search in a class (issue 18). Keep in step with the other backend's tree.
--
-- PostgreSQL's own full-text search: each message students can see, as a
-- tsvector (English stemming), under a GIN index. chat::search keeps it in step
-- from the one hook every chat writer calls (events::record), in the writer's
-- transaction, and removes a message on delete or hide; a message deleted by
-- any path (a cascade too) leaves it through the foreign key.
CREATE TABLE chat_search (
    message_id  TEXT PRIMARY KEY NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    class_id    TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    document    tsvector NOT NULL
);
CREATE INDEX idx_chat_search_document ON chat_search USING gin (document);
CREATE INDEX idx_chat_search_class ON chat_search (class_id, thread_id);

-- Everything students can see today. `<` is read as a plain separator (chr(1)),
-- so the parser does not take `<b>word</b>` for tags and skip the words.
INSERT INTO chat_search (message_id, class_id, thread_id, document)
    SELECT id, class_id, COALESCE(thread_root_id, id), to_tsvector('english', replace(content, '<', chr(1)))
    FROM class_messages WHERE NOT hidden AND NOT deleted;
