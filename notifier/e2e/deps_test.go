package e2e_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The notifier is a light session program: it imports nothing of the
// daemon (only the contract in dbus/) and no cgo package, so it builds
// with CGO_ENABLED=0 (TestMain builds it so). Like tailscale's deptest.
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
		switch {
		case strings.HasPrefix(pkg, module+"service/"):
			t.Errorf("the notifier imports daemon code: %s", pkg)
		case pkg == module+"dbus/dbustest":
			t.Errorf("the notifier imports the test harness %s", pkg)
		case pkg == module+"dbus":
			sawContract = true
		case !std && cgo:
			t.Errorf("the notifier imports a cgo package: %s", pkg)
		}
	}
	if !sawContract {
		t.Errorf("the notifier does not import the contract %sdbus; go list said:\n%s", module, out)
	}
}
