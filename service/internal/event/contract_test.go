package event_test

import (
	"slices"
	"testing"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
)

// The bus contract names exactly the daemon's types, in the same order, and
// its severities: the notifier checks its configuration against the
// contract's list, so a type added here and not there would be refused in
// notifier.toml (and one removed here would linger there).
func TestContractNamesTheDaemonsTypes(t *testing.T) {
	var daemon []string
	for _, ti := range event.Types {
		daemon = append(daemon, string(ti.Type))
	}
	contract := secmondbus.Types()
	if !slices.Equal(daemon, contract) {
		for _, typ := range daemon {
			if !slices.Contains(contract, typ) {
				t.Errorf("the daemon's type %s is not in the contract (dbus/names.go)", typ)
			}
		}
		for _, typ := range contract {
			if event.Info(event.Type(typ)) == nil {
				t.Errorf("the contract's type %s is not the daemon's (service/internal/event/types.go)", typ)
			}
		}
		t.Fatalf("types differ (or their order does):\ndaemon   %q\ncontract %q", daemon, contract)
	}
}

func TestContractNamesTheDaemonsSeverities(t *testing.T) {
	var daemon []string
	for s := event.Low; s <= event.Critical; s++ {
		daemon = append(daemon, s.String())
	}
	if contract := secmondbus.Severities(); !slices.Equal(daemon, contract) {
		t.Fatalf("severities, least first:\ndaemon   %q\ncontract %q", daemon, contract)
	}
	// Nothing beyond the four: the daemon has no fifth name.
	if s := event.Critical + 1; s.String() != "Severity(5)" {
		t.Fatalf("the daemon names a severity beyond Critical: %s", s)
	}
}
