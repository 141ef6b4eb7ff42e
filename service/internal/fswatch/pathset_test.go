package fswatch

import "testing"

// A path set keeps the last max paths added; one taken is gone at once,
// one added again is the newest.
func TestPathSetKeepsTheNewest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		add      []string
		take     string
		has, not []string
	}{
		{"under max", []string{"a", "b"}, "", []string{"a", "b"}, []string{"c"}},
		{"full", []string{"a", "b", "c", "d"}, "", []string{"b", "c", "d"}, []string{"a"}},
		{"wrapped twice", []string{"a", "b", "c", "d", "e", "f", "g"}, "", []string{"e", "f", "g"}, []string{"a", "b", "c", "d"}},
		{"oldest added again", []string{"a", "b", "c", "a", "d"}, "", []string{"a", "c", "d"}, []string{"b"}},
		{"taken", []string{"a", "b", "c"}, "b", []string{"a", "c"}, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPathSet(3)
			for _, p := range tc.add {
				s.add(p)
			}
			if tc.take != "" && !s.take(tc.take) {
				t.Errorf("take(%q) = false", tc.take)
			}
			for _, p := range tc.has {
				if !s.has(p) {
					t.Errorf("%q forgotten", p)
				}
			}
			for _, p := range tc.not {
				if s.has(p) {
					t.Errorf("%q kept", p)
				}
			}
		})
	}
}
