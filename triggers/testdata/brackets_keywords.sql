CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "order" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 1, NEW."select", NEW."group");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "order" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 3, OLD."select", OLD."group");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "where" ON "order" WHEN OLD."where" IS NOT NEW."where" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0, k1) VALUES (1, 2, 3, NEW."select", NEW."group");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "select", "group" ON "order" WHEN OLD."select" IS NOT NEW."select" COLLATE BINARY OR OLD."group" IS NOT NEW."group" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 3, OLD."select", OLD."group");
  INSERT INTO _sync_changelog (tbl, op, k0, k1) VALUES (1, 1, NEW."select", NEW."group");
END;

