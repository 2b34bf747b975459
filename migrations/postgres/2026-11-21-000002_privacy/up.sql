-- Privacy settings (issue 4): a name shown to accepted friends (never in chat),
-- and a switch that hides a student's classes from friends. The rule is mutual:
-- a student who hides their classes also stops seeing their friends' classes.
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN hide_classes BOOLEAN NOT NULL DEFAULT FALSE;
