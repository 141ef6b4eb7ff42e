package correlate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/correlate"
	"github.com/pantheros/secmon/service/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// world is what a recorded sequence says about the system beside its
// events: the processes in /proc, logind's answer, sshd's settings. Each
// fact holds from its line on.
type world struct {
	procs    map[int]correlate.Proc
	away     string // "" someone is at the computer; else why not
	sshd     map[string]string
	sshdRead bool // false: reading sshd's configuration fails
	asked    int  // how often logind was asked
}

func (w *world) Proc(pid int) (correlate.Proc, bool) {
	p, ok := w.procs[pid]
	return p, ok
}

func (w *world) Away(context.Context) (bool, string, error) {
	w.asked++
	return w.away != "", w.away, nil
}

func (w *world) settings() (map[string]string, error) {
	if !w.sshdRead {
		return nil, errors.New("cannot read sshd's configuration: permission denied")
	}
	return maps(w.sshd), nil
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// line is one line of a recorded sequence: an event in the daemon's JSON,
// or a fact.
type line struct {
	ev       *event.Event
	proc     *correlate.Proc
	sessions *string
	sshd     *map[string]string
	sshdSet  bool
}

func load(t *testing.T, file string) []line {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &probe); err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		var l line
		switch {
		case probe["event_type"] != nil:
			l.ev = new(event.Event)
			err = json.Unmarshal(sc.Bytes(), l.ev)
		case probe["proc"] != nil:
			l.proc = new(correlate.Proc)
			err = json.Unmarshal(probe["proc"], l.proc)
		case probe["sessions"] != nil:
			l.sessions = new(string)
			err = json.Unmarshal(probe["sessions"], l.sessions)
		case probe["sshd"] != nil:
			l.sshdSet = true
			err = json.Unmarshal(probe["sshd"], &l.sshd)
		default:
			err = errors.New("neither an event nor a fact")
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) apply(l line) {
	switch {
	case l.proc != nil:
		w.procs[l.proc.PID] = *l.proc
	case l.sessions != nil:
		w.away = *l.sessions
	case l.sshdSet:
		w.sshdRead = l.sshd != nil && *l.sshd != nil
		if w.sshdRead {
			w.sshd = *l.sshd
		}
	}
}

// replay feeds a recorded sequence to a correlator with cfg: the facts
// before the first event hold when it is made.
func replay(t *testing.T, file string, cfg correlate.Config) ([]event.Event, *world) {
	t.Helper()
	lines := load(t, file)
	w := &world{procs: map[int]correlate.Proc{}}
	i := 0
	for ; i < len(lines) && lines[i].ev == nil; i++ {
		w.apply(lines[i])
	}
	c := correlate.New(cfg, correlate.Options{Procs: w, Sessions: w, SSHD: w.settings})
	var got []event.Event
	for ; i < len(lines); i++ {
		if lines[i].ev == nil {
			w.apply(lines[i])
			continue
		}
		got = append(got, c.Observe(context.Background(), *lines[i].ev)...)
	}
	return got, w
}

// summary is what a test compares: rule, severity and members.
func summary(es []event.Event) []string {
	var out []string
	for _, e := range es {
		if e.Type != event.Incident {
			out = append(out, "not an incident: "+string(e.Type))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", e.Metadata["rule"], e.Severity, e.Metadata["members"]))
	}
	return out
}

// Every rule over recorded sequences: what it must see, and the
// look-alikes it must let pass. The incidents' words are in a golden file.
func TestRulesOverRecordedSequences(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"persistence-authorized-keys", []string{"persistence_after_login Critical 1,2"}},
		{"persistence-other-users-home", nil},
		{"persistence-after-the-window", nil},
		{"persistence-system-cron-after-roots-login", []string{"persistence_after_login Critical 1,2"}},
		{"persistence-system-cron-after-a-users-login", nil},
		{"persistence-not-a-change-that-persists", nil},
		// crontab run from a desktop terminal is not the session's; tee
		// under the session's sshd is.
		{"persistence-process-of-the-session", []string{"persistence_after_login Critical 1,3"}},
		// a writer gone by now, named at the write with its session's
		// address: a system-wide spot after a user's login counts
		{"persistence-ssh-from", []string{"persistence_after_login Critical 1,2"}},

		{"badusb-downloader", []string{"badusb Critical 1,2"}},
		{"badusb-new-terminal", []string{"badusb Critical 1,2"}},
		{"badusb-terminal-opened-before", nil},
		{"badusb-known-keyboard", nil},
		{"badusb-keyboard-present-at-start", nil},
		{"badusb-after-the-window", nil},
		{"badusb-gone-downloader", []string{"badusb Critical 1,2"}},
		{"badusb-gone-browser", nil},
		{"badusb-autostart", []string{"badusb Critical 1,2"}},
		{"badusb-not-a-keyboard", nil},

		// the second opening within the window is the same incident
		{"away-locked", []string{"watching_while_away Critical 1"}},
		{"away-nobody", []string{"watching_while_away Critical 1"}},
		{"away-present", nil},
		{"away-released-while-locked", nil},

		// two listeners (IPv4 and IPv6) after one restart: one incident
		{"door-password-and-root", []string{"door_opened High 1,2"}},
		{"door-nothing-that-matters", nil},
		{"door-restart-after-the-window", nil},
		{"door-not-the-config", nil},
		{"door-settings-unreadable", []string{"door_opened High 1,2"}},

		// IPv4 and IPv6 by one program on one port: one incident
		{"backdoor-tmp", []string{"backdoor_listener High 1"}},
		{"backdoor-downloads", []string{"backdoor_listener High 1"}},
		{"backdoor-loopback", nil},
		{"backdoor-ssh-session", []string{"backdoor_listener High 1,2"}},
		{"backdoor-desktop-and-sshd", nil},
	}
	var golden strings.Builder
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file+".jsonl"] = true
		t.Run(tt.file, func(t *testing.T) {
			got, _ := replay(t, filepath.Join("testdata", "rules", tt.file+".jsonl"), correlate.DefaultConfig())
			if s := summary(got); !slices.Equal(s, tt.want) {
				t.Errorf("incidents\n  %q\nwant\n  %q", s, tt.want)
			}
			for _, e := range got {
				if e.Description == "" || e.Path == "" {
					t.Errorf("an incident without words or path: %+v", e)
				}
				fmt.Fprintf(&golden, "== %s\n%s %s %s\n  %s\n  %v\n", tt.file, e.Metadata["rule"], e.Severity, e.Path, e.Description, sorted(e.Metadata))
			}
		})
	}
	all, _ := filepath.Glob("testdata/rules/*.jsonl")
	for _, f := range all {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s is in no test", f)
		}
	}
	compareGolden(t, "testdata/incidents.golden", golden.String())
}

