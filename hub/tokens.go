package hub

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Tokens are the bearer tokens a hub accepts. The hub keeps only their
// SHA-256 hashes, each with the database names it may sync ("*": all).
type Tokens struct {
	allowed map[tokenKey][]string
}

// tokenKey is the SHA-256 of a token: what the hub stores, compares, and
// binds device sites to.
type tokenKey [sha256.Size]byte

// LoadTokens reads the token file at path, refusing one that users other
// than its owner can write: whoever can write it can give themselves a
// token for every database.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkTokensMode(fi.Mode()); err != nil {
		return nil, fmt.Errorf("%s: %w: run chmod 600 %s", path, err, path)
	}
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// checkTokensMode refuses a token file that its group or others can write.
func checkTokensMode(mode os.FileMode) error {
	if mode&0o022 != 0 {
		return fmt.Errorf("the token file can be written by users other than its owner (mode %04o)", mode.Perm())
	}
	return nil
}

// ParseTokens reads a token file: one line per token, "sha256:HEX db1,db2"
// (or "*" for every database); blank lines and lines starting with # are
// ignored. NewToken prints such a line. A line that allows nothing (an
// empty name, as in "db1,,"), names a database no hub could hold, or
// repeats another line's token is refused with its line number.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{allowed: map[tokenKey][]string{}}
	lines := map[tokenKey]int{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, dbs, err := parseTokenLine(line)
		if err != nil {
			return nil, fmt.Errorf("token file line %d: %w", n, err)
		}
		if first, ok := lines[key]; ok {
			return nil, fmt.Errorf("token file line %d: the same token as line %d; keep one line per token", n, first)
		}
		lines[key], t.allowed[key] = n, dbs
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file line %d: %w", n+1, err)
	}
	return t, nil
}

// parseTokenLine parses one "sha256:HEX db1,db2" line.
func parseTokenLine(line string) (tokenKey, []string, error) {
	var key tokenKey
	fields := strings.Fields(line)
	hash, ok := strings.CutPrefix(fields[0], "sha256:")
	raw, err := hex.DecodeString(hash)
	if !ok || err != nil || len(raw) != len(key) || len(fields) != 2 {
		return key, nil, fmt.Errorf("want \"sha256:<64 hex digits> db1,db2\" (make one with `deltasync token`)")
	}
	copy(key[:], raw)
	dbs := strings.Split(fields[1], ",")
	for i, db := range dbs {
		if db == "" {
			return key, nil, fmt.Errorf("database %d of %q is empty: list names separated by single commas, or * for all", i+1, fields[1])
		}
		if db != "*" && !validName.MatchString(db) {
			return key, nil, fmt.Errorf("database %q: %w", db, ErrBadName)
		}
	}
	return key, dbs, nil
}

// NewToken makes a random token and the token-file line that allows it dbs.
func NewToken(dbs []string) (token, line string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, "sha256:" + hex.EncodeToString(sum[:]) + " " + strings.Join(dbs, ","), nil
}

// Check returns nil if token may sync db, ErrUnauthorized if the token is
// unknown, ErrForbidden if it is known but not allowed db.
func (t *Tokens) Check(token, db string) error {
	_, err := t.check(token, db)
	return err
}

// check is Check that also returns the token's key.
func (t *Tokens) check(token, db string) (tokenKey, error) {
	key, dbs, ok := t.lookup(token)
	if !ok {
		return key, ErrUnauthorized
	}
	if !allows(dbs, db) {
		return key, ErrForbidden
	}
	return key, nil
}

// has reports whether key, a token's hash, is in the token file.
func (t *Tokens) has(key []byte) bool {
	var k tokenKey
	if len(key) != len(k) {
		return false
	}
	copy(k[:], key)
	_, ok := t.allowed[k]
	return ok
}

// lookup finds token, comparing its hash with every known one in constant
// time.
func (t *Tokens) lookup(token string) (key tokenKey, dbs []string, ok bool) {
	if token == "" {
		return key, nil, false
	}
	sum := sha256.Sum256([]byte(token))
	for h, allowed := range t.allowed {
		if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
			key, dbs, ok = h, allowed, true
		}
	}
	return key, dbs, ok
}

func allows(dbs []string, db string) bool {
	for _, d := range dbs {
		if d == "*" || d == db {
			return true
		}
	}
	return false
}

// bearer returns the token of an Authorization header value as RFC 6750
// defines it: the scheme "Bearer" in any case, one space, and a token68.
// Anything else (a bare token, another scheme, two spaces) is no token.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}
