package hub

import (
	"context"
	"sync"
)

// budget is a number of bytes that requests take a share of before they
// allocate it and give back when done: the hub's bound on the memory of
// request bodies (or of pull frames) in flight, whatever the number of
// requests. A nil budget grants every share at once.
//
// A budget may keep a reserve for small shares (of at most reserve bytes),
// so that large ones never hold up small ones nor small ones starve large
// ones. Large shares hold at most size - reserve between them, so a small
// share waits only for other small ones; while a large share waits, small
// ones are granted only within the reserve, so that it fits once the large
// ones before it are given back. Each kind is served first come first
// served. A share larger than size - reserve is counted as that much, so
// that one request of any size passes (alone among large ones). Without a
// reserve every share is large.
type budget struct {
	mu      sync.Mutex
	size    int64
	reserve int64
	free    int64    // may be negative: see share.resize
	held    [2]int64 // by kind
	queue   [2][]*budgetWaiter
}

// The kinds of share.
const (
	small = iota
	large
)

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the share is granted
}

// newBudget returns a budget of size bytes keeping reserve bytes (less
// than size) for small shares.
func newBudget(size, reserve int64) *budget {
	return &budget{size: size, reserve: min(max(reserve, 0), size-1), free: size}
}

// share is bytes held from a budget until released.
type share struct {
	b    *budget
	kind int
	mu   sync.Mutex
	n    int64
	done bool
}

// acquire waits for a share of n bytes, or for ctx to end.
func (b *budget) acquire(ctx context.Context, n int64) (*share, error) {
	if b == nil {
		return nil, nil
	}
	kind, n := b.kindOf(n)
	b.mu.Lock()
	if len(b.queue[kind]) == 0 && b.fitsLocked(kind, n) {
		b.grantLocked(kind, n)
		b.mu.Unlock()
		return &share{b: b, kind: kind, n: n}, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.queue[kind] = append(b.queue[kind], w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return &share{b: b, kind: kind, n: n}, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: give it back
		b.grantLocked(kind, -n)
	default:
		b.remove(kind, w)
	}
	b.wakeLocked()
	return nil, ctx.Err()
}

// kindOf returns the kind of a share of n bytes, and n as counted.
func (b *budget) kindOf(n int64) (kind int, counted int64) {
	n = max(n, 0)
	if n <= b.reserve {
		return small, n
	}
	return large, min(n, b.size-b.reserve)
}

// fitsLocked says whether a share of n bytes of kind may be granted now.
func (b *budget) fitsLocked(kind int, n int64) bool {
	if n > b.free {
		return false
	}
	if kind == large {
		return b.held[large]+n <= b.size-b.reserve
	}
	return len(b.queue[large]) == 0 || b.held[small]+n <= b.reserve
}

func (b *budget) grantLocked(kind int, n int64) {
	b.free -= n
	b.held[kind] += n
}

// wakeLocked grants the waiters at the heads of the queues that now fit,
// large ones first; one that does not fit keeps the ones of its kind
// behind it waiting.
func (b *budget) wakeLocked() {
	for b.wakeHeadLocked(large) || b.wakeHeadLocked(small) {
	}
}

func (b *budget) wakeHeadLocked(kind int) bool {
	q := b.queue[kind]
	if len(q) == 0 || !b.fitsLocked(kind, q[0].n) {
		return false
	}
	b.queue[kind] = q[1:]
	b.grantLocked(kind, q[0].n)
	close(q[0].ready)
	return true
}

func (b *budget) remove(kind int, w *budgetWaiter) {
	for i, q := range b.queue[kind] {
		if q == w {
			b.queue[kind] = append(b.queue[kind][:i], b.queue[kind][i+1:]...)
			return
		}
	}
}

// release gives the share back, as resize(0) does; a second release gives
// nothing.
func (s *share) release() { s.resize(0) }

// resize holds n bytes instead (counted as acquire counts them, of the
// share's kind): it gives back what it holds beyond n or, without waiting,
// takes what it lacks, since the caller already holds that memory; the
// budget then grants nothing until enough is given back. A released share
// stays released.
func (s *share) resize(n int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	b := s.b
	n = min(max(n, 0), b.size-b.reserve)
	b.mu.Lock()
	b.grantLocked(s.kind, n-s.n)
	b.wakeLocked()
	b.mu.Unlock()
	s.n, s.done = n, n == 0
}

// state returns the bytes held and the requests waiting, for /metrics.
func (b *budget) state() (held int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.free, len(b.queue[small]) + len(b.queue[large])
}
