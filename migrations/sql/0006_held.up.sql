-- Rows a device holds back because they are larger than one sync batch may
-- be (package replicator): one row per row, by table name and key
-- (changelog.KeyBytes), with the key as SQL literals for `deltasync status`,
-- the op of the change that was held, its size, the limit it passed
-- (0: the hub's) and when, in Unix milliseconds. A row leaves this table
-- when a change of it is sent.
CREATE TABLE _sync_held (
    tbl      TEXT NOT NULL,
    rowkey   BLOB NOT NULL,
    key_text TEXT NOT NULL,
    op       INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    max      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (tbl, rowkey)
) WITHOUT ROWID;
