-- Back to the three endings: a removal's kept text goes.
DELETE FROM message_revisions WHERE ended_by = 'staff_removal';
CREATE TABLE message_revisions_old (
    id          TEXT PRIMARY KEY NOT NULL,
    message_id  TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    content     TEXT NOT NULL,
    written_at  TIMESTAMP NOT NULL,
    ended_by    TEXT NOT NULL CHECK (ended_by IN ('edit', 'author_delete', 'erasure')),
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO message_revisions_old SELECT id, message_id, content, written_at, ended_by, created_at FROM message_revisions;
DROP TABLE message_revisions;
ALTER TABLE message_revisions_old RENAME TO message_revisions;
CREATE INDEX idx_message_revisions_message ON message_revisions (message_id, created_at);
