package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// URLError is a hub URL a client cannot use, and how to write it.
type URLError struct{ msg string }

func (e *URLError) Error() string { return e.msg }

// Permanent: the URL does not change between retries.
func (e *URLError) Permanent() bool { return true }

// CheckURL says what is wrong with a hub URL, or nil: it is http:// or
// https://, names a host, and has no query or fragment. A path is allowed
// (a hub behind a reverse proxy under /sync); requests go below it.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if !strings.Contains(s, "://") {
		return &URLError{fmt.Sprintf("hub URL %q has no scheme: write http://%s (or https:// for a hub with TLS)", s, s)}
	}
	switch {
	case err != nil:
		return &URLError{fmt.Sprintf("hub URL %q: %v", s, errors.Unwrap(err))}
	case u.Scheme != "http" && u.Scheme != "https":
		return &URLError{fmt.Sprintf("hub URL %q: the scheme must be http:// or https://", s)}
	case u.Host == "":
		return &URLError{fmt.Sprintf("hub URL %q names no host: write it like http://127.0.0.1:7070", s)}
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return &URLError{fmt.Sprintf("hub URL %q: remove the query or fragment, the client adds its own", s)}
	}
	return nil
}

// notHub explains a non-2xx answer whose body is not the hub's JSON error:
// what answered is not a deltasync hub (a wrong address, port or path), or a
// TLS server was sent plain HTTP.
func (c *Client) notHub(status int, body []byte) *HubError {
	e := &HubError{Status: status, notHub: true}
	switch {
	case status == http.StatusBadRequest && plainToTLS(body):
		e.Message = fmt.Sprintf("the hub at %s serves HTTPS: use %s", c.URL, withScheme(c.URL, "https"))
	case status == http.StatusNotFound:
		e.Message = fmt.Sprintf("no deltasync hub at %s (it answered 404 Not Found): check the address and path", c.URL)
	default:
		e.Message = fmt.Sprintf("hub answered %d %s, not as a deltasync hub does: check that %s is a hub",
			status, http.StatusText(status), c.URL)
	}
	return e
}

// plainToTLS reports whether body is a TLS server's answer to plain HTTP
// (Go's, nginx's).
func plainToTLS(body []byte) bool {
	b := string(body)
	return strings.Contains(b, "HTTP request to an HTTPS server") || strings.Contains(b, "plain HTTP request was sent to HTTPS port")
}

func withScheme(u, scheme string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		return scheme + "://" + rest
	}
	return scheme + "://" + u
}

// ConnError is a request that reached no hub, with what to do about it.
type ConnError struct {
	Msg       string
	Err       error
	permanent bool
}

func (e *ConnError) Error() string   { return e.Msg }
func (e *ConnError) Unwrap() error   { return e.Err }
func (e *ConnError) Permanent() bool { return e.permanent }

// explain turns a transport error into one line that says what to do, when
// it can tell; err itself otherwise. ctx is the caller's context: when it
// ended, err is its error, not the hub's fault.
func (c *Client) explain(ctx, reqCtx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var timeout *TimeoutError
	if errors.As(context.Cause(reqCtx), &timeout) {
		return timeout
	}
	host := hostOf(c.URL)
	var (
		dns  *net.DNSError
		op   *net.OpError
		rec  tls.RecordHeaderError
		cert *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &ConnError{Msg: fmt.Sprintf("no hub listening at %s: is `deltasync hub` running?", host), Err: err}
	case errors.As(err, &dns):
		return &ConnError{Msg: fmt.Sprintf("cannot find the hub's host %q: check the hub URL (%v)", dns.Name, dns.Err), Err: err}
	case errors.As(err, &op) && op.Op == "dial" && op.Timeout():
		return &ConnError{Msg: fmt.Sprintf("could not connect to %s within %s: check the address and any firewall on the way", host, DefaultDialTimeout), Err: err}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &ConnError{Msg: fmt.Sprintf("the hub at %s serves plain HTTP: use %s", c.URL, withScheme(c.URL, "http")), Err: err, permanent: true}
	case errors.As(err, &rec): // not TLS, and not HTTP either
		return &ConnError{Msg: fmt.Sprintf("what listens at %s does not speak TLS: check the port, or use %s for a hub without TLS", host, withScheme(c.URL, "http")), Err: err, permanent: true}
	case strings.Contains(err.Error(), `malformed HTTP response "\x15\x03`): // a TLS alert record
		return &ConnError{Msg: fmt.Sprintf("the hub at %s serves HTTPS: use %s", c.URL, withScheme(c.URL, "https")), Err: err, permanent: true}
	case errors.As(err, &cert):
		return &ConnError{Msg: fmt.Sprintf("the hub at %s has a certificate this device does not trust: %v", host, cert.Err), Err: err, permanent: true}
	case strings.Contains(err.Error(), "TLS handshake timeout"):
		return &ConnError{Msg: fmt.Sprintf("the hub at %s did not complete a TLS handshake within %s: is it a TLS hub?", host, DefaultTLSHandshakeTimeout), Err: err}
	}
	return err
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// TimeoutError is a request the hub made no progress on for too long.
type TimeoutError struct {
	Hub   string // the hub's URL
	What  string // "did not answer", "stopped sending its answer"
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the hub at %s %s within %s: check that it is a deltasync hub and not overloaded", e.Hub, e.What, e.After)
}

// Timeout: a net.Error-like timeout, retried with backoff.
func (e *TimeoutError) Timeout() bool { return true }

// watchdog cancels a request that makes no progress for its limit. Each
// read of the body in either direction, and the request being written,
// start the limit over.
type watchdog struct {
	mu      sync.Mutex
	timer   *time.Timer
	hub     string
	base    time.Duration // the response timeout
	what    string        // what the hub fails to do if the timer fires now
	limit   time.Duration // the timer's current limit
	stopped bool
}

func startWatchdog(cancel context.CancelCauseFunc, hub string, d time.Duration) *watchdog {
	w := &watchdog{hub: hub, base: d, what: "did not answer", limit: d}
	w.timer = time.AfterFunc(d, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		cancel(&TimeoutError{Hub: w.hub, What: w.what, After: w.limit})
	})
	return w
}

// kick starts the limit over, as the base timeout plus extra, and names
// what the hub would have failed to do if it runs out.
func (w *watchdog) kick(what string, extra time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.what, w.limit = what, w.base+extra
	w.timer.Reset(w.limit)
}

// progress starts the current limit over: bytes moved.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.timer.Reset(w.limit)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// progressReader tells its watchdog about every read that moved bytes.
type progressReader struct {
	r  interface{ Read([]byte) (int, error) }
	wd *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.wd.progress()
	}
	return n, err
}
