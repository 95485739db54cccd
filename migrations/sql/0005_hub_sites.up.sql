-- On a hub: the token (its SHA-256) that first pushed each device site. A
-- push for a site from another token is refused, so that a device holding
-- one token cannot write as a device of another. Empty on devices, and on
-- a hub without tokens.
CREATE TABLE _sync_hub_sites (
    site  BLOB PRIMARY KEY,
    token BLOB NOT NULL
) WITHOUT ROWID;
