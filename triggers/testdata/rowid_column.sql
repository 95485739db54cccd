CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "t" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."_rowid_");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "t" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."_rowid_");
END;

CREATE TRIGGER "_sync_1_upd_1" AFTER UPDATE OF "rowid" ON "t" WHEN OLD."rowid" IS NOT NEW."rowid" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 1, NEW."_rowid_");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "oid" ON "t" WHEN OLD."oid" IS NOT NEW."oid" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."_rowid_");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "v" ON "t" WHEN OLD."v" IS NOT NEW."v" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 3, NEW."_rowid_");
END;

