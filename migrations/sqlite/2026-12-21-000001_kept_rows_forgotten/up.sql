-- A message deleted for good takes along, through its row's cascades, the
-- votes on it, the answer mark naming it, the notices about it, and for a
-- thread its follows and read marks. Until now a delete that kept the row
-- (kept for moderators: it was reported; or above replies no one sees) left
-- them all, so a classmate could tell the message had been kept, so
-- reported. The code now drops them as such a row leaves every page
-- (chat::tombstone, chat::left_every_page); this drops those left before.
-- Keep in step with the other backend's tree.
DELETE FROM message_votes
    WHERE message_id IN (SELECT id FROM class_messages WHERE deleted);
UPDATE class_messages SET answer_id = NULL
    WHERE answer_id IN (SELECT id FROM class_messages WHERE deleted);

-- What the class sees (threads::shown_replies): each message neither
-- deleted nor held, and every message above one of those. Keyed, so the
-- anti-join below reads it by index however many messages there are.
CREATE TEMPORARY TABLE shown_rows (id TEXT PRIMARY KEY NOT NULL);
WITH RECURSIVE shown (id, parent) AS (
    SELECT id, parent_message_id FROM class_messages
        WHERE NOT deleted AND NOT held
    UNION
    SELECT m.id, m.parent_message_id FROM class_messages m
        JOIN shown s ON m.id = s.parent
)
INSERT INTO shown_rows (id) SELECT id FROM shown;
CREATE TEMPORARY TABLE unseen_rows AS
    SELECT m.id, m.parent_message_id FROM class_messages m
        WHERE m.deleted
          AND NOT EXISTS (SELECT 1 FROM shown_rows s WHERE s.id = m.id);

-- The notices a thread page shows (notifications::chat::shown_by_the_thread);
-- a moderator's word to the author stays.
DELETE FROM notifications
    WHERE kind IN ('reply', 'thread_reply', 'answered', 'answer_chosen')
      AND (message_id IN (SELECT id FROM unseen_rows)
           OR thread_id IN (SELECT id FROM unseen_rows WHERE parent_message_id IS NULL));
DELETE FROM thread_follows
    WHERE thread_id IN (SELECT id FROM unseen_rows WHERE parent_message_id IS NULL);
DELETE FROM chat_thread_reads
    WHERE thread_id IN (SELECT id FROM unseen_rows WHERE parent_message_id IS NULL);

DROP TABLE shown_rows;
DROP TABLE unseen_rows;
