package hub_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/deltasync/codec"
	"github.com/deltasync/deltasync/hub"
)

const blobDDL = `CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB);`

// pushBlobs gives the hub a database db whose first merge is n rows of
// 8 MiB of random bytes: a pull from version 0 is one frame of n*8 MiB,
// far larger than the kernel's socket buffers, so that the hub is still
// writing it when a client stops reading.
func pushBlobs(t *testing.T, h *testHub, label, db string, n int) {
	t.Helper()
	doc := createDB(t, h.client(label), db, blobDDL)
	var changes []codec.Change
	for i := range n {
		blob := make([]byte, 8<<20)
		rand.Read(blob)
		changes = append(changes, insert(int64(i+1), 1, []int{0, 1}, int64(i+1), blob))
	}
	if _, err := h.client(label).Push(context.Background(), db, frame(t, doc, site(9), "b", []string{"id", "data"}, changes...)); err != nil {
		t.Fatal(err)
	}
}

// rawPull sends a pull on a connection of its own and reads the answer's
// header, leaving its body unread.
func rawPull(t *testing.T, h *testHub, path, auth string) (net.Conn, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: hub\r\n", path)
	if auth != "" {
		fmt.Fprintf(conn, "Authorization: %s\r\n", auth)
	}
	fmt.Fprintf(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("pull %s: %v", path, err)
	}
	return conn, resp
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30 s", what)
		}
	}
}

