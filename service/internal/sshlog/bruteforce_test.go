package sshlog_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/sshlog"
)

type step struct {
	at  int // seconds after t0
	msg string
}

func failed(user, ip string) string {
	return fmt.Sprintf("Failed password for %s from %s port 4000 ssh2", user, ip)
}

func repeat(n, from, every int, msg func(i int) string) []step {
	var s []step
	for i := range n {
		s = append(s, step{from + i*every, msg(i)})
	}
	return s
}

func concat(parts ...[]step) []step {
	var s []step
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

func TestDetector(t *testing.T) {
	const ip, ip2 = "192.0.2.66", "2001:db8::66"
	root := func(int) string { return failed("root", ip) }
	type alert struct {
		step  int
		count int
		users []string
	}
	tests := []struct {
		name      string
		cfg       sshlog.DetectorConfig
		steps     []step
		want      []alert
		evictions uint64
	}{
		{"six failures: one alert at the fifth", sshlog.DetectorConfig{}, repeat(6, 0, 1, root),
			[]alert{{4, 5, []string{"root"}}}, 0},
		{"five spread over more than the window", sshlog.DetectorConfig{}, repeat(5, 0, 150, root), nil, 0},
		{"the window slides", sshlog.DetectorConfig{},
			concat(repeat(4, 0, 1, root), []step{{601, failed("root", ip)}}, repeat(4, 602, 1, root)),
			[]alert{{8, 5, []string{"root"}}}, 0},
		{"fast and long: once per window", sshlog.DetectorConfig{}, repeat(40, 0, 30, root),
			[]alert{{4, 5, []string{"root"}}, {24, 5, []string{"root"}}}, 0},
		{"two addresses counted apart", sshlog.DetectorConfig{},
			repeat(10, 0, 1, func(i int) string { return failed("root", []string{ip, ip2}[i%2]) }),
			[]alert{{8, 5, []string{"root"}}, {9, 5, []string{"root"}}}, 0},
		{"users tried, first seen first", sshlog.DetectorConfig{},
			repeat(5, 0, 1, func(i int) string { return failed([]string{"root", "admin", "root", "", "oracle"}[i], ip) }),
			[]alert{{4, 5, []string{"root", "admin", "", "oracle"}}}, 0},
		{"an invalid user and its failed password are one attempt", sshlog.DetectorConfig{},
			repeat(10, 0, 1, func(i int) string {
				if i%2 == 0 {
					return "Invalid user u" + fmt.Sprint(i) + " from " + ip + " port 4000"
				}
				return "Failed password for invalid user u" + fmt.Sprint(i-1) + " from " + ip + " port 4000 ssh2"
			}),
			[]alert{{8, 5, []string{"u0", "u2", "u4", "u6", "u8"}}}, 0},
		{"later failures of that connection count", sshlog.DetectorConfig{},
			[]step{{0, "Invalid user a from " + ip + " port 1"}, {1, "Failed password for invalid user a from " + ip + " port 1 ssh2"},
				{2, "Failed password for invalid user a from " + ip + " port 1 ssh2"}, {3, "Failed password for invalid user a from " + ip + " port 1 ssh2"},
				{4, "User root from " + ip + " not allowed because not listed in AllowUsers"},
				{5, "Failed password for invalid user root from " + ip + " port 2 ssh2"},
				{6, "Failed password for invalid user root from " + ip + " port 2 ssh2"}},
			[]alert{{6, 5, []string{"a", "root"}}}, 0},
		{"PAM, accepted and closed lines count nothing", sshlog.DetectorConfig{},
			repeat(20, 0, 1, func(i int) string {
				return []string{
					"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + ip + "  user=root",
					"Accepted password for root from " + ip + " port 4000 ssh2",
					"Connection closed by authenticating user root " + ip + " port 4000 [preauth]",
					"Connection closed by " + ip + " port 4000 [preauth]",
				}[i%4]
			}), nil, 0},
		{"too many authentication failures count", sshlog.DetectorConfig{},
			repeat(5, 0, 1, func(int) string {
				return "Disconnecting authenticating user root " + ip + " port 4000: Too many authentication failures [preauth]"
			}),
			[]alert{{4, 5, []string{"root"}}}, 0},
		{"a message without an address counts nothing", sshlog.DetectorConfig{},
			repeat(6, 0, 1, func(int) string { return "Disconnecting: Too many authentication failures for root [preauth]" }), nil, 0},
		{"threshold and window are configurable", sshlog.DetectorConfig{Threshold: 2, Window: 5 * time.Second},
			[]step{{0, failed("a", ip)}, {5, failed("b", ip)}, {6, failed("c", ip)}, {7, failed("d", ip)}, {11, failed("e", ip)}, {12, failed("f", ip)}},
			[]alert{{2, 2, []string{"b", "c"}}, {4, 2, []string{"d", "e"}}}, 0},
		{"time going back is taken as the last time", sshlog.DetectorConfig{Threshold: 3, Window: 10 * time.Second},
			[]step{{100, failed("a", ip)}, {50, failed("b", ip)}, {101, failed("c", ip)}},
			[]alert{{2, 3, []string{"a", "b", "c"}}}, 0},
		{"the least recently active address is evicted, and counted", sshlog.DetectorConfig{Threshold: 2, MaxAddresses: 2},
			[]step{{0, failed("a", "192.0.2.1")}, {1, failed("b", "192.0.2.2")}, {2, failed("c", "192.0.2.3")}, {3, failed("a", "192.0.2.1")},
				{4, failed("c", "192.0.2.3")}},
			[]alert{{4, 2, []string{"c"}}}, 2},
		{"an address a window quiet expires without eviction", sshlog.DetectorConfig{Threshold: 2, MaxAddresses: 2},
			[]step{{0, failed("a", "192.0.2.1")}, {1, failed("b", "192.0.2.2")}, {700, failed("c", "192.0.2.3")}, {701, failed("d", "192.0.2.4")},
				{702, failed("c", "192.0.2.3")}},
			[]alert{{4, 2, []string{"c"}}}, 0},
	}
	t0 := time.Date(2025, 11, 22, 5, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sshlog.NewDetector(tt.cfg)
			var got []alert
			for i, s := range tt.steps {
				e, ok := sshlog.Parse(s.msg)
				if !ok && s.msg != "" {
					t.Fatalf("step %d: cannot parse %q", i, s.msg)
				}
				if bf, fired := d.Observe(t0.Add(time.Duration(s.at)*time.Second), e); fired {
					if bf.Window != d.Config().Window || bf.Last.Before(bf.First) || bf.Last.Sub(bf.First) >= bf.Window {
						t.Errorf("step %d: alert %+v: times outside the window", i, bf)
					}
					got = append(got, alert{i, bf.Count, bf.Users})
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("alerts\n got %v\nwant %v", got, tt.want)
			}
			if d.Evictions() != tt.evictions {
				t.Errorf("evictions %d, want %d", d.Evictions(), tt.evictions)
			}
		})
	}
}

