// Package jsonsock is the JSON-lines sink: a Unix stream socket on which every
// client receives one JSON event per line from the moment it connects, so that
// `socat UNIX-CONNECT:/run/secmon/secmon.sock - | jq .` works.
//
// A client may write request lines (see [Request]); they change what that
// client receives and are never broadcast, so no client can forge an event
// for another. Each client has a bounded queue in the hub: a slow or stuck
// client loses events (counted, and announced to it with an EventsDropped
// line) but never delays the daemon or other clients.
package jsonsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ListenOptions say where and how to create the socket.
type ListenOptions struct {
	Path string
	// Mode is the socket's permission bits (0660 by default in system mode).
	Mode os.FileMode
	// Group, if set, owns the socket so its members may connect.
	Group string
	// DirMode is used when the socket's directory has to be created.
	DirMode os.FileMode
}

// Listen creates the socket at o.Path: it creates the directory, refuses a
// directory or socket path that is a symbolic link, removes a stale socket
// left by a dead daemon, and refuses to take over one that still answers.
// The socket is created with its final mode (no window where it is wider).
func Listen(o ListenOptions) (*net.UnixListener, error) {
	dir := filepath.Dir(o.Path)
	if err := os.MkdirAll(dir, o.DirMode); err != nil {
		return nil, fmt.Errorf("cannot create socket directory: %w", err)
	}
	if fi, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("cannot inspect socket directory: %w", err)
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("cannot use socket directory %s: it is a symbolic link", dir)
	}
	if fi, err := os.Lstat(o.Path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("cannot listen on %s: it exists and is not a socket (%s); refusing to remove it", o.Path, fi.Mode().Type())
		}
		if c, err := net.Dial("unix", o.Path); err == nil {
			c.Close()
			return nil, fmt.Errorf("cannot listen on %s: another daemon is serving it", o.Path)
		}
		if err := os.Remove(o.Path); err != nil {
			return nil, fmt.Errorf("cannot remove stale socket: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot inspect socket path: %w", err)
	}
	// The umask is process-wide; this runs once at start-up, before any
	// monitor creates files.
	old := syscall.Umask(int(0o777 &^ o.Mode.Perm()))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: o.Path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("cannot listen: %w", err)
	}
	if err := os.Chmod(o.Path, o.Mode.Perm()); err != nil {
		l.Close()
		return nil, fmt.Errorf("cannot set socket mode: %w", err)
	}
	if o.Group != "" {
		g, err := user.LookupGroup(o.Group)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("cannot find socket group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(o.Path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("cannot give the socket to group %s: %w", o.Group, err)
		}
	}
	return l, nil
}
