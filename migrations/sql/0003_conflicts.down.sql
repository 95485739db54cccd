DROP TABLE _sync_conflicts;
ALTER TABLE _sync_clock DROP COLUMN arrived;
ALTER TABLE _sync_clock DROP COLUMN seen;
ALTER TABLE _sync_tables DROP COLUMN policy;
