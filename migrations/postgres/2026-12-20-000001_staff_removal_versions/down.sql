-- Back to the three endings: a removal's kept text goes.
DELETE FROM message_revisions WHERE ended_by = 'staff_removal';
ALTER TABLE message_revisions DROP CONSTRAINT message_revisions_ended_by_check;
ALTER TABLE message_revisions ADD CONSTRAINT message_revisions_ended_by_check
    CHECK (ended_by IN ('edit', 'author_delete', 'erasure'));
