DROP TABLE _sync_hub_sites;
