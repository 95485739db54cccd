package hub_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/hub"
	"github.com/deltasync/deltasync/replicator"
)

// TestParseTokensRefuses: a line that allows nothing or is malformed is
// refused with its line number.
func TestParseTokensRefuses(t *testing.T) {
	_, line, err := hub.NewToken([]string{"notes"})
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Fields(line)[0]
	for _, tc := range []struct{ name, file, want string }{
		{"empty entry", "# c\n" + hash + " notes,,tasks\n", "line 2: database 2 of \"notes,,tasks\" is empty"},
		{"trailing comma", hash + " notes,\n", "line 1: database 2"},
		{"only a comma", "\n\n" + hash + " ,\n", "line 3: database 1"},
		{"no databases", hash + "\n", "line 1: want"},
		{"bad name", hash + " ../etc\n", "line 1: database \"../etc\""},
		{"plain token", "abc notes\n", "line 1: want"},
		{"repeated token", hash + " notes\n" + hash + " tasks\n", "line 2: the same token as line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hub.ParseTokens(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadTokensMode: a token file that others can write is refused, with
// the command that fixes it.
func TestLoadTokensMode(t *testing.T) {
	_, line, err := hub.NewToken([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o644, 0o400} {
		os.Chmod(path, mode)
		if _, err := hub.LoadTokens(path); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		os.Chmod(path, mode)
		_, err := hub.LoadTokens(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: got %v, want a refusal that says chmod 600", mode, err)
		}
	}
}

// TestPullQuery: the hub caps what a pull asks and refuses what it cannot
// read.
func TestPullQuery(t *testing.T) {
	s := hub.NewServer(nil)
	s.MaxWait = 30 * time.Second
	req, err := hub.ParsePullQuery(s, "since=9223372036854775807&limit=999999999&wait=1h&site=00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	if req.Since != 1<<63-1 || req.Limit != replicator.DefaultBatchSize || req.Wait != 30*time.Second || req.Site[15] != 0xff {
		t.Errorf("got %+v, want since 2^63-1, limit %d, wait 30s", req, replicator.DefaultBatchSize)
	}
	for _, q := range []string{"since=9223372036854775808", "since=-1", "limit=-1", "limit=x", "wait=-5s", "wait=forever", "site=00", "site=zz112233445566778899aabbccddeeff"} {
		if _, err := hub.ParsePullQuery(s, q); !errors.Is(err, hub.ErrBadRequest) {
			t.Errorf("%s: got %v, want ErrBadRequest", q, err)
		}
	}
}
