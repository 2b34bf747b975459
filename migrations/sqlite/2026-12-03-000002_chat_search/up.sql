-- Search in a class (issue 18). Keep in step with the other backend's tree.
--
-- SQLite's own full-text index, FTS5 (the bundled SQLite has it). It holds the
-- text of every message students can see, and nothing else: chat::search keeps
-- it in step from the one hook every chat writer calls (events::record), in the
-- writer's transaction, and removes a message on delete or hide.
--
-- An FTS5 table has only an integer rowid, and class_messages has text ids, so
-- chat_search_docs gives each indexed message its row number (`doc`, the FTS
-- rowid) with its class and thread. Looking a message up or removing it is then
-- an index lookup, not a scan of the FTS table, and a message deleted by any
-- path (a cascade too) leaves the index through the foreign key and the trigger.
CREATE TABLE chat_search_docs (
    doc         INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE REFERENCES class_messages (id) ON DELETE CASCADE,
    class_id    TEXT NOT NULL,
    thread_id   TEXT NOT NULL
);
CREATE INDEX idx_chat_search_docs_class ON chat_search_docs (class_id, thread_id);

CREATE VIRTUAL TABLE chat_search USING fts5(content, tokenize = 'porter unicode61');

CREATE TRIGGER chat_search_docs_removed AFTER DELETE ON chat_search_docs
BEGIN
    DELETE FROM chat_search WHERE rowid = old.doc;
END;

-- Everything students can see today.
INSERT INTO chat_search_docs (message_id, class_id, thread_id)
    SELECT id, class_id, COALESCE(thread_root_id, id) FROM class_messages
    WHERE hidden = 0 AND deleted = 0;
INSERT INTO chat_search (rowid, content)
    SELECT d.doc, m.content FROM chat_search_docs d JOIN class_messages m ON m.id = d.message_id;
