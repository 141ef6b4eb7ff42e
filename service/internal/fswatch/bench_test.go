package fswatch_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
)

// burstBatch is how many files a burst creates before it waits for their
// events: fewer than the kernel's queue (16384 by default), so that a
// slow watcher is measured rather than overflowed.
const burstBatch = 1024

// burstDir is a scratch directory on tmpfs when there is one: there the
// creations cost little and the watcher's share of the CPU shows.
func burstDir(b *testing.B) string {
	b.Helper()
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC {
		d, err := os.MkdirTemp("/dev/shm", "fswatch-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return b.TempDir()
}

// cpuNow is the CPU time (user and system) the process used so far.
func cpuNow(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// create makes n files in d, each created, written and closed as an
// unpacked archive would (IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE).
func create(b *testing.B, d string, from, n int) {
	for i := from; i < from+n; i++ {
		fd, err := unix.Open(filepath.Join(d, "f"+strconv.Itoa(i)), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
	}
}

// BenchmarkBurstFloor is the burst without a watcher: what the creations
// themselves cost. cpu-ns/op of BenchmarkBurst less this one is the
// watcher's share.
func BenchmarkBurstFloor(b *testing.B) {
	d := burstDir(b)
	cpu0 := cpuNow(b)
	for i := 0; i < b.N; i += burstBatch {
		create(b, d, i, min(burstBatch, b.N-i))
	}
	b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkBurst creates files as fast as it can in a watched directory
// and waits for each one's FileCreate.
func BenchmarkBurst(b *testing.B) {
	d := burstDir(b)
	w, err := fswatch.New(fswatch.Config{Watches: []config.Watch{{Path: d, Recursive: true}}}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	created := make(chan struct{}, burstBatch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(e event.Event) {
			if e.Type == event.FileCreate {
				created <- struct{}{}
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	<-w.Ready()
	b.ResetTimer()
	cpu0 := cpuNow(b)
	for i := 0; i < b.N; i += burstBatch {
		n := min(burstBatch, b.N-i)
		create(b, d, i, n)
		for range n {
			select {
			case <-created:
			case <-time.After(time.Minute):
				b.Fatalf("FileCreate %d of %d did not come", i, b.N)
			}
		}
	}
	b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
