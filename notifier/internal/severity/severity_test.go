package severity_test

import (
	"testing"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Every severity of the contract parses to its level, least first, and
// back to its name.
func TestContractSeverities(t *testing.T) {
	names := secmondbus.Severities()
	if len(names) != int(severity.Critical)+1 {
		t.Fatalf("the contract has %d severities, the notifier %d", len(names), int(severity.Critical)+1)
	}
	for i, name := range names {
		l, err := severity.Parse(name)
		if err != nil || l != severity.Level(i) || l.String() != name || severity.Of(name) != l {
			t.Errorf("Parse(%q) = %v, %v; want level %d", name, l, err, i)
		}
	}
}

func TestUnknownIsMedium(t *testing.T) {
	for _, s := range []string{"", "low", "Severe", "CRITICAL"} {
		if _, err := severity.Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted it", s)
		}
		if l := severity.Of(s); l != severity.Medium {
			t.Errorf("Of(%q) = %v, want Medium", s, l)
		}
	}
	if s := severity.Level(7).String(); s != "Level(7)" {
		t.Errorf("Level(7).String() = %q", s)
	}
}
