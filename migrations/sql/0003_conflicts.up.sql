-- Conflict handling (package replicator).

-- The merge policy of each tracked table: lww-column (default), lww-row or
-- manual. It is part of the schema fingerprint, so every node of a database
-- merges a table the same way.
ALTER TABLE _sync_tables ADD COLUMN policy TEXT NOT NULL DEFAULT 'lww-column'
    CHECK (policy IN ('lww-column', 'lww-row', 'manual'));

-- seen: on a device, for its own write, the hub version it had pulled when
-- the write got its clock: the write had seen every hub change up to it.
-- arrived: on the hub, the hub version at which the value arrived: a device
-- that had pulled at least that far had seen it. Two writes are concurrent
-- when the later one's seen is below the earlier one's arrived.
ALTER TABLE _sync_clock ADD COLUMN seen INTEGER;
ALTER TABLE _sync_clock ADD COLUMN arrived INTEGER;

-- Values that lost to a concurrent write, one row per column (col NULL: the
-- row's existence, when a delete lost or won). event groups the rows of one
-- conflict, such as every column of a row that lost an insert collision; it
-- is the id of the group's first row. lost and won keep their storage class.
-- loser is the site whose write lost; ver the hub version at which the hub
-- recorded it, so that the hub tells that site on its next pull.
CREATE TABLE _sync_conflicts (
    id          INTEGER PRIMARY KEY,
    event       INTEGER NOT NULL,
    tbl         TEXT NOT NULL,
    rowkey      BLOB NOT NULL,
    k0, k1, k2, k3,
    kind        TEXT NOT NULL,
    col         TEXT,
    lost, won,
    lost_hlc    INTEGER NOT NULL,
    lost_site   BLOB NOT NULL,
    won_hlc     INTEGER NOT NULL,
    won_site    BLOB NOT NULL,
    won_dead    INTEGER NOT NULL DEFAULT 0,
    lost_dead   INTEGER NOT NULL DEFAULT 0,
    at          REAL NOT NULL DEFAULT (julianday('now')),
    ver         INTEGER NOT NULL DEFAULT 0,
    resolved    REAL,
    resolution  TEXT
);
-- A loss is recorded once per node, however often the batch that caused it
-- is merged again or the hub repeats it.
CREATE UNIQUE INDEX _sync_conflicts_once ON _sync_conflicts (tbl, rowkey, ifnull(col, ''), lost_hlc, lost_site);
CREATE INDEX _sync_conflicts_notice ON _sync_conflicts (lost_site, ver);
