// Package config reads the notifier's ~/.config/secmon/notifier.toml. The
// file is never created; without it the defaults apply (Medium and above,
// no quiet hours, a warning after 60 s without the daemon).
//
// Every error names the file, line, column and key: unknown keys and wrong
// types come from go-toml's decoder, and the checks made after decoding look
// their key up in a position index built from the same document, as the
// daemon's config does. data/notifier.example.toml shows every key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/present"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Config is the notifier's configuration.
type Config struct {
	// Source is the file read, or "" for the built-in defaults.
	Source string
	// MinSeverity is the least severity shown (per-type overrides aside).
	MinSeverity severity.Level
	// MutedTypes are never shown.
	MutedTypes map[string]bool
	// DaemonAbsentWarning is how long the daemon may be off the bus before
	// one warning is shown; 0 never warns.
	DaemonAbsentWarning time.Duration
	// DetailsCommand is the "Details" action's argv; empty picks a
	// terminal running journalctl (see the details package).
	DetailsCommand []string
	// QuietHours, if set, hold back everything but Critical.
	QuietHours *QuietHours
	// Types are per-type overrides.
	Types map[string]TypeOverride
	// LogLevel is the notifier's own log level.
	LogLevel slog.Level
}

// QuietHours is a daily span of local time, Start to End (which may be
// past midnight), in minutes since midnight.
type QuietHours struct{ Start, End int }

// Contains says whether t falls in the span.
func (q QuietHours) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if q.Start < q.End {
		return m >= q.Start && m < q.End
	}
	return m >= q.Start || m < q.End
}

// NextEnd is the first end of the span after t.
func (q QuietHours) NextEnd(t time.Time) time.Time {
	y, mo, d := t.Date()
	end := time.Date(y, mo, d, q.End/60, q.End%60, 0, 0, t.Location())
	if !end.After(t) {
		end = end.AddDate(0, 0, 1)
	}
	return end
}

// TypeOverride changes how one event type is shown.
type TypeOverride struct {
	// MinSeverity, if set, replaces the global one for this type.
	MinSeverity *severity.Level
	// Urgency, if set, replaces the one from the severity.
	Urgency *present.Urgency
	// Icon, if set, replaces the type's icon.
	Icon string
}

// DefaultAbsentWarning is daemon_absent_warning's default.
const DefaultAbsentWarning = 60 * time.Second

// Defaults is the configuration without a file.
func Defaults() *Config {
	return &Config{
		MinSeverity:         severity.Medium,
		MutedTypes:          map[string]bool{},
		DaemonAbsentWarning: DefaultAbsentWarning,
		Types:               map[string]TypeOverride{},
		LogLevel:            slog.LevelInfo,
	}
}

// DefaultPath is $XDG_CONFIG_HOME/secmon/notifier.toml, else
// ~/.config/secmon/notifier.toml; "" when neither can be known.
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "secmon", "notifier.toml")
}

