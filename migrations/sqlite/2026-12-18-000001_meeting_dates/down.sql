ALTER TABLE class_meetings DROP COLUMN last_day;
ALTER TABLE class_meetings DROP COLUMN first_day;
