DROP INDEX users_name_key_idx;
ALTER TABLE users DROP COLUMN name_key;
