-- deltasync's internal tables. Every name starts with _sync_ so that uninstall
-- can find them and no app table is ever touched.

-- Key/value settings of this node: its site id, the table selection of init.
CREATE TABLE _sync_state (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

-- 16 random bytes that name this node as the origin of its changes.
INSERT INTO _sync_state (key, value) VALUES ('site_id', randomblob(16));

-- Tables deltasync tracks. The changelog stores the id, not the name.
CREATE TABLE _sync_tables (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Columns of tracked tables. An update's changelog row stores the column id;
-- ids are never reused, so a changelog row always names the column it meant.
CREATE TABLE _sync_columns (
    tbl  INTEGER NOT NULL REFERENCES _sync_tables (id),
    id   INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (tbl, id),
    UNIQUE (tbl, name)
) WITHOUT ROWID;

-- The changelog: one row per row-level write, appended by the triggers.
-- version is the rowid (no AUTOINCREMENT: it costs 5-20% per write); pruning
-- must keep the newest row so that versions are never reused.
-- op: 1 insert, 2 update, 3 delete. col: the column an update changed.
-- at: write time as a Julian day number (the cheapest clock SQLite has built in).
-- k0..k3: the row's key. They have no declared type, hence no affinity, so each
-- value keeps the storage class it had in the row.
CREATE TABLE _sync_changelog (
    version INTEGER PRIMARY KEY,
    tbl     INTEGER NOT NULL,
    op      INTEGER NOT NULL,
    col     INTEGER,
    at      REAL NOT NULL DEFAULT (julianday('now')),
    k0, k1, k2, k3
);

-- Version ranges written while applying remote changes (echo suppression): the
-- triggers log replayed rows like any other, and the apply transaction records
-- the range here, so those rows are never shipped as local changes.
CREATE TABLE _sync_applied (
    first  INTEGER PRIMARY KEY,
    last   INTEGER NOT NULL,
    origin BLOB
);

-- What this node has durably given to and taken from each peer.
CREATE TABLE _sync_peers (
    peer   TEXT PRIMARY KEY,
    pushed INTEGER NOT NULL DEFAULT 0,
    pulled INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
