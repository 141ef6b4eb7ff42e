// Package trigger runs user-configured programs ([[triggers]] in the config)
// for matching events.
//
// Event data never reaches a shell here. A trigger's command is run directly
// (execve of the program found at [New] time) with its args as argv, and the
// placeholders in each argument — {path} {type} {severity} {description}
// {seq} {timestamp} {pid} {comm} {exe} {uid} {user} {unit} {app} {meta.KEY} — are replaced
// inside that one argument: a path full of spaces, quotes, semicolons, $(…)
// or newlines arrives as exactly one argv element, byte for byte (only NUL,
// which argv cannot carry, becomes U+FFFD). Substitution is a single pass, so
// a value that itself looks like a placeholder stays literal. Unknown
// placeholders are left as written; {meta.KEY} for a missing key and the
// process fields of an event without a known process are empty.
//
// A user who writes command = "/bin/sh" with args = ["-c", "… {path}"] puts
// event data into shell code and so opts into shell injection: a file named
// "$(reboot)" would run. New logs a warning for such triggers. The safe way to
// use a shell is to pass data as positional parameters, outside the script:
//
//	command = "/bin/sh"
//	args = ["-c", "notify-send \"$1\"", "sh", "{path}"]
//
// The event also reaches the program through its environment, on top of the
// daemon's: SECMON_EVENT_JSON (the event as the socket writes it),
// SECMON_EVENT_TYPE, SECMON_SEVERITY, SECMON_PATH, SECMON_SEQ and
// SECMON_SUPPRESSED (how many matching events the trigger's cooldown swallowed
// since it last ran).
//
// Running a trigger never holds up the pipeline: each run has its own
// goroutine, its own process group, stdin from /dev/null, and a timeout
// (timeout_seconds) after which the whole group is killed; the group is also
// killed when [Runner.Run] stops. Background processes a program leaves
// behind when it exits on its own are not hunted down. Only the last 4 KiB of
// stdout and of stderr are kept, for the log line that reports the exit
// status. At most [MaxRunning] runs exist at once across all triggers; an
// event that would start one more is skipped for that trigger, counted and
// reported in a rate-limited warning naming the trigger.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// MaxRunning bounds the trigger processes running at once, all triggers
// together, so that an event storm cannot become a fork bomb.
const MaxRunning = 8

// defaultTimeoutSeconds applies when a trigger gives no timeout_seconds, as
// config does; this covers triggers built by hand.
const defaultTimeoutSeconds = 30

// skipWarnEvery rate-limits the warning about runs skipped for lack of a slot.
const skipWarnEvery = time.Minute

// outputTail is how much of a run's stdout and of its stderr is logged.
const outputTail = 4 << 10

// waitDelay bounds how long a run waits, after its program exited or was
// killed, for processes that escaped its group to close the output pipes.
const waitDelay = 2 * time.Second

// Runner runs the enabled triggers for the events of one subscription.
type Runner struct {
	triggers []*trigger
	log      *slog.Logger
	// now is the clock of cooldowns and warning rate limits; tests replace it.
	now   func() time.Time
	slots chan struct{}
	wg    sync.WaitGroup

	mu sync.Mutex // guards the counters in each trigger
}

// trigger is one enabled [[triggers]] entry, ready to run.
type trigger struct {
	name     string
	path     string // Command resolved at New time
	args     []string
	types    map[event.Type]bool // nil: every type
	minSev   event.Severity
	cooldown time.Duration
	timeout  int // seconds

	// Guarded by Runner.mu.
	started    uint64
	lastRun    time.Time
	suppressed uint64 // by cooldown since the last run
	skipped    uint64 // for lack of a slot, in all
	unwarned   uint64 // skipped since the last warning
	lastWarn   time.Time
}

