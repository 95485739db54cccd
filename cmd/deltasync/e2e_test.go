package main_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// hubProcess is a `deltasync hub` running as its own process on 127.0.0.1.
type hubProcess struct {
	cmd  *exec.Cmd
	url  string
	data string
	log  *strings.Builder
}

// startHub starts a hub on a free port and waits until it prints its address.
func startHub(t *testing.T, data string, extra ...string) *hubProcess {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"hub", "--listen", "127.0.0.1:0", "--data", data}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &hubProcess{cmd: cmd, data: data, log: &strings.Builder{}}
	cmd.Stderr = h.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.kill() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], "http") {
			t.Fatalf("hub printed %q; log:\n%s", line, h.log)
		}
		h.url = fields[len(fields)-1]
	case <-time.After(20 * time.Second):
		t.Fatalf("hub did not start within 20s; log:\n%s", h.log)
	}
	return h
}

// kill sends SIGKILL: no clean shutdown, as in a crash.
func (h *hubProcess) kill() {
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Signal(syscall.SIGKILL)
		h.cmd.Wait()
	}
}

func syncOnce(t *testing.T, h *hubProcess, path string) string {
	t.Helper()
	return mustRun(t, "sync", path, "--hub", h.url, "--name", "shop", "--once").stdout
}

const shopDDL = `CREATE TABLE items (id TEXT PRIMARY KEY, title TEXT NOT NULL, qty INTEGER, price REAL, note TEXT, data BLOB);
	CREATE TABLE tags (item TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (item, tag)) WITHOUT ROWID;`

// randomWrites is one round of an app's writes on one device, as SQL for
// the sqlite3 shell: inserts, updates of one or two columns, deletes.
func randomWrites(rng *rand.Rand, device string, round int, ids []string) string {
	var sb strings.Builder
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("%s-%d-%d", device, round, i)
		fmt.Fprintf(&sb, "INSERT INTO items VALUES ('%s', 'item %s', %d, %g, NULL, randomblob(%d));\n", id, id, rng.IntN(100), rng.Float64()*100, rng.IntN(64))
		fmt.Fprintf(&sb, "INSERT OR IGNORE INTO tags VALUES ('%s', 'tag%d');\n", id, rng.IntN(5))
	}
	for i := 0; i < 8 && len(ids) > 0; i++ {
		id := ids[rng.IntN(len(ids))]
		switch rng.IntN(5) {
		case 0:
			fmt.Fprintf(&sb, "DELETE FROM items WHERE id = '%s'; DELETE FROM tags WHERE item = '%s';\n", id, id)
		case 1:
			fmt.Fprintf(&sb, "UPDATE items SET qty = %d, note = '%s r%d' WHERE id = '%s';\n", rng.IntN(1000), device, round, id)
		case 2:
			fmt.Fprintf(&sb, "UPDATE items SET price = %g WHERE id = '%s';\n", rng.NormFloat64(), id)
		default:
			fmt.Fprintf(&sb, "UPDATE items SET title = 'title by %s in round %d' WHERE id = '%s';\n", device, round, id)
		}
	}
	return sb.String()
}

func itemIDs(t *testing.T, path string) []string {
	t.Helper()
	out := strings.TrimSpace(dbtest.Shell(t, path, "SELECT id FROM items ORDER BY id;"))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func assertAllEqual(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths[1:] {
		if r := run(t, "diff", paths[0], p); r.code != 0 {
			t.Errorf("deltasync diff %s %s: exit %d\n%s%s", filepath.Base(paths[0]), filepath.Base(p), r.code, r.stdout, r.stderr)
		}
	}
}

// TestEndToEnd runs a hub and three devices as separate processes. The
// devices write with the sqlite3 shell, edit the same rows concurrently, one
// stays offline for many rounds; in the end every device and the hub's
// replica hold the same rows.
func TestEndToEnd(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	devices := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		path := filepath.Join(dir, name+".db")
		dbtest.Shell(t, path, shopDDL)
		devices[name] = path
	}
	// Device a has data from before deltasync; b and c are new.
	var seedRows strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&seedRows, "INSERT INTO items VALUES ('old-%02d', 'old item %d', %d, %d.5, 'it''s old', x'00ff');\n", i, i, i, i)
	}
	dbtest.Shell(t, devices["a"], seedRows.String())
	for _, name := range []string{"a", "b", "c"} {
		mustRun(t, "init", devices[name])
		syncOnce(t, h, devices[name])
	}
	assertAllEqual(t, devices["a"], devices["b"], devices["c"])

	// Concurrent edits of one row: the same column on a and b, different
	// columns on a and c; a delete on b racing an update on c.
	dbtest.Shell(t, devices["a"], `UPDATE items SET title = 'a wins?' WHERE id = 'old-01'; UPDATE items SET qty = 111 WHERE id = 'old-02';`)
	dbtest.Shell(t, devices["b"], `UPDATE items SET title = 'b wins?' WHERE id = 'old-01'; DELETE FROM items WHERE id = 'old-03';`)
	dbtest.Shell(t, devices["c"], `UPDATE items SET note = 'c note' WHERE id = 'old-02'; UPDATE items SET qty = 333 WHERE id = 'old-03';`)
	for _, name := range []string{"a", "b", "c", "a", "b"} {
		syncOnce(t, h, devices[name])
	}
	got := dbtest.Shell(t, devices["c"], `SELECT qty, note FROM items WHERE id = 'old-02'; SELECT count(*) FROM items WHERE id = 'old-03';`)
	if got != "111|c note\n0\n" {
		t.Errorf("after concurrent edits, c has %q; want both columns' edits kept and the delete applied", got)
	}

	// Rounds of random writes; c stays offline for rounds 2 to 7.
	for round := 1; round <= 9; round++ {
		order := []string{"a", "b", "c"}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, name := range order {
			dbtest.Shell(t, devices[name], randomWrites(rng, name, round, itemIDs(t, devices[name])))
			if name == "c" && round >= 2 && round <= 7 {
				continue
			}
			syncOnce(t, h, devices[name])
		}
	}
	for _, name := range []string{"c", "a", "b", "c"} {
		syncOnce(t, h, devices[name])
	}
	assertAllEqual(t, devices["a"], devices["b"], devices["c"], filepath.Join(h.data, "shop.db"))
	if t.Failed() {
		t.Logf("seed %d; hub log:\n%s", seed, h.log)
	}
}
