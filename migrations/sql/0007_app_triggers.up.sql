-- Replay reproduces the origin's rows: the app's own triggers do not fire
-- while deltasync applies a batch, since what they wrote on the origin
-- arrives as changes of its own (package triggers guards them at init).

-- Holds one row while a batch is applied, and none otherwise: the apply
-- transaction (package changelog) inserts it first and deletes it before it
-- commits, so no other connection ever sees it. Every guarded app trigger
-- fires only while the table is empty.
CREATE TABLE _sync_applying (
    one INTEGER PRIMARY KEY CHECK (one = 1)
);

-- The app's triggers that init guarded (package triggers): the app's exact
-- CREATE TRIGGER text, which uninstall puts back byte for byte, and the
-- text init installed instead, by which a later init tells a trigger it
-- guarded from one the app has changed since.
CREATE TABLE _sync_app_triggers (
    name    TEXT PRIMARY KEY,
    app_sql TEXT NOT NULL,
    guarded TEXT NOT NULL
) WITHOUT ROWID;
