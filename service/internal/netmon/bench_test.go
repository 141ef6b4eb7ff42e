package netmon_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/netmon"
)

// What the monitor adds to everyone else's socket calls. Compare
//
//	go test -run '^$' -bench . ./service/internal/netmon/
//	NETMON_BENCH=own go test -run '^$' -bench . ./service/internal/netmon/
//	NETMON_BENCH=other go test -run '^$' -bench . ./service/internal/netmon/
//
// "own": attached and reporting this namespace (events go through the ring
// buffer to the watcher); "other": attached but watching another namespace
// (the programs run and filter everything out).
func attach(b *testing.B) {
	mode := os.Getenv("NETMON_BENCH")
	if mode == "" {
		return
	}
	if os.Geteuid() != 0 {
		b.Skip("attaching needs root")
	}
	cfg := netmon.DefaultConfig()
	if mode == "other" {
		cmd := exec.Command("sleep", "infinity")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		cfg.NetNS = "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	}
	w, err := netmon.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(event.Event) {}) }()
	<-w.Ready()
	b.Cleanup(func() { cancel(); <-done })
}

func BenchmarkUDPBindClose(b *testing.B) {
	attach(b)
	for b.Loop() {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		pc.Close()
	}
}

func BenchmarkUDPBindNamedPortClose(b *testing.B) {
	attach(b)
	for b.Loop() {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:45999")
		if err != nil {
			b.Fatal(err)
		}
		pc.Close()
	}
}

func BenchmarkTCPConnectAcceptClose(b *testing.B) {
	attach(b)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for b.Loop() {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
