-- A full SIS sync now marks a section inactive only when the previous
-- complete full sync of its term missed it too: a section can slip between
-- pages while a subject is read (SIS dropped or re-sorted a section on a page
-- already read), and one run's miss is not proof it was cancelled. A run
-- records how many sections it missed for the first time and kept active.
-- Keep in step with the other backend's tree.
ALTER TABLE sis_sync_runs ADD COLUMN sections_missing INTEGER NOT NULL DEFAULT 0;
