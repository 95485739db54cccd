-- actor_trigger_ai on actor: writes [actor]; guarded
CREATE TRIGGER actor_trigger_ai AFTER INSERT ON actor
 WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN
  UPDATE actor SET last_update = DATETIME('NOW')  WHERE rowid = new.rowid;
 END;

-- actor_trigger_au on actor: writes [actor]; guarded
CREATE TRIGGER actor_trigger_au AFTER UPDATE ON actor
 WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN
  UPDATE actor SET last_update = DATETIME('NOW')  WHERE rowid = new.rowid;
 END;

