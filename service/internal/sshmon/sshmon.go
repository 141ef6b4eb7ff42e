// Package sshmon is secmon's sshd monitor: it follows sshd's messages and
// turns them into SshLogin, SshLoginFailed and SshBruteForce events.
//
// The messages come from the journal (sd-journal through go-systemd's
// sdjournal, which needs cgo and libsystemd at run time, so it lives in this
// package only), matched by SYSLOG_IDENTIFIER or _COMM sshd, sshd-session
// (OpenSSH 9.8+) or sshd-auth, or by the unit sshd.service or ssh.service —
// and believed only when journald's own fields say sshd wrote them (root,
// and sshd's program or unit): an entry that merely claims the identifier
// (logger -t sshd) is an SshLogSpoofed event, never a login. An auth log
// cannot tell who wrote a line, so the journal is preferred.
// Built without cgo, or without libsystemd.so.0 at run time, it reads the
// auth log instead and its Limitation says so.
// Where journald is not running, or [ssh] auth_log says so, they come from
// a syslog file (/var/log/auth.log, /var/log/secure) followed with inotify
// through rotation and truncation. Either way reading starts at the end:
// history is not replayed.
//
// Nothing polls. sd_journal_wait with an infinite timeout would not wake up
// either, but it cannot be interrupted, so Run waits on the journal's own
// inotify descriptor (sd_journal_get_fd) in Go's poller instead and lets
// sd-journal process what woke it.
//
// The monitor also knows which files are SSH material: [Watches] are the
// keys and sshd configuration it has the filesystem monitor watch (one
// inotify instance for every watch), and [Classify] turns a change to them
// into an SshAccess. Its status names both, and says why entries may not be
// seen.
package sshmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshlog"
)

// journaldSocket exists while journald runs: without it nothing new reaches
// the journal, and the auth log is read instead.
var journaldSocket = "/run/systemd/journal/socket"

// systemJournalDirs hold journald's files, persistent and volatile, one
// directory per machine id.
var systemJournalDirs = []string{"/var/log/journal", "/run/log/journal"}

// authLogs are tried in order when no auth_log is configured.
var authLogs = []string{"/var/log/auth.log", "/var/log/secure"}

// Watcher follows sshd's log.
type Watcher struct {
	log *slog.Logger
	// Exactly one source: the journal (in journalDir, or the system's when
	// empty) or authLog.
	journal    bool
	journalDir string
	authLog    string
	// fallback says why the auth log is read although the journal was
	// wanted; empty when it was not. noJournal: because it failed.
	fallback  string
	noJournal bool
	// missing: the auth log did not exist when Run started.
	missing bool

	// cfg is the section the watcher was built from, for Reconfigure.
	cfg config.SSH
	// mu guards detector: Run's goroutine counts, Reconfigure changes
	// its limits.
	mu       sync.Mutex
	detector *sshlog.Detector
	// now stamps auth log lines, whose timestamps have no year or zone.
	now   func() time.Time
	ready chan struct{}
	// watches are Watches(cfg), for the status.
	watches []string

	// The journal cursor kept in the state directory ("" without one),
	// the last one written, and when.
	cursorPath  string
	cursor      string
	cursorSaved time.Time
	// whileDown: the entry being read was logged while secmon was not
	// running (read from where the last run stopped).
	whileDown bool

	// Run's state.
	emit            func(event.Event)
	reportedEvicted uint64
	lastEvictReport time.Time
}

// New checks the configuration and picks the source; Run opens it.
func New(cfg config.SSH, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		cfg: cfg,
		log: logger.With("component", "ssh"),
		detector: sshlog.NewDetector(sshlog.DetectorConfig{
			Threshold: cfg.BruteForceThreshold,
			Window:    time.Duration(cfg.BruteForceWindowSeconds) * time.Second,
		}),
		now:   time.Now,
		ready: make(chan struct{}),
	}
	for _, wt := range Watches(cfg) {
		w.watches = append(w.watches, wt.Path+wt.Pattern)
	}
	switch {
	case cfg.AuthLog != "":
		w.authLog = cfg.AuthLog
	case cfg.JournalDirectory != "":
		fi, err := os.Stat(cfg.JournalDirectory)
		if err != nil {
			return nil, fmt.Errorf("cannot read the journal in %s: %w", cfg.JournalDirectory, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("cannot read the journal in %s: not a directory", cfg.JournalDirectory)
		}
		w.journal, w.journalDir = true, cfg.JournalDirectory
	default:
		if _, err := os.Stat(journaldSocket); err == nil {
			w.journal = true
			break
		}
		w.authLog = authLogs[0]
		for _, p := range authLogs {
			if _, err := os.Stat(p); err == nil {
				w.authLog = p
				break
			}
		}
		w.fallback = "journald is not running"
	}
	if w.journal && cfg.StateDirectory != "" {
		w.cursorPath = filepath.Join(cfg.StateDirectory, CursorFile)
	}
	if w.authLog != "" && !filepath.IsAbs(w.authLog) {
		return nil, fmt.Errorf("cannot follow auth log %q: not an absolute path", w.authLog)
	}
	return w, nil
}

