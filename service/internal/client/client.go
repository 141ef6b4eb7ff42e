// Package client is secmon-client: it connects to the daemon's JSON-lines
// socket and prints events — JSON lines when its output is a pipe (for jq and
// scripts), one readable, coloured line per event on a terminal.
package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/render"
	"github.com/pantheros/secmon/service/internal/version"
)

// ExitError carries the process exit code.
type ExitError struct {
	Code int
	Err  error
	// Shown: the error was already shown to the person (--show on a
	// terminal, before waiting for a key).
	Shown bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

type options struct {
	socket      string
	minSeverity event.Severity
	types       []string
	count       int
	replayAfter int64
	json        bool
	pretty      bool
	noColor     bool
}

// Run runs secmon-client with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("secmon-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: secmon-client [flags]\n\nPrints secmon events as they happen: JSON lines when output is a pipe, readable lines on a terminal.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.socket, "socket", "", "daemon socket (default: $SECMON_SOCKET, then "+config.SystemSocketPath+", then the user-mode socket)")
	minSev := fs.String("min-severity", "", "only events at least this severe: Low, Medium, High or Critical")
	fs.Func("type", "only events of this type (repeat or separate with commas)", func(s string) error {
		for _, t := range strings.Split(s, ",") {
			t = strings.TrimSpace(t)
			if _, err := event.ParseType(t); err != nil {
				return err
			}
			o.types = append(o.types, t)
		}
		return nil
	})
	fs.IntVar(&o.count, "count", 0, "exit after this many events (0: never)")
	fs.Int64Var(&o.replayAfter, "replay-after", -1, "first print the kept events with a larger seq (0: all kept)")
	fs.BoolVar(&o.json, "json", false, "print JSON lines even on a terminal")
	fs.BoolVar(&o.pretty, "pretty", false, "print readable lines even into a pipe")
	fs.BoolVar(&o.noColor, "no-color", false, "no colours (also when NO_COLOR is set)")
	show := fs.Uint64("show", 0, "show event `N` in full, readably, and on a terminal wait for Enter (the notifier's Details)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: 2, Err: err}
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "secmon-client", version.Version)
		return nil
	}
	if *minSev != "" {
		s, err := event.ParseSeverity(*minSev)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("-min-severity: %w", err)}
		}
		o.minSeverity = s
	}

	if *show > 0 {
		return showOne(ctx, o.socket, *show, stdout, stderr)
	}
	conn, err := dial(o.socket)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if req := o.request(); req != nil {
		if _, err := conn.Write(append(req, '\n')); err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("cannot send request: %w", err)}
		}
	}

	pretty := o.pretty || (!o.json && render.IsTerminal(stdout))
	color := pretty && !o.noColor && os.Getenv("NO_COLOR") == "" && render.IsTerminal(stdout)
	return o.copy(ctx, conn, stdout, stderr, pretty, color)
}

func (o *options) request() []byte {
	req := map[string]any{}
	if o.replayAfter >= 0 {
		req["replay_after"] = o.replayAfter
	}
	if o.minSeverity != 0 {
		req["min_severity"] = o.minSeverity.String()
	}
	if len(o.types) > 0 {
		req["types"] = o.types
	}
	if len(req) == 0 {
		return nil
	}
	b, _ := json.Marshal(req)
	return b
}

// wants repeats the daemon's filtering, so events that raced the request at
// connect are not shown either.
func (o *options) wants(e event.Event) bool {
	if e.Seq == 0 {
		return true // the daemon's notices about this client
	}
	if e.Severity < o.minSeverity {
		return false
	}
	if len(o.types) == 0 {
		return true
	}
	for _, t := range o.types {
		if string(e.Type) == t {
			return true
		}
	}
	return false
}

func (o *options) copy(ctx context.Context, conn net.Conn, stdout, stderr io.Writer, pretty, color bool) error {
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	n := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			e, ok, refused := decode(line, pretty)
			switch {
			case refused != "":
				w.Flush()
				return &ExitError{Code: 2, Err: fmt.Errorf("the daemon refused the request: %s", refused)}
			case !ok:
				fmt.Fprintf(stderr, "secmon-client: skipping a line that is not an event: %.200q\n", line)
			case o.wants(e):
				if pretty {
					w.WriteString(render.Line(e, color))
					w.WriteByte('\n')
				} else {
					w.Write(line)
				}
				if r.Buffered() == 0 {
					if ferr := w.Flush(); ferr != nil {
						return &ExitError{Code: 1, Err: fmt.Errorf("cannot write output: %w", ferr)}
					}
				}
				if e.Seq != 0 {
					n++
				}
				if o.count > 0 && n >= o.count {
					return nil
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.Flush()
			if errors.Is(err, io.EOF) {
				return &ExitError{Code: 1, Err: errors.New("the daemon closed the connection")}
			}
			return &ExitError{Code: 1, Err: fmt.Errorf("cannot read from the daemon: %w", err)}
		}
	}
}

