package hub

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzClientAnswer feeds any status and body to the client's reading of an
// answer, as a hub, a proxy or anything listening may send: a 2xx gives the
// body back, anything else an error, never a panic, and never a sentinel
// unless the body's JSON "code" names it. Seeds: testdata/fuzz/FuzzClientAnswer.
func FuzzClientAnswer(f *testing.F) {
	c := &Client{URL: "http://127.0.0.1:7070"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		data, err := c.answer(status, body)
		if status/100 == 2 {
			if err != nil || string(data) != string(body) {
				t.Fatalf("status %d: got %q, %v, want the body back", status, data, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("status %d: no error", status)
		}
		_ = err.Error()
		var he *HubError
		if !errors.As(err, &he) {
			t.Fatalf("status %d: got %T, want a *HubError", status, err)
		}
		he.Permanent()
		var named struct {
			Code string `json:"code"`
		}
		json.Unmarshal(body, &named)
		for _, s := range statuses {
			if errors.Is(err, s.err) && !errors.Is(sentinelOf(named.Code), s.err) {
				t.Fatalf("status %d, body %q: got sentinel %v, which the body does not name", status, body, s.err)
			}
		}
	})
}
