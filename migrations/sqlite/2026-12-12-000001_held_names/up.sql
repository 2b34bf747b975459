-- Which members' display names a held post matched, as their user ids
-- (space-separated), for moderators only: a student who picks a display name
-- that is a class's common word ("Homework") to have classmates' posts held
-- is then found from the first held post. Never shown to the post's author
-- (that would tell them the roster) or to the class. An id of an erased
-- account names no one. Keep in step with the other backend's tree.
ALTER TABLE class_messages ADD COLUMN held_names TEXT;
