-- The two columns by which a message points at another message, indexed for
-- the lookups and deletes that follow them. Keep in step with the other
-- backend's tree.

-- Replies are found by their parent (a thread page, a delete's cascade); a
-- thread's first message has no parent, and was a quarter of this index for
-- nothing. On SQLite the full index could also be taken for a class's thread
-- list ("parent_message_id IS NULL"), 106 ms instead of 0.5 on the scale
-- campus (bench/README.md, session 15); PostgreSQL knows the column's null
-- fraction and never did, but keeps the smaller index too.
-- `parent_message_id = $1` implies IS NOT NULL, so every lookup by parent
-- still uses it.
DROP INDEX idx_class_messages_parent_id;
CREATE INDEX idx_class_messages_parent_id ON class_messages (parent_message_id)
    WHERE parent_message_id IS NOT NULL;

-- `answer_id ... ON DELETE SET NULL` (000001_class_qa) had no index: deleting
-- any message (a student removing a reply, an erasure) read all of
-- class_messages to find threads naming it as their answer. On the scale
-- campus, deleting a message with 7 replies spent 1,624 ms in that one
-- constraint's trigger (`EXPLAIN ANALYZE`), under the class's lock. Only
-- answered threads carry one.
CREATE INDEX idx_class_messages_answer ON class_messages (answer_id)
    WHERE answer_id IS NOT NULL;