func TestDetectorMemoryIsBounded(t *testing.T) {
	d := sshlog.NewDetector(sshlog.DetectorConfig{MaxAddresses: 100})
	t0 := time.Date(2025, 11, 22, 5, 0, 0, 0, time.UTC)
	for i := range 10000 {
		e, _ := sshlog.Parse(failed("root", fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
		d.Observe(t0.Add(time.Duration(i)*time.Millisecond), e)
	}
	if d.Tracked() != 100 || d.Evictions() != 9900 {
		t.Fatalf("tracked %d, evictions %d; want 100 and 9900", d.Tracked(), d.Evictions())
	}
	// Thousands of user names from one address keep 16.
	d = sshlog.NewDetector(sshlog.DetectorConfig{Threshold: 100})
	var bf sshlog.BruteForce
	for i := range 100 {
		e, _ := sshlog.Parse(failed(fmt.Sprint("user", i), "192.0.2.1"))
		if b, ok := d.Observe(t0, e); ok {
			bf = b
		}
	}
	if bf.Count != 100 || len(bf.Users) != 16 {
		t.Fatalf("alert %d failures, %d users; want 100 and 16", bf.Count, len(bf.Users))
	}
}

// New limits keep what was counted: each address keeps its newest
// failures, up to the new threshold.
func TestSetLimitsKeepsTheCount(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := func(i int) sshlog.Entry {
		return sshlog.Entry{Kind: sshlog.Failed, RemoteIP: "192.0.2.1", User: fmt.Sprintf("u%d", i), Method: "password"}
	}
	for _, tt := range []struct {
		name              string
		from, to, before  int
		wantAfter, wantAt int // failures after SetLimits until the alert; its count
	}{
		{"lower: 4 of 6, then 5", 6, 5, 4, 1, 5},
		{"lower below what was counted: 4 of 6, then 3", 6, 3, 4, 1, 3},
		{"higher: 2 of 3, then 5", 3, 5, 2, 3, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := sshlog.NewDetector(sshlog.DetectorConfig{Threshold: tt.from, Window: time.Hour})
			n := 0
			for ; n < tt.before; n++ {
				if _, alert := d.Observe(t0.Add(time.Duration(n)*time.Second), fail(n)); alert {
					t.Fatalf("alert at %d before the change", n+1)
				}
			}
			d.SetLimits(tt.to, time.Hour)
			for i := 1; ; i++ {
				bf, alert := d.Observe(t0.Add(time.Duration(n)*time.Second), fail(n))
				n++
				if alert {
					if i != tt.wantAfter || bf.Count != tt.wantAt {
						t.Fatalf("alert after %d more with count %d, want after %d with %d", i, bf.Count, tt.wantAfter, tt.wantAt)
					}
					return
				}
				if i > tt.to {
					t.Fatalf("no alert after %d more failures", i)
				}
			}
		})
	}
}
