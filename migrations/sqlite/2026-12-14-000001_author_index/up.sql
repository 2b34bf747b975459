-- A student's own posts in one class, newest last (issue 22): the chat
-- page's head asks whether the viewer posted there in the last 14 days (the
-- anonymity note counts them once), and posting looks for the same text
-- posted there moments before. By user_id alone, PostgreSQL joined that
-- index with the class's (class_id, created_at) range, reading all of a
-- lecture's recent posts (506 entries) to find none of the viewer's; by
-- (user_id, class_id, created_at) it reads a few entries. It keeps serving
-- every look-up by author (export, erasure), so it replaces the plain one.
-- Keep in step with the other backend's tree.
CREATE INDEX idx_class_messages_author ON class_messages (user_id, class_id, created_at);
DROP INDEX idx_class_messages_user_id;
