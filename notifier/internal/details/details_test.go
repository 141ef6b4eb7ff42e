package details_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/notifier/internal/details"
)

func TestExpand(t *testing.T) {
	argv := []string{"secmon-client", "--replay-after", "{after_seq}", "--count", "{count}", "SECMON_SEQ={seq}", "{first_seq}", "{path}", "{seq} {seq}"}
	got := details.Expand(argv, details.Values{Seq: 42, FirstSeq: 40, Count: 3})
	want := []string{"secmon-client", "--replay-after", "39", "--count", "3", "SECMON_SEQ=42", "40", "{path}", "42 42"}
	if !slices.Equal(got, want) {
		t.Errorf("Expand = %q, want %q (event text is never offered; arguments are never split)", got, want)
	}
	if argv[2] != "{after_seq}" {
		t.Error("Expand changed its input")
	}
}

func TestDefaultCommand(t *testing.T) {
	for _, tt := range []struct {
		have []string
		want []string
	}{
		{[]string{"xterm", "foot", "xdg-terminal-exec"}, append([]string{"xdg-terminal-exec"}, details.Journal...)},
		{[]string{"xterm", "foot"}, append([]string{"foot"}, details.Journal...)},
		{[]string{"xterm", "alacritty"}, append([]string{"alacritty", "-e"}, details.Journal...)},
		{[]string{"gnome-terminal"}, append([]string{"gnome-terminal", "--"}, details.Journal...)},
	} {
		got, err := details.DefaultCommand(func(name string) (string, error) {
			if slices.Contains(tt.have, name) {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("with %q: %q, %v; want %q", tt.have, got, err, tt.want)
		}
	}
	if _, err := details.DefaultCommand(func(string) (string, error) { return "", errors.New("no") }); !errors.Is(err, details.ErrNoTerminal) {
		t.Errorf("with no terminal: %v", err)
	}
}

// Start runs the program itself, with each argument intact: a name with a
// shell metacharacter is one file, not a command.
func TestStartRunsTheArgvWithoutAShell(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a;touch b $(id)")
	if err := details.Start([]string{"touch", odd}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "touch running", func() bool { _, err := os.Stat(odd); return err == nil })
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Fatal("the argument was split")
	}
	if err := details.Start([]string{filepath.Join(dir, "no-such-program")}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing program was not an error")
	}
}
