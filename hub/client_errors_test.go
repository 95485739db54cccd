package hub_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/deltasync/device"
	"github.com/deltasync/deltasync/hub"
)

// newHubServer serves a real hub on 127.0.0.1, over TLS if asked.
func newHubServer(t *testing.T, useTLS bool, tokens *hub.Tokens) *httptest.Server {
	t.Helper()
	st := hub.NewStore(filepath.Join(t.TempDir(), "hub"))
	st.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { st.Close() })
	srv := hub.NewServer(st)
	srv.Logger, srv.Tokens = st.Logger, tokens
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the TLS hub's complaint about plain HTTP is expected
	if useTLS {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts
}

// silentListener accepts connections and never answers on them.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, unread
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// schemaErr asks c for a schema with a generous deadline and returns the error.
func schemaErr(t *testing.T, c *hub.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.Schema(ctx, "notes")
	if ctx.Err() != nil {
		t.Fatalf("the request ran until the test's deadline: %v", err)
	}
	if err == nil {
		t.Fatal("got no error")
	}
	return err
}

func wantMessage(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("got %q, want it to say %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("got %q, want one line", err)
	}
}

// A hub that accepts the connection and never answers fails the request
// within the response timeout, saying so.
func TestClientNoAnswer(t *testing.T) {
	c := hub.NewClient("http://"+silentListener(t), "")
	c.ResponseTimeout = 300 * time.Millisecond
	start := time.Now()
	err := schemaErr(t, c)
	wantMessage(t, err, "did not answer within 300ms")
	var timeout *hub.TimeoutError
	if !errors.As(err, &timeout) || device.Permanent(err) {
		t.Errorf("got %T (permanent %v), want a *hub.TimeoutError that is retried with backoff", err, device.Permanent(err))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("failed after %s, want about the 300ms timeout", took)
	}
}

// A long-poll may take its wait plus the response timeout: a pull with a
// wait longer than the timeout returns empty, not a timeout.
func TestClientLongPollOutlastsTimeout(t *testing.T) {
	ts := newHubServer(t, false, nil)
	c := hub.NewClient(ts.URL, "")
	ctx := context.Background()
	// The schema, and a first pull that opens the replica, with the
	// default timeout: under the race detector on a loaded machine they
	// may take longer than the short one below, which is for the long-poll.
	if err := c.PutSchema(ctx, "notes", schemaDoc(t, notesDDL)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, "notes", hub.PullRequest{}); err != nil {
		t.Fatal(err)
	}
	c.ResponseTimeout = 500 * time.Millisecond
	start := time.Now()
	if _, err := c.Pull(ctx, "notes", hub.PullRequest{Wait: 2 * time.Second}); err != nil {
		t.Fatalf("a long-poll of 2s with a 500ms response timeout: %v", err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the pull returned after %s: the hub did not hold it, so the test proves nothing", took)
	}
}

func TestClientMistakes(t *testing.T) {
	plain := newHubServer(t, false, nil)
	secure := newHubServer(t, true, nil)
	notHub := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notHub.Close)
	refused := closedPort(t)
	alert := tlsAlertListener(t)
	for _, tc := range []struct {
		name, url string
		permanent bool
		want      []string
	}{
		{"no scheme", "localhost:7070", true, []string{"write http://localhost:7070"}},
		{"no scheme, IP", "127.0.0.1:7070", true, []string{"write http://127.0.0.1:7070"}},
		{"other scheme", "ftp://127.0.0.1:7070", true, []string{"http:// or https://"}},
		{"plain HTTP to a TLS hub", "http://" + secure.Listener.Addr().String(), true,
			[]string{"serves HTTPS: use https://" + secure.Listener.Addr().String()}},
		{"plain HTTP to another TLS server", "http://" + alert, true,
			[]string{"serves HTTPS: use https://" + alert}},
		{"TLS to a plain hub", "https://" + plain.Listener.Addr().String(), true,
			[]string{"serves plain HTTP: use http://" + plain.Listener.Addr().String()}},
		{"a path below the hub", plain.URL + "/api", true,
			[]string{"no deltasync hub at " + plain.URL + "/api", "check the address and path"}},
		{"not a hub", notHub.URL, true, []string{"no deltasync hub at " + notHub.URL}},
		{"refused", "http://" + refused, false,
			[]string{"no hub listening at " + refused + ": is `deltasync hub` running?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := schemaErr(t, hub.NewClient(tc.url, ""))
			t.Log(err)
			wantMessage(t, err, tc.want...)
			if errors.Is(err, hub.ErrNoSchema) {
				t.Errorf("got ErrNoSchema from %q: a device would try to create the database there", err)
			}
			if got := device.Permanent(err); got != tc.permanent {
				t.Errorf("Permanent(%q) = %v, want %v", err, got, tc.permanent)
			}
		})
	}
}

// tlsAlertListener answers whatever it is sent with a TLS alert record, as
// a TLS server that is sent plain HTTP may.
func tlsAlertListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Write([]byte("\x15\x03\x01\x00\x02\x02\x46"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClientRefusedConnectionKeepsCause(t *testing.T) {
	err := schemaErr(t, hub.NewClient("http://"+closedPort(t), ""))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("got %v, want it to wrap ECONNREFUSED", err)
	}
}

// The hub's own refusals keep their sentinel and are permanent, except a
// database the hub does not know yet; a 5xx is retried with backoff.
func TestClientHubRefusals(t *testing.T) {
	token, line, err := hub.NewToken([]string{"notes"})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := hub.ParseTokens(strings.NewReader(line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	ts := newHubServer(t, false, tokens)
	ctx := context.Background()
	for _, tc := range []struct {
		name, token, db string
		want            error
		permanent       bool
	}{
		{"no token", "", "notes", hub.ErrUnauthorized, true},
		{"another database", token, "other", hub.ErrForbidden, true},
		{"unknown database", token, "notes", hub.ErrNoSchema, false},
	} {
		_, err := hub.NewClient(ts.URL, tc.token).Schema(ctx, tc.db)
		if !errors.Is(err, tc.want) || device.Permanent(err) != tc.permanent {
			t.Errorf("%s: got %v (permanent %v), want %v (permanent %v)", tc.name, err, device.Permanent(err), tc.want, tc.permanent)
		}
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error": "internal error"}`)
	}))
	t.Cleanup(broken.Close)
	_, err = hub.NewClient(broken.URL, "").Schema(ctx, "notes")
	if err == nil || device.Permanent(err) {
		t.Errorf("500: got %v (permanent %v), want a retried error", err, device.Permanent(err))
	}
}
