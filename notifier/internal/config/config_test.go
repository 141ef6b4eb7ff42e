package config_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/config"
	"github.com/pantheros/secmon/notifier/internal/present"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

func TestFull(t *testing.T) {
	c, err := config.Load("testdata/full.toml", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "testdata/full.toml" || c.MinSeverity != severity.High || !c.MutedTypes["FileAttrib"] || !c.MutedTypes["UsbDeviceRemoved"] ||
		c.DaemonAbsentWarning != 5*time.Minute || !slices.Equal(c.DetailsCommand, []string{"foot", "journalctl", "SECMON_SEQ={seq}"}) ||
		c.LogLevel != slog.LevelDebug {
		t.Errorf("got %+v", c)
	}
	if q := c.QuietHours; q == nil || q.Start != 22*60+30 || q.End != 7*60 {
		t.Errorf("quiet hours %+v", c.QuietHours)
	}
	o := c.Types["SshLoginFailed"]
	if o.MinSeverity == nil || *o.MinSeverity != severity.Low || o.Urgency == nil || *o.Urgency != present.UrgencyNormal {
		t.Errorf("SshLoginFailed override %+v", o)
	}
	if c.Types["UsbDeviceInserted"].Icon != "drive-removable-media-usb" {
		t.Errorf("UsbDeviceInserted override %+v", c.Types["UsbDeviceInserted"])
	}
}

// The shipped example is valid and says the defaults.
func TestExampleIsValidAndDefault(t *testing.T) {
	c, err := config.Load("../../../data/notifier.example.toml", true)
	if err != nil {
		t.Fatal(err)
	}
	d := config.Defaults()
	if c.MinSeverity != d.MinSeverity || len(c.MutedTypes) != 0 || c.DaemonAbsentWarning != d.DaemonAbsentWarning ||
		c.DetailsCommand != nil || c.QuietHours != nil || len(c.Types) != 0 || c.LogLevel != d.LogLevel {
		t.Errorf("the example's values are not the defaults: %+v", c)
	}
}

// What a file leaves out keeps its default; an empty file is the defaults.
func TestUnsetKeysKeepDefaults(t *testing.T) {
	d := config.Defaults()
	for _, tt := range []struct {
		name, doc string
		changed   func(*config.Config) bool
	}{
		{"empty", "", func(*config.Config) bool { return false }},
		{"min_severity only", `min_severity = "Low"`, func(c *config.Config) bool { return c.MinSeverity == severity.Low }},
		{"details_command = []", `details_command = []`, func(c *config.Config) bool { return c.DetailsCommand == nil }},
		{"a type override only", "[types.FileCreate]\nicon = \"x\"", func(c *config.Config) bool { return c.Types["FileCreate"].Icon == "x" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("x.toml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.Source != "x.toml" || c.DaemonAbsentWarning != d.DaemonAbsentWarning || c.QuietHours != nil || c.LogLevel != d.LogLevel || len(c.MutedTypes) != 0 {
				t.Errorf("defaults lost: %+v", c)
			}
			if tt.name != "min_severity only" && c.MinSeverity != d.MinSeverity {
				t.Errorf("min_severity %v, want the default %v", c.MinSeverity, d.MinSeverity)
			}
			if tt.name != "empty" && !tt.changed(c) {
				t.Errorf("the key was not applied: %+v", c)
			}
		})
	}
}

// Every bad key is reported at once, in the order of the checks.
func TestEveryErrorIsReported(t *testing.T) {
	doc := "min_severity = \"Severe\"\nlog_level = \"loud\"\ndaemon_absent_warning = \"-1s\"\n[types.FileCreate]\nmin_severity = \"x\"\n"
	_, err := config.Parse("x.toml", []byte(doc))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`x.toml:1:1: key min_severity: unknown severity "Severe" (want Low, Medium, High or Critical)`,
		"x.toml:3:1: key daemon_absent_warning: negative duration -1s",
		`x.toml:2:1: key log_level: unknown level "loud" (want debug, info, warn or error)`,
		`x.toml:5:1: key types.FileCreate.min_severity: unknown severity "x" (want Low, Medium, High or Critical)`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "notifier.toml")
	c, err := config.Load(missing, false)
	if err != nil || c.Source != "" || c.MinSeverity != severity.Medium {
		t.Fatalf("a missing file: %+v, %v; want the defaults", c, err)
	}
	if _, err := config.Load(missing, true); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("a missing file named explicitly: %v", err)
	}
}

