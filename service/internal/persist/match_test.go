package persist

import (
	"strings"
	"testing"
)

// inTree and inHomeTree are the allocation-free forms of the string
// concatenations Spot once made per event; they must say the same.
func FuzzMatchers(f *testing.F) {
	for _, s := range []struct{ p, rel string }{
		{"/home/a/.config/autostart/x.desktop", ".config/autostart"},
		{"/home/a/.config/autostartx", ".config/autostart"},
		{"/home/a/x.config/autostart", ".config/autostart"},
		{"/.local/bin", ".local/bin"},
		{".local/bin", ".local/bin"},
		{"/a/.local/bin/.local/bin", ".local/bin"},
		{"/etc/cron.d", "/etc/cron.d"},
		{"/etc/cron.daily", "/etc/cron.d"},
		{"/etc/cron.d/x", "/etc/cron.d"},
	} {
		f.Add(s.p, s.rel)
	}
	f.Fuzz(func(t *testing.T, p, rel string) {
		if want := strings.Contains(p+"/", "/"+rel+"/"); inHomeTree(p, rel) != want {
			t.Errorf("inHomeTree(%q, %q) = %v, want %v", p, rel, !want, want)
		}
		if want := p == rel || strings.HasPrefix(p, rel+"/"); inTree(p, rel) != want {
			t.Errorf("inTree(%q, %q) = %v, want %v", p, rel, !want, want)
		}
	})
}

func BenchmarkSpot(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Spot("/dev/shm/bench/s3/f12345")
	}
}

// Spot skips its lists by two tests: the path's first component, and "/."
// somewhere in it. Both hold only while every home spot is a hidden
// directory and topDir names the first component.
func TestSpotShortcuts(t *testing.T) {
	for _, s := range homeTrees {
		if !strings.HasPrefix(s.path, ".") {
			t.Errorf("home spot %q is not under a hidden directory: Spot's shortcut would miss it", s.path)
		}
	}
	for _, tc := range []struct{ p, want string }{
		{"/etc/passwd", "/etc"}, {"/etc", "/etc"}, {"/", "/"}, {"", ""}, {"/var/spool/cron/x", "/var"}, {"x/y", "x"},
	} {
		if got := topDir(tc.p); got != tc.want {
			t.Errorf("topDir(%q) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
