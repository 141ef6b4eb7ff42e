// Package render turns an event into the one readable line a person sees in
// a terminal (secmon-client on a tty, secmon-daemon --print).
package render

import (
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
)

const reset = "\x1b[0m"

var colors = map[event.Severity]string{
	event.Critical: "\x1b[1;97;41m", // bold white on red
	event.High:     "\x1b[1;31m",    // bold red
	event.Medium:   "\x1b[33m",      // yellow
	event.Low:      "\x1b[2m",       // dim
}

// Line formats e without a trailing newline: local time, severity, type,
// path, description, and who did it when known. Control characters from
// event data are escaped so a file name cannot drive the terminal.
func Line(e event.Event, color bool) string {
	var b strings.Builder
	b.WriteString(e.Time.Local().Format(time.DateTime + ".000"))
	b.WriteString("  ")
	sev := strings.ToUpper(e.Severity.String())
	if color {
		b.WriteString(colors[e.Severity])
	}
	b.WriteString(pad(sev, 8))
	if color {
		b.WriteString(reset)
	}
	b.WriteString("  ")
	b.WriteString(pad(string(e.Type), 18))
	b.WriteString("  ")
	b.WriteString(clean(e.Description))
	if p := e.Process; p != nil {
		b.WriteString("  [")
		if p.Comm != "" {
			b.WriteString(clean(p.Comm) + " ")
		}
		b.WriteString("pid " + strconv.Itoa(p.PID))
		if p.User != "" {
			b.WriteString(" user " + clean(p.User))
		}
		if p.App != "" {
			b.WriteString(" app " + clean(p.App))
		}
		b.WriteString("]")
	}
	if e.Seq != 0 {
		b.WriteString("  #" + strconv.FormatUint(e.Seq, 10))
	}
	return b.String()
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// clean escapes what would drive the terminal or change how the line
// reads (control and format characters, bytes that are not UTF-8).
func clean(s string) string { return secmondbus.Visible(s) }

// IsTerminal reports whether w is a terminal, where readable, coloured
// lines are wanted rather than JSON. (/dev/null is a character device but
// not a terminal: ask for the terminal's settings, as isatty does.)
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Full formats e as a readable page, one field a line, for a person who
// asked to see one event (secmon-client --show): what it is, when, where,
// who, and every metadata key, with the same escaping as Line.
func Full(e event.Event) string {
	var b strings.Builder
	row := func(k, v string) {
		if v != "" {
			b.WriteString(pad(k+":", 13) + clean(v) + "\n")
		}
	}
	row("Event", strconv.FormatUint(e.Seq, 10))
	row("Time", e.Time.Local().Format("Mon 2 Jan 2006 15:04:05.000 MST"))
	row("Severity", e.Severity.String())
	row("Type", string(e.Type))
	if ti := event.Info(e.Type); ti != nil {
		row("Meaning", ti.Meaning)
	}
	row("Path", e.Path)
	row("Description", e.Description)
	if p := e.Process; p != nil {
		row("Program", p.Comm)
		row("Process id", strconv.Itoa(p.PID))
		row("Executable", p.Exe)
		if p.User != "" {
			row("User", p.User+" (uid "+strconv.FormatInt(p.UID, 10)+")")
		} else {
			row("User", "uid "+strconv.FormatInt(p.UID, 10))
		}
		row("Unit", p.Unit)
		row("Flatpak app", p.App)
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("Details:\n")
		for _, k := range keys {
			b.WriteString("  " + pad(clean(k)+":", 15) + clean(e.Metadata[k]) + "\n")
		}
	}
	return b.String()
}
