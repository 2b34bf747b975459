-- "What is new to me" (issue 22): the nav's dot and home's unread counts read
-- a class's recent messages by (class_id, created_at) and then need only
-- their flags, author and thread. Carried in the index, SQLite answers both
-- from the index alone (a covering index) instead of reading each message's
-- row, content and all. SQLite has no INCLUDE, so the carried columns are
-- trailing key columns. Keep in step with the other backend's tree.
CREATE INDEX idx_class_messages_unread ON class_messages
    (class_id, created_at, deleted, hidden, held, user_id, thread_root_id, id);

-- The same for a thread's replies: the chat list counts each thread's shown,
-- new and answering replies by (thread_root_id, created_at); the covering
-- index replaces the plain one.
DROP INDEX idx_class_messages_thread_root;
CREATE INDEX idx_class_messages_replies ON class_messages
    (thread_root_id, created_at, deleted, hidden, held, user_id, id);
