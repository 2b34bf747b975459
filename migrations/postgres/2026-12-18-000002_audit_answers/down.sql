DELETE FROM audit_log WHERE action IN ('mark_answer', 'unmark_answer');
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('hide', 'restore',
    'delete', 'reveal', 'suspend', 'lift_suspension', 'role_change', 'sync_started', 'author_delete',
    'pin', 'unpin', 'dismiss', 'view_class', 'reveal_request', 'reveal_approve', 'reveal_decline',
    'reveal_urgent', 'release', 'export_data', 'erase_account', 'clear_display_name',
    'end_name_wait'));
