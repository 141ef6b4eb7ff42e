package lru_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pantheros/secmon/service/internal/lru"
)

// keys lists the cache's keys oldest first.
func keys(c *lru.Cache[string, int]) []string {
	var ks []string
	for k := range c.All() {
		ks = append(ks, k)
	}
	return ks
}

func TestCache(t *testing.T) {
	// Each step is an operation on a cache of 3 and the keys it should
	// then hold, oldest first; "evict" is what Add handed back.
	type step struct {
		op, key string
		want    []string
		evict   string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"insertion order", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"add", "c", []string{"a", "b", "c"}, ""},
		}},
		{"full: the oldest goes", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"add", "c", []string{"a", "b", "c"}, ""},
			{"add", "d", []string{"b", "c", "d"}, "a"},
			{"add", "e", []string{"c", "d", "e"}, "b"},
		}},
		{"get makes newest", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"add", "c", []string{"a", "b", "c"}, ""},
			{"get", "a", []string{"b", "c", "a"}, ""},
			{"add", "d", []string{"c", "a", "d"}, "b"},
		}},
		{"peek leaves the order", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"add", "c", []string{"a", "b", "c"}, ""},
			{"peek", "a", []string{"a", "b", "c"}, ""},
			{"add", "d", []string{"b", "c", "d"}, "a"},
		}},
		{"adding a held key evicts nothing", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"add", "c", []string{"a", "b", "c"}, ""},
			{"add", "a", []string{"b", "c", "a"}, ""},
		}},
		{"remove", []step{
			{"add", "a", []string{"a"}, ""},
			{"add", "b", []string{"a", "b"}, ""},
			{"remove", "a", []string{"b"}, ""},
			{"remove", "zz", []string{"b"}, ""},
			{"removeOldest", "", nil, ""},
			{"removeOldest", "", nil, ""},
			{"add", "c", []string{"c"}, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := lru.New[string, int](3)
			for i, s := range tc.steps {
				evicted := ""
				switch s.op {
				case "add":
					if k, v, ok := c.Add(s.key, i); ok {
						evicted = k
						if _, held := c.Peek(k); held || v < 0 {
							t.Errorf("step %d: evicted %q (%d) is still held", i, k, v)
						}
					}
					if v, ok := c.Peek(s.key); !ok || v != i {
						t.Errorf("step %d: Peek(%q) = %d, %v; want %d", i, s.key, v, ok, i)
					}
				case "get":
					if _, ok := c.Get(s.key); !ok {
						t.Errorf("step %d: Get(%q) missed", i, s.key)
					}
				case "peek":
					if _, ok := c.Peek(s.key); !ok {
						t.Errorf("step %d: Peek(%q) missed", i, s.key)
					}
				case "remove":
					c.Remove(s.key)
				case "removeOldest":
					c.RemoveOldest()
				}
				if got := keys(c); !slices.Equal(got, s.want) || c.Len() != len(s.want) {
					t.Fatalf("step %d (%s %s): keys %q (Len %d), want %q", i, s.op, s.key, got, c.Len(), s.want)
				}
				if evicted != s.evict {
					t.Errorf("step %d: evicted %q, want %q", i, evicted, s.evict)
				}
				if k, _, ok := c.Oldest(); ok != (len(s.want) > 0) || ok && k != s.want[0] {
					t.Errorf("step %d: Oldest %q, %v; want the first of %q", i, k, ok, s.want)
				}
			}
		})
	}
}

// The bound holds however many keys go by.
func TestCacheBound(t *testing.T) {
	c := lru.New[string, int](64)
	evictions := 0
	for i := range 10000 {
		if _, _, ok := c.Add(fmt.Sprint(i), i); ok {
			evictions++
		}
		if i%3 == 0 {
			c.Get(fmt.Sprint(i / 2))
		}
		if c.Len() > 64 {
			t.Fatalf("after %d adds: Len %d > 64", i+1, c.Len())
		}
	}
	if c.Len() != 64 || evictions != 10000-64 {
		t.Errorf("Len %d, evictions %d; want 64 and %d", c.Len(), evictions, 10000-64)
	}
}

func TestNewPanicsOnNoRoom(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(0) did not panic")
		}
	}()
	lru.New[string, int](0)
}
