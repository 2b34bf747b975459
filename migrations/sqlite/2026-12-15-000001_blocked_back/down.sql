ALTER TABLE friendships DROP COLUMN blocked_back;
