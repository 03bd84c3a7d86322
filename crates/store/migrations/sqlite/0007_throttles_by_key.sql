-- Every attempt counts on a throttle row by its key, in the write of the
-- step. Keyed by the key itself (WITHOUT ROWID), a count is one b-tree
-- instead of a table and the unique index on its key. Kept in step with
-- migrations/postgres/0007_throttles_by_key.sql.
CREATE TABLE throttles_by_key (
    key           TEXT    PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO throttles_by_key (key, failures, window_start, locked_until)
    SELECT key, failures, window_start, locked_until FROM throttles;
DROP TABLE throttles;
ALTER TABLE throttles_by_key RENAME TO throttles;
