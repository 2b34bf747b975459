-- A meeting's own first and last day, as SIS gives them (the meeting's
-- `start_dt` and `end_dt`, else its section's). Most meetings run the whole
-- term; a half-term course, or a lab that starts in the second week, does not,
-- and until now the calendar feed put it on every week of the term and the
-- timetable called two half-term courses in one slot a clash. NULL when SIS
-- gave no readable pair: the meeting runs the term's dates.
ALTER TABLE class_meetings ADD COLUMN first_day DATE;
ALTER TABLE class_meetings ADD COLUMN last_day DATE;
