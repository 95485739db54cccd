package hub

import (
	"context"
	"sync"
)

// budget is a number of bytes that requests take a share of before they
// allocate it and give back when done, first come first served: the
// hub's bound on the memory of request bodies in flight, whatever the
// number of requests. A share larger than the whole budget takes the
// whole budget, so that one request of the full size limit always passes.
type budget struct {
	mu    sync.Mutex
	size  int64
	free  int64
	queue []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the share is granted
}

func newBudget(size int64) *budget { return &budget{size: size, free: size} }

// acquire waits for n bytes, or for ctx to end. It returns the function
// that gives them back.
func (b *budget) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 0), b.size)
	b.mu.Lock()
	if len(b.queue) == 0 && n <= b.free {
		b.free -= n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
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

func (b *budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.free += n
			b.grantLocked()
			b.mu.Unlock()
		})
	}
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
