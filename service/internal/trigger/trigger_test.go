package trigger_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/trigger"
)

var eventTime = time.Date(2025, 9, 25, 14, 30, 45, 123e6, time.UTC)

func TestArgumentsArriveLiterally(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "pwned")
	alice := &event.Process{PID: 4242, Comm: "fire fox", Exe: "/usr/bin/firefox", UID: 1000, User: "alice"}
	tests := []struct {
		name   string
		path   string
		noProc bool // the source could not tell who acted
		// wantPath is the path as it arrives; empty means path itself.
		wantPath string
	}{
		{name: "spaces", path: "/home/alice/My Documents/a  b.txt"},
		{name: "semicolon", path: "/tmp/x; touch " + canary},
		{name: "command substitution", path: "/tmp/$(touch " + canary + ")"},
		{name: "backticks", path: "/tmp/`touch " + canary + "`"},
		{name: "quotes", path: `/tmp/it's "quoted" \"`},
		{name: "newlines", path: "/tmp/line1\n touch " + canary + "\nline3"},
		{name: "glob and redirection", path: "/tmp/* > " + canary + " | tee &"},
		{name: "leading dash", path: "-rf"},
		{name: "empty", path: ""},
		{name: "looks like a placeholder", path: "/tmp/{type}{meta.user}{path}"},
		{name: "invalid UTF-8", path: "/tmp/\xff\xfe"},
		{name: "NUL", path: "/tmp/a\x00b", wantPath: "/tmp/a\uFFFDb"},
		{name: "process unknown", path: "/dev/video0", noProc: true},
	}
	s := newServer(t)
	tr := helperTrigger("literal", "record", s,
		"{path}", "<{path}>", "{type}/{severity}", "{description}", "{seq}", "{timestamp}",
		"{pid}", "{comm}", "{exe}", "{uid}", "{user}", "{meta.user}", "{meta.absent}",
		"{unknown}", "{{path}}", "{path", "{PATH}")
	f := start(t, []config.Trigger{tr}, fixtureOpts{})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := alice
			if tt.noProc {
				proc = nil
			}
			e := f.hub.Publish(event.Event{
				Time: eventTime, Type: event.FileCreate, Path: tt.path, Severity: event.High,
				Description: "created " + tt.path,
				Metadata:    map[string]string{"user": "bob; id $(whoami)"},
				Process:     proc,
			})
			want := tt.wantPath
			if want == "" {
				want = tt.path
			}
			pid, comm, exe, uid, user := "4242", "fire fox", "/usr/bin/firefox", "1000", "alice"
			if proc == nil {
				pid, comm, exe, uid, user = "", "", "", "", ""
			}
			seq := strconv.FormatUint(e.Seq, 10)
			wantArgv := []string{
				want, "<" + want + ">", "FileCreate/High", "created " + want, seq, "2025-09-25T14:30:45.123Z",
				pid, comm, exe, uid, user, "bob; id $(whoami)", "",
				"{unknown}", "{" + want + "}", "{path", "{PATH}",
			}

			rec := s.next(t)
			if len(rec.Argv) != len(wantArgv) {
				t.Fatalf("got %d arguments %q, want %d %q", len(rec.Argv), rec.Argv, len(wantArgv), wantArgv)
			}
			for j, a := range rec.Argv {
				if string(a) != wantArgv[j] {
					t.Errorf("argument %d = %q, want %q", j, a, wantArgv[j])
				}
			}
			wantEnv := map[string]string{
				"SECMON_PATH": want, "SECMON_EVENT_TYPE": "FileCreate", "SECMON_SEVERITY": "High",
				"SECMON_SEQ": seq, "SECMON_SUPPRESSED": "0",
			}
			for k, v := range wantEnv {
				if got, ok := rec.Env[k]; !ok || string(got) != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			wantJSON, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Env["SECMON_EVENT_JSON"]; string(got) != string(wantJSON) {
				t.Errorf("SECMON_EVENT_JSON = %s, want %s", got, wantJSON)
			}
			if rec.Stdin != "/dev/null" {
				t.Errorf("stdin is %q, want /dev/null", rec.Stdin)
			}
			if rec.PGID != rec.PID {
				t.Errorf("runs in process group %d, want its own (%d)", rec.PGID, rec.PID)
			}
			// A clean exit is logged at debug with its status; waiting for it
			// also keeps runs from piling up against the cap.
			f.logs.wait(t, "trigger finished", func(r logRec) bool {
				return r.Msg == "trigger finished" && r.Level == slog.LevelDebug && r.Attrs["seq"] == seq &&
					r.Attrs["status"] == "exit status 0"
			})
		})
	}
	if _, err := os.Stat(canary); !os.IsNotExist(err) {
		t.Errorf("%s exists (err %v): event data reached a shell", canary, err)
	}
}

