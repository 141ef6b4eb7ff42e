// Command secmon-notifier shows secmon's events as desktop notifications:
// it follows secmon-daemon on the system bus and notifies through
// org.freedesktop.Notifications on the session bus. It runs in the user's
// session (systemd/user/secmon-notifier.service). See the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pantheros/secmon/notifier/internal/notifier"
	"github.com/pantheros/secmon/notifier/internal/sdlog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := notifier.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, sdlog.Prefix(os.Stderr, sdlog.Err)+"secmon-notifier:", err)
	var ue *notifier.UsageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