func sorted(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

func compareGolden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it; read the diff):\n%s", file, got)
	}
}

// An ordinary hour of work (browsing, git and builds, a dev server, a
// docked keyboard seen before, a new USB stick, the user's own SSH login
// and shell edits, a video call at the desk, a locked lunch break, a
// package upgrade) adds up to nothing.
func TestAnOrdinaryHourIsNoIncident(t *testing.T) {
	got, w := replay(t, "testdata/ordinary-hour.jsonl", correlate.DefaultConfig())
	if len(got) != 0 {
		for _, e := range got {
			t.Errorf("incident: %s", e.Description)
		}
	}
	if w.asked == 0 {
		t.Error("logind was never asked: the camera and microphone in the recording were not looked at")
	}
}

// Each rule can be switched off, and its window set.
func TestRulesFollowTheirConfiguration(t *testing.T) {
	off := correlate.DefaultConfig()
	off.PersistenceAfterLogin.Enabled = false
	if got, _ := replay(t, "testdata/rules/persistence-authorized-keys.jsonl", off); len(got) != 0 {
		t.Errorf("persistence_after_login off, still: %q", summary(got))
	}
	short := correlate.DefaultConfig()
	short.PersistenceAfterLogin.Window = time.Minute // the key is written after 2 minutes
	if got, _ := replay(t, "testdata/rules/persistence-authorized-keys.jsonl", short); len(got) != 0 {
		t.Errorf("a 1-minute window, still: %q", summary(got))
	}
	long := correlate.DefaultConfig()
	long.BadUSB.Window = time.Minute // the curl comes 45 s after the keyboard
	if got, _ := replay(t, "testdata/rules/badusb-after-the-window.jsonl", long); !slices.Equal(summary(got), []string{"badusb Critical 1,2"}) {
		t.Errorf("a 1-minute window: %q", summary(got))
	}
	if (correlate.Config{}).Any() || !correlate.DefaultConfig().Any() {
		t.Error("Any is wrong")
	}
}

