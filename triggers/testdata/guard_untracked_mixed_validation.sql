-- notes_fts_ai on notes: writes [notes_fts]; fires on replay
CREATE TRIGGER notes_fts_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_fts (docid, body) VALUES (new.id, new.body); END;

-- notes_mixed on notes: writes [history, notes_fts]; guarded
-- warning: it writes tracked tables and also notes_fts, not tracked: guarded, it does not fire when changes from other devices are applied, so notes_fts misses them; rebuild it, or split the trigger in two
CREATE TRIGGER notes_mixed AFTER UPDATE OF body ON notes WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN
  INSERT INTO history VALUES (old.id, old.body);
  UPDATE notes_fts SET body = new.body WHERE docid = new.id;
END;

-- notes_check on notes: writes []; guarded
CREATE TRIGGER notes_check BEFORE INSERT ON notes WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) AND (new.body = '') BEGIN SELECT RAISE(ABORT, 'empty note'); END;

-- recent_ins on recent: writes [notes]; guarded
CREATE TRIGGER recent_ins INSTEAD OF INSERT ON recent WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN INSERT INTO notes (body) VALUES (new.body); END;

-- history_view on history: writes [recent]; fires on replay
CREATE TRIGGER history_view AFTER INSERT ON history BEGIN INSERT INTO recent (body) VALUES (new.body); END;

