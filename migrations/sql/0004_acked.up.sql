-- acked: on a device, the hub's version after the last push the hub
-- acknowledged. A pull response the hub built at an earlier version
-- (its head) predates that push and is refused as stale.
ALTER TABLE _sync_peers ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;
