-- A moderator's removal keeps the removed text as a version for moderators
-- (`staff_removal`): a mistaken removal can be read again, and an appeal or a
-- conduct case has the words. An erasure of the author deletes it with the
-- rest. Keep in step with the other backend's tree.
ALTER TABLE message_revisions DROP CONSTRAINT message_revisions_ended_by_check;
ALTER TABLE message_revisions ADD CONSTRAINT message_revisions_ended_by_check
    CHECK (ended_by IN ('edit', 'author_delete', 'erasure', 'staff_removal'));
