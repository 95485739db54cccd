package hub

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/replicator"
)

// Defaults of a Server.
const (
	DefaultMaxBody = 64 << 20
	DefaultMaxWait = 60 * time.Second
)

// Server serves a Store over HTTP.
type Server struct {
	Store   *Store
	Tokens  *Tokens // nil: no authentication
	MaxBody int64   // request body limit; 0 means DefaultMaxBody
	MaxWait time.Duration
	Logger  *slog.Logger

	metrics *metrics
	// pushes bounds the pushes decoded at once: a frame's body buffer is
	// allocated at its declared size (up to the codec's limit) before zstd
	// can prove it wrong, so many lying frames at once must not add up.
	pushes chan struct{}
}

// DefaultConcurrentPushes is how many pushes a hub decodes and merges at once.
const DefaultConcurrentPushes = 4

// NewServer returns a server on store.
func NewServer(store *Store) *Server {
	return &Server{Store: store, Logger: slog.Default(), metrics: newMetrics(),
		pushes: make(chan struct{}, DefaultConcurrentPushes)}
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{db}/push", s.db(s.push))
	mux.HandleFunc("GET /v1/{db}/pull", s.db(s.pull))
	mux.HandleFunc("GET /v1/{db}/schema", s.db(s.getSchema))
	mux.HandleFunc("PUT /v1/{db}/schema", s.db(s.putSchema))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	return mux
}

type dbHandler func(w http.ResponseWriter, r *http.Request, db string) error

// db wraps a handler with authentication, the body limit, timing and the
// error-to-status mapping.
func (s *Server) db(h dbHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		db := r.PathValue("db")
		err := s.authorize(r, db)
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
			err = h(w, r, db)
		}
		route := strings.TrimPrefix(r.Pattern, r.Method+" /v1/{db}/")
		s.metrics.observe("deltasync_hub_request_seconds_"+route, time.Since(start))
		if err != nil {
			s.fail(w, r, db, err)
		}
	}
}

func (s *Server) authorize(r *http.Request, db string) error {
	if s.Tokens == nil {
		return nil
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return s.Tokens.Check(token, db)
}

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, db string, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = fmt.Errorf("%w: the limit is %d bytes", ErrTooLarge, tooLarge.Limit)
	}
	status, code := statusOf(err)
	s.metrics.add(fmt.Sprintf("deltasync_hub_errors_total{status=\"%d\"}", status), 1)
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	s.Logger.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "db", db, "status", status, "err", err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": code})
}

func (s *Server) push(w http.ResponseWriter, r *http.Request, db string) error {
	rep, err := s.Store.Get(r.Context(), db)
	if err != nil {
		return err
	}
	defer rep.Release()
	frame, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	select {
	case s.pushes <- struct{}{}:
		defer func() { <-s.pushes }()
	case <-r.Context().Done():
		return r.Context().Err()
	}
	start := time.Now()
	res, err := rep.Push(r.Context(), frame)
	if err != nil {
		return err
	}
	s.metrics.observe("deltasync_hub_merge_seconds", time.Since(start))
	s.metrics.add(fmt.Sprintf("deltasync_hub_bytes_received_total{db=%q}", db), float64(len(frame)))
	s.metrics.add(fmt.Sprintf("deltasync_hub_pushes_total{db=%q}", db), 1)
	if h, err := rep.Node.Header(frame); err == nil {
		s.metrics.device(db, hex.EncodeToString(h.Origin[:]))
		s.metrics.add(fmt.Sprintf("deltasync_hub_changes_merged_total{db=%q}", db), float64(h.Changes))
	}
	return writeJSON(w, res)
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request, db string) error {
	req, err := s.pullRequest(r)
	if err != nil {
		return err
	}
	rep, err := s.Store.Get(r.Context(), db)
	if err != nil {
		return err
	}
	defer rep.Release()
	frame, err := rep.Pull(r.Context(), req)
	if err != nil {
		return err
	}
	s.metrics.add(fmt.Sprintf("deltasync_hub_bytes_sent_total{db=%q}", db), float64(len(frame)))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, err = w.Write(frame)
	return err
}

// badRequest is an error in the request's parameters.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func (s *Server) pullRequest(r *http.Request) (replicator.PullRequest, error) {
	q := r.URL.Query()
	var req replicator.PullRequest
	var err error
	if v := q.Get("since"); v != "" {
		if req.Since, err = strconv.ParseUint(v, 10, 64); err != nil {
			return req, badRequest{"since must be a version number"}
		}
	}
	if v := q.Get("limit"); v != "" {
		if req.Limit, err = strconv.Atoi(v); err != nil || req.Limit < 0 {
			return req, badRequest{"limit must be a non-negative number"}
		}
	}
	if v := q.Get("wait"); v != "" {
		if req.Wait, err = time.ParseDuration(v); err != nil {
			return req, badRequest{"wait must be a duration such as 30s"}
		}
		maxWait := s.MaxWait
		if maxWait <= 0 {
			maxWait = DefaultMaxWait
		}
		req.Wait = min(req.Wait, maxWait)
	}
	if v := q.Get("site"); v != "" {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != len(changelog.SiteID{}) {
			return req, badRequest{"site must be 32 hex digits"}
		}
		copy(req.Site[:], b)
	}
	return req, nil
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request, db string) error {
	rep, err := s.Store.Get(r.Context(), db)
	if err != nil {
		return err
	}
	defer rep.Release()
	return writeJSON(w, rep.Doc)
}

func (s *Server) putSchema(w http.ResponseWriter, r *http.Request, db string) error {
	var doc replicator.SchemaDoc
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		return badRequest{"schema: " + err.Error()}
	}
	rep, err := s.Store.Create(r.Context(), db, &doc)
	if rep != nil {
		rep.Release()
	}
	return err
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	versions := map[string]int64{}
	for _, rep := range s.Store.Open() {
		if v, err := rep.Node.Log().LastVersion(r.Context()); err == nil {
			versions[rep.Name] = v
		}
		rep.Release()
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.write(w, versions)
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}
