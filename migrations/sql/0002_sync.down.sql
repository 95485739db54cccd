ALTER TABLE _sync_tables DROP COLUMN baseline;
DELETE FROM _sync_state WHERE key IN ('hlc', 'clocked');
DROP TABLE _sync_clock;
DROP TABLE _sync_sites;
