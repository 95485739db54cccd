package codec_test

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deltasync/deltasync/codec"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzDecode")

// fuzzLimits keep the fuzzer's memory small; the re-decode of what Encode
// makes of a decoded batch uses the defaults, since a frame that decodes
// may compress worse when encoded again.
var fuzzLimits = codec.Limits{MaxFrame: 1 << 20, MaxBody: 2 << 20, MaxChanges: 100_000}

// FuzzDecode checks that Decode never panics, that every error it returns
// wraps a sentinel, and that a batch it accepts survives Encode and Decode
// unchanged. Each input is also tried with its length and checksums made
// right, so that the fuzzer reaches the body parser rather than stopping at
// the checksum.
//
//	go test ./codec -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	if *updateSeeds {
		writeSeeds(f)
	}
	d := MustDecoder(f, fuzzLimits)
	again := MustDecoder(f, codec.Limits{})
	e := MustEncoder(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkDecode(t, d, again, e, frame)
		if len(frame) >= codec.HeaderSize {
			checkDecode(t, d, again, e, repair(frame))
		}
	})
}

func checkDecode(t *testing.T, d, again *codec.Decoder, e *codec.Encoder, frame []byte) {
	b, err := d.Decode(frame)
	if err != nil {
		if !isSentinel(err) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	frame2, err := e.Encode(nil, b)
	if err != nil {
		t.Fatalf("decoded batch does not encode: %v", err)
	}
	b2, err := again.Decode(frame2)
	if err != nil {
		t.Fatalf("re-encoded batch does not decode: %v", err)
	}
	if !sameBatch(b, b2) {
		t.Fatalf("re-encoded batch differs:\ngot  %+v\nwant %+v", b2, b)
	}
}

func isSentinel(err error) bool {
	for _, s := range []error{codec.ErrBadMagic, codec.ErrVersion, codec.ErrChecksum,
		codec.ErrTruncated, codec.ErrTooLarge, codec.ErrCorrupt} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// repair returns a copy of frame with the stored length and both
// checksums made to match the bytes.
func repair(frame []byte) []byte {
	fixed := append([]byte(nil), frame...)
	binary.BigEndian.PutUint32(fixed[offStoredLen:], uint32(len(fixed)-codec.HeaderSize))
	return fixCRCs(fixed)
}

// writeSeeds writes the seed corpus: the frames of the round-trip cases
// and of the malformed cases, small ones only.
//
//	go test ./codec -run FuzzDecode -update-seeds
func writeSeeds(tb testing.TB) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, b := range roundTripCases() {
		writeSeed(tb, dir, "valid "+name, MustEncode(tb, b))
	}
	writeSeed(tb, dir, "valid workload", MustEncode(tb, newWorkload(2, 50).batch))
	for _, cases := range [][]malformed{headerCases(), bodyCases(), changeCases()} {
		for _, tc := range cases {
			writeSeed(tb, dir, "malformed "+tc.name, tc.frame())
		}
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

func writeSeed(tb testing.TB, dir, name string, frame []byte) {
	if len(frame) > 16<<10 {
		return // keep the corpus small: the 1 MB cases add nothing here
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", string(frame))
	path := filepath.Join(dir, unsafeName.ReplaceAllString(strings.ToLower(name), "-"))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
