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
	b := newBudget(100, 0)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(10 + i%7*10) // 10 to 70
			sh, err := b.acquire(context.Background(), n)
			if err != nil {
				t.Error(err)
				return
			}
			now := held.Add(n)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			held.Add(-n)
			sh.release()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 100 || p < 10 {
		t.Errorf("peak of shares held at once: %d, want 10 to 100", p)
	}

	sh, err := b.acquire(context.Background(), 1000)
	if err != nil {
		t.Fatalf("a share larger than the budget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(ctx, 1); err == nil {
		t.Fatal("a share granted while a larger-than-budget one holds it all")
	}
	sh.release()
	sh.release() // a second release gives nothing back twice
	if b.free != 100 || len(b.queue) != 0 {
		t.Errorf("after every release: %d free, %d waiting; want 100, 0", b.free, len(b.queue))
	}
}

// TestBudgetResize: a share given back in part lets a waiter in; one grown
// beyond what is free is granted at once and holds the budget until given
// back; a share is never larger than the largest the budget allows.
func TestBudgetResize(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100, 0)
	a, err := b.acquire(ctx, 80)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *share, 1)
	go func() {
		w, err := b.acquire(ctx, 50)
		if err != nil {
			t.Error(err)
		}
		got <- w
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, waiting := b.state(); waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second share never waited")
		}
	}
	a.resize(30)
	w := <-got
	a.resize(90)
	if held, _ := b.state(); held != 140 {
		t.Errorf("after growing a share beyond the budget: %d held, want 140", held)
	}
	a.release()
	w.release()
	a.resize(10) // released stays released
	if held, waiting := b.state(); held != 0 || waiting != 0 {
		t.Errorf("after every release: %d held, %d waiting; want 0, 0", held, waiting)
	}

	b = newBudget(100, 60)
	big, err := b.acquire(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	big.resize(1000)
	if _, err := b.acquire(ctx, 40); err != nil {
		t.Errorf("beside the largest share: %v", err)
	}
	if held, _ := b.state(); held != 100 {
		t.Errorf("a share of 1000 with the largest 60, beside 40: %d held, want 100", held)
	}
}
