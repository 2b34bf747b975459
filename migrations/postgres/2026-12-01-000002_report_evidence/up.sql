-- Reports a small group cannot abuse, and evidence a moderator can trust.
-- Keep in step with the other backend's tree.

-- A report is kept after a moderator reviews it (restore or dismiss): it is
-- marked cleared instead of deleted, so the queue still shows who complained
-- before, and the same students cannot hide the message a second time.
-- `counted` says whether the report counted toward the automatic hide (a
-- student newer to the class than REPORT_MIN_MEMBERSHIP_HOURS, or one
-- reporting again after a review, is heard by moderators but not counted).
ALTER TABLE message_flags ADD COLUMN counted BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE message_flags ADD COLUMN cleared_at TIMESTAMP;
ALTER TABLE message_flags ADD COLUMN reported_again_at TIMESTAMP;
-- The moderators' queue: messages with reports not yet reviewed.
CREATE INDEX idx_message_flags_pending ON message_flags (message_id) WHERE cleared_at IS NULL;

-- Earlier text of a message under report (or hidden): what an edit replaced,
-- or what its author's delete (or an erasure) removed from students' view.
-- Only evidence is kept; a message nobody reported keeps no history.
CREATE TABLE message_revisions (
    id          TEXT PRIMARY KEY NOT NULL,
    message_id  TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    content     TEXT NOT NULL,
    -- When this text first showed: the post, or the edit that brought it in.
    written_at  TIMESTAMP NOT NULL,
    ended_by    TEXT NOT NULL CHECK (ended_by IN ('edit', 'author_delete', 'erasure')),
    -- When it stopped showing.
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX idx_message_revisions_message ON message_revisions (message_id, created_at);

-- The audit log records an author's delete of a reported message.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete'));
