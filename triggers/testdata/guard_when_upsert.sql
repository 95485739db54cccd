-- counts_update on files: writes [counts]; guarded
CREATE TRIGGER counts_update AFTER UPDATE OF flags ON files
WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) AND (NEW.flags != OLD.flags OR NEW.size IS NULL) -- the app's comment
BEGIN
    INSERT INTO counts (dev, flags, n, size) VALUES (NEW.dev, NEW.flags, 1, NEW.size)
        ON CONFLICT DO UPDATE SET n = n + 1, size = size + NEW.size;
    UPDATE counts SET n = n - 1 WHERE dev = OLD.dev AND flags = OLD.flags;
END;

-- counts_delete on files: writes [counts]; guarded
CREATE TRIGGER counts_delete AFTER DELETE ON files FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) AND ((OLD.size>0))BEGIN
    UPDATE OR IGNORE counts SET n = n - 1 WHERE dev = OLD.dev AND flags = OLD.flags;
END;

