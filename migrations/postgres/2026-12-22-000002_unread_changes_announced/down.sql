DROP TRIGGER notifications_deleted_announced ON notifications;
DROP TRIGGER notifications_read_announced ON notifications;
DROP FUNCTION cg_announce_unread_changed();
