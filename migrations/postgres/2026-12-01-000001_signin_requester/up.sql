-- The browser that asked for a sign-in email (SHA-256 of its pre-session cookie),
-- so a link opened in another browser asks which account it signs into (login CSRF).
ALTER TABLE magic_links ADD COLUMN requester_hash TEXT;
