-- A block both ways: in a BLOCKED row, user_id_2 blocks user_id_1 too. Until
-- now the second block was not stored, so the second blocker's "Blocked" list
-- left out the one who blocked them first, and told them so.
ALTER TABLE friendships ADD COLUMN blocked_back BOOLEAN NOT NULL DEFAULT FALSE;
