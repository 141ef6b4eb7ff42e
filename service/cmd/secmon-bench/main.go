// Command secmon-bench measures secmon against its floor and writes
// BENCHMARKS.md (make bench). See secmon-bench -h and the README,
// "Performance".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pantheros/secmon/service/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "secmon-bench:", err)
		os.Exit(1)
	}
}
