package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// daemonOpts is one secmon-daemon to start.
type daemonOpts struct {
	// tree is watched recursively.
	tree string
	// severity, if set, overrides the watch's severities: High events are
	// never folded on the bus, so every one gets its own Event signal.
	severity string
	// allMonitors turns on every monitor in [monitors], not only the
	// filesystem.
	allMonitors bool
	// also turns on this monitor beside the filesystem (without
	// allMonitors).
	also string
	// bus starts a private session bus for the daemon's D-Bus sink.
	bus bool
	// netns runs the daemon in a network namespace of its own (root):
	// other programs' connections do not wake the network monitor.
	netns bool
	// ownCopy runs a copy of the executable of the daemon's own, as on a
	// machine with one daemon: once ready it pages out the code only
	// start-up ran, which the kernel does for pages no other process maps.
	ownCopy bool
	// asService runs the daemon as the NixOS module does: as an
	// unprivileged user (here nobody) with the capabilities the module
	// grants, from an executable that user does not own (root's copy). It
	// takes root and netns's mount namespace.
	asService bool
	// readyTimeout bounds start → READY=1 (default 60 s).
	readyTimeout time.Duration
}

// daemonProc is a running secmon-daemon.
type daemonProc struct {
	p      *proc
	dir    string
	socket string
	bus    *bus
	notify *notifySocket
	// logPath holds the daemon's stdout and stderr: its log and, with no
	// journal, every event as a JSON line. A file (on tmpfs when there is
	// one) costs the daemon no more than journald would and the bench
	// nothing while it measures.
	logPath string
	startup time.Duration // start → READY=1
}

// optionalMonitors are the monitors besides the filesystem's.
var optionalMonitors = []string{"network", "usb", "camera", "microphone", "ssh"}

// monitorsOn is the [monitors] lines after filesystem for o.
func monitorsOn(o daemonOpts) string {
	var b strings.Builder
	for _, m := range optionalMonitors {
		fmt.Fprintf(&b, "%s = %v\n", m, o.allMonitors || m == o.also)
	}
	return b.String()
}

// startDaemon writes a configuration, starts secmon-daemon on it and waits
// for READY=1 on a NOTIFY_SOCKET the bench owns, as the e2e tests do.
func (r *runner) startDaemon(ctx context.Context, o daemonOpts) (*daemonProc, error) {
	dir, err := os.MkdirTemp(r.dir, "d")
	if err != nil {
		return nil, err
	}
	d := &daemonProc{dir: dir, socket: filepath.Join(dir, "run", "secmon.sock"), logPath: filepath.Join(r.logDir, filepath.Base(dir)+".log")}
	busMode := "off"
	if o.bus && !r.noBus {
		if d.bus, err = r.startBus(ctx, dir); err != nil {
			return nil, err
		}
		busMode = "session"
	}
	sev := ""
	if o.severity != "" {
		sev = fmt.Sprintf("severity = %q\n", o.severity)
	}
	// log_level warn: the daemon's own log stays quiet; its events still
	// go to the journal sink (here: JSON lines on stderr, see isolate).
	conf := fmt.Sprintf(`socket_path = %q
state_directory = %q
log_level = "warn"
dbus = %q

[monitors]
filesystem = true
%[4]s

[[watches]]
path = %[5]q
description = "bench tree"
recursive = true
%[6]s`, d.socket, filepath.Join(dir, "state"), busMode, monitorsOn(o), o.tree, sev)
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if d.notify, err = newNotifySocket(filepath.Join(dir, "notify")); err != nil {
		d.stopBus()
		return nil, err
	}
	env := []string{"NOTIFY_SOCKET=" + d.notify.path, "LISTEN_FDS=", "LISTEN_PID=", "WATCHDOG_USEC="}
	if d.bus != nil {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS="+d.bus.address)
	}
	exe := r.binPath("secmon-daemon")
	if o.ownCopy {
		exe = filepath.Join(dir, "secmon-daemon")
		if err := copyFile(r.binPath("secmon-daemon"), exe); err != nil {
			d.cleanup()
			return nil, err
		}
	}
	cmd := []string{exe, config}
	if o.asService {
		if cmd, err = asServiceUser(dir, exe, config); err != nil {
			d.cleanup()
			return nil, err
		}
	}
	name, args, err := r.isolate(cmd, o.netns)
	if err != nil {
		d.cleanup()
		return nil, err
	}
	logf, err := os.Create(d.logPath)
	if err != nil {
		d.cleanup()
		return nil, err
	}
	began := time.Now()
	d.p, err = r.start(ctx, "secmon-daemon", procSpec{name: name, args: args, env: env, stdout: logf, stderr: logf})
	logf.Close()
	if err != nil {
		d.cleanup()
		return nil, err
	}
	timeout := o.readyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.notify.ready:
		d.startup = time.Since(began)
		return d, nil
	case <-d.p.done:
		err = fmt.Errorf("secmon-daemon exited before READY=1 (%v): %s", d.p.exitErr(), d.logTail())
	case <-t.C:
		err = fmt.Errorf("secmon-daemon not ready within %v: %s", timeout, d.logTail())
	case <-ctx.Done():
		err = ctx.Err()
	}
	d.stop()
	return nil, err
}