// Error is a configuration error with its place in the file.
type Error struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads path. A missing file gives the defaults unless mustExist.
func Load(path string, mustExist bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !mustExist {
		return Defaults(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the notifier config: %w", err)
	}
	return Parse(path, data)
}

type rawType struct {
	MinSeverity *string `toml:"min_severity"`
	Urgency     *string `toml:"urgency"`
	Icon        *string `toml:"icon"`
}

type raw struct {
	MinSeverity         *string  `toml:"min_severity"`
	MutedTypes          []string `toml:"muted_types"`
	DaemonAbsentWarning *string  `toml:"daemon_absent_warning"`
	DetailsCommand      []string `toml:"details_command"`
	LogLevel            *string  `toml:"log_level"`
	QuietHours          *struct {
		Start *string `toml:"start"`
		End   *string `toml:"end"`
	} `toml:"quiet_hours"`
	Types map[string]rawType `toml:"types"`
}

// Parse decodes data, naming file in errors.
func Parse(file string, data []byte) (*Config, error) {
	var r raw
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(file, err)
	}
	pos, err := positions(data)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	c := Defaults()
	c.Source = file
	var errs []error
	bad := func(key, format string, a ...any) {
		p := pos.find(key)
		errs = append(errs, &Error{File: file, Line: p.line, Column: p.col, Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if r.MinSeverity != nil {
		if l, err := severity.Parse(*r.MinSeverity); err != nil {
			bad("min_severity", "%v", err)
		} else {
			c.MinSeverity = l
		}
	}
	for _, t := range r.MutedTypes {
		if !secmondbus.KnownType(t) {
			bad("muted_types", "unknown event type %q (known: %s)", t, knownTypes())
			continue
		}
		c.MutedTypes[t] = true
	}
	if r.DaemonAbsentWarning != nil {
		d, err := time.ParseDuration(*r.DaemonAbsentWarning)
		switch {
		case err != nil:
			bad("daemon_absent_warning", "not a duration (like \"60s\" or \"5m\"; \"0s\" never warns): %q", *r.DaemonAbsentWarning)
		case d < 0:
			bad("daemon_absent_warning", "negative duration %s", d)
		default:
			c.DaemonAbsentWarning = d
		}
	}
	if r.DetailsCommand != nil {
		switch {
		case len(r.DetailsCommand) == 0:
			// An explicit [] is the default.
		case r.DetailsCommand[0] == "":
			bad("details_command", "the program (first element) is empty")
		default:
			c.DetailsCommand = r.DetailsCommand
		}
	}
	if r.LogLevel != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*r.LogLevel)); err != nil {
			bad("log_level", "unknown level %q (want debug, info, warn or error)", *r.LogLevel)
		} else {
			c.LogLevel = l
		}
	}
	if q := r.QuietHours; q != nil {
		var qh QuietHours
		ok := true
		for _, f := range []struct {
			key string
			v   *string
			dst *int
		}{{"quiet_hours.start", q.Start, &qh.Start}, {"quiet_hours.end", q.End, &qh.End}} {
			if f.v == nil {
				bad(f.key, "missing: quiet hours need both start and end")
				ok = false
				continue
			}
			t, err := time.Parse("15:04", *f.v)
			if err != nil {
				bad(f.key, "not a time of day like \"22:30\": %q", *f.v)
				ok = false
				continue
			}
			*f.dst = t.Hour()*60 + t.Minute()
		}
		if ok && qh.Start == qh.End {
			bad("quiet_hours.end", "the same as start: an empty span (remove [quiet_hours] to have none)")
			ok = false
		}
		if ok {
			c.QuietHours = &qh
		}
	}
	for _, t := range slices.Sorted(maps.Keys(r.Types)) {
		rt, key := r.Types[t], "types."+t
		if !secmondbus.KnownType(t) {
			bad(key, "unknown event type %q (known: %s)", t, knownTypes())
			continue
		}
		var o TypeOverride
		if rt.MinSeverity != nil {
			l, err := severity.Parse(*rt.MinSeverity)
			if err != nil {
				bad(key+".min_severity", "%v", err)
			}
			o.MinSeverity = &l
		}
		if rt.Urgency != nil {
			u, err := present.ParseUrgency(*rt.Urgency)
			if err != nil {
				bad(key+".urgency", "%v", err)
			}
			o.Urgency = &u
		}
		if rt.Icon != nil {
			o.Icon = *rt.Icon
		}
		c.Types[t] = o
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// knownTypes lists the contract's event types for an error, sorted.
func knownTypes() string {
	return strings.Join(slices.Sorted(slices.Values(secmondbus.Types())), ", ")
}

func decodeError(file string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, de := range strict.Errors {
			line, col := de.Position()
			errs = append(errs, &Error{File: file, Line: line, Column: col,
				Key: strings.Join(de.Key(), "."), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: file, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
			Msg: strings.TrimPrefix(de.Error(), "toml: ")}
	}
	return &Error{File: file, Msg: err.Error()}
}
