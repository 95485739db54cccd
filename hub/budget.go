package hub

import (
	"context"
	"sync"
)

// budget is a number of bytes that requests take a share of before they
// allocate it and give back when done, first come first served: the
// hub's bound on the memory of request bodies (or of pull frames) in
// flight, whatever the number of requests. A share is at most largest
// bytes, so that one request larger than that always passes (alone, if
// largest is the whole budget). A nil budget grants every share at once.
type budget struct {
	mu      sync.Mutex
	size    int64
	largest int64 // the largest share
	free    int64 // may be negative: see share.resize
	queue   []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the share is granted
}

// newBudget returns a budget of size bytes whose shares are at most
// largest bytes (0: size).
func newBudget(size, largest int64) *budget {
	if largest <= 0 || largest > size {
		largest = size
	}
	return &budget{size: size, largest: largest, free: size}
}

// share is bytes held from a budget until released.
type share struct {
	b    *budget
	mu   sync.Mutex
	n    int64
	done bool
}

// acquire waits for a share of n bytes (at most the largest share), or for
// ctx to end.
func (b *budget) acquire(ctx context.Context, n int64) (*share, error) {
	if b == nil {
		return nil, nil
	}
	n = min(max(n, 0), b.largest)
	b.mu.Lock()
	if len(b.queue) == 0 && n <= b.free {
		b.free -= n
		b.mu.Unlock()
		return &share{b: b, n: n}, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return &share{b: b, n: n}, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: give it back
		b.free += n
	default:
		b.remove(w)
	}
	b.grantLocked()
	return nil, ctx.Err()
}

// release gives the share back, as resize(0) does; a second release gives
// nothing.
func (s *share) release() { s.resize(0) }

// resize holds n bytes (at most the largest share) instead: it gives back
// what it holds beyond n or, without waiting, takes what it lacks, since
// the caller already holds that memory; the budget then grants nothing
// until enough is given back. A released share stays released.
func (s *share) resize(n int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	n = min(max(n, 0), s.b.largest)
	s.b.mu.Lock()
	s.b.free += s.n - n
	s.b.grantLocked()
	s.b.mu.Unlock()
	s.n, s.done = n, n == 0
}

// grantLocked grants the waiters at the head of the queue that now fit;
// one that does not fit keeps the ones behind it waiting, so that a large
// share is not starved by a stream of small ones.
func (b *budget) grantLocked() {
	for len(b.queue) > 0 && b.queue[0].n <= b.free {
		w := b.queue[0]
		b.queue = b.queue[1:]
		b.free -= w.n
		close(w.ready)
	}
}

func (b *budget) remove(w *budgetWaiter) {
	for i, q := range b.queue {
		if q == w {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return
		}
	}
}

// state returns the bytes held and the requests waiting, for /metrics.
func (b *budget) state() (held int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.free, len(b.queue)
}
