// Command secmon-daemon is secmon's system daemon: it watches the machine and
// serves each event on its JSON-lines socket, to the journal, and on the
// system bus as org.pantheros.Secmon (the Event signal the notifier follows,
// and a replay method). See secmon-daemon -help, secmon-dbus(7) and the
// README.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/pantheros/secmon/service/internal/daemon"
	"github.com/pantheros/secmon/service/internal/sdlog"
)

// gcPercent is the daemon's GOGC unless the environment sets one. Its live
// heap is small (about 1 MB idle; the replay ring and the client queues at
// most), so collecting at +50 % rather than +100 % keeps a storm's peak
// under the integration guide's budget for a little more CPU in a burst
// (BENCHMARKS.md, storm and burst).
const gcPercent = 50

// maxProcs is the daemon's GOMAXPROCS unless the environment sets one. One
// event passes through several goroutines (fsnotify's reader, the watcher,
// the hub's subscribers: each client, the journal, the replay log, the
// bus); with more than one P each hand-off may wake another thread (a
// futex, ~10 % of a burst's CPU), where on one P the woken goroutine runs
// next on the same thread. One core does ~130,000 events a second here,
// far above what any burst of a workstation's disk makes, and Go still
// preempts a goroutine that runs long. Measured with secmon-bench (tmpfs
// burst, 3 runs): CPU per file operation 2.16-2.25x inotifywait -> 1.93x
// (1 client) and 2.22-2.34x -> 1.93x (10 clients), socket latency p99
// 1.97 -> 1.65 ms, D-Bus 2.40 -> 2.09 ms, storm peak 30-31 -> 26.5-26.8 MB,
// nothing lost, no kernel queue overflow.
const maxProcs = 1

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(maxProcs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := daemon.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	// An error for journalctl -p err when systemd runs it (a refused
	// ExecReload check, a failed start).
	fmt.Fprintln(os.Stderr, sdlog.Prefix(os.Stderr, sdlog.Err)+"secmon-daemon:", err)
	var ue *daemon.UsageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
