CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "g" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "g" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "a" ON "g" WHEN OLD."a" IS NOT NEW."a" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."id");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "id" ON "g" WHEN OLD."id" IS NOT NEW."id" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."id");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."id");
END;

