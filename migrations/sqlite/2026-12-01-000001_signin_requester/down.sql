ALTER TABLE magic_links DROP COLUMN requester_hash;
