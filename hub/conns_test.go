package hub_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

// TestSlowConnectionsDoNotStarve: with the hub's connection cap taken by
// connections that sent half a header, a healthy device still syncs
// within a deadline, and the hub holds no more connections than its cap:
// the oldest connection not serving a request makes room.
func TestSlowConnectionsDoNotStarve(t *testing.T) {
	const maxConns = 8
	h := startHub(t, nil, func(s *hub.Server) { s.MaxConns = maxConns })
	a, apath, _ := newSyncer(t, h.client(""), notesDDL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(h.url, "http://")
	var slow []net.Conn
	for range 3 * maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /v1/notes/pull HTTP/1.1\r\nHost: hu")
		slow = append(slow, c)
	}
	insertNotes(t, apath, "n", 5)
	b, _, bdb := newSyncer(t, h.client(""), notesDDL)
	for _, s := range []*device.Syncer{a, b} {
		if _, err := s.SyncOnce(ctx); err != nil {
			t.Fatalf("sync with %d slow connections open: %v", len(slow), err)
		}
	}
	var n int
	if err := bdb.Get(&n, `SELECT count(*) FROM notes`); err != nil || n != 5 {
		t.Errorf("b holds %d notes (%v), want 5", n, err)
	}
	// The hub closed all but the newest of the slow connections.
	closed := 0
	for _, c := range slow {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF || isReset(err) {
			closed++
		}
	}
	if open := len(slow) - closed; open > maxConns {
		t.Errorf("%d slow connections still open, want at most the cap of %d", open, maxConns)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
