-- Sign-in mail is claimed before any other due mail (a sign-in link lasts 15
-- minutes; a digest rush must not hold it back). Sign-in mail is the mail
-- with no unsubscribe link: every other email has one. Two columns, as
-- idx_email_outbox_due, so SQLite's planner prefers this smaller one.
CREATE INDEX idx_email_outbox_sign_in_due ON email_outbox (status, next_attempt_at)
    WHERE list_unsubscribe IS NULL;
