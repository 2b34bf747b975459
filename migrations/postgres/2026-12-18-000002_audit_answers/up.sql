-- Staff marking (or unmarking) the answer of a student's thread is a staff
-- action in a class's chat, and the starter is notified of it: it goes to the
-- audit log as `mark_answer` / `unmark_answer`, like a pin. Keep in step with
-- the other backend's tree.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin', 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
    'reveal_urgent', 'release', 'export_data', 'erase_account', 'clear_display_name',
    'end_name_wait',
    'mark_answer', 'unmark_answer'));
