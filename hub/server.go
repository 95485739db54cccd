package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/replicator"
)

// Server serves a Store over HTTP. Zero limits take their Default values.
type Server struct {
	Store  *Store
	Tokens *Tokens // nil: no authentication, no site binding
	// MaxBody is the largest request body, in bytes.
	MaxBody int64
	// BodyBudget bounds the bytes of push bodies held at once.
	BodyBudget int64
	// PullBudget bounds the bytes of pull frames built and held at once.
	PullBudget int64
	// MinRate is the slowest transfer the hub waits for, in bytes per
	// second, after a grace of 30 s: a push body sent or a pull's frame
	// read more slowly is cut.
	MinRate int64
	// MaxWait is the longest a pull waits for a change.
	MaxWait time.Duration
	// MaxConns caps the connections of a Listener.
	MaxConns int
	// MaxWaitsPerToken caps the long-polls one token holds at once.
	MaxWaitsPerToken int
	// MaxPushesPerToken caps the pushes one token has in flight at once.
	MaxPushesPerToken int
	Logger            *slog.Logger

	metrics *metrics
	// pushes bounds the merges run at once: each takes a core.
	pushes     chan struct{}
	pushBudget *budget // made on first use, from BodyBudget
	pullBudget *budget // the same, from PullBudget
	budgetOnce sync.Once
	testSlack  time.Duration // the grace of a transfer, if not defaultSlack
	conns      *connLimit
	waits      keyLimit
	pushers    keyLimit
	health     health
}

// DefaultConcurrentPushes is how many pushes a hub decodes and merges at once.
const DefaultConcurrentPushes = 4

// NewServer returns a server on store.
func NewServer(store *Store) *Server {
	m := newMetrics()
	return &Server{Store: store, Logger: slog.Default(), metrics: m,
		pushes: make(chan struct{}, DefaultConcurrentPushes), conns: newConnLimit(m)}
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{db}/push", s.db(s.push))
	mux.HandleFunc("GET /v1/{db}/pull", s.db(s.pull))
	mux.HandleFunc("GET /v1/{db}/schema", s.db(s.getSchema))
	mux.HandleFunc("PUT /v1/{db}/schema", s.db(s.putSchema))
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	return s.conns.track(mux)
}

// MetricsHandler serves only /metrics, with every database and no token:
// for a listener of its own that only the operator's monitoring reaches.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		s.writeMetrics(w, r, func(string) bool { return true })
	})
	return mux
}

// caller is who a request to a database comes from.
type caller struct {
	db    string
	token tokenKey // zero on a hub without tokens
	// waitKey counts the caller's long-polls and pushes: its token, or on
	// a hub without tokens its address.
	waitKey string
}

type dbHandler func(w http.ResponseWriter, r *http.Request, c caller) error

// db wraps a handler with authentication, the body limit, timing and the
// error-to-status mapping.
func (s *Server) db(h dbHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c, err := s.authorize(r)
		aw := &answerWriter{ResponseWriter: w}
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
			err = h(aw, r, c)
		}
		route := strings.TrimPrefix(r.Pattern, r.Method+" /v1/{db}/")
		s.metrics.observe("deltasync_hub_request_seconds_"+route, time.Since(start))
		if err != nil {
			if r.ContentLength != 0 {
				// The body may be unread: close the connection rather than
				// let net/http read up to 256 KiB of it first.
				w.Header().Set("Connection", "close")
			}
			s.fail(aw, r, c.db, err)
		}
	}
}

// answerWriter notes whether a handler has begun its answer: from then on
// the status is sent, and an error body written after part of a frame
// would only corrupt it.
type answerWriter struct {
	http.ResponseWriter
	begun bool
}

func (w *answerWriter) WriteHeader(status int) {
	w.begun = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *answerWriter) Write(p []byte) (int, error) {
	w.begun = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) authorize(r *http.Request) (caller, error) {
	c := caller{db: r.PathValue("db")}
	if s.Tokens == nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		c.waitKey = "addr:" + host
		return c, nil
	}
	token, _ := bearer(r.Header.Get("Authorization"))
	key, err := s.Tokens.check(token, c.db)
	c.token, c.waitKey = key, "token:"+hex.EncodeToString(key[:])
	return c, err
}

