-- Merge metadata (package replicator).

-- Sites that wrote the values this node holds; clocks refer to them by id to
-- keep _sync_clock small.
CREATE TABLE _sync_sites (
    id      INTEGER PRIMARY KEY,
    site_id BLOB NOT NULL UNIQUE
);

-- The clock of the last write of each row and, where it differs, of each
-- column. col 0 is the row: its existence register (dead = 1 after a delete)
-- and the clock of every column that has no row of its own. A row never
-- written since install has no clock, which is older than any write.
-- key is the row's key encoded by changelog.KeyBytes.
CREATE TABLE _sync_clock (
    tbl  INTEGER NOT NULL,
    key  BLOB NOT NULL,
    col  INTEGER NOT NULL,
    hlc  INTEGER NOT NULL,
    site INTEGER NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tbl, key, col)
) WITHOUT ROWID;

-- hlc: the last hybrid logical clock this node issued or saw.
-- clocked: the changelog version up to which local writes have clocks.
INSERT INTO _sync_state (key, value) VALUES ('hlc', 0), ('clocked', 0);

-- 1 once the rows a table held before it was tracked have been logged as a
-- baseline for the first sync.
ALTER TABLE _sync_tables ADD COLUMN baseline INTEGER NOT NULL DEFAULT 0;
