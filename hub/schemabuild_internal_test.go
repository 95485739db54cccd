package hub

import (
	"context"
	"errors"
	"testing"
)

// TestSchemaSlots: at most maxSchemaBuilds schemas are checked and built
// at once; the next waits for a slot, and gives up when its request ends.
func TestSchemaSlots(t *testing.T) {
	var releases []func()
	for range maxSchemaBuilds {
		release, err := acquireSchemaSlot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := acquireSchemaSlot(gone); !errors.Is(err, context.Canceled) {
		t.Errorf("with every slot taken: got %v, want the request's end", err)
	}
	got := make(chan error)
	go func() {
		release, err := acquireSchemaSlot(context.Background())
		if err == nil {
			release()
		}
		got <- err
	}()
	releases[0]()
	if err := <-got; err != nil {
		t.Errorf("once a slot is free: got %v", err)
	}
	for _, release := range releases[1:] {
		release()
	}
}
