ALTER TABLE sis_sync_runs DROP COLUMN sections_missing;