// Reconfigure takes a changed [ssh] section in place when only the
// brute-force limits changed, keeping the failures counted so far (issue:
// a reload must not forget an attack under way); any other change (the
// source, the homes watched) needs a new watcher, and it says false.
func (w *Watcher) Reconfigure(cfg config.SSH) bool {
	same := cfg
	same.BruteForceThreshold, same.BruteForceWindowSeconds = w.cfg.BruteForceThreshold, w.cfg.BruteForceWindowSeconds
	if same != w.cfg {
		return false
	}
	w.mu.Lock()
	w.detector.SetLimits(cfg.BruteForceThreshold, time.Duration(cfg.BruteForceWindowSeconds)*time.Second)
	w.mu.Unlock()
	w.cfg = cfg
	w.log.Info("brute-force limits changed in place", "threshold", cfg.BruteForceThreshold, "window_seconds", cfg.BruteForceWindowSeconds)
	return true
}

// Ready is closed once Run reads from the end of its source: what sshd logs
// from then on is seen. It is never closed if Run fails before that.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Source says what is read, for the monitor's status.
func (w *Watcher) Source() string {
	switch {
	case w.journal && w.journalDir != "":
		return "the journal in " + w.journalDir
	case w.journal:
		return "the system journal"
	case w.fallback != "":
		return w.authLog + " (" + w.fallback + ")"
	}
	return w.authLog
}

// Run follows the source until ctx ends. If the journal cannot be opened
// (no libsystemd), it says so and reads the auth log instead.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	var once sync.Once
	w.emit = func(e event.Event) {
		if w.whileDown && e.Type != event.MonitorStatus {
			// Read from where the last run stopped: it happened while
			// secmon was not running, and is reported now.
			if e.Metadata == nil {
				e.Metadata = map[string]string{}
			}
			e.Metadata["found_by"] = "catch-up"
			e.Description = "While secmon was not running: " + e.Description
		}
		emit(e)
	}
	ready := func() {
		once.Do(func() {
			emit(w.status())
			close(w.ready)
		})
	}
	if w.journal {
		err := w.followJournal(ctx, ready)
		if !errors.Is(err, errNoJournal) || w.journalDir != "" {
			return err
		}
		w.journal, w.authLog, w.fallback, w.noJournal = false, authLogs[0], err.Error(), true
		w.log.Warn("reading the auth log instead of the journal", "err", err)
	}
	return w.followFile(ctx, ready)
}

// status says what the monitor reads and watches, and whether that is all
// of sshd's entries.
func (w *Watcher) status() event.Event {
	reason := "reading " + w.Source() + "; watching " + strings.Join(w.watches, ", ")
	if l := w.Limitation(); l != "" {
		// Expected where it happens — no journald and no auth log yet (a
		// container), or a user-mode daemon that may not read the system
		// journal (the system service can) — it is said, not alarmed.
		if (w.missing && w.fallback != "" && !w.noJournal) || w.cfg.UserHome != "" {
			return event.Status("ssh", event.Unavailable, event.Low, reason+"; "+l)
		}
		return event.Status("ssh", event.Degraded, event.Medium, reason+"; "+l)
	}
	return event.Status("ssh", event.Running, event.Low, reason)
}

// Limitation says, once Ready, why sshd's entries may not be seen, or "":
// the journal could not be opened, the auth log does not exist (yet), or
// the system journal's files cannot be read, where other users' entries
// are (sd-journal then silently reads only the caller's own).
func (w *Watcher) Limitation() string {
	switch {
	case w.missing:
		return w.authLog + " does not exist; waiting for it"
	case w.noJournal:
		return "the journal cannot be opened, reading " + w.authLog
	case !w.journal || w.journalDir != "":
		return ""
	}
	// Decided by trying, not from uid and groups: CAP_DAC_READ_SEARCH (as
	// secmon.service gives) or an ACL lets a process read them too.
	var denied error
	for _, dir := range systemJournalDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "system.journal"))
		for _, name := range files {
			f, err := os.Open(name)
			if err == nil {
				f.Close()
				return ""
			}
			denied = err
		}
	}
	if denied == nil {
		return "" // no system journal file (yet) to try
	}
	return "cannot read the system journal (" + denied.Error() + "): sshd's journal entries are not visible " +
		"(root, group systemd-journal, adm or wheel, or CAP_DAC_READ_SEARCH can read it)"
}

// report turns one parsed message into events. at is when sshd logged it;
// proc is sshd's process where the source names it.
// sender is who journald says wrote an entry: its trusted fields, which
// the sender cannot choose.
type sender struct{ comm, exe, uid, unit string }

// sshdNames are the programs of OpenSSH's server (sshd-session since 9.8,
// sshd-auth since 10.0).
var sshdNames = []string{"sshd", "sshd-session", "sshd-auth"}

