-- Moderation a campus can trust (issue 21). Keep in step with the other backend's tree.
--
-- The audit log gains the class an entry is about (so the public moderation
-- log and the staff pages read one indexed column, not `details`) and, for a
-- removal or hide, the reason's category from a short fixed list (the public
-- log shows only that, never the free text). New actions: a dismissal of
-- reports (no longer logged as a restore), a staff read of a class they did
-- not join, the three steps of a two-person reveal and an admin's urgent one,
-- and the release of a held post.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin', 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
    'reveal_urgent', 'release'));
-- No foreign key: an entry outlives its class.
ALTER TABLE audit_log ADD COLUMN class_id TEXT;
ALTER TABLE audit_log ADD COLUMN category TEXT CHECK (category IN ('harassment', 'personal_info',
    'hate', 'spam', 'academic_integrity', 'other', 'reports'));
UPDATE audit_log a SET class_id = m.class_id
    FROM class_messages m WHERE a.target_type = 'message' AND m.id = a.target_id;
CREATE INDEX idx_audit_log_class ON audit_log (class_id, created_at) WHERE class_id IS NOT NULL;
CREATE INDEX idx_audit_log_target ON audit_log (target_type, target_id);

-- A post that names a classmate (or holds an email address or phone number),
-- posted after the warning, is held: its author and staff see it, nobody else,
-- until a moderator releases or removes it. `held_reason` says why, in words
-- for staff ("names a classmate", "contains a phone number").
ALTER TABLE class_messages ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE class_messages ADD COLUMN held_reason TEXT;
CREATE INDEX idx_class_messages_held ON class_messages (created_at) WHERE held;

-- Revealing an author takes two staff members: a request with a reason, then a
-- second member's approval or decline. An admin's urgent reveal is a row that
-- is approved when made (`urgent`, decided by its requester). The requester
-- sees the author only while the row is approved.
CREATE TABLE reveal_requests (
    id              TEXT PRIMARY KEY NOT NULL,
    message_id      TEXT NOT NULL REFERENCES class_messages (id) ON DELETE CASCADE,
    requester_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    reason          TEXT NOT NULL,
    urgent          BOOLEAN NOT NULL DEFAULT FALSE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    decided_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at      TIMESTAMP,
    decision_note   TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX idx_reveal_requests_status ON reveal_requests (status, created_at);
CREATE INDEX idx_reveal_requests_requester ON reveal_requests (requester_id, created_at);
CREATE INDEX idx_reveal_requests_message ON reveal_requests (message_id);
