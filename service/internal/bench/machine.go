package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// machine describes where the figures were measured.
type machine struct {
	date      time.Time
	commit    string
	kernel    string
	cpu       string
	cpus      int
	memory    string
	goVersion string
	fs        string
	user      string
	loadStart string
	loadEnd   string
	took      time.Duration
	tools     []string
}

func describeMachine(ctx context.Context, scratch string) *machine {
	m := &machine{date: time.Now().UTC(), cpus: runtime.NumCPU(), goVersion: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb := parseKB(string(b))["MemTotal"]; kb > 0 {
			m.memory = fmtNum(float64(kb)/(1<<30), 1) + " GB"
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	}
	m.fs = fsType(scratch)
	m.user = "root"
	if os.Geteuid() != 0 {
		m.user = fmt.Sprintf("uid %d (not root)", os.Geteuid())
	}
	m.loadStart = loadAvg()
	for _, tool := range []struct{ name, args string }{
		{"strace", "-V"}, {"inotifywait", "--help"}, {"dbus-daemon", "--version"},
	} {
		out, _ := exec.CommandContext(ctx, tool.name, tool.args).CombinedOutput()
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if first == "" {
			first = tool.name + ": not installed"
		}
		m.tools = append(m.tools, first)
	}
	return m
}

// fsType names the filesystem p is on.
func fsType(p string) string {
	var st unix.Statfs_t
	if unix.Statfs(p, &st) != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4" // also ext2/ext3: same magic
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}

// loadAvg is /proc/loadavg's first three fields: the machine is shared, and
// this says how busy it was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
