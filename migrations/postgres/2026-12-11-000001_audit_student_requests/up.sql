-- An operator's `student export` and `student erase` (the command line, for a
-- request made to the university) are audited like a staff action: an export
-- hands over every message the student wrote, so it is a reveal in all but
-- name, and an erasure must leave a trace that it was done. Keep in step with
-- the other backend's tree.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin', 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
    'reveal_urgent', 'release', 'export_data', 'erase_account'));
