package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/deltasync/deltasync/internal/dbtest"
)

const filesDDL = `CREATE TABLE files (id INTEGER PRIMARY KEY, name TEXT, data BLOB);`

// fileDevices makes one empty, initialized device per name.
func fileDevices(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	var paths []string
	for _, name := range names {
		path := filepath.Join(dir, name+".db")
		dbtest.Shell(t, path, filesDDL)
		mustRun(t, "init", path)
		paths = append(paths, path)
	}
	return paths
}

// syncFiles runs `sync --once` on path and returns its result and the
// process's peak resident memory in MiB.
func syncFiles(t *testing.T, h *hubProcess, path string, extra ...string) (result, int64) {
	t.Helper()
	args := append([]string{"sync", path, "--hub", h.url, "--name", "files", "--once"}, extra...)
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10
}

func mustSyncFiles(t *testing.T, h *hubProcess, path string, extra ...string) int64 {
	t.Helper()
	r, rss := syncFiles(t, h, path, extra...)
	if r.code != 0 {
		t.Fatalf("sync %s: exit %d\n%s%s\nhub log:\n%s", filepath.Base(path), r.code, r.stdout, r.stderr, h.log)
	}
	return rss
}

// peakRSS is the hub process's peak resident memory so far, in MiB.
func (h *hubProcess) peakRSS(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Logf("hub memory: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib >> 10
		}
	}
	return 0
}

// blobs lists each row's id, name, blob length and blob hash, as the
// sqlite3 shell computes them: what a user would compare.
func blobs(t *testing.T, path string) string {
	t.Helper()
	return dbtest.Shell(t, path, `SELECT id, name, length(data), hex(sha3(data)) FROM files ORDER BY id;`)
}

func assertSameBlobs(t *testing.T, want string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if got := blobs(t, p); got != want {
			t.Errorf("%s holds\n%s\nwant\n%s", filepath.Base(p), got, want)
		}
	}
}

// TestLargeValuesSync: two 20 MiB random blobs written in one transaction
// and one 48 MiB random blob reach every device through a hub process with
// default flags, byte for byte. Before batches were cut by bytes, the
// device got 413 on every push, for ever.
func TestLargeValuesSync(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	devs := fileDevices(t, dir, "a", "b", "c")
	dbtest.Shell(t, devs[0], `BEGIN;
		INSERT INTO files VALUES (1, 'twenty', randomblob(20*1024*1024));
		INSERT INTO files VALUES (2, 'twenty too', randomblob(20*1024*1024));
		COMMIT;`)
	dbtest.Shell(t, devs[1], `INSERT INTO files VALUES (3, 'forty-eight', randomblob(48*1024*1024));`)
	var rss []string
	for _, p := range []string{devs[0], devs[1], devs[2], devs[0], devs[1]} {
		rss = append(rss, fmt.Sprintf("%s %d MiB", filepath.Base(p), mustSyncFiles(t, h, p)))
	}
	want := blobs(t, devs[0])
	if n := strings.Count(want, "\n"); n != 3 {
		t.Fatalf("device a holds %d rows after syncing, want 3:\n%s", n, want)
	}
	assertSameBlobs(t, want, devs[1], devs[2], filepath.Join(h.data, "files.db"))
	// Logged, not asserted: memory depends on the machine and the GC.
	t.Logf("peak RSS of each sync --once: %s; of the hub: %d MiB (rows of 20, 20 and 48 MiB)", strings.Join(rss, ", "), h.peakRSS(t))
}

// TestZeroBlobsServedApart: three pushes of 30 MiB zero blobs, which
// compress to almost nothing, are each served in a pull of their own:
// served together, their 90 MiB body passed every device's limit.
func TestZeroBlobsServedApart(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	devs := fileDevices(t, dir, "a", "b", "c")
	for i := 1; i <= 3; i++ {
		dbtest.Shell(t, devs[0], `INSERT INTO files VALUES (`+strconv.Itoa(i)+`, 'zeros', zeroblob(30*1024*1024));`)
		mustSyncFiles(t, h, devs[0])
	}
	mustSyncFiles(t, h, devs[1])
	mustSyncFiles(t, h, devs[2])
	want := blobs(t, devs[0])
	if n := strings.Count(want, "\n"); n != 3 {
		t.Fatalf("device a holds %d rows, want 3:\n%s", n, want)
	}
	assertSameBlobs(t, want, devs[1], devs[2])
}

// TestOversizedRowHeldBack: a row over --max-row-bytes is refused at push,
// naming its table, key and the limit; rows written after it, and other
// devices' rows, keep syncing; status shows it; written again smaller, it
// syncs.
func TestOversizedRowHeldBack(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	devs := fileDevices(t, dir, "a", "b")
	limit := []string{"--max-row-bytes", "1048576"}
	dbtest.Shell(t, devs[0], `INSERT INTO files VALUES (1, 'small before', 'x');
		INSERT INTO files VALUES (7, 'big', randomblob(2*1024*1024));
		INSERT INTO files VALUES (2, 'small after', 'y');`)
	dbtest.Shell(t, devs[1], `INSERT INTO files VALUES (100, 'from b', 'z');`)

	r, _ := syncFiles(t, h, devs[0], limit...)
	out := r.stdout + r.stderr
	if r.code == 0 || strings.Contains(out, "up to date") {
		t.Errorf("sync of a device holding a row back: exit %d, output\n%s\nwant a non-zero exit, not \"up to date\"", r.code, out)
	}
	for _, want := range []string{`"files"`, "(7)", "1048576", "held back"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sync output does not name %s:\n%s", want, out)
		}
	}
	mustSyncFiles(t, h, devs[1])
	if r, _ := syncFiles(t, h, devs[0], limit...); r.code == 0 {
		t.Errorf("second sync of a device still holding a row back: exit 0, want non-zero\n%s", r.stdout)
	}
	if got, want := dbtest.Shell(t, devs[1], `SELECT group_concat(id) FROM files ORDER BY id;`), "1,2,100\n"; got != want {
		t.Errorf("device b holds rows %q, want %q: every row but the held one", got, want)
	}
	if got := dbtest.Shell(t, devs[0], `SELECT count(*) FROM files WHERE id = 100;`); got != "1\n" {
		t.Errorf("device a did not get b's row: count %q", got)
	}
	status := mustRun(t, "status", devs[0]).stdout
	for _, want := range []string{"held back:", `row (7) of "files"`, "1048576"} {
		if !strings.Contains(status, want) {
			t.Errorf("status does not show %s:\n%s", want, status)
		}
	}

	dbtest.Shell(t, devs[0], `UPDATE files SET data = randomblob(1000) WHERE id = 7;`)
	if r := mustRun(t, append([]string{"sync", devs[0], "--hub", h.url, "--name", "files", "--once"}, limit...)...); !strings.Contains(r.stdout, "up to date") {
		t.Errorf("sync after writing the row smaller: %s", r.stdout)
	}
	mustSyncFiles(t, h, devs[1])
	assertSameBlobs(t, blobs(t, devs[0]), devs[1])
	if status := mustRun(t, "status", devs[0]).stdout; strings.Contains(status, "held back") {
		t.Errorf("status still shows a row held back after it synced:\n%s", status)
	}
}
