package hub

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
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
	// after the other) and the hub's heap for bodies stays under about
	// 100 MiB. A third of it is kept for small pushes (counted at up to a
	// third, as a device's batch of DefaultBatchBytes is), so that a large
	// push a client sends slowly holds none of them up; a push counted as
	// more than two thirds is counted as two thirds and passes alone among
	// large ones.
	DefaultBodyBudget = DefaultMaxBody * 3 / 2

	// DefaultPullBudget bounds the bytes of pull frames that the hub builds
	// and holds at once: room for two reads at their largest (pullShare)
	// beside frames being written to slower readers.
	DefaultPullBudget = int64(8 * replicator.DefaultBatchBytes)
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

	// DefaultMaxPushesPerToken is how many pushes one token (or client
	// address) has in flight at once, reading, waiting for the body
	// budget or merging: as many as the hub merges at once, so that a
	// token's slow or queued pushes cannot fill the budget's queue alone.
	DefaultMaxPushesPerToken = DefaultConcurrentPushes

	// DefaultMinRate is the slowest upload or download the hub waits for,
	// in bytes per second (2 Mbit/s): a body of the full size then has
	// about four and a half minutes. A push body and a pull's frame must
	// keep up with it after a 30 s grace, or the hub cuts the client.
	DefaultMinRate = 256 << 10

	// headerTimeout bounds reading a request's header; idleTimeout closes
	// a kept-alive connection that sends no next request.
	headerTimeout = 10 * time.Second
	idleTimeout   = 2 * time.Minute
	// defaultSlack is added to every transfer time, for latency and the
	// merge.
	defaultSlack = 30 * time.Second
	// pullShare is what one pull's read may build before its frame is
	// known, taken from the pull budget: the changes it reads (at most
	// about replicator.DefaultBatchBytes of values, the replicas' batch
	// size), the body they encode to and the frame that compresses it.
	// Once the frame is built the share shrinks to the frame's size; a
	// frame larger than the share (a merge served whole) takes its size.
	pullShare = 3 * replicator.DefaultBatchBytes
	// maxSchemaBody bounds a schema upload, twice what the hub builds from
	// (hub/schemadoc.go), for the JSON around the statements.
	maxSchemaBody = 4 << 20
)

func (s *Server) maxBody() int64 { return orDefault(s.MaxBody, DefaultMaxBody) }

func (s *Server) maxWait() time.Duration { return orDefault(s.MaxWait, DefaultMaxWait) }

func (s *Server) maxPushesPerToken() int {
	return orDefault(s.MaxPushesPerToken, DefaultMaxPushesPerToken)
}

func (s *Server) minRate() int64 { return orDefault(s.MinRate, DefaultMinRate) }

func (s *Server) maxConns() int { return orDefault(s.MaxConns, DefaultMaxConns) }

func (s *Server) maxWaitsPerToken() int {
	return orDefault(s.MaxWaitsPerToken, DefaultMaxWaitsPerToken)
}

// transferTime is how long n bytes may take: slack, plus n at the
// slowest rate the hub waits for.
func (s *Server) transferTime(n int64) time.Duration {
	return s.slack() + time.Duration(float64(n)/float64(s.minRate())*float64(time.Second))
}

func (s *Server) slack() time.Duration { return orDefault(s.testSlack, defaultSlack) }

// orDefault is v if set (positive), else def: a limit's zero value means
// its default.
func orDefault[T ~int | ~int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// HTTPServer returns an http.Server for s with timeouts suited to
// long-polls: a header must arrive within 10 s; a request may take as long
// as a body of the full size at DefaultMinRate, and never less than the
// longest long-poll (net/http cancels a request whose read deadline passes,
// even while its handler waits); a response may take the longest wait plus
// a full-size body. Serve it on s.Listener.
func (s *Server) HTTPServer() *http.Server {
	body := s.transferTime(s.maxBody())
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       max(body, s.maxWait()+s.slack()),
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

// keyLimit counts what each caller (caller.waitKey) holds of one kind:
// long-polls, or pushes.
type keyLimit struct {
	mu sync.Mutex
	n  map[string]int
}

// enter takes one of key's max; false if it has none left.
func (l *keyLimit) enter(key string, max int) bool {
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

func (l *keyLimit) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[key]--; l.n[key] <= 0 {
		delete(l.n, key)
	}
}
