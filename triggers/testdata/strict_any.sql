CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "s" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "s" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "v" ON "s" WHEN OLD."v" IS NOT NEW."v" COLLATE BINARY OR typeof(OLD."v") <> typeof(NEW."v") BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."id");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "w" ON "s" WHEN OLD."w" IS NOT NEW."w" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 3, NEW."id");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "id" ON "s" WHEN OLD."id" IS NOT NEW."id" COLLATE BINARY OR typeof(OLD."id") <> typeof(NEW."id") BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

