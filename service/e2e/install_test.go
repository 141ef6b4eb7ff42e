package e2e_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// make install DESTDIR=… PREFIX=/usr lays out what a distribution package
// ships, with the units pointing at the installed binaries.
func TestMakeInstallLayout(t *testing.T) {
	for _, p := range []string{"make", "scdoc"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian: %s)", p, p)
		}
	}
	dest := t.TempDir()
	build := t.TempDir()
	cmd := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/usr", "VERSION=9.9.9-test", "BUILD="+build)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	// Once built, installing again needs no Go (sudo make install, a
	// packaging step of its own): a GO that does not exist must not matter.
	again := exec.Command("make", "-C", "../..", "install", "DESTDIR="+t.TempDir(), "PREFIX=/usr", "VERSION=9.9.9-test", "BUILD="+build, "GO=/nonexistent/go")
	if out, err := again.CombinedOutput(); err != nil {
		t.Errorf("make install after make, without Go: %v\n%s", err, out)
	}
	var got []string
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dest, p)
			got = append(got, "/"+rel)
		}
		return nil
	})
	sort.Strings(got)
	want := []string{
		"/usr/bin/secmon-client",
		"/usr/bin/secmon-daemon",
		"/usr/bin/secmon-notifier",
		"/usr/lib/systemd/user/secmon-notifier.service",
		"/usr/share/applications/secmon-notifier.desktop",
		"/usr/share/doc/secmon/notifier.example.toml",
		"/usr/share/man/man1/secmon-notifier.1",
		"/usr/lib/systemd/catalog/secmon.catalog",
		"/usr/lib/systemd/system/secmon.service",
		"/usr/lib/systemd/system/secmon.socket",
		"/usr/lib/sysusers.d/secmon.conf",
		"/usr/lib/tmpfiles.d/secmon.conf",
		"/usr/share/bash-completion/completions/secmon-client",
		"/usr/share/dbus-1/interfaces/org.pantheros.Secmon1.xml",
		"/usr/share/dbus-1/system-services/org.pantheros.Secmon.service",
		"/usr/share/dbus-1/system.d/org.pantheros.Secmon.conf",
		"/usr/share/doc/secmon/README.md",
		"/usr/share/doc/secmon/secmon.example.toml",
		"/usr/share/fish/vendor_completions.d/secmon-client.fish",
		"/usr/share/man/man1/secmon-client.1",
		"/usr/share/man/man5/secmon.toml.5",
		"/usr/share/man/man7/secmon-dbus.7",
		"/usr/share/man/man8/secmon-daemon.8",
		"/usr/share/zsh/site-functions/_secmon-client",
	}
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("make install did not install %s; installed:\n%s", w, strings.Join(got, "\n"))
		}
	}
	unit := string(mustRead(t, filepath.Join(dest, "usr/lib/systemd/system/secmon.service")))
	if !strings.Contains(unit, "\nExecStart=/usr/bin/secmon-daemon ") {
		t.Errorf("installed secmon.service does not start /usr/bin/secmon-daemon:\n%s", unit)
	}
	for _, b := range []string{"secmon-daemon", "secmon-client", "secmon-notifier"} {
		out, _ := exec.Command(filepath.Join(dest, "usr/bin", b), "-version").CombinedOutput()
		if !strings.Contains(string(out), "9.9.9-test") {
			t.Errorf("%s -version = %q, want the VERSION make was given", b, out)
		}
		fi, err := os.Stat(filepath.Join(dest, "usr/bin", b))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", b, fi.Mode(), err)
		}
	}
}