// fail answers err as JSON {"error": ..., "code": ...}. A client's mistake
// is a 4xx logged at WARN; the hub's own failure is a 500 whose body says
// only the id under which its log line gives the real error, so that no
// path, SQLite message or other tenant's data reaches a client. A client
// that went away is no error at all, whatever error its leaving caused (a
// cancelled wait, an interrupted SQLite statement, a failed write): it is
// logged at DEBUG and its connection closed without an answer. Nor does
// anything follow an answer that has begun. A client cut for being slower
// than the minimum rate is logged at WARN and counted.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, db string, err error) {
	aw, _ := w.(*answerWriter)
	begun := aw != nil && aw.begun
	switch {
	case errors.Is(err, ErrTooSlow):
		s.Logger.Warn("client cut", "method", r.Method, "path", r.URL.Path, "db", db, "err", err)
		s.metrics.add("deltasync_hub_slow_clients_cut_total", 1)
		if begun {
			abort()
		}
	case r.Context().Err() != nil:
		s.Logger.Debug("client went away", "method", r.Method, "path", r.URL.Path, "db", db, "err", err)
		abort()
	case begun:
		s.Logger.Error("answer cut short", "method", r.Method, "path", r.URL.Path, "db", db, "err", err)
		abort()
	}
	err = clientError(err)
	status, code := statusOf(err)
	s.metrics.add(fmt.Sprintf("deltasync_hub_errors_total{status=\"%d\"}", status), 1)
	msg := err.Error()
	if status >= 500 && code == "internal" {
		id := errorID()
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "db", db, "status", status, "id", id, "err", err)
		msg = fmt.Sprintf("internal error (logged as %s)", id)
	} else {
		s.Logger.Warn("request refused", "method", r.Method, "path", r.URL.Path, "db", db, "status", status, "err", err)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeError(w, status, msg, code)
}

// abort ends the request and closes its connection without an answer or
// the rest of one: a handler that only returned would have net/http send
// an empty 200, or end a cut frame as if it were whole.
func abort() { panic(http.ErrAbortHandler) }

func writeError(w http.ResponseWriter, status int, msg, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}

// errorID names one 500 in the log, for the operator a user reports it to.
func errorID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// replica gets db's replica, noting for /healthz whether one that exists
// opened.
func (s *Server) replica(ctx context.Context, db string) (*Replica, error) {
	rep, err := s.Store.Get(ctx, db)
	if st, _ := statusOf(clientError(err)); err == nil || (st == http.StatusInternalServerError && ctx.Err() == nil) {
		s.health.opened(db, err)
	}
	return rep, err
}

func (s *Server) push(w http.ResponseWriter, r *http.Request, c caller) error {
	if !s.pushers.enter(c.waitKey, s.maxPushesPerToken()) {
		return fmt.Errorf("%w: the limit is %d at once; push one batch at a time, or give devices their own tokens", ErrTooManyPushes, s.maxPushesPerToken())
	}
	defer s.pushers.leave(c.waitKey)
	rep, err := s.replica(r.Context(), c.db)
	if err != nil {
		return err
	}
	defer rep.Release()
	frame, h, release, err := s.readFrame(w, r, rep, c)
	if err != nil {
		return err
	}
	defer release()
	select {
	case s.pushes <- struct{}{}:
		defer func() { <-s.pushes }()
	case <-r.Context().Done():
		return r.Context().Err()
	}
	start := time.Now()
	var admit replicator.Admit
	if s.Tokens != nil {
		admit = s.bindSite(rep, c.token)
	}
	res, err := rep.PushAs(r.Context(), frame, admit)
	if err != nil {
		return err
	}
	s.metrics.observe("deltasync_hub_merge_seconds", time.Since(start))
	s.metrics.add(fmt.Sprintf("deltasync_hub_bytes_received_total{db=%q}", c.db), float64(len(frame)))
	s.metrics.add(fmt.Sprintf("deltasync_hub_pushes_total{db=%q}", c.db), 1)
	s.metrics.device(c.db, hex.EncodeToString(h.Origin[:]))
	s.metrics.add(fmt.Sprintf("deltasync_hub_changes_merged_total{db=%q}", c.db), float64(h.Changes))
	return writeJSON(w, res)
}

