package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/monitor"
)

// fake is a monitor that records its life in a shared log.
type fake struct {
	name, section string
	log           *journal
	ready         chan struct{}
	fail          error
}

type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, a ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, a...))
}

func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	l := j.lines
	j.lines = nil
	return l
}

func (f *fake) Ready() <-chan struct{} { return f.ready }

func (f *fake) Run(ctx context.Context, emit func(event.Event)) error {
	f.log.add("start %s %s", f.name, f.section)
	if f.fail != nil {
		return f.fail
	}
	emit(event.Status(f.name, event.Running, event.Low, f.section))
	close(f.ready)
	<-ctx.Done()
	f.log.add("stop %s %s", f.name, f.section)
	return nil
}

// table has two kinds whose sections are config keys: "a" is
// [ssh] auth_log, "b" is [network] allowed_listeners.
func table(j *journal, fail map[string]error) []monitor.Kind {
	build := func(name string) func(string, *slog.Logger) (*fake, error) {
		return func(sec string, _ *slog.Logger) (*fake, error) {
			if sec == "bad" {
				return nil, errors.New("bad section")
			}
			return &fake{name: name, section: sec, log: j, ready: make(chan struct{}), fail: fail[sec]}, nil
		}
	}
	return []monitor.Kind{
		monitor.Define("a", func(c *config.Config) (string, bool) { return c.SSH.AuthLog, c.Monitors.SSH }, build("a")),
		monitor.Define("b", func(c *config.Config) (string, bool) {
			return fmt.Sprint(c.Network.AllowedListeners), c.Monitors.Network
		}, build("b")),
	}
}

func cfg(a string, aOn bool, b []string, bOn bool) *config.Config {
	c := &config.Config{}
	c.SSH.AuthLog, c.Monitors.SSH = a, aOn
	c.Network.AllowedListeners, c.Monitors.Network = b, bOn
	return c
}

// A sequence of reloads: what starts, what stops and in which order, and
// what each Apply says it did.
func TestApply(t *testing.T) {
	j := &journal{}
	statuses := make(chan string, 100)
	emit := func(e event.Event) {
		m, st, r, _ := event.StatusOf(e)
		statuses <- fmt.Sprintf("%s %s %s", m, st, r)
	}
	set := monitor.NewSet(table(j, map[string]error{"broken": errors.New("it broke")}), emit, nil)
	defer set.Stop()
	for _, step := range []struct {
		name    string
		cfg     *config.Config
		want    []string
		changes string
		err     string
	}{
		{"first start, in table order", cfg("x", true, []string{"sshd"}, true),
			[]string{"start a x", "start b [sshd]"}, "started [a b]", ""},
		{"nothing changed: nothing restarts", cfg("x", true, []string{"sshd"}, true),
			nil, "kept [a b]", ""},
		{"a changed: the new one runs before the old stops", cfg("y", true, []string{"sshd"}, true),
			[]string{"start a y", "stop a x"}, "replaced [a] kept [b]", ""},
		{"b switched off", cfg("y", true, []string{"sshd"}, false),
			[]string{"stop b [sshd]"}, "kept [a] stopped [b]", ""},
		{"a section that cannot be built changes nothing", cfg("bad", true, []string{"cupsd"}, true),
			nil, "", "cannot set up the a monitor: bad section"},
		{"b back on", cfg("y", true, []string{"cupsd"}, true),
			[]string{"start b [cupsd]"}, "started [b] kept [a]", ""},
		{"a monitor whose Run fails is reported and the old one stops", cfg("broken", true, []string{"cupsd"}, true),
			[]string{"start a broken", "stop a y"}, "replaced [a] kept [b]", ""},
	} {
		ch, err := set.Apply(context.Background(), step.cfg)
		if step.err != "" {
			if err == nil || err.Error() != step.err {
				t.Fatalf("%s: error %v, want %q", step.name, err, step.err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := j.take(); !slices.Equal(got, step.want) {
			t.Fatalf("%s: got %q, want %q", step.name, got, step.want)
		}
		if got := describe(ch); got != step.changes {
			t.Errorf("%s: changes %q, want %q", step.name, got, step.changes)
		}
	}
	// The failure's status arrives once its Run has returned.
	var got []string
	deadline := time.After(10 * time.Second)
	for !slices.Contains(got, "a failed it broke") {
		select {
		case st := <-statuses:
			got = append(got, st)
		case <-deadline:
			t.Fatalf("no failed status; got %q", got)
		}
	}
	want := []string{"a running x", "b running [sshd]", "a running y", "b running [cupsd]", "a failed it broke"}
	if !slices.Equal(got, want) {
		t.Errorf("statuses %q, want %q", got, want)
	}
	set.Stop()
	if got := j.take(); !slices.Equal(got, []string{"stop b [cupsd]"}) {
		t.Errorf("Stop: got %q", got)
	}
}

func describe(ch monitor.Changes) string {
	var s []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"started", ch.Started}, {"replaced", ch.Replaced}, {"kept", ch.Kept}, {"stopped", ch.Stopped}} {
		if len(p.names) > 0 {
			s = append(s, fmt.Sprintf("%s %v", p.what, p.names))
		}
	}
	return strings.Join(s, " ")
}
