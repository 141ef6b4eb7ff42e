// Package details runs the program behind a notification's "Details"
// action: an argv, never a shell.
//
// Placeholders are numbers only — {seq} (the notification's latest event),
// {first_seq}, {after_seq} (first_seq - 1, for secmon-client
// --replay-after) and {count} — replaced inside the argument that holds
// them, which never splits or adds an argument. No event text (a path, a
// process name) is offered at all: some terminals hand their -e argument to
// a shell, and a file name must never reach one.
//
// Without a configured command it opens a terminal on
// secmon-client --show {seq}, which shows the event itself as the daemon
// keeps it and waits for Enter (journalctl would show nothing to a user
// outside the journal's groups, or without a journal, and the window would
// flash and close): the first of
// xdg-terminal-exec (the proposed standard launcher, on newer systems),
// foot and alacritty (common under niri), kitty, ghostty, wezterm,
// x-terminal-emulator (Debian's alternative), gnome-terminal, konsole and
// xterm found on PATH, each with the argument it needs before a command.
package details

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Values fill the placeholders.
type Values struct {
	Seq, FirstSeq uint64
	Count         int
}

// Expand replaces the placeholders in each argument of argv.
func Expand(argv []string, v Values) []string {
	after := uint64(0)
	if v.FirstSeq > 0 {
		after = v.FirstSeq - 1
	}
	r := strings.NewReplacer(
		"{seq}", strconv.FormatUint(v.Seq, 10),
		"{first_seq}", strconv.FormatUint(v.FirstSeq, 10),
		"{after_seq}", strconv.FormatUint(after, 10),
		"{count}", strconv.Itoa(v.Count),
	)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// Journal is what the default command runs inside the terminal.
var Journal = []string{"secmon-client", "--show", "{seq}"}

// terminals, in the order tried, with what each needs before a command.
var terminals = []struct {
	name   string
	prefix []string
}{
	{"xdg-terminal-exec", nil},
	{"foot", nil},
	{"alacritty", []string{"-e"}},
	{"kitty", nil},
	{"ghostty", []string{"-e"}},
	{"wezterm", []string{"start", "--"}},
	{"x-terminal-emulator", []string{"-e"}},
	{"gnome-terminal", []string{"--"}},
	{"konsole", []string{"-e"}},
	{"xterm", []string{"-e"}},
}

// ErrNoTerminal means no known terminal is on PATH.
var ErrNoTerminal = errors.New("cannot find a terminal for Details (set details_command in notifier.toml)")

// DefaultCommand is the first terminal on PATH running Journal.
func DefaultCommand(lookPath func(string) (string, error)) ([]string, error) {
	for _, t := range terminals {
		if _, err := lookPath(t.name); err == nil {
			argv := append([]string{t.name}, t.prefix...)
			return append(argv, Journal...), nil
		}
	}
	return nil, ErrNoTerminal
}

// Start runs argv in its own session, detached from the notifier's
// terminal and signals, and reaps it when it exits.
func Start(argv []string, log *slog.Logger) error {
	if len(argv) == 0 {
		return errors.New("cannot run Details: no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir, _ = os.UserHomeDir()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot run Details %q: %w", argv, err)
	}
	go func() {
		err := cmd.Wait()
		log.Debug("Details exited", "argv", argv, "err", err)
	}()
	return nil
}
