DROP TABLE sis_sync_locks;
