package writer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
	"github.com/pantheros/secmon/service/internal/persist"
	"github.com/pantheros/secmon/service/internal/sshmon"
	"github.com/pantheros/secmon/service/internal/writer"
)

// The cost of naming writers on a burst in an unrelated tree: the
// filesystem monitor watches the tree and a sensitive directory, with and
// without a Tracker. Only the sensitive directory is marked, so the burst
// should cost the same. cpu-ms/op is this process's user+system time per
// burst of 1000 files (the monitor runs in it; the files are written by it
// too, in both cases); fanotify-events/op counts what the Tracker read.
//
//	go test -run '^$' -bench Burst -benchtime 20x -count 5 ./service/internal/writer/
func BenchmarkBurstUnrelatedTree(b *testing.B) {
	for _, named := range []bool{false, true} {
		b.Run(fmt.Sprintf("writers=%v", named), func(b *testing.B) { burst(b, named) })
	}
}

func burst(b *testing.B, named bool) {
	const files = 1000
	tree, sensitive := b.TempDir(), filepath.Join(b.TempDir(), ".ssh")
	if err := os.Mkdir(sensitive, 0o700); err != nil {
		b.Fatal(err)
	}
	cfg := fswatch.Config{
		Watches: []config.Watch{{Path: tree, Recursive: true}, {Path: sensitive, Recursive: true}},
		Rules:   []fswatch.Rule{persist.Classify, sshmon.Classify},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if named {
		tr, err := writer.New(writer.Config{
			Holds: func(d string) bool { return persist.Holds(d) || sshmon.Holds(d) },
			Sensitive: func(p string) bool {
				t, l, _ := sshmon.Classify(p)
				_, l2, _ := persist.Classify(p)
				return t != "" || l > 0 || l2 > 0
			},
		}, nil)
		if err != nil {
			b.Skip("writer:", err)
		}
		go tr.Run(ctx)
		cfg.Writers = tr
		defer func() {
			b.ReportMetric(float64(tr.Read())/float64(b.N), "fanotify-events/op")
			if got := tr.Marked(); len(got) != 1 || got[0] != sensitive {
				b.Errorf("marked %v, want only %s", got, sensitive)
			}
		}()
	}
	w, err := fswatch.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	var seen atomic.Int64
	go w.Run(ctx, func(e event.Event) {
		if filepath.Dir(e.Path) == tree {
			seen.Add(1)
		}
	})
	<-w.Ready()
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		before := seen.Load()
		start := rusage()
		for j := range files {
			if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%d-%d", i, j)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(time.Minute)
		for seen.Load() < before+files {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events", seen.Load()-before, files)
			}
			time.Sleep(100 * time.Microsecond)
		}
		cpu += rusage() - start
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func rusage() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
