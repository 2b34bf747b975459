-- The nav's live unread count: every app process counts a student again when
-- `cg_notify` names them (payload: the student's id only). New notices were
-- announced by the code that writes them (notifications::notify_many); a
-- count that went down (notices read in one tab, in the inbox, or by a
-- message deleted for good) was announced by nothing, so every other open
-- tab's badge stayed high until reloaded. These triggers announce, once per
-- statement and student, every notice that became read or unread, and every
-- unread notice deleted, however it happened. SQLite has one process: its
-- requests that read tell its bus directly (live::Bus::unread_changed).
-- Keep in step with the other backend's tree.
CREATE FUNCTION cg_announce_unread_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('cg_notify', changed.user_id)
        FROM (
            SELECT DISTINCT n.user_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE o.read_at IS DISTINCT FROM n.read_at
        ) AS changed;
    ELSE
        PERFORM pg_notify('cg_notify', changed.user_id)
        FROM (SELECT DISTINCT user_id FROM old_rows WHERE read_at IS NULL) AS changed;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_read_announced
    AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cg_announce_unread_changed();

CREATE TRIGGER notifications_deleted_announced
    AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cg_announce_unread_changed();
