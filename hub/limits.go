package hub

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/deltasync/deltasync/codec"
)

// Defaults of a Server's limits. cmd/deltasync exposes each as a flag of
// `deltasync hub`; SECURITY.md says how to choose them.
var (
	// DefaultMaxBody is the largest request body: one frame of the codec's
	// size limit, which counts the frame header. A device cuts its batches
	// well under it.
	DefaultMaxBody = int64(codec.DefaultLimits.MaxFrame)

	// DefaultBodyBudget bounds the bytes that push bodies take at once,
	// each counted as its frame, its declared uncompressed body and the
	// values decoded from it. At one and a half full-size frames, two
	// large pushes never overlap (16 concurrent 60 MB bodies are read one
	// after the other) while small pushes pass beside a large one, and the
	// hub's heap for bodies stays under about 100 MiB. A push counted as
	// more than the budget takes all of it and passes alone.
	DefaultBodyBudget = DefaultMaxBody * 3 / 2
)

const (
	// DefaultMaxWait is the longest a pull waits for a change.
	DefaultMaxWait = 60 * time.Second

	// DefaultMaxConns is how many connections the hub holds open: half of
	// the common limit of 1024 file descriptors, leaving the rest to the
	// replicas (three each) and the data directory.
	DefaultMaxConns = 512

	// DefaultMaxWaitsPerToken is how many long-polls one token (or, on a
	// hub without tokens, one client address) holds at once: a sidecar
	// holds one per database, so a quarter of DefaultMaxConns leaves room
	// for many devices per token while no token fills the hub alone.
	DefaultMaxWaitsPerToken = DefaultMaxConns / 4

	// DefaultMinRate is the slowest upload or download the hub waits for,
	// in bytes per second (2 Mbit/s): a body of the full size then has
	// about four and a half minutes.
	DefaultMinRate = 256 << 10

	// headerTimeout bounds reading a request's header; idleTimeout closes
	// a kept-alive connection that sends no next request.
	headerTimeout = 10 * time.Second
	idleTimeout   = 2 * time.Minute
	// slack is added to every transfer time, for latency and the merge.
	slack = 30 * time.Second
	// maxSchemaBody bounds a schema upload, twice what the hub builds from
	// (hub/schemadoc.go), for the JSON around the statements.
	maxSchemaBody = 4 << 20
)

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

func (s *Server) maxWait() time.Duration {
	if s.MaxWait > 0 {
		return s.MaxWait
	}
	return DefaultMaxWait
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}

func (s *Server) maxWaitsPerToken() int {
	if s.MaxWaitsPerToken > 0 {
		return s.MaxWaitsPerToken
	}
	return DefaultMaxWaitsPerToken
}

// transferTime is how long n bytes take at the slowest rate the hub
// waits for.
func transferTime(n int64) time.Duration {
	return slack + time.Duration(n/DefaultMinRate)*time.Second
}

// HTTPServer returns an http.Server for s with timeouts suited to
// long-polls: a header must arrive within 10 s; a request may take as long
// as a body of the full size at DefaultMinRate, and never less than the
// longest long-poll (net/http cancels a request whose read deadline passes,
// even while its handler waits); a response may take the longest wait plus
// a full-size body. Serve it on s.Listener.
func (s *Server) HTTPServer() *http.Server {
	body := transferTime(s.maxBody())
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       max(body, s.maxWait()+slack),
		WriteTimeout:      s.maxWait() + body,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug),
	}
}

// Listener caps the connections ln accepts at MaxConns: at the cap, a new
// connection closes the oldest one that is not serving a request.
func (s *Server) Listener(ln net.Listener) net.Listener {
	s.conns.mu.Lock()
	s.conns.max = s.maxConns()
	s.conns.mu.Unlock()
	return limitListener{Listener: ln, limit: s.conns}
}

// waitLimit counts the long-polls each token holds.
type waitLimit struct {
	mu sync.Mutex
	n  map[string]int
}

// enter takes one of key's max long-polls; false if it has none left.
func (l *waitLimit) enter(key string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[key] >= max {
		return false
	}
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[key]++
	return true
}

func (l *waitLimit) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[key]--; l.n[key] <= 0 {
		delete(l.n, key)
	}
}
