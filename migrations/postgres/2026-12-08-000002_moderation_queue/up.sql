-- The moderators' queue counts and lists hidden messages (by reports or by a
-- moderator) that are not removed; without an index that was a read of all
-- of class_messages for each count (312 ms on SQLite at scale, with the
-- waiting reports). Only hidden messages are in it. Keep in step with the
-- other backend's tree.
CREATE INDEX idx_class_messages_hidden ON class_messages (id) WHERE hidden AND NOT deleted;
