ALTER TABLE users DROP COLUMN hide_classes;
ALTER TABLE users DROP COLUMN display_name;
