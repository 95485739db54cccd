DROP TABLE _sync_peers;
DROP TABLE _sync_applied;
DROP TABLE _sync_changelog;
DROP TABLE _sync_columns;
DROP TABLE _sync_tables;
DROP TABLE _sync_state;