// The state is bounded: a flood of logins pushes the oldest out, so a
// change that only the first would explain is no longer one.
func TestStateIsBounded(t *testing.T) {
	c := correlate.New(correlate.DefaultConfig(), correlate.Options{})
	t0 := time.Date(2025, 9, 25, 14, 0, 0, 0, time.UTC)
	ctx := context.Background()
	seq := uint64(0)
	login := func(user string, at time.Time) {
		seq++
		c.Observe(ctx, event.Event{Seq: seq, Time: at, Type: event.SshLogin, Metadata: map[string]string{"user": user, "remote_ip": "198.51.100.1"}})
	}
	keys := func(user string, at time.Time) []event.Event {
		seq++
		return c.Observe(ctx, event.Event{Seq: seq, Time: at, Type: event.SshAccess, Path: "/home/" + user + "/.ssh/authorized_keys",
			Metadata: map[string]string{"op": "WRITE", "ssh_file": "authorized_keys"}})
	}
	login("alice", t0)
	for i := range 10000 {
		login(fmt.Sprintf("u%d", i), t0.Add(time.Second))
	}
	if got := keys("alice", t0.Add(2*time.Second)); len(got) != 0 {
		t.Errorf("alice's login outlived 10000 others: %q", summary(got))
	}
	if got := keys("u9999", t0.Add(3*time.Second)); len(got) != 1 {
		t.Errorf("the newest login is forgotten: %q", summary(got))
	}
}

// The correlator ignores incidents, including its own coming back from the
// hub, and the hub's own notices.
func TestOwnIncidentsAreNotMembers(t *testing.T) {
	got, _ := replay(t, "testdata/rules/away-locked.jsonl", correlate.DefaultConfig())
	if len(got) != 1 {
		t.Fatalf("%q", summary(got))
	}
	c := correlate.New(correlate.DefaultConfig(), correlate.Options{Sessions: &world{away: "the screen was locked"}})
	inc := got[0]
	inc.Seq = 99
	if again := c.Observe(context.Background(), inc); len(again) != 0 {
		t.Errorf("an incident made another: %q", summary(again))
	}
}

// The correlator says its state: degraded when watching_while_away is on
// and nobody can say whether anyone is at the computer.
func TestState(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cfg      correlate.Config
		sessions correlate.Sessions
		want     event.State
	}{
		{"all rules, logind", correlate.DefaultConfig(), &world{}, event.Running},
		// Expected where there is no system bus: said, not raised.
		{"all rules, no bus", correlate.DefaultConfig(), nil, event.Running},
		{"away off, no bus", func() correlate.Config {
			c := correlate.DefaultConfig()
			c.WatchingWhileAway.Enabled = false
			return c
		}(), nil, event.Running},
	} {
		e := correlate.New(tt.cfg, correlate.Options{Sessions: tt.sessions}).State()
		if m, st, reason, ok := event.StatusOf(e); !ok || m != "correlation" || st != tt.want || reason == "" ||
			(tt.sessions == nil && tt.cfg.WatchingWhileAway.Enabled) != strings.Contains(reason, "no system bus") {
			t.Errorf("%s: %+v", tt.name, e)
		}
	}
}
