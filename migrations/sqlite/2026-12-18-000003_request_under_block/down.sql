ALTER TABLE friendships DROP COLUMN asked_at;
ALTER TABLE friendships DROP COLUMN asked_by;
