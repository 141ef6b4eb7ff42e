package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The user unit is tied to the graphical session, restarts on failure, and
// systemd-analyze verify finds nothing to say about it (run on a copy whose
// ExecStart names the built binary: verify checks that it exists).
func TestUserUnit(t *testing.T) {
	const unit = "../../systemd/user/secmon-notifier.service"
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"\nPartOf=graphical-session.target\n", "\nAfter=graphical-session.target\n",
		"\nWantedBy=graphical-session.target\n", "\nRestart=on-failure\n", "\nType=notify\n", "\nExecStart=/usr/bin/secmon-notifier\n", "\nNoNewPrivileges=yes\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", unit, strings.TrimSpace(want))
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	copy := filepath.Join(t.TempDir(), "secmon-notifier.service")
	text = strings.Replace(text, "\nExecStart=/usr/bin/secmon-notifier\n", "\nExecStart="+filepath.Join(bin, "secmon-notifier")+"\n", 1)
	if err := os.WriteFile(copy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", copy).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The .desktop file the desktop-entry hint names is a valid entry that
// launchers do not list.
func TestDesktopEntry(t *testing.T) {
	data, err := os.ReadFile("../../data/secmon-notifier.desktop")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"[Desktop Entry]\n", "\nType=Application\n", "\nName=Security monitor\n", "\nNoDisplay=true\n", "\nExec=secmon-notifier\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("secmon-notifier.desktop lacks %q", strings.TrimSpace(want))
		}
	}
	if _, err := exec.LookPath("desktop-file-validate"); err == nil {
		if out, err := exec.Command("desktop-file-validate", "../../data/secmon-notifier.desktop").CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("desktop-file-validate: %v\n%s", err, out)
		}
	}
}
