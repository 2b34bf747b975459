ALTER TABLE email_outbox DROP COLUMN list_unsubscribe;
DROP TABLE notifications;
DROP TABLE notification_digests;
DROP TABLE notification_schedules;
DROP TABLE notification_settings;
DROP TABLE class_mutes;
DROP TABLE thread_follows;
