package hub

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Tokens are the bearer tokens a hub accepts. The hub keeps only their
// SHA-256 hashes, each with the database names it may sync ("*": all).
type Tokens struct {
	allowed map[[32]byte][]string
}

// ParseTokens reads a token file: one line per token, "sha256:HEX db1,db2"
// (or "*" for every database); blank lines and lines starting with # are
// ignored. NewToken prints such a line.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{allowed: map[[32]byte][]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		hash, ok := strings.CutPrefix(fields[0], "sha256:")
		raw, err := hex.DecodeString(hash)
		if !ok || err != nil || len(raw) != 32 || len(fields) != 2 {
			return nil, fmt.Errorf("token file line %d: want \"sha256:<64 hex digits> db1,db2\" (make one with `deltasync token`)", n)
		}
		var key [32]byte
		copy(key[:], raw)
		t.allowed[key] = strings.Split(fields[1], ",")
	}
	return t, sc.Err()
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
	sum := sha256.Sum256([]byte(token))
	var dbs []string
	found := false
	for h, allowed := range t.allowed {
		if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
			dbs, found = allowed, true
		}
	}
	if !found || token == "" {
		return ErrUnauthorized
	}
	for _, d := range dbs {
		if d == "*" || d == db {
			return nil
		}
	}
	return ErrForbidden
}
