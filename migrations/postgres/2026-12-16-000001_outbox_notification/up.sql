-- An immediate notification email names the notification it tells of, so
-- that withdrawing the notification (a friend request withdrawn, an account
-- erased) takes its email out of the outbox too if it has not gone yet.
ALTER TABLE email_outbox ADD COLUMN notification_id TEXT REFERENCES notifications (id) ON DELETE CASCADE;
CREATE INDEX idx_email_outbox_notification ON email_outbox (notification_id);
