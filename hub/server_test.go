package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// logBuffer collects a hub's log lines, safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testHub is a hub.Server over HTTP on 127.0.0.1, served the way
// `deltasync hub` serves it (HTTPServer on Listener).
type testHub struct {
	*hub.Server
	url    string
	dir    string
	log    *logBuffer
	tokens map[string]string // label -> bearer token
	lines  map[string]string // label -> its line of the token file
}

// rotate gives label a new token, as an operator replacing its line in the
// token file and restarting the hub would. No request may be in flight.
func (h *testHub) rotate(t *testing.T, label string) {
	t.Helper()
	token, line, err := hub.NewToken([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	h.tokens[label], h.lines[label] = token, line
	var lines []string
	for _, l := range h.lines {
		lines = append(lines, l)
	}
	if h.Tokens, err = hub.ParseTokens(strings.NewReader(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
}

// startHub serves a new store; tokens maps a label to the databases its
// token may sync (nil: no tokens). configure may set limits before it
// starts.
func startHub(t *testing.T, tokens map[string]string, configure func(*hub.Server)) *testHub {
	t.Helper()
	h := &testHub{dir: filepath.Join(t.TempDir(), "hub"), log: &logBuffer{}, tokens: map[string]string{}, lines: map[string]string{}}
	st := hub.NewStore(h.dir)
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st.Logger = logger
	h.Server = hub.NewServer(st)
	h.Logger = logger
	if tokens != nil {
		var lines []string
		for label, dbs := range tokens {
			token, line, err := hub.NewToken(strings.Split(dbs, ","))
			if err != nil {
				t.Fatal(err)
			}
			h.tokens[label], h.lines[label] = token, line
			lines = append(lines, line)
		}
		parsed, err := hub.ParseTokens(strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		h.Tokens = parsed
	}
	if configure != nil {
		configure(h.Server)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = h.HTTPServer()
	ts.Listener = h.Listener(ts.Listener)
	ts.Start()
	t.Cleanup(func() { ts.Close(); st.Close() })
	h.url = ts.URL
	return h
}

// client returns a hub client with the token of label ("" for none).
func (h *testHub) client(label string) *hub.Client {
	return hub.NewClient(h.url, h.tokens[label])
}

// answer is a hub response as a client sees it.
type answer struct {
	status int
	code   string
	msg    string
	body   string
}

// do sends one request with the Authorization header auth (if any).
func (h *testHub) do(t *testing.T, method, path, auth string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode/100 != 2 && resp.Header.Get("Content-Type") == "application/json" {
		var e struct{ Error, Code string }
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s: error body %q is not JSON: %v", method, path, b, err)
		}
		a.code, a.msg = e.Code, e.Error
	}
	return a
}

const strictDDL = `CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, s TEXT CHECK (length(s) < 5)) STRICT;`

// createDB gives the hub a database named db with ddl, as a first device does.
func createDB(t *testing.T, c *hub.Client, db, ddl string) *replicator.SchemaDoc {
	t.Helper()
	doc := schemaDoc(t, ddl)
	if err := c.PutSchema(context.Background(), db, doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// frame encodes one batch of changes to table t of doc, written by origin.
func frame(t *testing.T, doc *replicator.SchemaDoc, origin change.SiteID, table string, cols []string, changes ...codec.Change) []byte {
	t.Helper()
	b := &codec.Batch{Origin: origin, First: 0, Last: change.Version(len(changes)), Sites: []change.SiteID{origin},
		Tables: []codec.Table{{Name: table, Columns: cols}}, Changes: changes}
	fp, err := hex.DecodeString(doc.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	copy(b.Fingerprint[:], fp)
	enc, err := codec.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	f, err := enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// insert is an insert of key id setting cols to values, stamped at hlc.
func insert(id int64, hlc change.HLC, cols []int, values ...any) codec.Change {
	c := codec.Change{Table: 0, Op: change.Insert, Key: []any{id}, Clock: codec.Clock{HLC: hlc}, Columns: cols, Values: values}
	for range values {
		c.Clocks = append(c.Clocks, codec.Clock{HLC: hlc})
	}
	return c
}

func site(b byte) change.SiteID { return change.SiteID{b, 0x5e, 0x11} }

// TestErrorAnswers: each client mistake is a 4xx with a stable code and
// a message for the client, logged at WARN at most.
func TestErrorAnswers(t *testing.T) {
	h := startHub(t, map[string]string{"app": "app", "all": "*"}, nil)
	doc := createDB(t, h.client("app"), "app", strictDDL)
	bearer := "Bearer " + h.tokens["app"]
	origin := site(1)
	push := func(changes ...codec.Change) io.Reader {
		return bytes.NewReader(frame(t, doc, origin, "t", []string{"id", "n", "s"}, changes...))
	}
	for _, tc := range []struct {
		name, method, path, auth string
		body                     io.Reader
		status                   int
		code                     string
	}{
		{"since overflows int64", "GET", "/v1/app/pull?since=9223372036854775808", bearer, nil, 400, "bad-request"},
		{"since not a number", "GET", "/v1/app/pull?since=x", bearer, nil, 400, "bad-request"},
		{"negative wait", "GET", "/v1/app/pull?wait=-1s", bearer, nil, 400, "bad-request"},
		{"huge limit is capped, not refused", "GET", "/v1/app/pull?limit=999999999", bearer, nil, 200, ""},
		{"bare token without scheme", "GET", "/v1/app/pull", h.tokens["app"], nil, 401, "unauthorized"},
		{"scheme in lower case", "GET", "/v1/app/pull", "bearer " + h.tokens["app"], nil, 200, ""},
		{"two spaces", "GET", "/v1/app/pull", "Bearer  " + h.tokens["app"], nil, 401, "unauthorized"},
		{"another scheme", "GET", "/v1/app/pull", "Basic " + h.tokens["app"], nil, 401, "unauthorized"},
		{"another tenant", "GET", "/v1/other/pull", bearer, nil, 403, "forbidden"},
		{"no such database", "GET", "/v1/nothing/pull", "Bearer " + h.tokens["all"], nil, 404, "no-schema"},
		{"junk body", "POST", "/v1/app/push", bearer, strings.NewReader(strings.Repeat("junk", 1000)), 400, "frame-magic"},
		{"short body", "POST", "/v1/app/push", bearer, strings.NewReader("DLTS"), 400, "frame-truncated"},
		{"schema not JSON", "PUT", "/v1/new/schema", "Bearer " + h.tokens["all"], strings.NewReader("{"), 400, "bad-request"},
		{"STRICT type mismatch", "POST", "/v1/app/push", bearer, push(insert(1, 1, []int{0, 1, 2}, int64(1), "text", "ok")), 422, "constraint"},
		{"NOT NULL", "POST", "/v1/app/push", bearer, push(insert(2, 1, []int{0, 1, 2}, int64(2), nil, "ok")), 422, "constraint"},
		{"CHECK", "POST", "/v1/app/push", bearer, push(insert(3, 1, []int{0, 1, 2}, int64(3), int64(1), "too long")), 422, "constraint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(t, tc.method, tc.path, tc.auth, tc.body)
			if a.status != tc.status || a.code != tc.code {
				t.Errorf("got %d %q (%s), want %d %q", a.status, a.code, a.msg, tc.status, tc.code)
			}
			if a.status >= 400 && (a.msg == "" || strings.Contains(a.msg, h.dir)) {
				t.Errorf("message %q: want one for the client, without the hub's paths", a.msg)
			}
		})
	}
	if strings.Contains(h.log.String(), "level=ERROR") {
		t.Errorf("client mistakes logged as errors:\n%s", h.log)
	}
}

// TestInternalErrorHidesDetails: a replica the hub cannot open is a 500
// whose body names only the id of the log line that has the real error,
// and /healthz says 503 until it opens again.
func TestInternalErrorHidesDetails(t *testing.T) {
	h := startHub(t, nil, nil)
	createDB(t, h.client(""), "app", strictDDL)
	if a := h.do(t, "GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("healthz before: %d %s", a.status, a.body)
	}
	// A second hub on the same directory, after the file is garbled.
	h.Store.Close()
	path := filepath.Join(h.dir, "app.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := startHubOn(t, h.dir)
	a := h2.do(t, "GET", "/v1/app/pull", "", nil)
	if a.status != 500 || a.code != "internal" || !strings.HasPrefix(a.msg, "internal error (logged as ") {
		t.Fatalf("pull of a garbled replica: got %d %q %q, want 500 internal with an id", a.status, a.code, a.msg)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(a.msg, "internal error (logged as "), ")")
	if !strings.Contains(h2.log.String(), "id="+id) || !strings.Contains(h2.log.String(), "level=ERROR") {
		t.Errorf("no ERROR log line with id %s:\n%s", id, h2.log)
	}
	if strings.Contains(a.body, h.dir) || strings.Contains(a.body, "database") {
		t.Errorf("500 body gives details: %s", a.body)
	}
	if a := h2.do(t, "GET", "/healthz", "", nil); a.status != 503 || a.code != "unhealthy" || strings.Contains(a.body, "app") {
		t.Errorf("healthz with a replica that cannot open: got %d %s, want 503 naming no database", a.status, a.body)
	}
}

// startHubOn serves an existing data directory, without tokens.
func startHubOn(t *testing.T, dir string) *testHub {
	t.Helper()
	h := &testHub{dir: dir, log: &logBuffer{}, tokens: map[string]string{}}
	st := hub.NewStore(dir)
	st.Logger = slog.New(slog.NewTextHandler(h.log, nil))
	h.Server = hub.NewServer(st)
	h.Logger = st.Logger
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(func() { ts.Close(); st.Close() })
	h.url = ts.URL
	return h
}

// TestHealthzDataDirNotWritable: /healthz answers 503 when the hub cannot
// write its data directory (here, because a file took its place).
func TestHealthzDataDirNotWritable(t *testing.T) {
	h := startHub(t, nil, nil)
	if a := h.do(t, "GET", "/healthz", "", nil); a.status != 200 || a.body != "ok\n" {
		t.Fatalf("healthz: got %d %q, want 200 ok", a.status, a.body)
	}
	if err := os.RemoveAll(h.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var a answer
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if a = h.do(t, "GET", "/healthz", "", nil); a.status == 503 {
			break
		}
	}
	if a.status != 503 || !strings.Contains(a.msg, "data directory is not writable") || strings.Contains(a.body, h.dir) {
		t.Errorf("healthz with no data directory: got %d %s, want 503 saying so without the path", a.status, a.body)
	}
}

// TestClientGoneIsNoError: a client that leaves a long-poll is not an
// error: no ERROR line and no error counted.
func TestClientGoneIsNoError(t *testing.T) {
	h := startHub(t, nil, nil)
	createDB(t, h.client(""), "app", strictDDL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.client("").Pull(ctx, "app", hub.PullRequest{Wait: time.Minute})
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); h.Store.Waiting("app") == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never started waiting")
		}
	}
	cancel()
	<-done
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(h.log.String(), "client went away"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the hub never noticed the client leave:\n%s", h.log)
		}
	}
	metrics := h.do(t, "GET", "/metrics", "", nil).body
	if strings.Contains(h.log.String(), "level=ERROR") || strings.Contains(metrics, "deltasync_hub_errors_total") {
		t.Errorf("a client leaving counted as an error:\n%s\n%s", h.log, metrics)
	}
}

// TestSiteBinding: the first token to push a device site owns it; the
// same frame pushed with another token allowed the same database is
// refused and changes nothing.
func TestSiteBinding(t *testing.T) {
	h := startHub(t, map[string]string{"alice": "app", "mallory": "app"}, nil)
	doc := createDB(t, h.client("alice"), "app", strictDDL)
	ctx := context.Background()
	alice := frame(t, doc, site(1), "t", []string{"id", "n", "s"}, insert(1, 1, []int{0, 1, 2}, int64(1), int64(10), "a"))
	if _, err := h.client("alice").Push(ctx, "app", alice); err != nil {
		t.Fatal(err)
	}
	forged := frame(t, doc, site(1), "t", []string{"id", "n", "s"}, insert(1, 2, []int{0, 1, 2}, int64(1), int64(666), "a"))
	a := h.do(t, "POST", "/v1/app/push", "Bearer "+h.tokens["mallory"], bytes.NewReader(forged))
	if a.status != 403 || a.code != "site-taken" || !strings.Contains(a.msg, "another token") {
		t.Errorf("push as alice's site with mallory's token: got %d %q %q, want 403 site-taken", a.status, a.code, a.msg)
	}
	if _, err := h.client("mallory").Push(ctx, "app", frame(t, doc, site(2), "t", []string{"id", "n", "s"}, insert(2, 1, []int{0, 1, 2}, int64(2), int64(20), "a"))); err != nil {
		t.Errorf("mallory's own site: %v", err)
	}
	if _, err := h.client("alice").Push(ctx, "app", frame(t, doc, site(1), "t", []string{"id", "n", "s"}, insert(3, 3, []int{0, 1, 2}, int64(3), int64(30), "a"))); err != nil {
		t.Errorf("alice again: %v", err)
	}
	rep, err := h.Store.Get(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	var n int64
	if err := rep.Node.DB.Get(&n, `SELECT n FROM t WHERE id = 1`); err != nil || n != 10 {
		t.Errorf("row 1 after the forged push: n = %d (%v), want 10", n, err)
	}
}

// TestSiteBoundOnlyByMerge: a push refused as invalid binds nothing, so
// that a token cannot claim a device site with junk it never merged.
func TestSiteBoundOnlyByMerge(t *testing.T) {
	h := startHub(t, map[string]string{"alice": "app", "mallory": "app"}, nil)
	doc := createDB(t, h.client("alice"), "app", strictDDL)
	ctx := context.Background()
	partial := frame(t, doc, site(3), "t", []string{"id", "n"}, insert(4, 1, []int{0, 1}, int64(4), int64(1)))
	if _, err := h.client("mallory").Push(ctx, "app", partial); err == nil {
		t.Fatal("a push of a partial insert was merged")
	}
	whole := frame(t, doc, site(3), "t", []string{"id", "n", "s"}, insert(4, 1, []int{0, 1, 2}, int64(4), int64(1), "a"))
	if _, err := h.client("alice").Push(ctx, "app", whole); err != nil {
		t.Errorf("alice's first valid push for the site mallory's refused push named: %v", err)
	}
}

// TestSiteMovesWithRotatedToken: a device whose token was replaced in the
// token file pushes with its new token; the old binding does not lock it
// out, while a token still in the file keeps its sites.
func TestSiteMovesWithRotatedToken(t *testing.T) {
	h := startHub(t, map[string]string{"alice": "app", "mallory": "app"}, nil)
	doc := createDB(t, h.client("alice"), "app", strictDDL)
	ctx := context.Background()
	push := func(label string, id int64) error {
		f := frame(t, doc, site(1), "t", []string{"id", "n", "s"}, insert(id, change.HLC(id), []int{0, 1, 2}, id, id, "a"))
		_, err := h.client(label).Push(ctx, "app", f)
		return err
	}
	if err := push("alice", 1); err != nil {
		t.Fatal(err)
	}
	h.rotate(t, "alice")
	if err := push("alice", 2); err != nil {
		t.Errorf("alice's site with alice's new token: %v", err)
	}
	if err := push("mallory", 3); !errors.Is(err, hub.ErrSiteTaken) {
		t.Errorf("mallory pushing alice's site after alice's new token took it: %v, want ErrSiteTaken", err)
	}
}

// TestMetricsNeedToken: on a hub with tokens, /metrics needs one and shows
// only the databases it may sync; MetricsHandler shows all, for a
// listener of its own.
func TestMetricsNeedToken(t *testing.T) {
	h := startHub(t, map[string]string{"a": "a", "b": "b"}, nil)
	for _, db := range []string{"a", "b"} {
		doc := createDB(t, h.client(db), db, strictDDL)
		if _, err := h.client(db).Push(context.Background(), db, frame(t, doc, site(db[0]), "t", []string{"id", "n", "s"}, insert(1, 1, []int{0, 1, 2}, int64(1), int64(1), "a"))); err != nil {
			t.Fatal(err)
		}
	}
	if a := h.do(t, "GET", "/metrics", "", nil); a.status != 401 {
		t.Errorf("metrics without a token: got %d, want 401", a.status)
	}
	a := h.do(t, "GET", "/metrics", "Bearer "+h.tokens["a"], nil)
	if a.status != 200 || !strings.Contains(a.body, `deltasync_hub_pushes_total{db="a"} 1`) || strings.Contains(a.body, `db="b"`) {
		t.Errorf("metrics with a's token: got %d, want a's series and none of b's:\n%s", a.status, a.body)
	}
	rec := httptest.NewRecorder()
	h.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `db="a"`) || !strings.Contains(rec.Body.String(), `db="b"`) {
		t.Errorf("metrics listener: want every database:\n%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/a/pull", nil))
	if rec.Code != 404 {
		t.Errorf("metrics listener serves pulls: got %d, want 404", rec.Code)
	}
}

// TestJunkRefusedBeforeBody: a push whose first bytes are not a frame
// header is answered without the hub waiting for the rest of the body.
func TestJunkRefusedBeforeBody(t *testing.T) {
	h := startHub(t, nil, nil)
	createDB(t, h.client(""), "app", strictDDL)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A body announced at 30 MiB, of which only 1 KiB of junk is sent.
	fmt.Fprintf(conn, "POST /v1/app/push HTTP/1.1\r\nHost: hub\r\nContent-Length: %d\r\n\r\n%s", 30<<20, strings.Repeat("x", 1024))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a junk header while the body is still coming: %v\n%s", err, h.log)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("got %d, want 400", resp.StatusCode)
	}
}

// TestOversizedBodyRefusedBeforeContinue: a push announced larger than
// the body limit, sent with Expect: 100-continue the way the client sends
// large pushes, is refused with 413 before the hub asks for the body: the
// device never uploads it, and reads the refusal instead of a connection
// reset (which a hub that refused mid-body could cause).
func TestOversizedBodyRefusedBeforeContinue(t *testing.T) {
	h := startHub(t, nil, func(s *hub.Server) { s.MaxBody = 1 << 20 })
	createDB(t, h.client(""), "app", strictDDL)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/app/push HTTP/1.1\r\nHost: hub\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", 2<<20)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v\n%s", err, h.log)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d, want 413 before the body is sent", resp.StatusCode)
	}
}

// TestLongPollsPerToken: a token holds at most MaxWaitsPerToken
// long-polls; the next one is a 429 with its code, while another token
// and pulls that do not wait go on.
func TestLongPollsPerToken(t *testing.T) {
	h := startHub(t, map[string]string{"a": "app", "b": "app"}, func(s *hub.Server) { s.MaxWaitsPerToken = 2 })
	createDB(t, h.client("a"), "app", strictDDL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); h.client("a").Pull(ctx, "app", hub.PullRequest{Wait: time.Minute}) }()
	}
	for deadline := time.Now().Add(10 * time.Second); h.Store.Waiting("app") < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long-polls never started waiting")
		}
	}
	if a := h.do(t, "GET", "/v1/app/pull?wait=1m", "Bearer "+h.tokens["a"], nil); a.status != 429 || a.code != "too-many-waits" {
		t.Errorf("third long-poll of a: got %d %q, want 429 too-many-waits", a.status, a.code)
	}
	if a := h.do(t, "GET", "/v1/app/pull", "Bearer "+h.tokens["a"], nil); a.status != 200 {
		t.Errorf("pull without waiting: got %d %s", a.status, a.body)
	}
	if a := h.do(t, "GET", fmt.Sprintf("/v1/app/pull?wait=%s", 10*time.Millisecond), "Bearer "+h.tokens["b"], nil); a.status != 200 {
		t.Errorf("long-poll of b: got %d %s", a.status, a.body)
	}
	cancel()
}
