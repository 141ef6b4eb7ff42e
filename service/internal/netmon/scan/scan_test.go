package scan_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/netmon/scan"
)

type touch struct {
	at    time.Duration // since t0
	from  string
	proto string
	port  uint16
}

func TestDetector(t *testing.T) {
	t0 := time.Date(2025, 9, 25, 14, 0, 0, 0, time.UTC)
	seq := func(from string, start time.Duration, step time.Duration, ports ...uint16) []touch {
		var ts []touch
		for i, p := range ports {
			ts = append(ts, touch{start + time.Duration(i)*step, from, "tcp", p})
		}
		return ts
	}
	ports := func(from, to uint16) []uint16 {
		var ps []uint16
		for p := from; p <= to; p++ {
			ps = append(ps, p)
		}
		return ps
	}
	cat := func(parts ...[]touch) []touch {
		var all []touch
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name    string
		touches []touch
		// want lists, for each scan reported, the index of the touch that
		// reported it and its port list.
		want map[int]string
	}{
		{"nine ports is not a scan", seq("192.0.2.1", 0, time.Second, ports(1, 9)...), nil},
		{"ten ports is one", seq("192.0.2.1", 0, time.Second, ports(1, 10)...),
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,6/tcp,7/tcp,8/tcp,9/tcp,10/tcp"}},
		{"twenty ports within the window are one", seq("192.0.2.1", 0, 100*time.Millisecond, ports(1, 20)...),
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,6/tcp,7/tcp,8/tcp,9/tcp,10/tcp"}},
		{"repeats of one port are not a scan", seq("192.0.2.1", 0, time.Second, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22), nil},
		{"ten ports spread over more than the window are not", seq("192.0.2.1", 0, 7*time.Second, ports(1, 10)...), nil},
		{"two addresses are counted apart", cat(
			seq("192.0.2.1", 0, time.Second, ports(1, 5)...),
			seq("192.0.2.2", 0, time.Second, ports(6, 10)...)), nil},
		{"again after the window", cat(
			seq("192.0.2.1", 0, time.Second, ports(1, 10)...),
			seq("192.0.2.1", 70*time.Second, time.Second, ports(11, 20)...)),
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,6/tcp,7/tcp,8/tcp,9/tcp,10/tcp",
				19: "11/tcp,12/tcp,13/tcp,14/tcp,15/tcp,16/tcp,17/tcp,18/tcp,19/tcp,20/tcp"}},
		{"quiet for one window after a report", seq("192.0.2.1", 0, 4*time.Second, ports(1, 30)...),
			// reported at 36 s (ports 1–10), quiet until 96 s; the six touches
			// from then on (24–29) are not enough for a second one.
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,6/tcp,7/tcp,8/tcp,9/tcp,10/tcp"}},
		{"tcp and udp ports are distinct", cat(
			seq("192.0.2.1", 0, time.Second, ports(1, 5)...),
			[]touch{{6 * time.Second, "192.0.2.1", "udp", 1}, {7 * time.Second, "192.0.2.1", "udp", 2},
				{8 * time.Second, "192.0.2.1", "udp", 3}, {9 * time.Second, "192.0.2.1", "udp", 53}, {10 * time.Second, "192.0.2.1", "udp", 161}}),
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,1/udp,2/udp,3/udp,53/udp,161/udp"}},
		{"an IPv4-mapped address is the IPv4 address", cat(
			seq("192.0.2.1", 0, time.Second, ports(1, 5)...),
			seq("::ffff:192.0.2.1", 5*time.Second, time.Second, ports(6, 10)...)),
			map[int]string{9: "1/tcp,2/tcp,3/tcp,4/tcp,5/tcp,6/tcp,7/tcp,8/tcp,9/tcp,10/tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := scan.New(scan.Config{Threshold: 10, Window: 60 * time.Second, MaxAddrs: 64})
			got := map[int]string{}
			for i, tc := range tt.touches {
				if s, ok := d.Touch(netip.MustParseAddr(tc.from), scan.Port{Proto: tc.proto, Num: tc.port}, t0.Add(tc.at)); ok {
					got[i] = s.PortList()
					if s.Remote != netip.MustParseAddr(tc.from).Unmap() || s.Last != t0.Add(tc.at) || s.First.After(s.Last) {
						t.Errorf("touch %d: scan %+v", i, s)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got scans %v, want %v", got, tt.want)
			}
			for i, w := range tt.want {
				if got[i] != w {
					t.Errorf("touch %d: got %q, want %q", i, got[i], w)
				}
			}
		})
	}
}

func TestDetectorReportsAgainAfterQuietWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	d := scan.New(scan.Config{Threshold: 3, Window: 10 * time.Second, MaxAddrs: 4})
	a := netip.MustParseAddr("2001:db8::1")
	n := 0
	// One port a second for 60 s: reported at 2 s, then quiet for 10 s,
	// then counting again: 3 ports more → 14 s, 26 s, 38 s, 50 s.
	var at []int
	for s := range 60 {
		if _, ok := d.Touch(a, scan.Port{Proto: "tcp", Num: uint16(1000 + s)}, t0.Add(time.Duration(s)*time.Second)); ok {
			n++
			at = append(at, s)
		}
	}
	want := []int{2, 14, 26, 38, 50}
	if len(at) != len(want) {
		t.Fatalf("reported at %v s, want %v", at, want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("reported at %v s, want %v", at, want)
		}
	}
}

// Memory is bounded: a spoofed flood from many addresses keeps at most
// MaxAddrs, forgetting the least recently active.
func TestDetectorIsBounded(t *testing.T) {
	t0 := time.Unix(0, 0)
	d := scan.New(scan.Config{Threshold: 3, Window: time.Minute, MaxAddrs: 100})
	keep := netip.MustParseAddr("198.51.100.7")
	d.Touch(keep, scan.Port{Proto: "tcp", Num: 1}, t0)
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		d.Touch(a, scan.Port{Proto: "tcp", Num: 80}, t0)
		if i%50 == 0 { // keep stays recent
			d.Touch(keep, scan.Port{Proto: "tcp", Num: 1}, t0)
		}
	}
	if d.Tracked() > 100 {
		t.Fatalf("tracks %d addresses, want at most 100", d.Tracked())
	}
	d.Touch(keep, scan.Port{Proto: "tcp", Num: 2}, t0)
	if s, ok := d.Touch(keep, scan.Port{Proto: "tcp", Num: 3}, t0); !ok || s.PortList() != "1/tcp,2/tcp,3/tcp" {
		t.Fatalf("the active address was forgotten: %v %v", s, ok)
	}
}