// TestClientGoneMidResponse: a client that leaves while the hub is
// writing a pull's answer is no error: the hub logs it at DEBUG, counts
// no 500, and writes no error body after the part of the frame it sent.
func TestClientGoneMidResponse(t *testing.T) {
	h := startHub(t, nil, nil)
	pushBlobs(t, h, "", "app", 2)
	conn, resp := rawPull(t, h, "/v1/app/pull", "")
	if resp.StatusCode != 200 {
		t.Fatalf("pull: got %d, want 200", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitFor(t, "the hub noticing the client leave", func() bool {
		log := h.log.String()
		return strings.Contains(log, "client went away") || strings.Contains(log, "level=ERROR") || strings.Contains(log, "request refused")
	})
	metrics := h.do(t, "GET", "/metrics", "", nil).body
	if log := h.log.String(); strings.Contains(log, "level=ERROR") || strings.Contains(log, "superfluous") || strings.Contains(metrics, `status="500"`) {
		t.Errorf("a client leaving mid-answer counted as a failure:\n%s\n%s", log, metrics)
	}
}

// TestStalledPullReader: the pull frames a hub holds at once stay within
// its pull budget. While a reader that stopped reading holds a large
// frame, a pull whose read would not fit beside it waits (/metrics shows
// it); the hub cuts the stalled reader once its frame's time at the
// minimum rate has passed, and then serves the waiting pull.
func TestStalledPullReader(t *testing.T) {
	const budget = 32 << 20
	h := startHub(t, nil, func(s *hub.Server) {
		s.PullBudget, s.MinRate = budget, 8<<20
		hub.SetSlack(s, 2*time.Second)
	})
	pushBlobs(t, h, "", "app", 2) // versions 1 and 2: one 16 MiB merge
	doc := schemaDoc(t, blobDDL)
	if _, err := h.client("").Push(context.Background(), "app", frame(t, doc, site(8), "b", []string{"id", "data"}, insert(3, 1, []int{0, 1}, int64(3), []byte("small")))); err != nil {
		t.Fatal(err)
	}
	stalled, resp := rawPull(t, h, "/v1/app/pull", "")
	if resp.StatusCode != 200 {
		t.Fatalf("pull of the large merge: got %d, want 200", resp.StatusCode)
	}
	type result struct {
		frame []byte
		err   error
	}
	got := make(chan result, 1)
	go func() {
		f, err := h.client("").Pull(context.Background(), "app", hub.PullRequest{Since: 2})
		got <- result{f, err}
	}()
	var metrics string
	waitFor(t, "the second pull waiting for the pull budget", func() bool {
		metrics = h.do(t, "GET", "/metrics", "", nil).body
		return strings.Contains(metrics, "deltasync_hub_pull_budget_waiting 1")
	})
	if held := metricValue(t, metrics, "deltasync_hub_pull_budget_held_bytes"); held > budget {
		t.Errorf("pull frames held: %d bytes, over the budget of %d", held, budget)
	}
	var r result
	waitFor(t, "the waiting pull served", func() bool {
		select {
		case r = <-got:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatalf("the waiting pull: %v", r.err)
	}
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if hd, err := dec.Header(r.frame); err != nil || hd.Changes != 1 {
		t.Errorf("the waiting pull got %d changes (%v), want 1", hd.Changes, err)
	}
	stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Errorf("the stalled reader read all %d bytes: the hub never cut it", n)
	}
	log := h.log.String()
	if !strings.Contains(log, "level=WARN msg=\"client cut\"") || strings.Contains(log, "level=ERROR") {
		t.Errorf("want the cut logged at WARN and no ERROR:\n%s", log)
	}
}

// metricValue returns the value of an unlabelled series in /metrics text.
func metricValue(t *testing.T, metrics, name string) int64 {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", name, metrics)
	return 0
}

// slowPush starts a push of a frame of frameLen bytes, declaring a body of
// as many, with the token of label, and sends only its header: a client
// trickling a large body, or one that stopped sending.
func slowPush(t *testing.T, h *testHub, label, db string, frameLen int64) net.Conn {
	t.Helper()
	e, err := codec.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f, err := e.Encode(nil, &codec.Batch{Last: 1})
	if err != nil {
		t.Fatal(err)
	}
	hdr := f[:codec.HeaderSize:codec.HeaderSize]
	binary.BigEndian.PutUint32(hdr[84:], uint32(frameLen-codec.HeaderSize))
	binary.BigEndian.PutUint32(hdr[88:], uint32(frameLen-codec.HeaderSize))
	binary.BigEndian.PutUint32(hdr[96:], crc32.Checksum(hdr[:96], crc32.MakeTable(crc32.Castagnoli)))
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/%s/push HTTP/1.1\r\nHost: hub\r\nContent-Length: %d\r\n", db, frameLen)
	if token := h.tokens[label]; token != "" {
		fmt.Fprintf(conn, "Authorization: Bearer %s\r\n", token)
	}
	fmt.Fprintf(conn, "\r\n%s", hdr)
	return conn
}

// TestSlowPushBlocksNoOne: pushes of full-size bodies that a client sends
// slowly, one holding the body budget and three waiting for it, do not
// hold up another token's small push; and a token may have at most
// MaxPushesPerToken pushes at once: the next is 429 "too-many-pushes".
func TestSlowPushBlocksNoOne(t *testing.T) {
	h := startHub(t, map[string]string{"slow": "app", "quick": "app"}, nil)
	doc := createDB(t, h.client("quick"), "app", strictDDL)
	for range 4 {
		slowPush(t, h, "slow", "app", hub.DefaultMaxBody)
	}
	waitFor(t, "a slow push holding the body budget and three waiting", func() bool {
		m := h.do(t, "GET", "/metrics", "Bearer "+h.tokens["quick"], nil).body
		return strings.Contains(m, "deltasync_hub_push_budget_waiting 3")
	})
	m := h.do(t, "GET", "/metrics", "Bearer "+h.tokens["quick"], nil).body
	slowHeld := metricValue(t, m, "deltasync_hub_push_budget_held_bytes")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.client("quick").Push(ctx, "app", frame(t, doc, site(2), "t", []string{"id", "n", "s"}, insert(1, 1, []int{0, 1, 2}, int64(1), int64(1), "a")))
		done <- err
	}()
	var err error
	waitFor(t, "the small push of another token beside the slow ones", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatalf("the small push: %v", err)
	}
	m = h.do(t, "GET", "/metrics", "Bearer "+h.tokens["quick"], nil).body
	if held := metricValue(t, m, "deltasync_hub_push_budget_held_bytes"); held != slowHeld {
		t.Errorf("after the small push: %d bytes of the budget held, want the slow push's %d still", held, slowHeld)
	}
	fifth := frame(t, doc, site(1), "t", []string{"id", "n", "s"}, insert(2, 1, []int{0, 1, 2}, int64(2), int64(1), "a"))
	_, err = h.client("slow").Push(ctx, "app", fifth)
	if !errors.Is(err, hub.ErrTooManyPushes) {
		t.Errorf("a fifth push of the slow token: got %v, want ErrTooManyPushes", err)
	}
}

// TestSlowPushCut: a push whose body falls behind the minimum rate, after
// the grace, is cut with a 408 that says so, and gives its share of the
// body budget back without waiting for the time its whole body would take.
func TestSlowPushCut(t *testing.T) {
	h := startHub(t, nil, func(s *hub.Server) { hub.SetSlack(s, time.Second) })
	createDB(t, h.client(""), "app", strictDDL)
	conn := slowPush(t, h, "", "app", 16<<20) // 64 s at the minimum rate
	waitFor(t, "the slow push cut", func() bool {
		m := h.do(t, "GET", "/metrics", "", nil).body
		return strings.Contains(m, "deltasync_hub_slow_clients_cut_total 1")
	})
	m := h.do(t, "GET", "/metrics", "", nil).body
	if held := metricValue(t, m, "deltasync_hub_push_budget_held_bytes"); held != 0 {
		t.Errorf("after the cut: %d bytes of the body budget held, want 0", held)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the cut client got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"too-slow"`) {
		t.Errorf("the cut client got %d %s, want 408 too-slow", resp.StatusCode, body)
	}
	if log := h.log.String(); !strings.Contains(log, "level=WARN msg=\"client cut\"") || strings.Contains(log, "level=ERROR") {
		t.Errorf("want the cut logged at WARN and no ERROR:\n%s", log)
	}
}
