// Command floor is the idle floor secmon is measured against: the least a Go
// program doing secmon's job can cost at rest, namely fsnotify watching the
// directories given as arguments and a Unix socket listener whose accepted
// connections are held open. It prints "ready" on stdout once both are set
// up and then waits on the kernel, as secmon should.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/fsnotify/fsnotify"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: floor SOCKET DIR…")
		os.Exit(2)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor: cannot start inotify:", err)
		os.Exit(1)
	}
	for _, d := range os.Args[2:] {
		if err := w.Add(d); err != nil {
			fmt.Fprintln(os.Stderr, "floor: cannot watch", d+":", err)
			os.Exit(1)
		}
	}
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor: cannot listen:", err)
		os.Exit(1)
	}
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	go func() {
		for {
			select {
			case <-w.Events:
			case <-w.Errors:
			}
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	fmt.Println("ready")
	<-sig
	l.Close()
	w.Close()
}
