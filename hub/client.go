package hub

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deltasync/deltasync/replicator"
)

// Client is a replicator.Hub over HTTP.
type Client struct {
	URL   string // http://host:port
	Token string // bearer token, if the hub wants one
	HTTP  *http.Client
}

var _ replicator.Hub = (*Client)(nil)

// NewClient returns a client of the hub at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{URL: strings.TrimSuffix(baseURL, "/"), Token: token, HTTP: &http.Client{}}
}

func (c *Client) Schema(ctx context.Context, db string) (*replicator.SchemaDoc, error) {
	body, err := c.do(ctx, http.MethodGet, c.path(db, "schema"), nil, "")
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
	_, err = c.do(ctx, http.MethodPut, c.path(db, "schema"), b, "application/json")
	return err
}

func (c *Client) Push(ctx context.Context, db string, frame []byte) (replicator.PushResult, error) {
	var res replicator.PushResult
	body, err := c.do(ctx, http.MethodPost, c.path(db, "push"), frame, "application/octet-stream")
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("hub push response: %w", err)
	}
	return res, nil
}

func (c *Client) Pull(ctx context.Context, db string, req replicator.PullRequest) ([]byte, error) {
	q := url.Values{}
	q.Set("since", fmt.Sprint(req.Since))
	if req.Limit > 0 {
		q.Set("limit", fmt.Sprint(req.Limit))
	}
	if req.Wait > 0 {
		q.Set("wait", req.Wait.String())
	}
	q.Set("site", hex.EncodeToString(req.Site[:]))
	return c.do(ctx, http.MethodGet, c.path(db, "pull")+"?"+q.Encode(), nil, "")
}

func (c *Client) path(db, what string) string {
	return c.URL + "/v1/" + url.PathEscape(db) + "/" + what
}

// do sends one request and returns the body of a 2xx response; any other
// status becomes the error the hub named, wrapped around its sentinel.
func (c *Client) do(ctx context.Context, method, u string, body []byte, contentType string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response after %s: %w", method, req.URL.Path, time.Since(start).Round(time.Millisecond), err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var msg struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	json.Unmarshal(data, &msg)
	if sentinel := errorOf(resp.StatusCode, msg.Code); sentinel != nil {
		return nil, &HubError{Status: resp.StatusCode, Message: msg.Error, sentinel: sentinel}
	}
	return nil, &HubError{Status: resp.StatusCode, Message: msg.Error}
}

// HubError is a request the hub refused.
type HubError struct {
	Status   int
	Message  string
	sentinel error
}

func (e *HubError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("hub answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("hub answered %d: %s", e.Status, e.Message)
}

func (e *HubError) Unwrap() error { return e.sentinel }

// HTTPStatus is the status the hub answered: a client that knows no hub
// sentinel (package replicator, for a 413) tells refusals apart by it.
func (e *HubError) HTTPStatus() int { return e.Status }
