package main_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/deltasync/internal/dbtest"
)

// bigDevice makes a device database with n rows written before init.
func bigDevice(t *testing.T, dir, name string, n int) string {
	t.Helper()
	path := filepath.Join(dir, name+".db")
	dbtest.Shell(t, path, shopDDL+fmt.Sprintf(`
		WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
		INSERT INTO items SELECT printf('%s-%%06d', n), 'item ' || n, n, n * 0.25, NULL, randomblob(16) FROM i;`, n, name))
	mustRun(t, "init", path)
	return path
}

func emptyDevice(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name+".db")
	dbtest.Shell(t, path, shopDDL)
	mustRun(t, "init", path)
	return path
}

// killDuring starts `deltasync args...`, waits until busy reports the work
// has started (or the process ended), and kills it with SIGKILL after a
// random further delay. It reports whether the process was killed.
func killDuring(t *testing.T, rng *rand.Rand, busy func() bool, args ...string) bool {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !busy() && time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
	select {
	case <-done:
		return false
	case <-time.After(time.Duration(rng.IntN(40)) * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	return err != nil && strings.Contains(err.Error(), "killed")
}

func walGrows(path string) func() bool {
	return func() bool { return fileSize(path+"-wal")+fileSize(path+"-journal") > 0 }
}

func seeded(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 3))
}

// TestKillDevice kills devices with SIGKILL while they push and while they
// apply a large pull, restarts them, and checks that nothing was lost or
// applied twice: every device ends equal to the others and to the hub.
func TestKillDevice(t *testing.T) {
	rng := seeded(t)
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	a := bigDevice(t, dir, "a", 30000)
	kills := 0
	for i := 0; i < 3; i++ { // killed in the middle of pushing its 30,000 rows
		if killDuring(t, rng, walGrows(a), "sync", a, "--hub", h.url, "--name", "shop", "--once") {
			kills++
		}
	}
	syncOnce(t, h, a)
	b := emptyDevice(t, dir, "b")
	for i := 0; i < 3; i++ { // killed in the middle of applying them
		if killDuring(t, rng, walGrows(b), "sync", b, "--hub", h.url, "--name", "shop", "--once") {
			kills++
		}
	}
	syncOnce(t, h, b)
	if kills == 0 {
		t.Error("no sync was killed while it ran: the test checked nothing")
	}
	t.Logf("%d syncs killed", kills)
	dbtest.Shell(t, b, `UPDATE items SET qty = -1 WHERE id = 'a-000001';`)
	syncOnce(t, h, b)
	syncOnce(t, h, a)
	assertAllEqual(t, a, b, filepath.Join(h.data, "shop.db"))
	if got := dbtest.Shell(t, b, `SELECT count(*), sum(qty = -1) FROM items;`); got != "30000|1\n" {
		t.Errorf("device b has %q rows, want 30000 with one edited", got)
	}
	if out := mustRun(t, "status", b, "--json").stdout; !strings.Contains(out, `"pending_changes": 0`) {
		t.Errorf("replayed changes are pending on b:\n%s", out)
	}
}

// TestKillHub kills the hub with SIGKILL while a device pushes, restarts it
// on the same data directory, and checks that the devices converge.
func TestKillHub(t *testing.T) {
	rng := seeded(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "hub")
	a := bigDevice(t, dir, "a", 30000)
	b := emptyDevice(t, dir, "b")
	h := startHub(t, data)
	syncOnce(t, h, b) // the hub knows the schema
	cmd := exec.Command(binary, "sync", a, "--hub", h.url, "--name", "shop", "--once")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for fileSize(filepath.Join(data, "shop.db-wal")) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	h.kill()
	if err := cmd.Wait(); err == nil {
		t.Log("the push finished before the hub was killed; the restart is still checked")
	} else {
		t.Logf("the push failed when the hub was killed: %v", err)
	}
	h = startHub(t, data)
	syncOnce(t, h, a)
	syncOnce(t, h, b)
	assertAllEqual(t, a, b, filepath.Join(data, "shop.db"))
}

// flakyProxy forwards requests to a hub, but drops some, delays some,
// delivers some twice and cuts some responses short.
type flakyProxy struct {
	mu     sync.Mutex
	rng    *rand.Rand
	target string
	faults map[string]int
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	fault := []string{"none", "none", "drop", "delay", "twice", "truncate"}[p.rng.IntN(6)]
	p.faults[fault]++
	p.mu.Unlock()
	forward := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp, data, err
	}
	switch fault {
	case "drop": // the request never arrives
		hijackClose(w)
		return
	case "delay":
		time.Sleep(50 * time.Millisecond)
	case "twice":
		forward()
	}
	resp, data, err := forward()
	if err != nil {
		hijackClose(w)
		return
	}
	if fault == "truncate" { // the hub did the work, the answer is cut short
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(resp.StatusCode)
		w.Write(data[:len(data)/2])
		hijackClose(w)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// TestFlakyNetwork syncs three devices through a proxy that drops, delays,
// duplicates and truncates; retried syncs must converge.
func TestFlakyNetwork(t *testing.T) {
	rng := seeded(t)
	dir := t.TempDir()
	h := startHub(t, filepath.Join(dir, "hub"))
	proxy := &flakyProxy{rng: rng, target: h.url, faults: map[string]int{}}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	devices := []string{bigDevice(t, dir, "a", 500), emptyDevice(t, dir, "b"), emptyDevice(t, dir, "c")}
	syncRetrying := func(path string) {
		for attempt := 0; attempt < 50; attempt++ {
			if r := run(t, "sync", path, "--hub", srv.URL, "--name", "shop", "--once"); r.code == 0 {
				return
			}
		}
		t.Fatalf("sync %s failed 50 times in a row", path)
	}
	for round := 0; round < 6; round++ {
		for i, path := range devices {
			name := string(rune('a' + i))
			dbtest.Shell(t, path, randomWrites(rng, name, round, itemIDs(t, path)))
			syncRetrying(path)
		}
	}
	for _, path := range append(devices, devices...) {
		syncRetrying(path)
	}
	t.Logf("faults: %v", proxy.faults)
	assertAllEqual(t, append(devices, filepath.Join(h.data, "shop.db"))...)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
