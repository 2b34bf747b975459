-- On PostgreSQL, triggers announce every change of a student's unread count
-- on `cg_notify`, for every app process's live nav count. SQLite has one
-- process: the requests that read notices tell its bus directly
-- (live::Bus::unread_changed), so there is nothing to add here.
-- Keep in step with the other backend's tree.
SELECT 1;
