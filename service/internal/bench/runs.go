package bench

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// What the latency, burst and storm runs share: readers that count from
// the warm-up file on, and that stop once the workload is over and they
// have drained.

// warmUp writes the file warm, again every 100 ms, until ready says every
// reader has seen it: each is then subscribed, and the workload that
// follows is seen whole. 15 s at most.
func warmUp(ctx context.Context, warm string, ready func() bool) error {
	deadline := time.Now().Add(15 * time.Second)
	for !ready() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("the readers did not see a first event within 15s")
		}
		os.Remove(warm)
		if err := os.WriteFile(warm, nil, 0o644); err != nil {
			return err
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return nil
}

// drain says when a reader has had all it will get of a workload: once the
// workload has ended, when the end is settle behind and the reader has
// been silent for silence; or, whatever it reads, limit after the end (0:
// no limit).
type drain struct {
	settle, silence, limit time.Duration
}

// over is whether a reader whose last line came at last is done at now,
// the workload having ended at end (unix ns; 0: not yet).
func (d drain) over(now, last time.Time, end int64) bool {
	if end == 0 {
		return false
	}
	since := now.Sub(time.Unix(0, end))
	return since > d.settle && now.Sub(last) > d.silence || d.limit > 0 && since > d.limit
}

// idle is readLines' idle for a reader of a workload whose end is stored
// in end (unix ns): over, or ctx done.
func (d drain) idle(ctx context.Context, end *atomic.Int64) func(last time.Time) bool {
	return func(last time.Time) bool {
		return ctx.Err() != nil || d.over(time.Now(), last, end.Load())
	}
}
