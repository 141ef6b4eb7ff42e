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
