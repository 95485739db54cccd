CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "graves" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 1, NEW."oid", NEW."type");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "graves" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 3, OLD."oid", OLD."type");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "usn" ON "graves" WHEN OLD."usn" IS NOT NEW."usn" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0, k1) VALUES (1, 2, 3, NEW."oid", NEW."type");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "oid", "type" ON "graves" WHEN OLD."oid" IS NOT NEW."oid" COLLATE BINARY OR OLD."type" IS NOT NEW."type" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 3, OLD."oid", OLD."type");
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 1, NEW."oid", NEW."type");
END;

