DROP TABLE _sync_held;
