package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/netmon/ratelimit"
)

type occ struct {
	at  time.Duration
	key string
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2025, 9, 25, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		window time.Duration
		max    int
		occs   []occ
		// let lists the indexes let through; then Due at the end time
		// (at) must give the summaries.
		let  []int
		end  time.Duration
		want []string // "key:suppressed:value"
	}{
		{"first through, repeats counted", time.Minute, 10,
			[]occ{{0, "a"}, {time.Second, "a"}, {2 * time.Second, "a"}},
			[]int{0}, time.Minute, []string{"a:2:2"}},
		{"keys are apart", time.Minute, 10,
			[]occ{{0, "a"}, {0, "b"}, {time.Second, "a"}},
			[]int{0, 1}, time.Minute, []string{"a:1:2"}},
		{"a new window lets one through again", time.Minute, 10,
			[]occ{{0, "a"}, {30 * time.Second, "a"}, {61 * time.Second, "a"}},
			[]int{0, 2}, 2 * time.Minute, []string{"a:1:1"}},
		{"no repeats, no summary", time.Minute, 10,
			[]occ{{0, "a"}, {0, "b"}},
			[]int{0, 1}, time.Hour, nil},
		{"not due before the window ends", time.Minute, 10,
			[]occ{{0, "a"}, {time.Second, "a"}},
			[]int{0}, 59 * time.Second, nil},
		{"window 0 lets all through", 0, 10,
			[]occ{{0, "a"}, {0, "a"}, {0, "a"}},
			[]int{0, 1, 2}, time.Hour, nil},
		{"full: the oldest is ended early with its count", time.Minute, 2,
			[]occ{{0, "a"}, {time.Second, "a"}, {2 * time.Second, "b"}, {3 * time.Second, "c"}, {4 * time.Second, "a"}},
			// c pushes a out (summary a:1), so the a at 4 s starts anew
			// and pushes b out (no repeats, no summary).
			[]int{0, 2, 3, 4}, 4 * time.Second, []string{"a:1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ratelimit.New[string, int](tt.window, tt.max)
			var let []int
			for i, o := range tt.occs {
				if l.Allow(o.key, i, t0.Add(o.at)) {
					let = append(let, i)
				}
			}
			if fmt.Sprint(let) != fmt.Sprint(tt.let) {
				t.Fatalf("let through %v, want %v", let, tt.let)
			}
			var got []string
			for _, s := range l.Due(t0.Add(tt.end)) {
				got = append(got, fmt.Sprintf("%s:%d:%d", s.Key, s.Suppressed, s.Last))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("summaries %v, want %v", got, tt.want)
			}
		})
	}
}

// Next asks for a wake-up only while something is counted.
func TestLimiterNext(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := ratelimit.New[string, int](time.Minute, 100)
	if _, ok := l.Next(); ok {
		t.Fatal("empty limiter wants a wake-up")
	}
	l.Allow("a", 1, t0)
	l.Allow("b", 1, t0.Add(time.Second))
	if _, ok := l.Next(); ok {
		t.Fatal("limiter with nothing counted wants a wake-up")
	}
	l.Allow("b", 2, t0.Add(2*time.Second))
	at, ok := l.Next()
	if !ok || !at.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("Next = %v %v, want b's window end", at, ok)
	}
	if s := l.Due(at); len(s) != 1 || s[0].Key != "b" || s[0].Suppressed != 1 {
		t.Fatalf("Due = %+v", s)
	}
	if _, ok := l.Next(); ok {
		t.Fatal("still wants a wake-up after the summary")
	}
	if l.Len() != 0 {
		t.Fatalf("follows %d keys after all windows ended", l.Len())
	}
}

func TestLimiterIsBounded(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := ratelimit.New[int, int](time.Hour, 50)
	let, suppressed := 0, 0
	for i := range 10000 {
		key := i // cold keys push the hot ones out…
		if i%3 != 0 {
			key = -1 - i%5 // …while these repeat
		}
		if l.Allow(key, i, t0) {
			let++
		}
		for _, s := range l.Due(t0) {
			suppressed += s.Suppressed
		}
		if l.Len() > 50 {
			t.Fatalf("follows %d keys, want at most 50", l.Len())
		}
	}
	for _, s := range l.Due(t0.Add(2 * time.Hour)) {
		suppressed += s.Suppressed
	}
	// Every occurrence was let through or is in a summary: none is lost.
	if suppressed == 0 {
		t.Fatal("nothing was suppressed: the test proves nothing")
	}
	if let+suppressed != 10000 {
		t.Fatalf("let through %d + summarised %d = %d, want 10000", let, suppressed, let+suppressed)
	}
}
