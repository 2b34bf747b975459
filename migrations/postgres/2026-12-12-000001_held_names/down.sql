ALTER TABLE class_messages DROP COLUMN held_names;
