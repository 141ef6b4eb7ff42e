// Package procinfo names the process behind a pid, from /proc, at the moment
// a monitor learns of it: comm first (a zombie keeps its comm but not its
// exe, and a short-lived opener may be gone a moment later), then exe, the
// real uid and its user name, and the systemd unit or Flatpak app id that
// its cgroup says it belongs to. Camera, microphone and network monitors
// share it.
//
// Reading another user's exe needs CAP_SYS_PTRACE (or the same uid); without
// it Exe is empty and the rest is still filled in.
package procinfo

import (
	"bytes"
	"os/user"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
)

// Reader looks processes up under a /proc root.
type Reader struct {
	proc string

	mu    sync.Mutex
	users map[int64]string // uid → name; users rarely change
}

// New reads the real /proc.
func New() *Reader { return NewAt("/proc") }

// NewAt reads a /proc-shaped tree at root (tests use testdata).
func NewAt(root string) *Reader { return &Reader{proc: root, users: map[int64]string{}} }

// Lookup returns what can be known of pid; nil when the process is gone
// before even its comm could be read.
func (r *Reader) Lookup(pid int) *event.Process {
	dir := r.proc + "/" + strconv.Itoa(pid) + "/"
	var buf [8192]byte
	comm, err := readFile(dir+"comm", buf[:64])
	if err != nil {
		return nil
	}
	p := &event.Process{PID: pid, Comm: strings.TrimSuffix(string(comm), "\n"), UID: -1}
	if n, err := unix.Readlink(dir+"exe", buf[:]); err == nil {
		p.Exe = string(buf[:n])
	}
	if st, err := readFile(dir+"status", buf[:]); err == nil {
		if uid, ok := statusUID(st); ok {
			p.UID = uid
			p.User = r.userName(uid)
		}
	}
	if cg, err := readFile(dir+"cgroup", buf[:]); err == nil {
		p.Unit, p.App = Cgroup(cg)
	}
	return p
}

func (r *Reader) userName(uid int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name, ok := r.users[uid]; ok {
		return name
	}
	name := ""
	if u, err := user.LookupId(strconv.FormatInt(uid, 10)); err == nil {
		name = u.Username
	}
	r.users[uid] = name
	return name
}

// Cgroup reads a /proc/PID/cgroup file and returns the innermost systemd
// unit (a .service or .scope) and, for a Flatpak app's scope
// (app-flatpak-ID-N.scope), the app id.
func Cgroup(b []byte) (unit, app string) {
	var v2, v1 string
	for _, line := range bytes.Split(b, []byte("\n")) {
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case parts[1] == "name=systemd":
			v1 = parts[2] // hybrid hierarchy: the unit may be named only here
		}
	}
	if unit = innermostUnit(v2); unit == "" {
		unit = innermostUnit(v1)
	}
	if rest, ok := strings.CutPrefix(unit, "app-flatpak-"); ok {
		rest = strings.TrimSuffix(rest, ".scope")
		if i := strings.LastIndexByte(rest, '-'); i > 0 {
			app = rest[:i]
		}
	}
	return unit, app
}

func innermostUnit(path string) string {
	comps := strings.Split(path, "/")
	for i := len(comps) - 1; i >= 0; i-- {
		if c := comps[i]; strings.HasSuffix(c, ".service") || strings.HasSuffix(c, ".scope") {
			return c
		}
	}
	return ""
}