// header is what copy needs of a line it passes on as it came: decoding
// only this keeps a script's client up with a burst that the whole event's
// decoding (maps, strings, time) did not keep up with on two cores.
type header struct {
	Seq       uint64 `json:"seq"`
	EventType struct {
		Type event.Type `json:"type"`
	} `json:"event_type"`
	Details struct {
		Severity event.Severity `json:"severity"`
	} `json:"details"`
	Error string `json:"error"`
}

// decode reads line: the whole event when full (it is to be shown), else
// only what filtering needs. ok is false for a line that is not an event;
// refused is the daemon's error line's text.
func decode(line []byte, full bool) (e event.Event, ok bool, refused string) {
	if full {
		if json.Unmarshal(line, &e) == nil && e.Type != "" {
			return e, true, ""
		}
	} else {
		var h header
		if json.Unmarshal(line, &h) == nil && h.EventType.Type != "" {
			return event.Event{Seq: h.Seq, Type: h.EventType.Type, Severity: h.Details.Severity}, true, ""
		}
	}
	var m struct{ Error string }
	if json.Unmarshal(line, &m) == nil && m.Error != "" {
		return e, false, m.Error
	}
	return e, false, ""
}

// showWait bounds how long --show waits for an event that has not come.
const showWait = 5 * time.Second

// showOne shows event n in full. Run from a notification's Details, it is
// the only window the person sees: on a terminal it waits for Enter after
// the event or the error, so the window does not flash and close.
func showOne(ctx context.Context, socket string, n uint64, stdout, stderr io.Writer) error {
	err := findAndShow(ctx, socket, n, stdout)
	if !render.IsTerminal(os.Stdin) || !render.IsTerminal(stdout) {
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		return nil
	}
	if err != nil {
		fmt.Fprintln(stderr, "secmon-client:", err)
	}
	fmt.Fprint(stdout, "\nPress Enter to close.")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return &ExitError{Code: 1, Err: err, Shown: true}
	}
	return nil
}

func findAndShow(ctx context.Context, socket string, n uint64, stdout io.Writer) error {
	conn, err := dial(socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req, _ := json.Marshal(map[string]uint64{"replay_after": n - 1})
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("cannot send request: %w", err)
	}
	conn.SetReadDeadline(time.Now().Add(showWait))
	gone := fmt.Errorf("event %d is no longer kept by secmon-daemon (it keeps the latest replay_buffer events); the journal may have it: journalctl SECMON_SEQ=%d -o verbose", n, n)
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("secmon-daemon sent no event %d within %v: it has not happened yet", n, showWait)
			}
			return fmt.Errorf("cannot read from the daemon: %w", err)
		}
		var e event.Event
		if json.Unmarshal(line, &e) != nil || e.Type == "" {
			var m struct{ Error string }
			if json.Unmarshal(line, &m) == nil && m.Error != "" {
				return fmt.Errorf("the daemon refused the request: %s", m.Error)
			}
			continue
		}
		switch {
		case e.Seq == n:
			_, err := io.WriteString(stdout, render.Full(e))
			return err
		case e.Seq > n:
			return gone
		case e.Seq == 0 && e.Type == event.EventsDropped:
			first, _ := strconv.ParseUint(e.Metadata["first_seq"], 10, 64)
			last, _ := strconv.ParseUint(e.Metadata["last_seq"], 10, 64)
			if first <= n && n <= last {
				return gone
			}
		}
	}
}

// Candidates lists the sockets tried, in order, when none is given.
func Candidates() []string {
	if s := os.Getenv("SECMON_SOCKET"); s != "" {
		return []string{s}
	}
	user := config.Defaults(config.UserMode, config.CurrentEnv()).SocketPath
	return []string{config.SystemSocketPath, user}
}

func dial(explicit string) (net.Conn, error) {
	paths := Candidates()
	if explicit != "" {
		paths = []string{explicit}
	}
	var why []string
	denied := "" // the first socket that refused this user
	for _, p := range paths {
		c, err := net.Dial("unix", p)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, syscall.EACCES) && denied == "" {
			denied = p
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		why = append(why, fmt.Sprintf("%s: %v", p, err))
	}
	if denied != "" {
		// The socket is root:secmon 0660: the daemon is there, this
		// user may not read its events.
		return nil, fmt.Errorf("cannot connect to secmon-daemon at %s: permission denied: only root and members of group secmon may read its events.\n"+
			"  For a person: sudo usermod -aG secmon USER, then log in again.\n"+
			"  For a systemd service: SupplementaryGroups=secmon in its [Service] section (see secmon-client(1), EXAMPLES)", denied)
	}
	return nil, fmt.Errorf("cannot connect to secmon-daemon — is it running? (start it with `secmon-daemon`, or `systemctl start secmon.socket`)\n  tried %s", strings.Join(why, "\n  tried "))
}
