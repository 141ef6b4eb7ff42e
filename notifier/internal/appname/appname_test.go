package appname_test

import (
	"testing"

	"github.com/pantheros/secmon/notifier/internal/appname"
)

func TestName(t *testing.T) {
	f := appname.New([]string{"testdata/applications", "testdata/missing"})
	for _, tt := range []struct {
		name string
		d    map[string]string
		want string
	}{
		{"the executable's full path", map[string]string{"exe": "/usr/lib/firefox-esr/firefox-esr", "comm": "GeckoMain"}, "Firefox ESR"},
		{"the command name is a desktop file id", map[string]string{"comm": "firefox-esr"}, "Firefox ESR"},
		{"a Flatpak id", map[string]string{"app": "org.gnome.Cheese", "comm": "cheese", "exe": "/app/bin/cheese"}, "Cheese"},
		{"past env and its assignments", map[string]string{"exe": "/usr/bin/obs", "comm": "obs"}, "OBS Studio"},
		{"a desktop file in a subdirectory, by its Exec", map[string]string{"comm": "kdeapp"}, "KDE App"},
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
