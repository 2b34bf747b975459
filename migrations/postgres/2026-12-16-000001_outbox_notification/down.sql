DROP INDEX idx_email_outbox_notification;
ALTER TABLE email_outbox DROP COLUMN notification_id;
