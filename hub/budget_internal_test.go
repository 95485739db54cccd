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
	if held, waiting := b.state(); held != 0 || waiting != 0 {
		t.Errorf("after every release: %d held, %d waiting; want 0, 0", held, waiting)
	}
}

// TestBudgetResize: a share given back in part lets a waiter in; one grown
// beyond what is free is granted at once and holds the budget until given
// back; a share is never counted as more than the budget less its reserve.
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

	b = newBudget(100, 40)
	big, err := b.acquire(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	big.resize(1000)
	if _, err := b.acquire(ctx, 40); err != nil {
		t.Errorf("beside the largest share: %v", err)
	}
	if held, _ := b.state(); held != 100 {
		t.Errorf("a share of 1000 in a budget of 100 keeping 40, beside 40: %d held, want 100", held)
	}
}

// TestBudgetReserve: with a large share held and another waiting, small
// shares pass within the reserve; while a large share waits, small ones
// beyond the reserve wait, so that the large one is granted as soon as
// the large one before it is given back.
func TestBudgetReserve(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100, 30) // large shares hold at most 70
	first, err := b.acquire(ctx, 70)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan *share, 1)
	go func() {
		sh, err := b.acquire(ctx, 50)
		if err != nil {
			t.Error(err)
		}
		second <- sh
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, waiting := b.state(); waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second large share never waited")
		}
	}
	var smalls []*share
	for range 3 {
		sh, err := b.acquire(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		smalls = append(smalls, sh)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(short, 10); err == nil {
		t.Error("a small share beyond the reserve was granted while a large one waits")
	}
	first.release()
	if sh := <-second; sh == nil {
		t.Fatal("the second large share was not granted")
	} else {
		sh.release()
	}
	for _, sh := range smalls {
		sh.release()
	}
	if held, waiting := b.state(); held != 0 || waiting != 0 {
		t.Errorf("after every release: %d held, %d waiting; want 0, 0", held, waiting)
	}
}
