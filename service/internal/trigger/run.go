package trigger

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

var errTimeout = errors.New("trigger timed out")

// run executes one trigger for e and logs how it ended.
func (r *Runner) run(ctx context.Context, t *trigger, e event.Event, suppressed uint64) {
	timeout := time.Duration(t.timeout) * time.Second
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()

	args := make([]string, len(t.args))
	for i, a := range t.args {
		args[i] = expand(a, e)
	}
	cmd := exec.CommandContext(runCtx, t.path, args...)
	cmd.Env = environ(e, suppressed)
	// Its own group, so that on timeout the program and everything it
	// started go together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	cmd.WaitDelay = waitDelay
	var stdout, stderr tail
	cmd.Stdout, cmd.Stderr = &stdout, &stderr // Stdin nil: /dev/null

	log := r.log.With("trigger", t.name, "seq", e.Seq, "event_type", string(e.Type))
	start := time.Now()
	err := cmd.Run()
	attrs := []any{"duration", time.Since(start).Round(time.Millisecond)}
	if cmd.ProcessState != nil {
		attrs = append(attrs, "pid", cmd.ProcessState.Pid(), "status", cmd.ProcessState.String())
	}
	if out := stdout.String(); out != "" {
		attrs = append(attrs, "stdout", out)
	}
	if out := stderr.String(); out != "" {
		attrs = append(attrs, "stderr", out)
	}
	switch {
	case err == nil || (cmd.ProcessState != nil && cmd.ProcessState.Success()):
		// Success even if a deadline passed while it was exiting.
		log.Debug("trigger finished", attrs...)
	case context.Cause(runCtx) == errTimeout:
		log.Warn("trigger timed out; killed its process group", append(attrs, "timeout", timeout)...)
	case ctx.Err() != nil:
		log.Info("trigger stopped at shutdown; killed its process group", attrs...)
	default:
		log.Warn("trigger failed", append(attrs, "err", err)...)
	}
}

// environ is the daemon's environment plus the event. Later entries win in
// os/exec, so inherited SECMON_* values are overridden.
func environ(e event.Event, suppressed uint64) []string {
	js, err := e.MarshalJSON()
	if err != nil {
		// Only an invalid severity gets here; the program still gets the rest.
		js = []byte("{}")
	}
	return append(os.Environ(),
		"SECMON_EVENT_JSON="+string(js),
		"SECMON_EVENT_TYPE="+clean(string(e.Type)),
		"SECMON_SEVERITY="+e.Severity.String(),
		"SECMON_PATH="+clean(e.Path),
		"SECMON_SEQ="+strconv.FormatUint(e.Seq, 10),
		"SECMON_SUPPRESSED="+strconv.FormatUint(suppressed, 10),
	)
}

// expand replaces the placeholders in one argument in a single pass: the
// result is always one argument, and substituted text is never rescanned.
func expand(arg string, e event.Event) string {
	if !strings.Contains(arg, "{") {
		return arg
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(arg, '{')
		if i < 0 {
			b.WriteString(arg)
			break
		}
		b.WriteString(arg[:i])
		arg = arg[i:]
		j := strings.IndexByte(arg, '}')
		if j < 0 {
			b.WriteString(arg)
			break
		}
		if v, ok := value(arg[1:j], e); ok {
			b.WriteString(v)
			arg = arg[j+1:]
			continue
		}
		// Not a placeholder: keep the brace and look again after it, so
		// that "{{path}" still finds "{path}".
		b.WriteByte('{')
		arg = arg[1:]
	}
	return clean(b.String())
}

// value is the text of one placeholder name.
func value(name string, e event.Event) (string, bool) {
	p := e.Process
	if p == nil {
		p = &event.Process{UID: -1}
	}
	switch name {
	case "path":
		return e.Path, true
	case "type":
		return string(e.Type), true
	case "severity":
		return e.Severity.String(), true
	case "description":
		return e.Description, true
	case "seq":
		return strconv.FormatUint(e.Seq, 10), true
	case "timestamp":
		return e.Time.UTC().Format(event.TimeLayout), true
	case "pid":
		if p.PID <= 0 {
			return "", true
		}
		return strconv.Itoa(p.PID), true
	case "comm":
		return p.Comm, true
	case "exe":
		return p.Exe, true
	case "uid":
		if p.UID < 0 {
			return "", true
		}
		return strconv.FormatInt(p.UID, 10), true
	case "user":
		return p.User, true
	case "unit":
		return p.Unit, true
	case "app":
		return p.App, true
	}
	if key, ok := strings.CutPrefix(name, "meta."); ok {
		return e.Metadata[key], true
	}
	return "", false
}

// clean makes s passable through execve, which ends strings at NUL: dropping
// the rest would let a crafted value hide what follows, and refusing would let
// it stop the trigger.
func clean(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// tail keeps the last outputTail bytes written to it.
type tail struct {
	buf       []byte
	truncated bool
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= outputTail {
		t.truncated = t.truncated || len(t.buf) > 0 || len(p) > outputTail
		t.buf = append(t.buf[:0], p[len(p)-outputTail:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - outputTail; over > 0 {
		t.truncated = true
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tail) String() string {
	if t.truncated {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}
