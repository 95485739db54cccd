package hub

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"github.com/deltasync/deltasync/replicator"
)

// Defaults of a Client.
const (
	// DefaultDialTimeout bounds connecting to the hub.
	DefaultDialTimeout = 10 * time.Second
	// DefaultTLSHandshakeTimeout bounds the TLS handshake with an https:// hub.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultResponseTimeout is how long a request may go without progress:
	// between two reads of the request or response body, and from sending
	// the request to the answer's headers. A long-poll pull gets its wait on
	// top: a pull with wait=25s has 55 s to answer.
	DefaultResponseTimeout = 30 * time.Second
)

// Client is a device.Hub over HTTP.
type Client struct {
	URL   string // http://host:port or https://host:port, see CheckURL
	Token string // bearer token, if the hub wants one
	// HTTP sends the requests. NewClient's connects within
	// DefaultDialTimeout and completes a TLS handshake within
	// DefaultTLSHandshakeTimeout.
	HTTP *http.Client
	// ResponseTimeout is how long a request may make no progress (see
	// DefaultResponseTimeout); 0 means DefaultResponseTimeout.
	ResponseTimeout time.Duration
}

// NewClient returns a client of the hub at baseURL. A URL CheckURL refuses
// fails every request with CheckURL's error.
func NewClient(baseURL, token string) *Client {
	return &Client{URL: strings.TrimSuffix(baseURL, "/"), Token: token, HTTP: &http.Client{Transport: newTransport()}}
}

// newTransport is http.DefaultTransport (proxies from the environment,
// keep-alives) with the client's connect and handshake bounds.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	return t
}

func (c *Client) Schema(ctx context.Context, db string) (*replicator.SchemaDoc, error) {
	body, err := c.do(ctx, http.MethodGet, c.path(db, "schema"), nil, "", 0)
	if err != nil {
		return nil, err
	}
	var doc replicator.SchemaDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("hub schema: %w", err)
	}
	return &doc, nil
}

func (c *Client) PutSchema(ctx context.Context, db string, doc *replicator.SchemaDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPut, c.path(db, "schema"), b, "application/json", 0)
	return err
}

func (c *Client) Push(ctx context.Context, db string, frame []byte) (PushResult, error) {
	var res PushResult
	body, err := c.do(ctx, http.MethodPost, c.path(db, "push"), frame, "application/octet-stream", 0)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("hub push response: %w", err)
	}
	return res, nil
}

func (c *Client) Pull(ctx context.Context, db string, req PullRequest) ([]byte, error) {
	q := url.Values{}
	q.Set("since", fmt.Sprint(req.Since))
	if req.Limit > 0 {
		q.Set("limit", fmt.Sprint(req.Limit))
	}
	if req.Wait > 0 {
		q.Set("wait", req.Wait.String())
	}
	q.Set("site", hex.EncodeToString(req.Site[:]))
	return c.do(ctx, http.MethodGet, c.path(db, "pull")+"?"+q.Encode(), nil, "", req.Wait)
}

func (c *Client) path(db, what string) string {
	return c.URL + "/v1/" + url.PathEscape(db) + "/" + what
}

func (c *Client) responseTimeout() time.Duration {
	if c.ResponseTimeout > 0 {
		return c.ResponseTimeout
	}
	return DefaultResponseTimeout
}

// do sends one request and returns the body of a 2xx response; any other
// status becomes the error the hub named (see answer). wait is how long the
// hub may hold the request before it answers (a long-poll), on top of the
// response timeout. A request that stops making progress is cancelled.
func (c *Client) do(ctx context.Context, method, u string, body []byte, contentType string, wait time.Duration) ([]byte, error) {
	if err := CheckURL(c.URL); err != nil {
		return nil, err
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := startWatchdog(cancel, c.URL, c.responseTimeout())
	defer wd.stop()
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wd.kick("did not answer", wait) },
	})
	req, err := http.NewRequestWithContext(reqCtx, method, u, nil)
	if err != nil {
		return nil, err
	}
	setBody(req, body, wd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, c.explain(ctx, reqCtx, err)
	}
	defer resp.Body.Close()
	wd.kick("stopped sending its answer", 0)
	data, err := io.ReadAll(&progressReader{resp.Body, wd})
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, req.URL.Path, c.explain(ctx, reqCtx, err))
	}
	return c.answer(resp.StatusCode, data)
}

// continueAbove is the body size from which a request waits for the hub's
// 100 Continue: below it, Go's server reads and discards a refused body
// itself, so that the refusal is always read.
const continueAbove = 256 << 10

// setBody gives req body, read through a progressReader so that a large
// upload that keeps moving is not cut by the response timeout.
func setBody(req *http.Request, body []byte, wd *watchdog) {
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
		return
	}
	req.ContentLength = int64(len(body))
	if len(body) > continueAbove {
		// The hub refuses a body it will not take (too large, junk header)
		// before asking for it; without the wait, a refusal that arrives
		// mid-upload can reach the client as a connection reset.
		req.Header.Set("Expect", "100-continue")
	}
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(&progressReader{bytes.NewReader(body), wd}), nil
	}
	req.Body, _ = req.GetBody()
}

// answer returns the body of a 2xx response, and for any other status the
// error the hub named: a *HubError wrapping the sentinel of the code in the
// hub's JSON error, and no sentinel when the body names none. A body that
// is not the hub's JSON error is explained (see notHub).
func (c *Client) answer(status int, body []byte) ([]byte, error) {
	if status/100 == 2 {
		return body, nil
	}
	var msg struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Error == "" {
		return nil, c.notHub(status, body)
	}
	return nil, &HubError{Status: status, Message: msg.Error, sentinel: sentinelOf(msg.Code)}
}

// sentinelOf is the error the hub names by code, or nil: only the code, not
// the status alone, makes an answer one of the hub's errors. A sentinel
// that the hub returns wrapped in another comes wrapped in it here too.
func sentinelOf(code string) error {
	if code == "" {
		return nil
	}
	for _, s := range statuses {
		if s.code != code {
			continue
		}
		if outer := within[s.err]; outer != nil {
			return fmt.Errorf("%w: %w", outer, s.err)
		}
		return s.err
	}
	return nil
}

// HubError is a request the hub refused.
type HubError struct {
	Status   int
	Message  string // the hub's message, or what to do when the answer is not the hub's
	sentinel error
	notHub   bool // Message explains an answer that is not a deltasync hub's
}

func (e *HubError) Error() string {
	switch {
	case e.notHub:
		return e.Message
	case e.Message == "":
		return fmt.Sprintf("hub answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("hub answered %d: %s", e.Status, e.Message)
}

func (e *HubError) Unwrap() error { return e.sentinel }

// Permanent reports whether sending the same request again cannot succeed
// (device.Permanent): the hub refused it (400, auth 401/403, schema
// 409, size 413, refusal 422), or what answered is not a deltasync hub.
// 404 "the hub does not know this database" is not: a device creates it.
func (e *HubError) Permanent() bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	case http.StatusNotFound:
		return e.sentinel == nil
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return e.notHub && e.Status/100 == 4
}

// HTTPStatus is the status the hub answered: a client that knows no hub
// sentinel (package replicator, for a 413) tells refusals apart by it.
func (e *HubError) HTTPStatus() int { return e.Status }
