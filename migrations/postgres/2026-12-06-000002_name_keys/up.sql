-- The classmate-naming check (issue 21) reads only the members whose name
-- could be in a draft: `name_key` is the folded first word of the display
-- name (`accounts::display_name::name_key`), indexed. SQL cannot fold accents
-- the way the app does, so existing rows are filled in Rust by
-- `accounts::fill_name_keys`, which runs after migrations. Keep in step with
-- the other backend's tree.
ALTER TABLE users ADD COLUMN name_key TEXT;
CREATE INDEX users_name_key_idx ON users (name_key);
