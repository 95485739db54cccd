CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "my ""odd"" 'table'" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."the key");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "my ""odd"" 'table'" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."the key");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "it's" ON "my ""odd"" 'table'" WHEN OLD."it's" IS NOT NEW."it's" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."the key");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "say ""hi""" ON "my ""odd"" 'table'" WHEN OLD."say ""hi""" IS NOT NEW."say ""hi""" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 3, NEW."the key");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "the key" ON "my ""odd"" 'table'" WHEN OLD."the key" IS NOT NEW."the key" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."the key");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."the key");
END;

