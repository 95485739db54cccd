CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "Ünïcødé 表" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."ключ");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "Ünïcødé 表" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."ключ");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "値" ON "Ünïcødé 表" WHEN OLD."値" IS NOT NEW."値" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."ключ");
END;

CREATE TRIGGER "_sync_1_upd_3" AFTER UPDATE OF "emoji 🎉" ON "Ünïcødé 表" WHEN OLD."emoji 🎉" IS NOT NEW."emoji 🎉" COLLATE BINARY OR typeof(OLD."emoji 🎉") <> typeof(NEW."emoji 🎉") BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 3, NEW."ключ");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "ключ" ON "Ünïcødé 表" WHEN OLD."ключ" IS NOT NEW."ключ" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."ключ");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."ключ");
END;