// readFrame reads a push body: first the frame header, checked against the
// codec's limits, the body limit and the site binding before another byte
// is read, so that junk costs the hub 100 bytes; then, once the body
// budget has room for it, the rest, into a buffer of the declared size.
// release gives the budget back, after the merge.
func (s *Server) readFrame(w http.ResponseWriter, r *http.Request, rep *Replica, c caller) (frame []byte, h codec.Header, release func(), err error) {
	// Before the first read, which makes the server ask a client that sent
	// Expect: 100-continue for the body: a body refused by its length is
	// then never sent, and the client reads the 413 instead of a reset.
	if r.ContentLength > s.maxBody() {
		return nil, h, nil, fmt.Errorf("%w: a body of %d bytes; the limit is %d bytes", ErrTooLarge, r.ContentLength, s.maxBody())
	}
	head := make([]byte, codec.HeaderSize)
	if n, err := io.ReadFull(r.Body, head); err != nil {
		return nil, h, nil, shortHeader(rep, head[:n], err)
	}
	if h, err = rep.Node.Header(head); err != nil {
		return nil, h, nil, err
	}
	if h.FrameLen() > s.maxBody() {
		return nil, h, nil, fmt.Errorf("%w: a frame of %d bytes; the limit is %d bytes", ErrTooLarge, h.FrameLen(), s.maxBody())
	}
	if r.ContentLength >= 0 && r.ContentLength != h.FrameLen() {
		return nil, h, nil, wrongLength(r.ContentLength, h.FrameLen())
	}
	if s.Tokens != nil {
		if err := s.checkSite(r.Context(), rep, h.Origin, c.token); err != nil {
			return nil, h, nil, err
		}
	}
	// The frame, its body decompressed, and the values decoded from it.
	pushes, _ := s.budgets()
	sh, err := pushes.acquire(r.Context(), h.FrameLen()+2*int64(h.BodyLen))
	if err != nil {
		return nil, h, nil, err
	}
	release = sh.release
	// The request may have waited for the budget: the body's time starts
	// now, and the client must keep up with the minimum rate.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(s.transferTime(h.FrameLen()) + s.slack()))
	body := &minRateReader{r: r.Body, start: time.Now(), due: s.transferTime, setDeadline: rc.SetReadDeadline}
	frame = make([]byte, h.FrameLen())
	copy(frame, head)
	if n, err := io.ReadFull(body, frame[codec.HeaderSize:]); err != nil {
		release()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, h, nil, fmt.Errorf("%w: %d of a %d-byte push in %s", ErrTooSlow, n, h.FrameLen(), time.Since(body.start).Round(time.Second))
		}
		return nil, h, nil, truncated(err, codec.HeaderSize+n, fmt.Sprintf("the %d-byte frame", h.FrameLen()))
	}
	if n, _ := r.Body.Read(make([]byte, 1)); n > 0 {
		release()
		return nil, h, nil, fmt.Errorf("%w: bytes after the %d-byte frame", codec.ErrCorrupt, h.FrameLen())
	}
	return frame, h, release, nil
}

// minRateReader reads a push body that must keep up with the hub's
// minimum rate: before each read of at most rateChunk bytes it moves the
// read deadline to when the bytes read so far and that chunk are due
// (their transfer time from the start), so that a client who falls behind
// is cut when it does, giving its share of the body budget back, rather
// than when its whole body's time has passed.
type minRateReader struct {
	r           io.Reader
	start       time.Time
	n           int64
	due         func(n int64) time.Duration
	setDeadline func(time.Time) error
}

// rateChunk is the most a minRateReader reads under one deadline.
const rateChunk = 64 << 10

func (m *minRateReader) Read(p []byte) (int, error) {
	p = p[:min(len(p), rateChunk)]
	m.setDeadline(m.start.Add(m.due(m.n + int64(len(p))))) //nolint:errcheck // without deadlines the server's ReadTimeout bounds the body
	n, err := m.r.Read(p)
	m.n += int64(n)
	return n, err
}

// truncated names a body that ended early, and passes on other read
// errors (an oversized body, a client gone).
func truncated(err error, n int, what string) error {
	if isEOF(err) {
		return fmt.Errorf("%w: the body ends after %d bytes, inside %s", codec.ErrTruncated, n, what)
	}
	return err
}

func isEOF(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) }

// shortHeader is the error of a body that ended inside the frame header,
// after the bytes head: the decoder's, when they are no frame's or one of
// another version, as the decoder of an in-process hub would say of them;
// otherwise that the frame was cut.
func shortHeader(rep *Replica, head []byte, err error) error {
	if _, herr := rep.Node.Header(head); isEOF(err) && herr != nil && !errors.Is(herr, codec.ErrTruncated) {
		return herr
	}
	return truncated(err, len(head), "the frame header")
}

// wrongLength is the error of a body whose length is not its frame's: cut
// short, or with bytes after the frame, as the decoder names them.
func wrongLength(body, frame int64) error {
	kind := codec.ErrCorrupt
	if body < frame {
		kind = codec.ErrTruncated
	}
	return fmt.Errorf("%w: a body of %d bytes, but its frame header says %d", kind, body, frame)
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request, c caller) error {
	req, err := s.pullRequest(r.URL.Query())
	if err != nil {
		return err
	}
	if req.Wait > 0 {
		if !s.waits.enter(c.waitKey, s.maxWaitsPerToken()) {
			return fmt.Errorf("%w: the limit is %d at once; pull without waiting, or give devices their own tokens", ErrTooManyWaits, s.maxWaitsPerToken())
		}
		defer s.waits.leave(c.waitKey)
	}
	_, pulls := s.budgets()
	frame, sh, err := s.Store.pull(r.Context(), c.db, req, s.replica, pulls)
	if err != nil {
		return err
	}
	defer sh.release()
	s.metrics.add(fmt.Sprintf("deltasync_hub_bytes_sent_total{db=%q}", c.db), float64(len(frame)))
	return s.writeFrame(w, frame)
}