// New validates and prepares the enabled triggers. Each command is resolved
// through PATH now, so that a typo fails at start-up rather than at the first
// event; an error names the trigger. Disabled triggers are ignored.
func New(triggers []config.Trigger, logger *slog.Logger) (*Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		log:   logger,
		now:   time.Now,
		slots: make(chan struct{}, MaxRunning),
	}
	names := map[string]bool{}
	var errs []error
	for _, c := range triggers {
		if !c.IsEnabled() {
			continue
		}
		t, err := prepare(c)
		if err == nil && names[c.Name] {
			err = errors.New("name is used twice")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot prepare trigger %q: %w", c.Name, err))
			continue
		}
		names[c.Name] = true
		if shellInjection(c.Command, c.Args) {
			logger.Warn("trigger puts event data into shell code: a crafted file name or other event value "+
				"can run commands; pass data as positional parameters after the script "+
				`(args = ["-c", "prog \"$1\"", "sh", "{path}"]) or read SECMON_* from the environment`,
				"trigger", c.Name, "command", c.Command)
		}
		r.triggers = append(r.triggers, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

func prepare(c config.Trigger) (*trigger, error) {
	if c.Name == "" {
		return nil, errors.New("a trigger needs a name")
	}
	if c.Command == "" {
		return nil, errors.New("a trigger needs a command")
	}
	path, err := exec.LookPath(c.Command)
	if err != nil {
		return nil, fmt.Errorf("cannot find command: %w", err)
	}
	if c.CooldownSeconds < 0 {
		return nil, fmt.Errorf("cooldown_seconds must not be negative, not %d", c.CooldownSeconds)
	}
	if c.TimeoutSeconds < 0 {
		return nil, fmt.Errorf("timeout_seconds must not be negative, not %d", c.TimeoutSeconds)
	}
	minSev := c.MinSeverity
	if minSev == 0 {
		minSev = event.Low
	}
	if minSev < event.Low || minSev > event.Critical {
		return nil, fmt.Errorf("invalid min_severity %d", int(minSev))
	}
	t := &trigger{
		name:     c.Name,
		path:     path,
		args:     append([]string(nil), c.Args...),
		minSev:   minSev,
		cooldown: time.Duration(c.CooldownSeconds) * time.Second,
		timeout:  c.TimeoutSeconds,
	}
	if t.timeout == 0 {
		t.timeout = defaultTimeoutSeconds
	}
	if len(c.EventTypes) > 0 {
		t.types = make(map[event.Type]bool, len(c.EventTypes))
		for _, et := range c.EventTypes {
			if _, err := event.ParseType(string(et)); err != nil {
				return nil, err
			}
			t.types[event.Type(et)] = true
		}
	}
	return t, nil
}

func (t *trigger) matches(e event.Event) bool {
	return (t.types == nil || t.types[e.Type]) && e.Severity >= t.minSev
}

// Filter returns a func for hub.SubOptions.Filter that accepts only the events
// some enabled trigger wants, so the hub does not queue the rest. Cooldowns
// play no part: events a cooldown swallows are still counted.
func (r *Runner) Filter() func(event.Event) bool {
	ts := r.triggers
	return func(e event.Event) bool {
		for _, t := range ts {
			if t.matches(e) {
				return true
			}
		}
		return false
	}
}

// Run consumes sub until ctx ends, starting the matching triggers. It returns
// nil on cancellation, after killing the process groups of runs still going
// and waiting for them, so that nothing it started outlives it.
func (r *Runner) Run(ctx context.Context, sub *hub.Sub) error {
	defer r.wg.Wait()
	defer func() {
		for _, t := range r.triggers {
			r.reportSkips(t, true)
		}
	}()
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("cannot read events: %w", err)
		}
		if e.Type == event.EventsDropped && e.Seq == 0 {
			// The hub's notice that this subscription fell behind: events
			// went by without their triggers.
			r.log.Warn("trigger queue overflowed; events were lost", "subscriber", sub.Name(),
				"dropped", e.Metadata["dropped"], "first_seq", e.Metadata["first_seq"], "last_seq", e.Metadata["last_seq"])
		}
		r.handle(ctx, e)
	}
}

func (r *Runner) handle(ctx context.Context, e event.Event) {
	for _, t := range r.triggers {
		if !t.matches(e) {
			continue
		}
		r.mu.Lock()
		now := r.now()
		if t.cooldown > 0 && !t.lastRun.IsZero() && now.Before(t.lastRun.Add(t.cooldown)) {
			t.suppressed++
			r.mu.Unlock()
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			t.skipped++
			t.unwarned++
			r.mu.Unlock()
			r.reportSkips(t, false)
			continue
		}
		suppressed := t.suppressed
		t.suppressed = 0
		t.lastRun = now
		t.started++
		r.mu.Unlock()

		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-r.slots }()
			r.run(ctx, t, e, suppressed)
		}()
	}
}

// reportSkips warns about t's runs skipped for lack of a slot: at most once
// per skipWarnEvery, or whatever is not yet reported when final.
func (r *Runner) reportSkips(t *trigger, final bool) {
	r.mu.Lock()
	now := r.now()
	n, total := t.unwarned, t.skipped
	if n == 0 || (!final && !t.lastWarn.IsZero() && now.Sub(t.lastWarn) < skipWarnEvery) {
		r.mu.Unlock()
		return
	}
	t.unwarned = 0
	t.lastWarn = now
	r.mu.Unlock()
	r.log.Warn("trigger skipped: too many trigger processes running", "trigger", t.name,
		"skipped", n, "skipped_total", total, "max_running", MaxRunning)
}