// sshdUnits are the units distributions run sshd as (ssh@…service: one
// per connection under socket activation).
func sshdUnit(u string) bool {
	return u == "sshd.service" || u == "ssh.service" || strings.HasPrefix(u, "sshd@") || strings.HasPrefix(u, "ssh@")
}

// isSSHD: sshd logs as root, as one of its programs (by name or
// executable) or from its unit.
func (s sender) isSSHD() bool {
	if s.uid != "0" {
		return false
	}
	return slices.Contains(sshdNames, s.comm) || slices.Contains(sshdNames, filepath.Base(s.exe)) || sshdUnit(s.unit)
}

// spoofed reports an entry that claims to be sshd's and is not: at most a
// Medium event, never a login or a failure, and nothing counted.
func (w *Watcher) spoofed(at time.Time, claimed string, s sender, msg string) {
	if claimed == "" {
		claimed = "sshd"
	}
	md := map[string]string{"claimed": claimed, "message": truncate(msg, 512)}
	for k, v := range map[string]string{"sender_comm": s.comm, "sender_exe": s.exe, "sender_uid": s.uid, "sender_unit": s.unit} {
		if v != "" {
			md[k] = v
		}
	}
	who := s.comm
	if who == "" {
		who = "a program journald does not name"
	}
	if s.uid != "" {
		who += " (uid " + s.uid + ")"
	}
	w.emit(event.Event{Time: at, Type: event.SshLogSpoofed, Severity: event.Medium, Path: claimed,
		Description: fmt.Sprintf("A log entry posing as %s was written by %s; not taken for a login: %s", claimed, who, truncate(msg, 200)),
		Metadata:    md})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (w *Watcher) report(at time.Time, e sshlog.Entry, proc *event.Process) {
	md := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			md[k] = v
		}
	}
	md["user"] = e.User
	set("remote_ip", e.RemoteIP)
	if e.RemotePort != 0 {
		md["remote_port"] = strconv.Itoa(e.RemotePort)
	}
	set("method", e.Method)
	set("fingerprint", e.Fingerprint)
	from := e.RemoteIP
	if from == "" {
		from = "an unknown address"
	}
	if e.RemotePort != 0 {
		from += " port " + strconv.Itoa(e.RemotePort)
	}
	switch {
	case e.Kind == sshlog.Accepted:
		sev := event.Medium
		if e.User == "root" || e.Method == "password" || strings.HasPrefix(e.Method, "keyboard-interactive") {
			sev = event.High
		}
		how := e.Method
		if e.Fingerprint != "" {
			how += " (" + e.Fingerprint + ")"
		}
		w.emit(event.Event{Time: at, Type: event.SshLogin, Path: e.RemoteIP, Severity: sev, Process: proc, Metadata: md,
			Description: fmt.Sprintf("SSH login: %s from %s by %s", e.User, from, how)})
	case e.Kind.IsFailure():
		set("reason", e.Reason)
		w.emit(event.Event{Time: at, Type: event.SshLoginFailed, Path: e.RemoteIP, Severity: event.Low, Process: proc, Metadata: md,
			Description: fmt.Sprintf("SSH login failed: %q from %s: %s", e.User, from, e.Reason)})
		w.observe(at, e)
	}
}

func (w *Watcher) observe(at time.Time, e sshlog.Entry) {
	w.mu.Lock()
	bf, alert := w.detector.Observe(at, e)
	evicted, cfg := w.detector.Evictions(), w.detector.Config()
	w.mu.Unlock()
	if alert {
		users := make([]string, len(bf.Users))
		for i, u := range bf.Users {
			users[i] = quoteUser(u)
		}
		secs := strconv.Itoa(int(bf.Window / time.Second))
		w.emit(event.Event{Time: at, Type: event.SshBruteForce, Path: bf.RemoteIP, Severity: event.High,
			Metadata: map[string]string{"remote_ip": bf.RemoteIP, "count": strconv.Itoa(bf.Count),
				"window_seconds": secs, "users": strings.Join(users, ",")},
			Description: fmt.Sprintf("SSH brute force: %d failed logins from %s within %s s (users tried: %s)",
				bf.Count, bf.RemoteIP, secs, strings.Join(users, ", "))})
	}
	// Forgetting addresses that still count can hide an attack spread
	// over many: say so, at most once a window.
	if n := evicted; n > w.reportedEvicted &&
		(w.lastEvictReport.IsZero() || at.Sub(w.lastEvictReport) >= cfg.Window) {
		w.reportedEvicted, w.lastEvictReport = n, at
		w.emit(event.Status("ssh", event.Degraded, event.Medium, fmt.Sprintf(
			"brute-force detection tracks at most %d addresses; %d with recent failures were forgotten so far",
			cfg.MaxAddresses, n)))
	}
}

// quoteUser keeps a list of user names unambiguous: names that are empty or
// contain a comma, a quote, a space or control characters are quoted.
func quoteUser(u string) string {
	if u == "" || strings.ContainsAny(u, ",\" \\") || strconv.Quote(u) != `"`+u+`"` {
		return strconv.Quote(u)
	}
	return u
}
