package hub

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics are the hub's counters, written in the Prometheus text format. A
// handful of counters and two histograms do not justify a client library.
type metrics struct {
	mu       sync.Mutex
	counters map[string]float64 // full series name, labels included -> value
	hists    map[string]*histogram
	devices  map[string]map[string]bool // db -> sites seen
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{counters: map[string]float64{}, hists: map[string]*histogram{}, devices: map[string]map[string]bool{}}
}

func (m *metrics) add(name string, v float64) {
	m.mu.Lock()
	m.counters[name] += v
	m.mu.Unlock()
}

func (m *metrics) observe(name string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hists[name]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.hists[name] = h
	}
	s := d.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.n++
}

func (m *metrics) device(db, site string) {
	m.mu.Lock()
	if m.devices[db] == nil {
		m.devices[db] = map[string]bool{}
	}
	m.devices[db][site] = true
	m.mu.Unlock()
}

// write prints every series whose database label (if any) allow accepts;
// versions are read by the caller.
func (m *metrics) write(w io.Writer, versions map[string]int64, allow func(db string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.counters))
	for n := range m.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if db, ok := dbLabel(n); !ok || allow(db) {
			fmt.Fprintf(w, "%s %g\n", n, m.counters[n])
		}
	}
	for db, sites := range m.devices {
		if allow(db) {
			fmt.Fprintf(w, "deltasync_hub_devices{db=%q} %d\n", db, len(sites))
		}
	}
	for db, v := range versions {
		if allow(db) {
			fmt.Fprintf(w, "deltasync_hub_version{db=%q} %d\n", db, v)
		}
	}
	for name, h := range m.hists {
		for i, b := range latencyBuckets {
			fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, b, h.counts[i])
		}
		fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, h.n, name, h.sum, name, h.n)
	}
}

// dbLabel returns the value of a series' db label, and whether it has one.
func dbLabel(series string) (string, bool) {
	_, rest, ok := strings.Cut(series, `db=`)
	if !ok {
		return "", false
	}
	// A label that does not parse is no database's: only a token allowed
	// every database sees the series.
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", true
	}
	db, _ := strconv.Unquote(q)
	return db, true
}
