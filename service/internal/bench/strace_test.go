package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The lines are strace 6.1's, copied from the traces in testdata/ (made with
// strace -f -ttt -o FILE) and, for "[pid N]", from strace -f -ttt on a
// terminal.
func TestParseStraceLine(t *testing.T) {
	at := func(sec, us int64) time.Time { return time.Unix(sec, us*1000) }
	for _, c := range []struct {
		line string
		want straceLine
	}{
		{"31109 1796427101.004130 futex(0x68b41060160, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>\n",
			straceLine{31109, at(1796427101, 4130), straceCall, "futex"}},
		{"31106 1796427101.006750 epoll_pwait(6,  <unfinished ...>",
			straceLine{31106, at(1796427101, 6750), straceCall, "epoll_pwait"}},
		{"31102 1796427101.007048 restart_syscall(<... resuming interrupted read ...> <unfinished ...>",
			straceLine{31102, at(1796427101, 7048), straceCall, "restart_syscall"}},
		{"31102 1796427101.009773 <... restart_syscall resumed>) = -1 EAGAIN (Resource temporarily unavailable)",
			straceLine{31102, at(1796427101, 9773), straceResumed, "restart_syscall"}},
		{"31102 1796427101.009858 sched_yield()   = 0",
			straceLine{31102, at(1796427101, 9858), straceCall, "sched_yield"}},
		{"31102 1796427101.010466 pread64(3, \"-1\\n\", 64, 0) = 3",
			straceLine{31102, at(1796427101, 10466), straceCall, "pread64"}},
		{"31102 1796427101.010906 futex(0xc25e60, FUTEX_WAIT_PRIVATE, 0, {tv_sec=60, tv_nsec=0} <detached ...>",
			straceLine{31102, at(1796427101, 10906), straceCall, "futex"}},
		{"25523 1796426969.138370 <... epoll_pwait resumed>[{events=EPOLLIN, data={u32=788529153, u64=4594498668198887425}}], 128, -1, NULL, 0) = 1",
			straceLine{25523, at(1796426969, 138370), straceResumed, "epoll_pwait"}},
		{"25523 1796426969.138602 <... read resumed>\"\\1\\0\\0\\0\\0\\1\\0\\0\"..., 65536) = 64",
			straceLine{25523, at(1796426969, 138602), straceResumed, "read"}},
		{"25868 1796426981.462545 <... wait4 resumed>0x7fffa4761e30, 0, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
			straceLine{25868, at(1796426981, 462545), straceResumed, "wait4"}},
		{"25870 1796426981.461963 exit_group(0)   = ?",
			straceLine{25870, at(1796426981, 461963), straceCall, "exit_group"}},
		{"25870 1796426981.462162 +++ exited with 0 +++",
			straceLine{25870, at(1796426981, 462162), straceExit, ""}},
		{"25871 1796426981.464042 +++ killed by SIGKILL +++",
			straceLine{25871, at(1796426981, 464042), straceExit, ""}},
		{"25869 1796426981.462295 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=25870, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---",
			straceLine{25869, at(1796426981, 462295), straceSignal, ""}},
		{"25868 1796426981.462597 --- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=25869, si_uid=0} ---",
			straceLine{25868, at(1796426981, 462597), straceSignal, ""}},
		// A pid below 10000: strace pads it to five columns.
		{"812   1796427101.004130 futex(0x68b41060160, FUTEX_WAKE_PRIVATE, 1) = 1",
			straceLine{812, at(1796427101, 4130), straceCall, "futex"}},
		// On a terminal.
		{"[pid  2128] 1796427126.402552 <... rt_sigprocmask resumed>NULL, 8) = 0",
			straceLine{2128, at(1796427126, 402552), straceResumed, "rt_sigprocmask"}},
		{"[pid  2129] 1796427126.402646 getpid( <unfinished ...>",
			straceLine{2129, at(1796427126, 402646), straceCall, "getpid"}},
		// One process without -f: no pid.
		{"1796427126.402516 rt_sigprocmask(SIG_SETMASK, [],  <unfinished ...>",
			straceLine{0, at(1796427126, 402516), straceCall, "rt_sigprocmask"}},
		// --timestamps=unix,ns.
		{"31102 1796427101.010906123 nanosleep({tv_sec=0, tv_nsec=20000}, NULL) = 0",
			straceLine{31102, time.Unix(1796427101, 10906123), straceCall, "nanosleep"}},
	} {
		got, err := parseStraceLine(c.line)
		if err != nil || !got.at.Equal(c.want.at) || got.pid != c.want.pid || got.kind != c.want.kind || got.name != c.want.name {
			t.Errorf("parseStraceLine(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"strace: Process 31098 attached with 8 threads", // stderr, never in the trace
		"31102 futex(0xc25e60, FUTEX_WAKE_PRIVATE, 1) = 1",
		"31102 17:41:41.010906 futex(0xc25e60, FUTEX_WAKE_PRIVATE, 1) = 1", // -tt, not -ttt
		"31102 1796427101.010906 = 0",
		"31102 1796427101.010906 <... futex>) = 0",
		"[pid x] 1796427101.010906 futex() = 0",
		"31102 1796427101. futex() = 0",
	} {
		if got, err := parseStraceLine(bad); err == nil {
			t.Errorf("parseStraceLine(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestCountStraceCalls(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	secs := func(s float64) time.Time { return time.Unix(0, int64(s*1e9)).Round(time.Microsecond) }
	for _, c := range []struct {
		name   string
		file   string
		t0, t1 float64
		total  int
		calls  []syscallCount
		before int
	}{
		// secmon-daemon idle, strace just attached: every call is the
		// attach's, within 7 ms of it; a window from 1 s later sees none.
		{"after the attach", "strace-secmon-attach.txt", 1796427102.01, 1796427112.01, 0, nil, 14},
		{"the attach", "strace-secmon-attach.txt", 1796427101, 1796427102, 14, []syscallCount{
			{"futex", 6}, {"epoll_pwait", 2}, {"nanosleep", 1}, {"ppoll", 1}, {"pread64", 1},
			{"restart_syscall", 1}, {"sched_getaffinity", 1}, {"sched_yield", 1}}, 0},
		// The floor: attached at …966.13, a file written at …969.13 and a
		// socket client at …969.26. The waits entered at the attach and
		// resumed in the window are not counted again.
		{"the file write", "strace-floor-activity.txt", 1796426967, 1796426969.2, 11, []syscallCount{
			{"futex", 4}, {"epoll_pwait", 2}, {"read", 2}, {"nanosleep", 1}, {"pread64", 1},
			{"sched_getaffinity", 1}}, 7},
		// Both ends included: the first and last calls of the socket client.
		{"the socket client", "strace-floor-activity.txt", 1796426969.265698, 1796426969.267556, 11, []syscallCount{
			{"epoll_pwait", 4}, {"accept4", 2}, {"futex", 2}, {"epoll_ctl", 1}, {"getsockname", 1},
			{"nanosleep", 1}}, 18},
		// Signals and exits are not calls; a resumption whose call was
		// entered before the excerpt is not one either.
		{"signals and exits", "strace-shell-signals.txt", 1796426981.462162, 1796426981.462597, 5, []syscallCount{
			{"kill", 1}, {"rt_sigaction", 1}, {"rt_sigprocmask", 1}, {"rt_sigreturn", 1}, {"wait4", 1}}, 8},
	} {
		got, err := countStraceCalls(read(c.file), secs(c.t0), secs(c.t1))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := straceCounts{total: c.total, calls: c.calls, before: c.before}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: countStraceCalls = %+v, want %+v", c.name, got, want)
		}
	}
	if _, err := countStraceCalls("31102 1796427101.010906 futex() = 0\nstrace: something\n", time.Time{}, time.Now()); err == nil {
		t.Error("a line that is not strace's must be an error, not a quiet window")
	}
	if got, err := countStraceCalls("", time.Time{}, time.Now()); err != nil || got.total != 0 || got.calls != nil {
		t.Errorf("an empty trace = %+v, %v; want no calls", got, err)
	}
}

func TestFmtSyscalls(t *testing.T) {
	rows := []syscallCount{{"futex", 3}, {"epoll_pwait", 1}}
	for _, c := range []struct {
		rows []syscallCount
		most int
		want string
	}{
		{rows, 1, "futex 3, …"},
		{rows, 4, "futex 3, epoll_pwait 1"},
		{nil, 4, "none"},
	} {
		if got := fmtSyscalls(c.rows, c.most); got != c.want {
			t.Errorf("fmtSyscalls(%v, %d) = %q, want %q", c.rows, c.most, got, c.want)
		}
	}
}
