-- SQLite's full-text index keeps a deleted message's words until a merge
-- unless told otherwise (see the SQLite tree). PostgreSQL's search index is
-- a GIN index on class_messages, whose dead entries VACUUM removes: nothing
-- to change here. Keep in step with the other backend's tree.
SELECT 1;
