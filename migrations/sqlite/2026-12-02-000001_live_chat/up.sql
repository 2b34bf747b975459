-- A chat students come back to (issue 17). Keep in step with the other backend's tree.

-- Threads are listed by their latest activity: a reply bumps its thread. Kept
-- on the thread's first message by chat (its only writer), under the class lock.
ALTER TABLE class_messages ADD COLUMN last_activity_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE class_messages SET last_activity_at = created_at;
UPDATE class_messages SET last_activity_at = (
    SELECT MAX(r.created_at) FROM class_messages r
    WHERE r.thread_root_id = class_messages.id OR r.id = class_messages.id
) WHERE parent_message_id IS NULL;
CREATE INDEX idx_class_messages_by_activity ON class_messages (class_id, last_activity_at DESC, id DESC)
    WHERE parent_message_id IS NULL;

-- What happened in a class's chat, in commit order within the class (each
-- writer holds the class lock), so a browser that reconnects with Last-Event-ID
-- gets what it missed from here, never from memory. Ids only: no author, no text.
-- The message may be gone (a delete), so it is not a foreign key.
CREATE TABLE chat_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    class_id    TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    thread_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('thread', 'reply', 'edit', 'delete', 'hide', 'restore')),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX idx_chat_events_class_seq ON chat_events (class_id, seq);
CREATE INDEX idx_chat_events_created ON chat_events (created_at);

-- What a student has read, never shown to anyone else. A class mark ("mark all
-- read"; before it, the day they joined) and a mark per thread they opened:
-- a message is new to them when it is newer than both, and not their own.
CREATE TABLE chat_class_reads (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    class_id      TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    read_through  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, class_id)
);
CREATE INDEX idx_chat_class_reads_class ON chat_class_reads (class_id);

CREATE TABLE chat_thread_reads (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    thread_id     TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    class_id      TEXT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    read_through  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, thread_id)
);
CREATE INDEX idx_chat_thread_reads_thread ON chat_thread_reads (thread_id);
CREATE INDEX idx_chat_thread_reads_user_class ON chat_thread_reads (user_id, class_id);
CREATE INDEX idx_chat_thread_reads_class ON chat_thread_reads (class_id);
