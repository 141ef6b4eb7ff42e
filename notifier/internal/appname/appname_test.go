package appname_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/notifier/internal/appname"
)

func TestName(t *testing.T) {
	f := appname.New([]string{"testdata/applications", "testdata/missing"})
	// The paths below need not exist here: what root installed is
	// everything outside /tmp and /home.
	appname.SetInstalled(f, func(exe string) bool {
		return !strings.HasPrefix(exe, "/tmp/") && !strings.HasPrefix(exe, "/home/")
	})
	for _, tt := range []struct {
		name string
		d    map[string]string
		want string
	}{
		{"the executable's full path", map[string]string{"exe": "/usr/lib/firefox-esr/firefox-esr", "comm": "GeckoMain"}, "Firefox ESR"},
		{"the command name is a desktop file id", map[string]string{"comm": "firefox-esr", "exe": "/usr/lib/firefox-esr/firefox-esr-bin"}, "Firefox ESR"},
		{"a command name alone is the program's claim", map[string]string{"comm": "firefox-esr"}, ""},
		{"a copy in /tmp is not the application", map[string]string{"comm": "firefox-esr", "exe": "/tmp/firefox-esr"}, ""},
		{"nor a program in a home", map[string]string{"comm": "obs", "exe": "/home/mallory/bin/obs"}, ""},
		{"a Flatpak id", map[string]string{"app": "org.gnome.Cheese", "comm": "cheese", "exe": "/app/bin/cheese"}, "Cheese"},
		{"past env and its assignments", map[string]string{"exe": "/usr/bin/obs", "comm": "obs"}, "OBS Studio"},
		{"a desktop file in a subdirectory, by its Exec", map[string]string{"comm": "kdeapp", "exe": "/usr/bin/kdeapp"}, "KDE App"},
		{"a subdirectory is part of the id", map[string]string{"app": "sub-kde-app"}, "KDE App"},
		{"a hidden entry names nothing", map[string]string{"comm": "hiddenprog", "exe": "/usr/bin/hiddenprog"}, ""},
		{"no match", map[string]string{"comm": "nc", "exe": "/usr/bin/nc.openbsd"}, ""},
		{"nothing known", map[string]string{}, ""},
		{"an action's Exec is not the entry's", map[string]string{"exe": "/usr/bin/other"}, ""},
	} {
		if got := f.Name(tt.d); got != tt.want {
			t.Errorf("%s: Name(%v) = %q, want %q", tt.name, tt.d, got, tt.want)
		}
	}
}

// The real check: a program root installed (/usr/bin/env) is; a user's
// copy named like an application is not, even where the name matches.
func TestInstalledIsRootsAndUnwritable(t *testing.T) {
	if !appname.Installed("/usr/bin/env") {
		t.Fatal("/usr/bin/env is not taken for installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("making a file another user's needs root (CI runs as root)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "firefox-esr")
	os.WriteFile(exe, nil, 0o755)
	os.Chown(exe, 65534, 65534)
	if appname.Installed(exe) {
		t.Error("a file of uid 65534 is taken for installed")
	}
	os.Chown(exe, 0, 0)
	os.Chmod(dir, 0o777)
	if appname.Installed(exe) {
		t.Error("a file in a directory anyone may write is taken for installed")
	}
}
