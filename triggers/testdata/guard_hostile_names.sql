-- tr "x" BEGIN on my "odd" 'table': writes [order]; guarded
CREATE TRIGGER "tr ""x"" BEGIN" AFTER UPDATE OF "begin", [when] ON "my ""odd"" 'table'"
  FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) AND (new.begin <> 'BEGIN' AND (SELECT count(*) FROM [order] WHERE "select" = 'END') = 0)
  BEGIN
    /* BEGIN ... END; inside a comment */
    INSERT OR REPLACE INTO [order] ([select], note) SELECT new."begin", "update" FROM (SELECT 'x;y' AS "update");
    REPLACE INTO "order" VALUES ('END;', 'BEGIN'); -- END;
  END;

-- when on order: writes [my "odd" 'table']; guarded
CREATE TRIGGER [when] BEFORE DELETE ON [order] WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN DELETE FROM 'my "odd" ''table''' WHERE "begin" = old."select"; END;

