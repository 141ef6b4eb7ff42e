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
	"syscall"

	"github.com/pantheros/secmon/service/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := daemon.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "secmon-daemon:", err)
	var ue *daemon.UsageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