// writeFrame writes a pull's frame within the time its size takes at the
// minimum rate, so that a reader who stops reading is cut, and the frame's
// memory (its share of the pull budget) freed, instead of held until the
// server's write timeout.
func (s *Server) writeFrame(w http.ResponseWriter, frame []byte) error {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.transferTime(int64(len(frame)))))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(frame)))
	if _, err := w.Write(frame); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%w: a pull of %d bytes not read within %s", ErrTooSlow, len(frame), s.transferTime(int64(len(frame))))
		}
		return err
	}
	return nil
}

// budgets returns the push body budget and the pull frame budget, made on
// first use from BodyBudget and PullBudget.
func (s *Server) budgets() (push, pull *budget) {
	s.budgetOnce.Do(func() {
		size := orDefault(s.BodyBudget, DefaultBodyBudget)
		s.pushBudget = newBudget(size, size/3)
		s.pullBudget = newBudget(orDefault(s.PullBudget, DefaultPullBudget), 0)
	})
	return s.pushBudget, s.pullBudget
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// pullRequest parses a pull's query. The hub caps what the client asks:
// at most replicator.DefaultBatchSize changes, waiting at most MaxWait.
func (s *Server) pullRequest(q url.Values) (PullRequest, error) {
	var req PullRequest
	get := q.Get
	var err error
	if v := get("since"); v != "" {
		since, err := strconv.ParseUint(v, 10, 64)
		if err != nil || since > math.MaxInt64 {
			return req, badRequest("since must be a version number from 0 to %d", int64(math.MaxInt64))
		}
		req.Since = change.Version(since)
	}
	if v := get("limit"); v != "" {
		if req.Limit, err = strconv.Atoi(v); err != nil || req.Limit < 0 {
			return req, badRequest("limit must be a non-negative number")
		}
		req.Limit = min(req.Limit, replicator.DefaultBatchSize)
	}
	if v := get("wait"); v != "" {
		if req.Wait, err = time.ParseDuration(v); err != nil || req.Wait < 0 {
			return req, badRequest("wait must be a duration such as 30s")
		}
		req.Wait = min(req.Wait, s.maxWait())
	}
	if v := get("site"); v != "" {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != len(change.SiteID{}) {
			return req, badRequest("site must be 32 hex digits")
		}
		copy(req.Site[:], b)
	}
	return req, nil
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request, c caller) error {
	rep, err := s.replica(r.Context(), c.db)
	if err != nil {
		return err
	}
	defer rep.Release()
	return writeJSON(w, rep.Doc)
}

func (s *Server) putSchema(w http.ResponseWriter, r *http.Request, c caller) error {
	var doc replicator.SchemaDoc
	body := http.MaxBytesReader(w, r.Body, maxSchemaBody)
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return err
		}
		return badRequest("schema: %v", err)
	}
	rep, err := s.Store.Create(r.Context(), c.db, &doc)
	if rep != nil {
		rep.Release()
	}
	return err
}

// serveMetrics serves /metrics on the main listener: on a hub with tokens
// it needs one, and shows the series of the databases that token may sync.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	allow := func(string) bool { return true }
	if s.Tokens != nil {
		token, _ := bearer(r.Header.Get("Authorization"))
		_, dbs, ok := s.Tokens.lookup(token)
		if !ok {
			s.fail(w, r, "", ErrUnauthorized)
			return
		}
		allow = func(db string) bool { return allows(dbs, db) }
	}
	s.writeMetrics(w, r, allow)
}

func (s *Server) writeMetrics(w http.ResponseWriter, r *http.Request, allow func(string) bool) {
	versions := map[string]int64{}
	for _, rep := range s.Store.Open() {
		if allow(rep.Name) {
			if v, err := rep.Node.Log().LastVersion(r.Context()); err == nil {
				versions[rep.Name] = int64(v)
			}
		}
		rep.Release()
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.write(w, versions, allow)
	fmt.Fprintf(w, "deltasync_hub_connections_open %d\n", s.conns.open())
	pushes, pulls := s.budgets()
	for _, b := range []struct {
		name string
		b    *budget
	}{{"push", pushes}, {"pull", pulls}} {
		held, waiting := b.b.state()
		fmt.Fprintf(w, "deltasync_hub_%s_budget_held_bytes %d\ndeltasync_hub_%s_budget_waiting %d\n", b.name, held, b.name, waiting)
	}
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}