// isolate returns the command that runs the daemon without the machine's
// journal and, with netns, in a network namespace of its own.
//
// The bench sends up to a million events, which belong in no one's
// journal. Without a journal the daemon writes them as JSON lines to
// stderr, which goes to a file (this machine class has no journald
// anyway). With one, the daemon runs in a private mount namespace where
// /run/systemd/journal is an empty tmpfs. unshare's --propagation private
// would remount / itself, which fails where / is not a mount point (a
// chroot); the mount that holds /run/systemd/journal is made private
// instead, so that the tmpfs never reaches the machine's mounts.
// Both take root.
func (r *runner) isolate(cmd []string, netns bool) (string, []string, error) {
	_, err := os.Stat("/run/systemd/journal/socket")
	journal := err == nil
	if !journal && !netns {
		return cmd[0], cmd[1:], nil
	}
	if os.Geteuid() != 0 {
		if netns {
			return "", nil, errors.New("the idle figure runs the daemon in a network namespace of its own: run secmon-bench as root")
		}
		return "", nil, errors.New("this machine runs journald and the bench would flood it: run secmon-bench as root, so it can hide the journal from the daemon in a private mount namespace")
	}
	args := []string{"--mount", "--propagation", "unchanged"}
	if netns {
		args = append(args, "--net")
	}
	script := `exec "$0" "$@"`
	if journal {
		script = `m=$(findmnt -n -o TARGET --target /run/systemd/journal) && mount --make-rprivate "$m" &&
mount -t tmpfs -o size=64k,mode=0755 tmpfs /run/systemd/journal && ` + script
	}
	return "unshare", append(append(args, "--", "sh", "-c", script), cmd...), nil
}

// serviceCapabilities are the capabilities nix/module.nix grants with
// every monitor on.
const serviceCapabilities = "+dac_read_search,+sys_admin,+sys_ptrace,+bpf,+perfmon,+net_admin"

// asServiceUser returns the command that runs exe on config as the NixOS
// module does (User=secmon, AmbientCapabilities, --system), with nobody
// for secmon, and gives dir (the daemon's state, socket and notify socket)
// to that user; exe, if it is in dir, stays root's.
func asServiceUser(dir, exe, config string) ([]string, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("running the daemon as the service user takes root: run secmon-bench as root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, errors.New("running the daemon as the service user takes setpriv (util-linux)")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running the daemon as the service user takes the user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil || path == exe { // the executable stays root's, as the store's does
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot give %s to nobody: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	return []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups",
		"--inh-caps=" + serviceCapabilities, "--ambient-caps=" + serviceCapabilities,
		"--bounding-set=-all," + serviceCapabilities, "--", exe, "--system", config}, nil
}

func (d *daemonProc) pid() int { return d.p.pid() }

// logTail is the last few lines of the daemon's own log (not its events),
// for a failure's reason.
func (d *daemonProc) logTail() string {
	f, err := os.Open(d.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const most = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > most {
		f.Seek(fi.Size()-most, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	var keep []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "{") {
			keep = append(keep, line)
		}
	}
	return lastLines(strings.Join(keep, ""), 3)
}

// stop ends the daemon (SIGTERM) and its bus. A daemon that does not exit
// cleanly is an error: a benchmark of a crashing daemon means nothing.
func (d *daemonProc) stop() error {
	var err error
	if d.p != nil {
		if e := d.p.stop(); e != nil {
			err = fmt.Errorf("secmon-daemon did not stop cleanly (%v): %s", e, d.logTail())
		}
	}
	d.cleanup()
	return err
}

func (d *daemonProc) cleanup() {
	if d.notify != nil {
		d.notify.close()
	}
	d.stopBus()
	os.RemoveAll(d.dir)
	os.Remove(d.logPath)
}

func (d *daemonProc) stopBus() {
	if d.bus != nil {
		d.bus.p.stop()
	}
}

// dial connects a socket client.
func (d *daemonProc) dial() (*net.UnixConn, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: d.socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the daemon's socket: %w", err)
	}
	return c, nil
}

// monitors asks the daemon, through a client of its own, for the
// MonitorStatus events it has sent since it started, and returns
// "name state" for each monitor's latest.
func (d *daemonProc) monitors() ([]string, error) {
	c, err := d.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, `{"replay_after":0,"types":["MonitorStatus"]}`+"\n"); err != nil {
		return nil, err
	}
	state := map[string]string{}
	var order []string
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(time.Second))
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // a second without more: the replay is over
		}
		var m struct {
			Details struct {
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		}
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		name := m.Details.Metadata["monitor"]
		if name == "" {
			continue
		}
		if _, ok := state[name]; !ok {
			order = append(order, name)
		}
		state[name] = m.Details.Metadata["state"]
		if r := m.Details.Metadata["reason"]; r != "" && state[name] != "running" {
			state[name] += " (" + r + ")"
		}
	}
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = n + " " + state[n]
	}
	return out, nil
}

// readLines reads lines from src and hands each to handle with the time it
// was read (unix ns) until handle returns true, or until idle, asked every
// quarter second with the time of the last line, returns true. It returns
// the error that ended reading otherwise (EOF: the writer went away).
func readLines(src interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, handle func(line []byte, now int64) bool, idle func(last time.Time) bool) error {
	br := bufio.NewReaderSize(src, 1<<20)
	var partial []byte
	last := time.Now()
	src.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	for {
		b, err := br.ReadSlice('\n')
		if err == nil {
			line := b
			if len(partial) > 0 {
				partial = append(partial, b...)
				line = partial
			}
			now := time.Now()
			last = now
			if handle(line, now.UnixNano()) {
				return nil
			}
			partial = partial[:0]
			continue
		}
		partial = append(partial, b...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, os.ErrDeadlineExceeded):
			if idle(last) {
				return nil
			}
			src.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		default:
			return err
		}
	}
}
