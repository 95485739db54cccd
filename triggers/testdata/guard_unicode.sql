-- 触发器 🎉 on Ünïcødé 表: writes [Ünïcødé 表]; guarded
CREATE TRIGGER "触发器 🎉" AFTER INSERT ON "Ünïcødé 表" WHEN NOT EXISTS (SELECT 1 FROM _sync_applying) BEGIN UPDATE "Ünïcødé 表" SET "更新" = 'jetzt' WHERE "ключ" = NEW."ключ"; END;

