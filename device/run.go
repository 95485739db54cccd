package device

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/deltasync/deltasync/changelog"
)

// Defaults of Syncer.Run.
const (
	DefaultInterval   = 30 * time.Second
	DefaultWait       = 25 * time.Second
	DefaultWatch      = 5 * time.Millisecond
	DefaultBusyWatch  = time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultRefusedRetry is how often a sync the hub refused (see
	// Permanent) is tried again: a hub's operator may fix a token's
	// databases, and a clock catch up, without the sidecar restarting.
	DefaultRefusedRetry = 5 * time.Minute
)

// firstBackoff is the pause after the first failure of a run of failures.
const firstBackoff = 100 * time.Millisecond

// busyFor is how long after a change of the database Run checks it every
// BusyWatch rather than every Watch.
const busyFor = time.Second

// RunOptions tune Syncer.Run. Zero values mean the defaults.
type RunOptions struct {
	Interval time.Duration // a full sync at least this often
	Wait     time.Duration // long-poll time of each pull
	Watch    time.Duration // how often PRAGMA data_version is checked for local writes
	// BusyWatch is how often it is checked within a second of the last
	// change seen: writes come in bursts, and the wait for the next check
	// is most of a change's propagation time. Idle, a check every
	// millisecond would cost about 3.5% of a core more than one every 5 ms
	// (measured, see benchmarks/README.md).
	BusyWatch  time.Duration
	MaxBackoff time.Duration // the longest pause between retries while the hub is unreachable
	// RefusedRetry is the pause after a failure that retrying cannot cure
	// (Permanent: auth, schema, a refused batch), instead of the backoff.
	RefusedRetry time.Duration
	OnSync       func(Stats) // called after each push or pull that moved something
}

func (o RunOptions) withDefaults() RunOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.Watch <= 0 {
		o.Watch = DefaultWatch
	}
	if o.BusyWatch <= 0 {
		o.BusyWatch = DefaultBusyWatch
	}
	o.BusyWatch = min(o.BusyWatch, o.Watch)
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.RefusedRetry <= 0 {
		o.RefusedRetry = DefaultRefusedRetry
	}
	return o
}

// Run keeps the device in sync until ctx ends: it pushes as soon as the
// database changes (any connection's commit moves PRAGMA data_version),
// pulls as soon as the hub has news (long-poll), syncs fully every
// Interval, and while the hub is unreachable retries with exponential
// backoff and jitter. A failure retrying cannot cure (Permanent: the hub
// refused the token, the schema or a batch) is recorded for LastError and
// retried only every RefusedRetry. It returns nil when ctx ends, and only
// once its pull loop has ended too, so that the caller may close the
// database after it.
func (s *Syncer) Run(ctx context.Context, o RunOptions) error {
	o = o.withDefaults()
	if err := s.retry(ctx, o, func() error { _, err := s.SyncOnce(ctx); return err }); err != nil {
		return nil // ctx ended
	}
	ctx, stop := context.WithCancel(ctx)
	var pulls sync.WaitGroup
	pulls.Add(1)
	go func() {
		defer pulls.Done()
		s.pullLoop(ctx, o)
	}()
	err := s.pushLoop(ctx, o)
	stop() // the push loop may end on an error: the pull loop ends with it
	pulls.Wait()
	return err
}

func (s *Syncer) pullLoop(ctx context.Context, o RunOptions) {
	for ctx.Err() == nil {
		s.retry(ctx, o, func() error { //nolint:errcheck // returns only when ctx ends
			var st Stats
			err := s.Pull(ctx, o.Wait, &st)
			s.record(ctx, err)
			if err == nil && st.Pulled > 0 && o.OnSync != nil {
				o.OnSync(st)
			}
			return err
		})
	}
}

func (s *Syncer) pushLoop(ctx context.Context, o RunOptions) error {
	conn, err := s.Node.DB.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	watch := time.NewTimer(o.Watch)
	defer watch.Stop()
	full := time.NewTicker(o.Interval)
	defer full.Stop()
	var seen int64
	var busyUntil time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-full.C:
		case <-watch.C:
			var v int64
			err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
			moved := err == nil && v != seen
			if moved {
				seen, busyUntil = v, time.Now().Add(busyFor)
			}
			if time.Now().Before(busyUntil) {
				watch.Reset(o.BusyWatch)
			} else {
				watch.Reset(o.Watch)
			}
			if !moved {
				continue
			}
			// Merging a pull moves data_version too, but logs nothing to
			// push (changelog.ApplyOptions.Discard): skip the push's
			// write transaction then.
			if more, err := changelog.Unpushed(ctx, conn, changelog.Hub); err == nil && !more {
				continue
			}
		}
		s.retry(ctx, o, func() error { //nolint:errcheck // returns only when ctx ends
			var st Stats
			err := s.Push(ctx, &st)
			s.record(ctx, err)
			if err == nil && st.Pushed > 0 && o.OnSync != nil {
				o.OnSync(st)
			}
			return err
		})
	}
}

// retry calls fn until it succeeds or ctx ends, pausing between attempts
// with exponential backoff and full jitter, or for RefusedRetry after a
// failure that retrying cannot cure.
func (s *Syncer) retry(ctx context.Context, o RunOptions, fn func() error) error {
	backoff := firstBackoff
	for {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		var pause time.Duration
		if Permanent(err) {
			pause = o.RefusedRetry
			s.Node.Logger.Error("sync refused; retrying only every "+o.RefusedRetry.String(), "err", err)
		} else {
			pause = rand.N(backoff) + backoff/2
			s.Node.Logger.Warn("sync failed; retrying", "err", err, "in", backoff)
			backoff = min(2*backoff, o.MaxBackoff)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
