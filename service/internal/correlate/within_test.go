package correlate

import (
	"strings"
	"testing"
)

// within is the allocation-free form of the concatenation it replaced; it
// must say the same for every path and directory.
func FuzzWithin(f *testing.F) {
	for _, s := range [][2]string{
		{"/etc/cron.d/x", "/etc/cron.d"}, {"/etc/cron.daily", "/etc/cron.d"}, {"/etc/cron.d", "/etc/cron.d/"},
		{"/x", "/"}, {"x", "/"}, {"", ""}, {"/etc", "/etc"}, {"/etcx", "/etc"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, dir string) {
		want := p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
		if got := within(p, dir); got != want {
			t.Errorf("within(%q, %q) = %v, want %v", p, dir, got, want)
		}
	})
}
