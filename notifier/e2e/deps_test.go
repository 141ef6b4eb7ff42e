package e2e_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// shared are the only packages of this module outside notifier/ that the
// notifier may import: the contract, and small cgo-free leaves that both
// halves need and that import nothing of the daemon's. Anything else
// (service/…, the test harnesses dbus/dbustest and dbus/testutil, a new
// package) must be argued for here first.
var shared = map[string]bool{
	"dbus": true, // the bus contract
	// connecting to the session bus without launching one; imports only
	// godbus, which the notifier uses anyway
	"dbus/sessionbus": true,
}

// The notifier is a light session program: it imports nothing of the
// daemon (only the contract in dbus/ and the leaves in shared) and no cgo
// package, so it builds with CGO_ENABLED=0 (TestMain builds it so). Like
// tailscale's deptest.
func TestNotifierDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{len .CgoFiles}}", "../cmd/secmon-notifier")
	// With cgo on, a package that needs it shows its cgo files.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/pantheros/secmon/"
	sawContract := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkg, std, cgo := f[0], f[1] == "true", f[2] != "0"
		rel, ours := strings.CutPrefix(pkg, module)
		switch {
		case ours && strings.HasPrefix(rel, "service/"):
			t.Errorf("the notifier imports daemon code: %s", pkg)
		case ours && !strings.HasPrefix(rel, "notifier/") && !shared[rel]:
			t.Errorf("the notifier imports %s, which is neither the notifier's nor an allowed shared package", pkg)
		case !std && cgo:
			t.Errorf("the notifier imports a cgo package: %s", pkg)
		}
		sawContract = sawContract || rel == "dbus"
	}
	if !sawContract {
		t.Errorf("the notifier does not import the contract %sdbus; go list said:\n%s", module, out)
	}
}
