DROP TABLE _sync_app_triggers;
DROP TABLE _sync_applying;
