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
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

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

// Parse decodes data, naming file in errors: decoding (decode.go) gives
// what the file says, the checks (check.go) turn each key into its value
// over the defaults (Defaults), so a key the file leaves out keeps its
// default. Every error of the checks is reported, not only the first.
func Parse(file string, data []byte) (*Config, error) {
	r, pos, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	c := Defaults()
	c.Source = file
	ck := &checker{file: file, pos: pos}
	ck.apply(r, c)
	if len(ck.errs) > 0 {
		return nil, errors.Join(ck.errs...)
	}
	return c, nil
}
