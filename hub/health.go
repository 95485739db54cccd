package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// healthEvery is how often /healthz touches the disk and the replicas at
// most; answers in between repeat the last result.
const healthEvery = time.Second

// health is what /healthz knows: the last check of the data directory and
// the open replicas, and the replicas that failed to open since.
type health struct {
	mu      sync.Mutex
	checked time.Time
	err     error            // the last check's failure, for the log
	reason  string           // the same, in words safe to show anyone
	broken  map[string]error // replicas that failed to open, by name
}

// serveHealth answers 200 "ok", or 503 with a reason that names no path
// and no database (the endpoint needs no token); the log has the details.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	reason, err := s.health.state(r.Context(), s.Store)
	if err == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
		return
	}
	s.Logger.Warn("health check failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, "unhealthy: "+reason, "unhealthy")
}

// state checks the hub at most once per healthEvery.
func (h *health) state(ctx context.Context, st *Store) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) >= healthEvery {
		h.reason, h.err = check(ctx, st)
		h.checked = time.Now()
	}
	if h.err != nil {
		return h.reason, h.err
	}
	for name, err := range h.broken {
		return "a replica cannot be opened (see the hub's log)", fmt.Errorf("replica %s: %w", name, err)
	}
	return "", nil
}

// check creates, writes, syncs and removes a file in the data directory,
// then reads the last version of every open replica: a cheap check that
// catches a full disk, a read-only or missing directory and a replica
// whose file SQLite no longer reads, not a full integrity check.
func check(ctx context.Context, st *Store) (string, error) {
	if err := writable(st.Dir); err != nil {
		return "the data directory is not writable (see the hub's log)", err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthEvery)
	defer cancel()
	for _, rep := range st.Open() {
		_, err := rep.Node.Log().LastVersion(ctx)
		rep.Release()
		if err != nil {
			return "a replica fails its check (see the hub's log)", fmt.Errorf("replica %s: %w", rep.Name, err)
		}
	}
	return "", nil
}

func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".healthz-*")
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write([]byte{'\n'})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("data directory: write %s: %w", f.Name(), err)
	}
	return nil
}

// opened records whether name's replica opened; a failure makes /healthz
// answer 503 until it opens again.
func (h *health) opened(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.broken, name)
		return
	}
	if h.broken == nil {
		h.broken = map[string]error{}
	}
	h.broken[name] = err
}
