// Command secmon-client prints secmon's events: JSON lines into a pipe,
// readable lines on a terminal. See secmon-client -help.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pantheros/secmon/service/internal/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := client.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var ee *client.ExitError
	if !errors.As(err, &ee) || !ee.Shown {
		fmt.Fprintln(os.Stderr, "secmon-client:", err)
	}
	if ee != nil {
		os.Exit(ee.Code)
	}
	os.Exit(1)
}
