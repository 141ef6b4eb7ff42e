// Package filter decides whether an event is shown: the configured minimum
// severity (per type if overridden) and muted types, the timed mutes set by
// "Mute for 1 hour", and quiet hours (Critical always passes).
//
// What the configuration leaves out is never shown and not counted: the
// user chose it. What a timed mute or quiet hours holds back is counted, and
// Due hands back one summary when the mute expires or the quiet hours end,
// so nothing is dropped without the user being told how much.
//
// A camera or microphone release follows its use: it is shown exactly when
// the matching access was, so a resident "in use" notification always gets
// its release, and a muted use stays muted to its end.
package filter

import (
	"slices"
	"sort"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/config"
	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Verdict is what happens to an event.
type Verdict int

const (
	// Show it.
	Show Verdict = iota
	// Excluded by the configuration: not shown, not counted.
	Excluded
	// Muted by the user for a while: counted.
	Muted
	// Quiet hours: counted.
	Quiet
)

func (v Verdict) String() string {
	return [...]string{"show", "excluded", "muted", "quiet"}[v]
}

// Held is a count of events held back, due for a summary.
type Held struct {
	// Why is "while muted (…)" or "during quiet hours".
	Why    string
	Count  int
	ByType map[string]int
	// After is the seq just before the first event held, for
	// secmon-client --replay-after.
	After uint64
}

type use struct {
	v   Verdict
	key incident.MuteKey // the access's, for counting its release
}

type mute struct {
	what  string
	until time.Time
	held  Held
}

// Filter is not safe for concurrent use.
type Filter struct {
	cfg      *config.Config
	mutes    map[incident.MuteKey]*mute
	uses     map[string]use // device path → what became of its access
	quiet    Held
	quietEnd time.Time
}

// New returns a filter for cfg.
func New(cfg *config.Config) *Filter {
	return &Filter{cfg: cfg, mutes: map[incident.MuteKey]*mute{}, uses: map[string]use{}}
}

// Check decides e's fate at now (local time matters for quiet hours).
func (f *Filter) Check(e secmondbus.Event, now time.Time) Verdict {
	if incident.IsDeviceRelease(e.Type) {
		if u, ok := f.uses[e.Path]; ok {
			delete(f.uses, e.Path)
			f.count(u.v, u.key, e, now)
			return u.v
		}
	}
	key := incident.MuteKey{Type: e.Type, Source: incident.Source(e)}
	v := f.decide(e, key, now)
	f.count(v, key, e, now)
	if incident.IsDeviceAccess(e.Type) {
		// One shown opener makes the whole use shown.
		if _, ok := f.uses[e.Path]; !ok || v == Show {
			f.uses[e.Path] = use{v, key}
		}
	}
	return v
}

func (f *Filter) decide(e secmondbus.Event, key incident.MuteKey, now time.Time) Verdict {
	lvl := severity.Of(e.Severity)
	min := f.cfg.MinSeverity
	if o, ok := f.cfg.Types[e.Type]; ok && o.MinSeverity != nil {
		min = *o.MinSeverity
	}
	if f.cfg.MutedTypes[e.Type] || lvl < min || expected(e) {
		return Excluded
	}
	if m := f.mutes[key]; m != nil && now.Before(m.until) {
		return Muted
	}
	if q := f.cfg.QuietHours; q != nil && lvl < severity.Critical && q.Contains(now) {
		return Quiet
	}
	return Show
}

func (f *Filter) count(v Verdict, key incident.MuteKey, e secmondbus.Event, now time.Time) {
	var h *Held
	switch v {
	case Muted:
		m := f.mutes[key]
		if m == nil {
			return // its mute is over and summarised
		}
		h = &m.held
	case Quiet:
		h = &f.quiet
		if f.quiet.Count == 0 {
			f.quietEnd = f.cfg.QuietHours.NextEnd(now)
		}
	default:
		return
	}
	if e.Seq > 0 && (h.Count == 0 || e.Seq-1 < h.After) {
		h.After = e.Seq - 1
	}
	h.Count++
	if h.ByType == nil {
		h.ByType = map[string]int{}
	}
	h.ByType[e.Type]++
}

// expected says whether e reports a state that is expected, not a
// problem: a monitor running, or unavailable where it cannot be (no
// journald in a container, no udev), or turned off in the configuration.
// The daemon's status and journal say so; a popup would only alarm.
func expected(e secmondbus.Event) bool {
	if e.Type != secmondbus.TypeMonitorStatus {
		return false
	}
	switch e.Details["state"] {
	case "running", "unavailable", "disabled", "off":
		return true
	}
	return false
}

// Unmute ends the mutes of keys (all mutes when keys is nil) at now and
// returns what they held back, as Due does.
func (f *Filter) Unmute(keys []incident.MuteKey, now time.Time) []Held {
	for k, m := range f.mutes {
		if keys == nil || slices.Contains(keys, k) {
			m.until = now
		}
	}
	return f.Due(now)
}

// Muting counts the mutes on at now, one per Mute call's what.
func (f *Filter) Muting(now time.Time) int {
	whats := map[string]bool{}
	for _, m := range f.mutes {
		if now.Before(m.until) {
			whats[m.what] = true
		}
	}
	return len(whats)
}

// Mute holds back keys until until; what names them for the summary.
func (f *Filter) Mute(keys []incident.MuteKey, what string, until time.Time) {
	for _, k := range keys {
		if m := f.mutes[k]; m != nil {
			m.until = until
			continue
		}
		f.mutes[k] = &mute{what: what, until: until, held: Held{Why: "while muted (" + what + ")"}}
	}
}

// Next is when Due next has something to do; zero when never.
func (f *Filter) Next() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, m := range f.mutes {
		consider(m.until)
	}
	if f.quiet.Count > 0 {
		consider(f.quietEnd)
	}
	return next
}

// Due ends the mutes and quiet hours that are over at now and returns what
// they held back (only those that held something).
func (f *Filter) Due(now time.Time) []Held {
	var out []Held
	// Mutes made together (one incident's keys) share a summary.
	byWhat := map[string]*Held{}
	var order []string
	for k, m := range f.mutes {
		if now.Before(m.until) {
			continue
		}
		delete(f.mutes, k)
		if m.held.Count == 0 {
			continue
		}
		h := byWhat[m.what]
		if h == nil {
			h = &Held{Why: m.held.Why, ByType: map[string]int{}, After: m.held.After}
			byWhat[m.what] = h
			order = append(order, m.what)
		}
		h.After = min(h.After, m.held.After)
		h.Count += m.held.Count
		for t, n := range m.held.ByType {
			h.ByType[t] += n
		}
	}
	sort.Strings(order)
	for _, w := range order {
		out = append(out, *byWhat[w])
	}
	if f.quiet.Count > 0 && !now.Before(f.quietEnd) {
		out = append(out, Held{Why: "during quiet hours", Count: f.quiet.Count, ByType: f.quiet.ByType, After: f.quiet.After})
		f.quiet = Held{}
	}
	return out
}
