-- A moderator's removal keeps the removed text as a version for moderators
-- (`staff_removal`): a mistaken removal can be read again, and an appeal or a
-- conduct case has the words. An erasure of the author deletes it with the
-- rest. SQLite cannot change a CHECK in place: the table is rebuilt (nothing
-- references it). Keep in step with the other backend's tree.
CREATE TABLE message_revisions_new (
    id          TEXT PRIMARY KEY NOT NULL,
    message_id  TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    content     TEXT NOT NULL,
    written_at  TIMESTAMP NOT NULL,
    ended_by    TEXT NOT NULL CHECK (ended_by IN ('edit', 'author_delete', 'erasure', 'staff_removal')),
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO message_revisions_new SELECT id, message_id, content, written_at, ended_by, created_at FROM message_revisions;
DROP TABLE message_revisions;
ALTER TABLE message_revisions_new RENAME TO message_revisions;
CREATE INDEX idx_message_revisions_message ON message_revisions (message_id, created_at);
