DROP INDEX idx_users_suspended;
DROP INDEX idx_users_staff;
