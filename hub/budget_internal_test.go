package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBudget: shares held at once never exceed the budget; a share larger
// than the budget passes alone; a waiter that gives up takes nothing.
func TestBudget(t *testing.T) {
	b := newBudget(100)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(10 + i%7*10) // 10 to 70
			release, err := b.acquire(context.Background(), n)
			if err != nil {
				t.Error(err)
				return
			}
			now := held.Add(n)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			held.Add(-n)
			release()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 100 || p < 10 {
		t.Errorf("peak of shares held at once: %d, want 10 to 100", p)
	}

	release, err := b.acquire(context.Background(), 1000)
	if err != nil {
		t.Fatalf("a share larger than the budget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(ctx, 1); err == nil {
		t.Fatal("a share granted while a larger-than-budget one holds it all")
	}
	release()
	release() // a second release gives nothing back twice
	if b.free != 100 || len(b.queue) != 0 {
		t.Errorf("after every release: %d free, %d waiting; want 100, 0", b.free, len(b.queue))
	}
}
