package hub

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// connLimit caps the connections a hub holds open. At the cap, a new
// connection closes the oldest one that is not serving a request (idle
// between requests, or still sending its header) or, with every one
// serving a request, is closed itself. So idle and slow connections cannot
// lock healthy clients out, and the hub's file descriptors stay bounded.
type connLimit struct {
	max     int
	metrics *metrics

	mu    sync.Mutex
	seq   uint64
	conns map[*limitedConn]struct{}
}

// limitedConn is a connection counted by a connLimit.
type limitedConn struct {
	net.Conn
	limit *connLimit
	seq   uint64 // accept order: lower is older
	busy  int    // requests being served on it; guarded by limit.mu
	once  sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limit.remove(c) })
	return c.Conn.Close()
}

func newConnLimit(m *metrics) *connLimit {
	return &connLimit{metrics: m, conns: map[*limitedConn]struct{}{}}
}

// limitListener applies a connLimit to the connections a listener accepts.
type limitListener struct {
	net.Listener
	limit *connLimit
}

func (l limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.limit.admit(c); lc != nil {
			return lc, nil
		}
		c.Close()
	}
}

// admit counts c, making room by closing an idle connection if the limit
// is reached; nil means there was no room.
func (l *connLimit) admit(c net.Conn) *limitedConn {
	l.mu.Lock()
	var victim *limitedConn
	if len(l.conns) >= l.max {
		victim = l.oldestIdleLocked()
		if victim == nil {
			l.mu.Unlock()
			l.metrics.add("deltasync_hub_connections_refused_total", 1)
			return nil
		}
		delete(l.conns, victim)
	}
	l.seq++
	lc := &limitedConn{Conn: c, limit: l, seq: l.seq}
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	if victim != nil {
		l.metrics.add("deltasync_hub_connections_evicted_total", 1)
		victim.Conn.Close() // the server then closes it again, which only forgets it
	}
	return lc
}

func (l *connLimit) oldestIdleLocked() *limitedConn {
	var oldest *limitedConn
	for c := range l.conns {
		if c.busy == 0 && (oldest == nil || c.seq < oldest.seq) {
			oldest = c
		}
	}
	return oldest
}

func (l *connLimit) remove(c *limitedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

type connKey struct{}

// connContext is an http.Server's ConnContext: it lets track find the
// connection a request came on, under TLS too.
func connContext(ctx context.Context, c net.Conn) context.Context {
	for {
		if lc, ok := c.(*limitedConn); ok {
			return context.WithValue(ctx, connKey{}, lc)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return ctx
		}
		c = u.NetConn()
	}
}

// track marks a request's connection busy while the handler runs, so
// that admit never closes it.
func (l *connLimit) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(*limitedConn); ok {
			l.setBusy(c, 1)
			defer l.setBusy(c, -1)
		}
		next.ServeHTTP(w, r)
	})
}

func (l *connLimit) setBusy(c *limitedConn, d int) {
	l.mu.Lock()
	c.busy += d
	l.mu.Unlock()
}
