package main_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/deltasync/hub"
)

// A hub that accepts connections but never answers: `sync --once` gives up
// within its --timeout, and says the hub did not answer.
func TestSyncNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // never read, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	a := emptyDevice(t, t.TempDir(), "a")
	start := time.Now()
	r := run(t, "sync", a, "--hub", "http://"+ln.Addr().String(), "--once", "--timeout", "1s")
	assertOneError(t, r, 1, "the hub at http://"+ln.Addr().String()+" did not answer within 1s")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("sync --once failed after %s, want about its 1s timeout", took)
	}
}

// Mistakes in the hub's address: one line that says what to do.
func TestSyncHubAddressMistakes(t *testing.T) {
	dir := t.TempDir()
	a := emptyDevice(t, dir, "a")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	h := startHub(t, filepath.Join(dir, "hub"))
	r := run(t, "sync", a, "--hub", "localhost:7070", "--once")
	assertOneError(t, r, 2, "write http://localhost:7070")
	r = run(t, "sync", a, "--hub", "http://"+refused, "--once")
	assertOneError(t, r, 1, "no hub listening at "+refused+": is `deltasync hub` running?")
	r = run(t, "sync", a, "--hub", h.url+"/deltasync", "--once")
	assertOneError(t, r, 1, "no deltasync hub at "+h.url+"/deltasync (it answered 404 Not Found): check the address and path")
}

// countingHub serves a real hub whose tokens allow only the database
// "other", and counts the requests it gets.
func countingHub(t *testing.T) (url, token string, requests *atomic.Int64) {
	t.Helper()
	token, line, err := hub.NewToken([]string{"other"})
	if err != nil {
		t.Fatal(err)
	}
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	srv := hub.NewServer(st)
	srv.Logger = st.Logger
	if srv.Tokens, err = hub.ParseTokens(strings.NewReader(line + "\n")); err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int64)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, token, requests
}

// A hub that refuses the token (403) is not asked again in a tight loop:
// `sync --once` exits with the hub's message, a sidecar makes only a few
// requests over seconds, and `status` shows why it does not sync.
func TestSidecarRefusedToken(t *testing.T) {
	url, token, requests := countingHub(t)
	a := emptyDevice(t, t.TempDir(), "a")
	const refusal = "hub answered 403: the token is not allowed this database"
	assertOneError(t, run(t, "sync", a, "--hub", url, "--token", token, "--once"), 1, refusal)

	requests.Store(0)
	startSidecar(t, a, url, "--token", token)
	eventually(t, 20*time.Second, "status shows the refusal", func() bool {
		return strings.Contains(mustRun(t, "status", a).stdout, refusal)
	})
	// Backing off from 100 ms, the sidecar would ask about 5 times in 3 s.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := requests.Load(); n > 2 {
			t.Fatalf("the sidecar sent %d requests to a hub that refuses its token, want at most 2", n)
		}
	}
}
