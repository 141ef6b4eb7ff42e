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

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
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
