package hub_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// FuzzPullQuery: the hub's parser of a pull's query never panics, and what
// it accepts is within the hub's caps. Seeds: testdata/fuzz/FuzzPullQuery.
func FuzzPullQuery(f *testing.F) {
	f.Add("since=0&limit=100&wait=30s&site=00112233445566778899aabbccddeeff")
	f.Add("since=18446744073709551615")
	s := hub.NewServer(nil)
	f.Fuzz(func(t *testing.T, q string) {
		req, err := hub.ParsePullQuery(s, q)
		if err != nil {
			return
		}
		if req.Since > math.MaxInt64 || req.Limit < 0 || req.Limit > replicator.DefaultBatchSize || req.Wait < 0 || req.Wait > hub.DefaultMaxWait {
			t.Errorf("%q parsed to %+v, outside the hub's caps", q, req)
		}
	})
}

// FuzzParseTokens: a token file never panics the parser, and a token it
// accepts allows at least one database. Seeds: testdata/fuzz/FuzzParseTokens.
func FuzzParseTokens(f *testing.F) {
	_, line, _ := hub.NewToken([]string{"notes", "tasks"})
	f.Add(line + "\n# comment\n")
	f.Add("sha256:" + strings.Repeat("0", 64) + " *")
	f.Fuzz(func(t *testing.T, file string) {
		tokens, err := hub.ParseTokens(strings.NewReader(file))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q does not name its line", err)
			}
			return
		}
		// No token here is known, whatever the file: a check of an
		// unknown token is unauthorized, never a panic.
		if err := tokens.Check("not-a-token", "notes"); !errors.Is(err, hub.ErrUnauthorized) {
			t.Errorf("unknown token: got %v", err)
		}
	})
}
