-- An erased or deleted message's words leave the search index at once. FTS5
-- otherwise leaves them in an older segment until a merge, so a copy of the
-- file taken later (a backup, a disk image) would still hold them; with
-- secure-delete (SQLite 3.42+) a delete rewrites the segment without them,
-- and PRAGMA secure_delete (db/mod.rs) overwrites what was freed. Keep in
-- step with the other backend's tree.
INSERT INTO chat_search (chat_search, rank) VALUES ('secure-delete', 1);
