ALTER TABLE _sync_peers DROP COLUMN acked;