func TestExpand(t *testing.T) {
	e := event.Event{Seq: 7, Time: eventTime, Type: event.SshLogin, Path: "/p", Severity: event.Medium,
		Metadata: map[string]string{"a": "A", "b": "{path}"}}
	tests := []struct{ arg, want string }{
		{"", ""},
		{"plain", "plain"},
		{"{path}", "/p"},
		{"x{path}y{path}z", "x/py/pz"},
		{"{{path}}", "{/p}"},
		{"{path", "{path"},
		{"}{path}{", "}/p{"},
		{"{ path }", "{ path }"},
		{"{Path}", "{Path}"},
		{"{meta.a}{meta.b}", "A{path}"}, // substituted text is not rescanned
		{"{meta.}", ""},
		{"{meta.zz}", ""},
		{"{a{seq}", "{a7"},
		{"{pid}{uid}{comm}", ""}, // no process
		{"{timestamp}", "2025-09-25T14:30:45.123Z"},
	}
	for _, tt := range tests {
		if got := trigger.Expand(tt.arg, e); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.arg, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	off := false
	r, err := trigger.New([]config.Trigger{
		{Name: "ssh", Command: "true", EventTypes: []config.EventType{"SshLogin", "SshBruteForce"}, MinSeverity: event.High},
		{Name: "critical", Command: "true", MinSeverity: event.Critical},
		{Name: "off", Command: "true", Enabled: &off},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	filter := r.Filter()
	tests := []struct {
		typ  event.Type
		sev  event.Severity
		want bool
	}{
		{event.SshLogin, event.High, true},
		{event.SshBruteForce, event.Critical, true},
		{event.SshLogin, event.Medium, false},
		{event.FileCreate, event.High, false},
		{event.FileCreate, event.Critical, true},
		{event.UsbDeviceInserted, event.Low, false},
	}
	for _, tt := range tests {
		if got := filter(event.Event{Type: tt.typ, Severity: tt.sev}); got != tt.want {
			t.Errorf("filter(%s, %s) = %v, want %v", tt.typ, tt.sev, got, tt.want)
		}
	}
	none, err := trigger.New([]config.Trigger{{Name: "off", Command: "true", Enabled: &off}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.Filter()(event.Event{Type: event.FileCreate, Severity: event.Critical}) {
		t.Error("a runner with only disabled triggers accepts events")
	}
}

// TestRunMatchesTypeAndSeverity subscribes without the filter, so Run's own
// matching decides.
func TestRunMatchesTypeAndSeverity(t *testing.T) {
	s := newServer(t)
	tr := helperTrigger("ssh", "record", s)
	tr.EventTypes = []config.EventType{"SshLogin", "SshBruteForce"}
	tr.MinSeverity = event.Medium
	f := start(t, []config.Trigger{tr}, fixtureOpts{noHubFilter: true})

	tests := []struct {
		typ  event.Type
		sev  event.Severity
		want bool
	}{
		{event.SshLogin, event.Low, false},
		{event.SshLogin, event.Medium, true},
		{event.SshBruteForce, event.Critical, true},
		{event.FileCreate, event.Critical, false},
		{event.SshLoginFailed, event.High, false},
		{event.SshLogin, event.High, true},
	}
	want := map[string]bool{}
	for _, tt := range tests {
		e := f.hub.Publish(event.Event{Type: tt.typ, Severity: tt.sev})
		if tt.want {
			want[strconv.FormatUint(e.Seq, 10)] = true
		}
	}
	got := map[string]bool{}
	for range want {
		got[string(s.next(t).Env["SECMON_SEQ"])] = true
	}
	for seq := range want {
		if !got[seq] {
			t.Errorf("no run for event %s; runs for %v", seq, got)
		}
	}
	// Events are handled in order, so once the last match ran every
	// decision is made.
	if c := trigger.CountsOf(f.r, "ssh"); c.Started != uint64(len(want)) {
		t.Errorf("started %d runs, want %d", c.Started, len(want))
	}
	s.none(t)
}

func TestCooldownSuppressesAndCounts(t *testing.T) {
	s := newServer(t)
	clk := newClock()
	slow := helperTrigger("slow", "record", s, "slow")
	slow.CooldownSeconds = 60
	fast := helperTrigger("fast", "record", s, "fast")
	f := start(t, []config.Trigger{slow, fast}, fixtureOpts{clock: clk})

	publish := func() uint64 { return f.hub.Publish(event.Event{Type: event.FileModify, Severity: event.Low}).Seq }
	// runs collects n records, keyed "trigger seq" and valued SECMON_SUPPRESSED.
	runs := func(n int) map[string]string {
		m := map[string]string{}
		for range n {
			r := s.next(t)
			m[string(r.Argv[0])+" "+string(r.Env["SECMON_SEQ"])] = string(r.Env["SECMON_SUPPRESSED"])
		}
		return m
	}
	suppressed := func(n uint64) {
		testutil.WaitFor(t, waitFor, strconv.FormatUint(n, 10)+" suppressed", func() bool {
			return trigger.CountsOf(f.r, "slow").Suppressed == n
		})
	}
	check := func(got, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("run %q: SECMON_SUPPRESSED = %q, want %q (runs: %v)", k, got[k], v, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("runs %v, want %v", got, want)
		}
	}
	key := func(name string, seq uint64) string { return name + " " + strconv.FormatUint(seq, 10) }

	e1 := publish()
	check(runs(2), map[string]string{key("slow", e1): "0", key("fast", e1): "0"})

	e2, e3 := publish(), publish()
	suppressed(2)
	clk.Advance(59 * time.Second)
	e4 := publish()
	suppressed(3)
	check(runs(3), map[string]string{key("fast", e2): "0", key("fast", e3): "0", key("fast", e4): "0"})

	clk.Advance(time.Second) // the cooldown is over
	e5 := publish()
	check(runs(2), map[string]string{key("slow", e5): "3", key("fast", e5): "0"})

	e6 := publish()
	suppressed(1) // counting starts again
	check(runs(1), map[string]string{key("fast", e6): "0"})
	if c := trigger.CountsOf(f.r, "slow"); c.Started != 2 {
		t.Errorf("slow started %d runs, want 2", c.Started)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	s := newServer(t)
	tr := helperTrigger("hang", "hang", s)
	tr.TimeoutSeconds = 1
	f := start(t, []config.Trigger{tr}, fixtureOpts{})

	f.hub.Publish(event.Event{Type: event.CameraAccess, Path: "/dev/video0"})
	a, b := s.next(t), s.next(t)
	child, leaf := a, b
	if a.Mode == "leaf" {
		child, leaf = b, a
	}
	if child.Mode != "hang" || leaf.Mode != "leaf" {
		t.Fatalf("got reports from %q and %q, want hang and leaf", a.Mode, b.Mode)
	}
	if child.PGID != child.PID || leaf.PGID != child.PID {
		t.Fatalf("process groups: child %d in %d, leaf %d in %d; want both in %d",
			child.PID, child.PGID, leaf.PID, leaf.PGID, child.PID)
	}
	// Each helper holds its connection until it dies.
	for _, r := range []*record{child, leaf} {
		select {
		case <-r.gone:
		case <-time.After(waitFor):
			t.Fatalf("%s (pid %d) still alive %v after its trigger's 1s timeout", r.Mode, r.PID, waitFor)
		}
	}
	rec := f.logs.wait(t, "timeout warning", func(r logRec) bool {
		return r.Msg == "trigger timed out; killed its process group" && r.Attrs["trigger"] == "hang"
	})
	if rec.Level != slog.LevelWarn || rec.Attrs["status"] != "signal: killed" {
		t.Errorf("timeout logged at %v with status %q, want WARN and signal: killed", rec.Level, rec.Attrs["status"])
	}
}

func TestCancelEndsRuns(t *testing.T) {
	s := newServer(t)
	f := start(t, []config.Trigger{helperTrigger("block", "block", s)}, fixtureOpts{})
	f.hub.Publish(event.Event{Type: event.FileCreate})
	rec := s.next(t)
	f.stop()
	select {
	case <-rec.gone:
	case <-time.After(waitFor):
		t.Errorf("trigger process %d outlived Run", rec.PID)
	}
	f.logs.wait(t, "shutdown note", func(r logRec) bool {
		return r.Msg == "trigger stopped at shutdown; killed its process group" && r.Attrs["trigger"] == "block"
	})
}

func TestConcurrencyCapSkipsAndCounts(t *testing.T) {
	s := newServer(t)
	clk := newClock()
	f := start(t, []config.Trigger{helperTrigger("a", "block", s), helperTrigger("b", "block", s)},
		fixtureOpts{clock: clk})
	publish := func() { f.hub.Publish(event.Event{Type: event.UsbDeviceInserted}) }
	skipped := func(n uint64) {
		testutil.WaitFor(t, waitFor, strconv.FormatUint(n, 10)+" skips per trigger", func() bool {
			return trigger.CountsOf(f.r, "a").Skipped == n && trigger.CountsOf(f.r, "b").Skipped == n
		})
	}
	warnings := func(name string) []logRec {
		return f.logs.all(func(r logRec) bool {
			return r.Msg == "trigger skipped: too many trigger processes running" && r.Attrs["trigger"] == name
		})
	}

	// Four events, two triggers: eight processes, all blocked.
	for range 4 {
		publish()
	}
	var held []*record
	for range trigger.MaxRunning {
		held = append(held, s.next(t))
	}
	if n := trigger.Running(f.r); n != trigger.MaxRunning {
		t.Fatalf("%d runs hold slots, want %d", n, trigger.MaxRunning)
	}

	publish()
	publish()
	skipped(2)
	for _, name := range []string{"a", "b"} {
		// The clock stands still: one warning, for the first skip.
		ws := warnings(name)
		if len(ws) != 1 || ws[0].Attrs["skipped"] != "1" || ws[0].Level != slog.LevelWarn {
			t.Errorf("warnings for %s: %v, want one WARN with skipped=1", name, ws)
		}
	}
	clk.Advance(time.Minute)
	publish()
	skipped(3)
	for _, name := range []string{"a", "b"} {
		ws := warnings(name)
		if len(ws) != 2 || ws[1].Attrs["skipped"] != "2" || ws[1].Attrs["skipped_total"] != "3" {
			t.Errorf("warnings for %s: %v, want a second with skipped=2 skipped_total=3", name, ws)
		}
	}
	if a, b := trigger.CountsOf(f.r, "a"), trigger.CountsOf(f.r, "b"); a.Started != 4 || b.Started != 4 {
		t.Errorf("started a %d, b %d; want 4 each", a.Started, b.Started)
	}
	s.none(t)

	// Hang up: the helpers exit and their slots come free.
	for _, r := range held {
		r.conn.Close()
	}
	testutil.WaitFor(t, waitFor, "free slots", func() bool { return trigger.Running(f.r) == 0 })
	publish()
	for range 2 {
		s.next(t).conn.Close()
	}
	if a, b := trigger.CountsOf(f.r, "a"), trigger.CountsOf(f.r, "b"); a.Started != 5 || b.Started != 5 || a.Skipped != 3 {
		t.Errorf("counts a %+v, b %+v; want 5 started and 3 skipped each", a, b)
	}
}

func TestFailureIsLoggedWithBoundedOutput(t *testing.T) {
	s := newServer(t)
	f := start(t, []config.Trigger{helperTrigger("broken", "fail", s, "3")}, fixtureOpts{})
	f.hub.Publish(event.Event{Type: event.SshLogin})
	rec := f.logs.wait(t, "failure warning", func(r logRec) bool {
		return r.Msg == "trigger failed" && r.Attrs["trigger"] == "broken"
	})
	if rec.Level != slog.LevelWarn || rec.Attrs["status"] != "exit status 3" {
		t.Errorf("logged at %v with status %q, want WARN and exit status 3", rec.Level, rec.Attrs["status"])
	}
	out := rec.Attrs["stdout"]
	if !strings.HasSuffix(out, "END-OF-STDOUT") || len(out) > 4<<10+len("…") {
		t.Errorf("stdout logged as %d bytes ending %q, want at most 4 KiB ending END-OF-STDOUT", len(out), out[max(0, len(out)-20):])
	}
	if rec.Attrs["stderr"] != "something broke\n" {
		t.Errorf("stderr logged as %q", rec.Attrs["stderr"])
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	off := false
	tests := []struct {
		name    string
		trigger config.Trigger
		want    string // in the error; empty: no error
	}{
		{"missing absolute", config.Trigger{Name: "notify", Command: "/nonexistent/secmon-notify"},
			`trigger "notify": cannot find command`},
		{"missing in PATH", config.Trigger{Name: "mail", Command: "secmon-no-such-program"},
			`trigger "mail": cannot find command: exec: "secmon-no-such-program": executable file not found in $PATH`},
		{"not executable", config.Trigger{Name: "script", Command: notExec}, `trigger "script": cannot find command`},
		{"no command", config.Trigger{Name: "empty"}, `trigger "empty": a trigger needs a command`},
		{"negative cooldown", config.Trigger{Name: "neg", Command: "true", CooldownSeconds: -1},
			`trigger "neg": cooldown_seconds must not be negative`},
		{"unknown type", config.Trigger{Name: "typo", Command: "true", EventTypes: []config.EventType{"FileCreated"}},
			`trigger "typo": unknown event type "FileCreated"`},
		{"disabled is not checked", config.Trigger{Name: "off", Command: "/nonexistent", Enabled: &off}, ""},
		{"found in PATH", config.Trigger{Name: "ok", Command: "true"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trigger.New([]config.Trigger{tt.trigger}, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	_, err := trigger.New([]config.Trigger{{Name: "x", Command: "true"}, {Name: "x", Command: "true"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `trigger "x": name is used twice`) {
		t.Errorf("New with a duplicate name: %v", err)
	}
}

func TestShellWarning(t *testing.T) {
	tests := []struct {
		name    string
		command string
		args    []string
		warn    bool
	}{
		{"placeholder in -c script", "/bin/sh", []string{"-c", "notify-send {path}"}, true},
		{"bash from PATH, combined flags", "bash", []string{"-ec", "echo {meta.user}"}, true},
		{"option before -c", "/bin/bash", []string{"-o", "pipefail", "-c", "x {path}"}, true},
		{"via env", "/usr/bin/env", []string{"VAR=1", "dash", "-c", "x {description}"}, true},
		{"placeholder as script file", "/bin/sh", []string{"{path}"}, true},
		{"positional parameter", "/bin/sh", []string{"-c", `notify-send "$1"`, "sh", "{path}"}, false},
		{"script file with data", "/bin/sh", []string{"/usr/local/bin/alert", "{path}"}, false},
		{"shell without placeholders", "/bin/sh", []string{"-c", "echo $SECMON_PATH"}, false},
		{"no shell", "/usr/bin/env", []string{"logger", "{path}", "sh", "-c", "{path}"}, false},
		{"unknown placeholder only", "/bin/sh", []string{"-c", "awk '{print}'"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{changed: make(chan struct{})}
			_, err := trigger.New([]config.Trigger{{Name: "t", Command: tt.command, Args: tt.args}},
				slogNew(logs))
			if err != nil {
				t.Fatal(err)
			}
			ws := logs.all(func(r logRec) bool {
				return r.Level == slog.LevelWarn && r.Attrs["trigger"] == "t" && strings.Contains(r.Msg, "shell")
			})
			if got := len(ws) == 1; got != tt.warn {
				t.Errorf("warned %d times, want warning %v", len(ws), tt.warn)
			}
		})
	}
}
