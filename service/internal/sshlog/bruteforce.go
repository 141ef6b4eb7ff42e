package sshlog

import (
	"time"

	"github.com/pantheros/secmon/service/internal/lru"
)

// Defaults in the spirit of fail2ban's sshd jail (maxretry 5, findtime 10m).
const (
	DefaultThreshold    = 5
	DefaultWindow       = 10 * time.Minute
	DefaultMaxAddresses = 4096
	// maxUsers bounds the names kept per alert; a spray over thousands of
	// names is reported by its first ones.
	maxUsers = 16
)

// DetectorConfig sets when an address counts as brute-forcing.
type DetectorConfig struct {
	// Threshold failures within Window make one alert.
	Threshold int
	Window    time.Duration
	// MaxAddresses bounds the addresses tracked at once; beyond it the
	// least recently active one is forgotten (see Detector.Evictions).
	MaxAddresses int
}

// BruteForce is one alert: Count failures from RemoteIP within Window.
type BruteForce struct {
	RemoteIP string
	Count    int
	Window   time.Duration
	// Users are the distinct names tried in those failures, first seen
	// first, at most 16.
	Users []string
	// First and Last are the times of the first and last counted failure.
	First, Last time.Time
}

// Detector counts failed logins per remote address. It never looks at a
// clock: every Observe passes the time of the message, so it is a pure
// function of its input (and the tests drive the time).
//
// What counts is one per attempt, not one per line, because sshd logs
// several lines for one attempt: "Failed METHOD" and "Too many
// authentication failures" count one each; "Invalid user" and "not
// allowed" count one each (a connection that probes a name and leaves
// logs nothing else), and the next "Failed … for invalid user" from that
// address is then part of the same attempt and counts nothing; PAM's
// failure lines accompany a "Failed" line and count nothing. Messages
// without an address count nothing.
//
// Not safe for concurrent use.
type Detector struct {
	cfg       DetectorConfig
	addrs     *lru.Cache[string, *tracked] // the least recently active goes first
	evictions uint64
}

type tracked struct {
	ip string
	// The last Threshold counted failures, a ring.
	at    []time.Time
	users []string
	next  int
	n     int
	// credits are invalid-user connections whose first "Failed … for
	// invalid user" is still to come.
	credits int
	alerted time.Time // zero: never
	last    time.Time
}

// NewDetector applies the defaults to zero fields.
func NewDetector(cfg DetectorConfig) *Detector {
	if cfg.Threshold <= 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
	}
	return &Detector{cfg: cfg, addrs: lru.New[string, *tracked](cfg.MaxAddresses)}
}

// SetLimits changes the threshold and the window (zero: the default) and
// keeps what was counted: each address keeps its newest failures, up to the
// new threshold, so a reload that changes the limits forgets nothing that
// still counts under them.
func (d *Detector) SetLimits(threshold int, window time.Duration) {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	if window <= 0 {
		window = DefaultWindow
	}
	old := d.cfg.Threshold
	d.cfg.Threshold, d.cfg.Window = threshold, window
	if threshold == old {
		return
	}
	for _, tr := range d.addrs.All() {
		at, users := make([]time.Time, threshold), make([]string, threshold)
		keep := min(tr.n, threshold)
		// The newest keep entries, oldest first: they end just before
		// next in the old ring.
		for i := range keep {
			j := (tr.next - keep + i + old) % old
			at[i], users[i] = tr.at[j], tr.users[j]
		}
		tr.at, tr.users, tr.n, tr.next = at, users, keep, keep%threshold
		tr.credits = min(tr.credits, threshold)
	}
}

// Config is the configuration in use, defaults applied.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// Evictions counts addresses forgotten while their failures were still
// within the window, because MaxAddresses were tracked: an attack spread
// over more addresses than that may go unreported.
func (d *Detector) Evictions() uint64 { return d.evictions }

// Observe takes one parsed message logged at time at. It returns an alert
// when the message's address reaches Threshold counted failures within
// Window, at most once per address per Window.
func (d *Detector) Observe(at time.Time, e Entry) (BruteForce, bool) {
	if !e.Kind.IsFailure() || e.RemoteIP == "" {
		return BruteForce{}, false
	}
	d.expire(at)
	tr, ok := d.addrs.Get(e.RemoteIP)
	if !ok {
		tr = &tracked{ip: e.RemoteIP, at: make([]time.Time, d.cfg.Threshold), users: make([]string, d.cfg.Threshold)}
		if _, _, evicted := d.addrs.Add(e.RemoteIP, tr); evicted {
			d.evictions++
		}
	}
	if at.Before(tr.last) {
		at = tr.last // journal files interleave; time must not go back
	}
	tr.last = at

	switch e.Kind {
	case PAMFailure:
		return BruteForce{}, false
	case InvalidUser, NotAllowed:
		tr.credits = min(tr.credits+1, d.cfg.Threshold)
	case Failed:
		if e.InvalidUser && tr.credits > 0 {
			tr.credits--
			return BruteForce{}, false
		}
	}
	tr.at[tr.next], tr.users[tr.next] = at, e.User
	tr.next = (tr.next + 1) % d.cfg.Threshold
	tr.n = min(tr.n+1, d.cfg.Threshold)

	oldest := tr.at[tr.next] // once the ring is full, next is the oldest
	if tr.n < d.cfg.Threshold || at.Sub(oldest) >= d.cfg.Window ||
		!tr.alerted.IsZero() && at.Sub(tr.alerted) < d.cfg.Window {
		return BruteForce{}, false
	}
	tr.alerted = at
	bf := BruteForce{RemoteIP: tr.ip, Count: tr.n, Window: d.cfg.Window, First: oldest, Last: at}
	seen := map[string]bool{}
	for i := range tr.n {
		u := tr.users[(tr.next+i)%d.cfg.Threshold]
		if !seen[u] && len(bf.Users) < maxUsers {
			seen[u] = true
			bf.Users = append(bf.Users, u)
		}
	}
	return bf, true
}

// expire forgets addresses whose last failure (and so their alert, which
// is never later) is a window old: nothing they did still counts.
func (d *Detector) expire(now time.Time) {
	for {
		_, tr, ok := d.addrs.Oldest()
		if !ok || now.Sub(tr.last) < d.cfg.Window {
			return
		}
		d.addrs.RemoveOldest()
	}
}
