-- What went is not brought back: nothing here can be undone, and the schema
-- is unchanged.
SELECT 1;
