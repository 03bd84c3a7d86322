-- Every attempt updates a throttle row in place. Room left on each page
-- lets PostgreSQL keep the new row version beside the old one (a HOT
-- update, the key unchanged), without touching the key's index. Kept in
-- step with migrations/sqlite/0007_throttles_by_key.sql, which makes the
-- same table cheaper to count on for SQLite.
ALTER TABLE throttles SET (fillfactor = 70);
