package config

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/present"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// checker turns decoded keys into values, collecting an error with its
// place in the file for each bad one.
type checker struct {
	file string
	pos  positionIndex
	errs []error
}

func (ck *checker) bad(key, format string, a ...any) {
	p := ck.pos.find(key)
	ck.errs = append(ck.errs, &Error{File: ck.file, Line: p.line, Column: p.col, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// apply checks every key r sets and puts its value in c; what r leaves
// out, or gets wrong, keeps c's value.
func (ck *checker) apply(r *raw, c *Config) {
	if r.MinSeverity != nil {
		if l, ok := ck.severity("min_severity", *r.MinSeverity); ok {
			c.MinSeverity = l
		}
	}
	for _, t := range r.MutedTypes {
		if ck.eventType("muted_types", t) {
			c.MutedTypes[t] = true
		}
	}
	if r.DaemonAbsentWarning != nil {
		if d, ok := ck.absentWarning(*r.DaemonAbsentWarning); ok {
			c.DaemonAbsentWarning = d
		}
	}
	if r.DetailsCommand != nil {
		if argv, ok := ck.detailsCommand(r.DetailsCommand); ok {
			c.DetailsCommand = argv
		}
	}
	if r.LogLevel != nil {
		if l, ok := ck.logLevel(*r.LogLevel); ok {
			c.LogLevel = l
		}
	}
	if r.QuietHours != nil {
		if q, ok := ck.quietHours(r.QuietHours); ok {
			c.QuietHours = &q
		}
	}
	for _, t := range slices.Sorted(maps.Keys(r.Types)) {
		if o, ok := ck.typeOverride(t, r.Types[t]); ok {
			c.Types[t] = o
		}
	}
}

func (ck *checker) severity(key, s string) (severity.Level, bool) {
	l, err := severity.Parse(s)
	if err != nil {
		ck.bad(key, "%v", err)
		return l, false
	}
	return l, true
}

// eventType checks t against the contract's types.
func (ck *checker) eventType(key, t string) bool {
	if !secmondbus.KnownType(t) {
		ck.bad(key, "unknown event type %q (known: %s)", t, knownTypes())
		return false
	}
	return true
}

// knownTypes lists the contract's event types for an error, sorted.
func knownTypes() string {
	return strings.Join(slices.Sorted(slices.Values(secmondbus.Types())), ", ")
}

func (ck *checker) absentWarning(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		ck.bad("daemon_absent_warning", "not a duration (like \"60s\" or \"5m\"; \"0s\" never warns): %q", s)
		return 0, false
	case d < 0:
		ck.bad("daemon_absent_warning", "negative duration %s", d)
		return 0, false
	}
	return d, true
}

// detailsCommand accepts an argv; an explicit [] is the default.
func (ck *checker) detailsCommand(argv []string) ([]string, bool) {
	switch {
	case len(argv) == 0:
		return nil, false
	case argv[0] == "":
		ck.bad("details_command", "the program (first element) is empty")
		return nil, false
	}
	return argv, true
}

func (ck *checker) logLevel(s string) (slog.Level, bool) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		ck.bad("log_level", "unknown level %q (want debug, info, warn or error)", s)
		return l, false
	}
	return l, true
}

// quietHours needs both ends, as times of day, and a span that is not empty.
func (ck *checker) quietHours(q *rawQuiet) (QuietHours, bool) {
	var qh QuietHours
	ok := true
	for _, f := range []struct {
		key string
		v   *string
		dst *int
	}{{"quiet_hours.start", q.Start, &qh.Start}, {"quiet_hours.end", q.End, &qh.End}} {
		if f.v == nil {
			ck.bad(f.key, "missing: quiet hours need both start and end")
			ok = false
			continue
		}
		t, err := time.Parse("15:04", *f.v)
		if err != nil {
			ck.bad(f.key, "not a time of day like \"22:30\": %q", *f.v)
			ok = false
			continue
		}
		*f.dst = t.Hour()*60 + t.Minute()
	}
	if ok && qh.Start == qh.End {
		ck.bad("quiet_hours.end", "the same as start: an empty span (remove [quiet_hours] to have none)")
		ok = false
	}
	return qh, ok
}

// typeOverride checks [types.T]: T is a type of the contract, and each
// key of the section.
func (ck *checker) typeOverride(t string, rt rawType) (TypeOverride, bool) {
	key := "types." + t
	if !ck.eventType(key, t) {
		return TypeOverride{}, false
	}
	var o TypeOverride
	ok := true
	if rt.MinSeverity != nil {
		l, good := ck.severity(key+".min_severity", *rt.MinSeverity)
		o.MinSeverity, ok = &l, ok && good
	}
	if rt.Urgency != nil {
		u, err := present.ParseUrgency(*rt.Urgency)
		if err != nil {
			ck.bad(key+".urgency", "%v", err)
			ok = false
		}
		o.Urgency = &u
	}
	if rt.Icon != nil {
		o.Icon = *rt.Icon
	}
	return o, ok
}
