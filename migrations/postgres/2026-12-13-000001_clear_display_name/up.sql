-- A moderator can remove a display name chosen to abuse (a slur shown to
-- friends, or a class's common word, "Homework", that has classmates' posts
-- held as naming someone): `clear_display_name` in the audit log (and
-- `end_name_wait`, a mistaken removal's wait ended early), and
-- `display_name_locked_until`, before which the student cannot choose another
-- (NULL: never removed; a time past: the wait is over, and the export shows
-- when it was). Keep in step with the other backend's tree.
ALTER TABLE users ADD COLUMN display_name_locked_until TIMESTAMP;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin', 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
    'reveal_urgent', 'release', 'export_data', 'erase_account', 'clear_display_name',
    'end_name_wait'));
