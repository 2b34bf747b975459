-- The two columns by which a message points at another message, indexed for
-- the lookups and deletes that follow them. Keep in step with the other
-- backend's tree.

-- Replies are found by their parent (a thread page, a delete's cascade); a
-- thread's first message has no parent, and was a quarter of this index for
-- nothing. Worse, the planner could take the index for a class's thread list
-- ("parent_message_id IS NULL"), walking every thread of every class: with
-- the scale campus's statistics and no STAT4 samples (which the hourly
-- `PRAGMA optimize` does not gather), the chat page's list took 106 ms
-- instead of 0.5 (bench/README.md, session 15). Indexing only replies keeps
-- that plan out of reach; `parent_message_id = ?` implies IS NOT NULL, so
-- every lookup by parent still uses it.
DROP INDEX idx_class_messages_parent_id;
CREATE INDEX idx_class_messages_parent_id ON class_messages (parent_message_id)
    WHERE parent_message_id IS NOT NULL;

-- `answer_id ... ON DELETE SET NULL` (000001_class_qa) had no index: deleting
-- any message (a student removing a reply, an erasure) read all of
-- class_messages to find threads naming it as their answer, 1.7 s under the
-- write lock on the scale campus; 0.8 ms with this index. Only answered
-- threads carry one.
CREATE INDEX idx_class_messages_answer ON class_messages (answer_id)
    WHERE answer_id IS NOT NULL;
