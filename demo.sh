#!/bin/sh
# The main job on a sample database: a hub and two devices (phone and laptop),
# each with a deltasync sidecar; a note written on the phone with the stock
# sqlite3 shell arrives on the laptop. Run with `make demo`.
set -eu
BIN=${BIN:-./bin/deltasync}
DIR=${DIR:-demo}
rm -rf "$DIR" && mkdir -p "$DIR"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }

step "a hub on 127.0.0.1 (any free port), data in $DIR/hub"
"$BIN" hub --listen 127.0.0.1:0 --data "$DIR/hub" >"$DIR/hub.out" 2>"$DIR/hub.log" &
pids="$pids $!"
i=0
until [ -s "$DIR/hub.out" ]; do i=$((i+1)); [ $i -lt 500 ] || { cat "$DIR/hub.log"; exit 1; }; sleep 0.01; done
HUB=$(awk '{print $NF; exit}' "$DIR/hub.out")
echo "$HUB"

step "two devices with the same app schema; the phone already has a note"
for dev in phone laptop; do
    sqlite3 "$DIR/$dev.db" "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, pinned INTEGER);"
done
sqlite3 "$DIR/phone.db" "INSERT INTO notes VALUES ('n1', 'groceries', 'milk', 0);"
for dev in phone laptop; do
    "$BIN" init "$DIR/$dev.db" 2>/dev/null
done

step "a sidecar per device: deltasync sync DB --hub $HUB"
for dev in phone laptop; do
    "$BIN" sync "$DIR/$dev.db" --hub "$HUB" --name notes 2>"$DIR/$dev.log" &
    pids="$pids $!"
done

wait_for() { # DB SQL WANT
    i=0
    until [ "$(sqlite3 -cmd '.timeout 2000' "$1" "$2")" = "$3" ]; do
        i=$((i+1)); [ $i -lt 2000 ] || { echo "timed out waiting for $3"; exit 1; }; sleep 0.005
    done
}
wait_for "$DIR/laptop.db" "SELECT body FROM notes WHERE id = 'n1'" "milk"
echo "laptop has the phone's note from before init: $(sqlite3 "$DIR/laptop.db" "SELECT title, body FROM notes")"

step "the phone's app writes with the sqlite3 shell; no code knows about deltasync"
sqlite3 "$DIR/phone.db" "UPDATE notes SET body = 'milk, eggs' WHERE id = 'n1'; INSERT INTO notes VALUES ('n2', 'ideas', 'sync sqlite', 1);"
start=$(date +%s%N)
wait_for "$DIR/laptop.db" "SELECT count(*) FROM notes WHERE body IN ('milk, eggs', 'sync sqlite')" "2"
echo "arrived on the laptop in $(( ($(date +%s%N) - start) / 1000000 )) ms:"
sqlite3 -header -column "$DIR/laptop.db" "SELECT * FROM notes ORDER BY id"

step "the laptop edits another column of the same note; both edits survive"
sqlite3 "$DIR/laptop.db" "UPDATE notes SET pinned = 1 WHERE id = 'n1';"
wait_for "$DIR/phone.db" "SELECT pinned FROM notes WHERE id = 'n1'" "1"
"$BIN" diff "$DIR/phone.db" "$DIR/laptop.db"
"$BIN" status "$DIR/laptop.db"
