package benchmarks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/hub"
)

// BenchmarkHubMemory measures the hub process's peak resident memory
// (VmHWM) under what a hostile or crowded network sends it, against the
// same process idle after one honest sync (the baseline, in the same run):
//
//   - junk: 16 concurrent 60 MB bodies of random bytes;
//   - junk-header: the same with a valid frame header declaring 60 MB, so
//     that the hub must read the body to find it wrong;
//   - pulls: 8 devices pulling a 250,000-row replica from version 0 at once;
//   - idle-conns: 1,000 connections that send nothing.
//
// Target: peak under 256 MB in each (issue 9).
func BenchmarkHubMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		rows int
		load func(b *testing.B, h *benchHub)
	}{
		{"junk", 1000, func(b *testing.B, h *benchHub) { junkBodies(b, h, false) }},
		{"junk-header", 1000, func(b *testing.B, h *benchHub) { junkBodies(b, h, true) }},
		{"pulls", 250_000, pullAll},
		{"idle-conns", 1000, idleConns},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				sc := newSyncScope(b)
				h := newProcessHub(sc, sc.dir())
				d := newSyncDevice(sc, sc.dir(), "seed", h.client(b, nil), "notes", tc.rows)
				_, err := d.sync.SyncOnce(context.Background())
				syncMust(b, err, "seed the hub")
				idle := peakRSS(b, h.pid)
				tc.load(b, h)
				peak := peakRSS(b, h.pid)
				sc.close()
				b.ReportMetric(float64(idle)/(1<<20), "idle-MB")
				b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
				b.ReportMetric(float64(peak)/float64(idle), "peak/idle")
			}
		})
	}
}

// peakRSS reads the peak resident set size of process pid.
func peakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	syncMust(tb, err, "read process status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			syncMust(tb, err, "parse VmHWM")
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc status")
	return 0
}

// junkBodies posts 16 bodies of 60 MB at once; the answers are refusals.
func junkBodies(b *testing.B, h *benchHub, validHeader bool) {
	const size = 60 << 20
	body := make([]byte, size)
	rand.Read(body)
	if validHeader {
		copy(body, junkHeader(b, size-codec.HeaderSize))
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(h.url+"/v1/notes/push", "application/octet-stream", bytes.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the memory matters
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// junkHeader returns the header of a real frame, changed to declare a body
// of n bytes, with its checksum made right again (offsets from codec/doc.go).
func junkHeader(b *testing.B, n uint32) []byte {
	e, err := codec.NewEncoder()
	syncMust(b, err, "encoder")
	defer e.Close()
	frame, err := e.Encode(nil, &codec.Batch{Last: 1})
	syncMust(b, err, "encode")
	hdr := frame[:codec.HeaderSize:codec.HeaderSize]
	binary.BigEndian.PutUint32(hdr[84:], n)
	binary.BigEndian.PutUint32(hdr[88:], n)
	binary.BigEndian.PutUint32(hdr[96:], crc32.Checksum(hdr[:96], crc32.MakeTable(crc32.Castagnoli)))
	return hdr
}

// pullAll has 8 devices pull everything from version 0 at once.
func pullAll(b *testing.B, h *benchHub) {
	dec, err := codec.NewDecoder(codec.Limits{})
	syncMust(b, err, "decoder")
	defer dec.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := h.client(b, nil)
			var since change.Version
			for {
				frame, err := c.Pull(context.Background(), "notes", hub.PullRequest{Since: since})
				if err != nil {
					b.Error(err)
					return
				}
				hdr, err := dec.Header(frame)
				if err != nil {
					b.Error(err)
					return
				}
				if hdr.Last == since || hdr.Last >= hdr.Head {
					return
				}
				since = hdr.Last
			}
		}()
	}
	wg.Wait()
}

// idleConns opens 1,000 connections that send nothing, then a pull.
func idleConns(b *testing.B, h *benchHub) {
	addr := strings.TrimPrefix(h.url, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Logf("connection %d: %v", len(conns)+1, err)
			break
		}
		conns = append(conns, c)
	}
	_, err := h.client(b, nil).Pull(context.Background(), "notes", hub.PullRequest{})
	syncMust(b, err, "pull beside 1,000 idle connections")
}
