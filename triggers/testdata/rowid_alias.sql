CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "notes" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "notes" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "title" ON "notes" WHEN OLD."title" IS NOT NEW."title" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."id");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "body" ON "notes" WHEN OLD."body" IS NOT NEW."body" COLLATE BINARY OR typeof(OLD."body") <> typeof(NEW."body") BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 3, NEW."id");
END;

CREATE TRIGGER "_sync_1_upd_4" AFTER UPDATE OF "n" ON "notes" WHEN OLD."n" IS NOT NEW."n" COLLATE BINARY OR typeof(OLD."n") <> typeof(NEW."n") BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 4, NEW."id");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "id" ON "notes" WHEN OLD."id" IS NOT NEW."id" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

