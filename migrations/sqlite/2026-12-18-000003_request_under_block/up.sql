-- A request left under a block: in a BLOCKED row, the request one of the pair
-- had made (`asked_by`, at `asked_at`) when the block came, or made since by
-- the student who is blocked. To its sender it reads as a declined request
-- does (listed as sent until it would have lapsed; withdrawn like any other),
-- so a block cannot be told from a decline; on unblock it becomes that
-- declined request, so blocking and unblocking never lifts a decline. NULL:
-- none. Keep in step with the other backend's tree.
ALTER TABLE friendships ADD COLUMN asked_by TEXT;
ALTER TABLE friendships ADD COLUMN asked_at TIMESTAMP;