// Every error names file, line, column and key.
func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"unknown-key.toml", []string{"testdata/unknown-key.toml:2:1: key muted_type: unknown key"}},
		{"bad-severity.toml", []string{`testdata/bad-severity.toml:3:1: key min_severity: unknown severity "Severe"`}},
		{"wrong-type.toml", []string{"testdata/wrong-type.toml:1:", "key daemon_absent_warning"}},
		{"unknown-type.toml", []string{`testdata/unknown-type.toml:1:1: key muted_types: unknown event type "FileCreat"`}},
		{"bad-quiet.toml", []string{`testdata/bad-quiet.toml:3:1: key quiet_hours.end: not a time of day like "22:30": "7h"`}},
		{"half-quiet.toml", []string{"testdata/half-quiet.toml:1:2: key quiet_hours.end: missing"}},
		{"bad-types.toml", []string{`testdata/bad-types.toml:2:1: key types.CameraAccess.urgency: unknown urgency "loud"`,
			`testdata/bad-types.toml:4:2: key types.Camera: unknown event type "Camera"`}},
		{"empty-program.toml", []string{"testdata/empty-program.toml:1:1: key details_command: the program (first element) is empty"}},
		{"bad-duration.toml", []string{`testdata/bad-duration.toml:1:1: key daemon_absent_warning: not a duration`}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata", tt.file), true)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Every type of the contract may be muted and overridden, by its name.
func TestEveryContractTypeIsKnown(t *testing.T) {
	var b strings.Builder
	b.WriteString("muted_types = [")
	for i, typ := range secmondbus.Types() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", typ)
	}
	b.WriteString("]\n")
	for _, typ := range secmondbus.Types() {
		fmt.Fprintf(&b, "[types.%s]\nicon = \"x\"\n", typ)
	}
	c, err := config.Parse("all.toml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range secmondbus.Types() {
		if !c.MutedTypes[typ] || c.Types[typ].Icon != "x" {
			t.Errorf("%s: muted %v, override %+v", typ, c.MutedTypes[typ], c.Types[typ])
		}
	}
}

func TestQuietHoursSpan(t *testing.T) {
	day := func(h, m int) time.Time { return time.Date(2025, 9, 25, h, m, 0, 0, time.UTC) }
	night := config.QuietHours{Start: 22*60 + 30, End: 7 * 60}
	lunch := config.QuietHours{Start: 12 * 60, End: 13 * 60}
	for _, tt := range []struct {
		q    config.QuietHours
		at   time.Time
		in   bool
		ends time.Time
	}{
		{night, day(23, 0), true, day(31, 0)},
		{night, day(3, 0), true, day(7, 0)},
		{night, day(7, 0), false, day(31, 0)},
		{night, day(22, 29), false, day(31, 0)},
		{lunch, day(12, 30), true, day(13, 0)},
		{lunch, day(13, 0), false, day(37, 0)},
	} {
		if got := tt.q.Contains(tt.at); got != tt.in {
			t.Errorf("%+v.Contains(%v) = %v", tt.q, tt.at, got)
		}
		if got := tt.q.NextEnd(tt.at); !got.Equal(tt.ends) {
			t.Errorf("%+v.NextEnd(%v) = %v, want %v", tt.q, tt.at, got, tt.ends)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x/conf")
	if got := config.DefaultPath(); got != "/x/conf/secmon/notifier.toml" {
		t.Errorf("with XDG_CONFIG_HOME: %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/alice")
	if got := config.DefaultPath(); got != "/home/alice/.config/secmon/notifier.toml" {
		t.Errorf("without: %q", got)
	}
}
