// Package listenfds takes the listening sockets systemd hands to a
// socket-activated service, as sd_listen_fds(3) describes: LISTEN_PID
// names the process they are for, LISTEN_FDS how many descriptors follow
// from 3 on, LISTEN_FDNAMES their names, colon-separated.
//
// It does what go-systemd's activation package did for the daemon, which
// also links crypto/tls (and through it math/big and crypto/x509) into
// every binary that imports it: ~400 kB of the daemon's resident pages.
package listenfds

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// start is SD_LISTEN_FDS_START.
const start = 3

// Listener returns the passed socket named name, or the first one when
// none has that name; nil when systemd passed none. The others are closed.
// The variables are removed from the environment either way, so that
// programs started later do not take them for their own.
func Listener(name string) net.Listener {
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	var chosen net.Listener
	named := false
	for i := range n {
		fd := start + i
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f) // a duplicate: f is closed either way
		f.Close()
		if err != nil {
			continue // not a listening socket
		}
		switch isName := i < len(names) && names[i] == name; {
		case chosen == nil || isName && !named:
			if chosen != nil {
				chosen.Close()
			}
			chosen, named = l, isName
		default:
			l.Close()
		}
	}
	return chosen
}
