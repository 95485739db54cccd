CREATE TRIGGER "_sync_1_ins" AFTER INSERT ON "n" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."k");
END;

CREATE TRIGGER "_sync_1_del" AFTER DELETE ON "n" BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."k");
END;

CREATE TRIGGER "_sync_1_upd_2" AFTER UPDATE OF "v" ON "n" WHEN OLD."v" IS NOT NEW."v" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, col, k0) VALUES (1, 2, 2, NEW."k");
END;

CREATE TRIGGER "_sync_1_key" AFTER UPDATE OF "k" ON "n" WHEN OLD."k" IS NOT NEW."k" COLLATE BINARY BEGIN
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 3, OLD."k");
  INSERT INTO _sync_changelog (tbl, op, k0) VALUES (1, 1, NEW."k");
END;

