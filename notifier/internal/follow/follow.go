// Package follow follows secmon-daemon on the system bus and hands on every
// event once, in order, whatever happens to the daemon or the bus.
//
// It matches the contract's signals by the well-known name, follows
// NameOwnerChanged for org.pantheros.Secmon, and whenever an owner appears
// (the daemon started, restarted, or the bus came back) asks it with
// GetEventsAfter for everything after the last seq it handed on; signals
// that arrive meanwhile wait in an ordered queue and are skipped when the
// replay already had them. An EventsCoalesced summary is turned back into
// its Low and Medium events with GetEventsAfter (High and Critical ones had
// their own signal); only when that fails is the summary itself handed on.
//
// On the first connection, a daemon already running is replayed from the
// seq the notifier handed on last time (Options.ResumeAfter), or, the very
// first time, followed from its current LastSeq; a daemon that
// appears later is replayed from its first kept event, so nothing it saw
// before the notifier caught up is lost. A daemon whose LastSeq is below
// the last seq handed on restarted without its state, and is replayed from
// the start.
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Item is one thing to hand on: exactly one field is set.
type Item struct {
	Event *secmondbus.Event
	// Coalesced is an EventsCoalesced summary whose events could not be
	// fetched back.
	Coalesced *secmondbus.Coalesced
	Status    *Status
	// InUse is the daemon's list of the cameras and microphones in use
	// (GetDevicesInUse: the events that opened each), sent after each
	// replay, before the Status that says the daemon is followed.
	InUse *InUse
}

// InUse lists the opening events of the devices in use now.
type InUse struct{ Events []secmondbus.Event }

// Status says whether the daemon is being followed.
type Status struct {
	// Up: an owner of org.pantheros.Secmon is followed, and caught up.
	Up bool
	// Denied: the bus refused GetEventsAfter (the user is not in group
	// secmon), so no events will come either.
	Denied bool
	// LastSeq is the last seq handed on.
	LastSeq uint64
	// Err says why the daemon is not followed, when known.
	Err error
}

// Options configure a Follower.
type Options struct {
	// Connect opens the bus; nil is dbus.ConnectSystemBus.
	Connect func(opts ...dbus.ConnOption) (*dbus.Conn, error)
	Logger  *slog.Logger
	// PageSize bounds one GetEventsAfter answer; 0 is 500.
	PageSize uint32
	// CallTimeout bounds each call to the daemon; 0 is 10 s.
	CallTimeout time.Duration
	// ResumeAfter, when set, is the last seq handed on before this start
	// (kept by the notifier across restarts): the daemon is replayed from
	// after it, not followed from its newest event.
	ResumeAfter *uint64
}

// Follower follows the daemon. Use it from one goroutine.
type Follower struct {
	o   Options
	log *slog.Logger

	owner      string
	lastSeq    uint64
	synced     bool // lastSeq has a starting point
	sawAbsent  bool // there was a time without a daemon since start
	replayedTo uint64
	foldedTo   uint64
	up         *bool // the last Status sent, nil before the first
}

// New returns a Follower.
func New(o Options) *Follower {
	if o.Connect == nil {
		o.Connect = dbus.ConnectSystemBus
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PageSize == 0 {
		o.PageSize = 500
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 10 * time.Second
	}
	f := &Follower{o: o, log: o.Logger.With("component", "follow")}
	if o.ResumeAfter != nil {
		f.lastSeq, f.synced = *o.ResumeAfter, true
	}
	return f
}

var errLost = errors.New("lost the system bus")

// Run follows until ctx ends, reconnecting to the bus with a growing pause
// while it is unreachable. Items go to out in order.
func (f *Follower) Run(ctx context.Context, out chan<- Item) error {
	wait := 100 * time.Millisecond
	for {
		conn, err := f.o.Connect(dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()), dbus.WithContext(ctx))
		if err == nil {
			wait = 100 * time.Millisecond
			err = f.session(ctx, conn, out)
			conn.Close()
		} else {
			err = fmt.Errorf("cannot connect to the system bus: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		f.owner = ""
		f.sawAbsent = true
		f.down(ctx, out, err)
		f.log.Debug("reconnecting", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (f *Follower) session(ctx context.Context, conn *dbus.Conn, out chan<- Item) error {
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchSender(secmondbus.BusName),
		dbus.WithMatchObjectPath(secmondbus.ObjectPath), dbus.WithMatchInterface(secmondbus.Interface)); err != nil {
		return fmt.Errorf("cannot subscribe to %s: %w", secmondbus.Interface, err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, secmondbus.BusName)); err != nil {
		return fmt.Errorf("cannot follow the owner of %s: %w", secmondbus.BusName, err)
	}
	var owner string
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, secmondbus.BusName).Store(&owner)
	if err != nil && !isDBusError(err, "org.freedesktop.DBus.Error.NameHasNoOwner") {
		return fmt.Errorf("cannot ask who owns %s: %w", secmondbus.BusName, err)
	}
	if owner != "" {
		if err := f.appeared(ctx, conn, owner, out); err != nil {
			return err
		}
	} else {
		f.sawAbsent = true
		f.down(ctx, out, fmt.Errorf("%s is not on the system bus", secmondbus.BusName))
	}
	for {
		var s *dbus.Signal
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Context().Done():
			return errLost
		case s, ok = <-ch:
			if !ok {
				return errLost
			}
		}
		switch s.Name {
		case "org.freedesktop.DBus.NameOwnerChanged":
			// Any connection may send a signal of this name to ours
			// (match rules do not filter unicast signals): only the bus
			// itself says who owns the name.
			if s.Sender != busDriver || s.Path != busDriverPath {
				f.log.Warn("ignoring a NameOwnerChanged that the bus did not send", "sender", s.Sender, "path", s.Path)
				continue
			}
			name, old, now, ok := nameOwnerChanged(s.Body)
			if !ok || name != secmondbus.BusName {
				continue
			}
			switch {
			case now == "" && old == f.owner:
				f.owner = ""
				f.sawAbsent = true
				f.log.Info("secmon-daemon left the bus", "last_seq", f.lastSeq)
				f.down(ctx, out, fmt.Errorf("%s left the system bus", secmondbus.BusName))
			case now != "" && now != f.owner:
				if err := f.appeared(ctx, conn, now, out); err != nil {
					return err
				}
			}
		case secmondbus.SignalEventMember:
			if !f.fromOwner(s) {
				continue
			}
			ev, err := secmondbus.DecodeEvent(s.Body)
			if err != nil {
				f.log.Warn("ignoring a malformed Event signal", "err", err)
				continue
			}
			if ev.Seq > f.lastSeq+1 && !f.backed(ctx, conn, ev.Seq) {
				continue
			}
			if ev.Seq > f.lastSeq {
				f.lastSeq = ev.Seq
				if !send(ctx, out, Item{Event: &ev}) {
					return nil
				}
			}
		case secmondbus.SignalCoalescedMember:
			if !f.fromOwner(s) {
				continue
			}
			c, err := secmondbus.DecodeCoalesced(s.Body)
			if err != nil {
				f.log.Warn("ignoring a malformed EventsCoalesced signal", "err", err)
				continue
			}
			if c.LastSeq > f.lastSeq && !f.backed(ctx, conn, c.LastSeq) {
				continue
			}
			if err := f.unfold(ctx, conn, c, out); err != nil {
				return err
			}
		}
	}
}

// The bus driver: the only sender whose NameOwnerChanged is believed.
const (
	busDriver     = "org.freedesktop.DBus"
	busDriverPath = "/org/freedesktop/DBus"
)

// fromOwner tells whether s came from the owner of the well-known name, as
// the bus told it, on the contract's object path. The sender of a message
// is set by the bus and cannot be forged; the owner is learned only from
// GetNameOwner and the bus's own NameOwnerChanged.
func (f *Follower) fromOwner(s *dbus.Signal) bool {
	if f.owner == "" || s.Sender != f.owner || s.Path != secmondbus.ObjectPath {
		if s.Sender != f.owner {
			f.log.Debug("ignoring a signal not sent by secmon-daemon", "sender", s.Sender, "owner", f.owner, "member", s.Name)
		}
		return false
	}
	return true
}

// backed tells whether the daemon's LastSeq reaches seq. A seq beyond it
// would make every real event after it look old, so it is never taken on
// the signal's word: a signal whose seq jumps past the last one handed on
// is checked against the property first (jumps are rare: a folded storm
// or a drop).
func (f *Follower) backed(ctx context.Context, conn *dbus.Conn, seq uint64) bool {
	newest, err := f.daemonLastSeq(ctx, conn.Object(secmondbus.BusName, secmondbus.ObjectPath))
	if err != nil {
		f.log.Warn("cannot check a signal's seq against secmon-daemon's LastSeq; ignoring the signal", "seq", seq, "err", err)
		return false
	}
	if seq > newest {
		f.log.Warn("ignoring a signal whose seq is beyond secmon-daemon's LastSeq", "seq", seq, "daemon_last_seq", newest)
		return false
	}
	return true
}

// appeared starts following a new owner: find where to start, replay.
func (f *Follower) appeared(ctx context.Context, conn *dbus.Conn, owner string, out chan<- Item) error {
	f.owner = owner
	obj := conn.Object(secmondbus.BusName, secmondbus.ObjectPath)
	newest, err := f.daemonLastSeq(ctx, obj)
	if err != nil {
		// GetEventsAfter answers with the newest seq too.
		var err2 error
		if _, newest, err2 = f.getEventsAfter(ctx, obj, ^uint64(0)); err2 == nil {
			err = nil
		}
	}
	switch {
	case !f.synced && !f.sawAbsent && err == nil:
		f.lastSeq = newest // running before us: its history is not news
	case !f.synced:
		f.lastSeq = 0
	case err == nil && newest < f.lastSeq:
		f.log.Warn("secmon-daemon's event numbers went back (restarted without its state?); replaying all it kept",
			"last_seq", f.lastSeq, "daemon_last_seq", newest)
		f.lastSeq = 0
	}
	f.synced = true
	f.replayedTo, f.foldedTo = f.lastSeq, f.lastSeq
	replayed, denied, err := f.replay(ctx, obj, out)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil && !denied {
		return err
	}
	if !denied {
		f.devicesInUse(ctx, obj, out)
	}
	f.log.Info("following secmon-daemon", "owner", owner, "replayed", replayed, "last_seq", f.lastSeq, "denied", denied)
	up := true
	f.up = &up
	st := &Status{Up: true, Denied: denied, LastSeq: f.lastSeq}
	if denied {
		st.Err = err
	}
	send(ctx, out, Item{Status: st})
	return nil
}

// replay hands on every kept event after lastSeq.
func (f *Follower) replay(ctx context.Context, obj dbus.BusObject, out chan<- Item) (n int, denied bool, err error) {
	for {
		evs, last, err := f.getEventsAfter(ctx, obj, f.lastSeq)
		if err != nil {
			denied := isDBusError(err, "org.freedesktop.DBus.Error.AccessDenied")
			return n, denied, fmt.Errorf("cannot replay secmon's events: %w", err)
		}
		if len(evs) > 0 && evs[len(evs)-1].Seq <= f.lastSeq {
			return n, false, fmt.Errorf("cannot replay secmon's events: an answer after %d held none newer", f.lastSeq)
		}
		for i := range evs {
			if evs[i].Seq <= f.lastSeq {
				continue
			}
			f.lastSeq = evs[i].Seq
			n++
			if !send(ctx, out, Item{Event: &evs[i]}) {
				return n, false, ctx.Err()
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].Seq >= last {
			// Everything up to last was in the answers. (An answer may
			// hold fewer than PageSize events while more are kept: the
			// daemon bounds its size.)
			f.replayedTo = max(f.replayedTo, last)
			return n, false, nil
		}
	}
}

// unfold hands on the Low and Medium events a summary stands for.
func (f *Follower) unfold(ctx context.Context, conn *dbus.Conn, c secmondbus.Coalesced, out chan<- Item) error {
	done := max(f.replayedTo, f.foldedTo)
	if c.LastSeq <= done {
		return nil
	}
	obj := conn.Object(secmondbus.BusName, secmondbus.ObjectPath)
	after := max(c.FirstSeq-1, done)
	fetched := 0
	for after < c.LastSeq {
		evs, _, err := f.getEventsAfter(ctx, obj, after)
		if err != nil {
			f.log.Warn("cannot fetch the events of a storm; showing its counts", "first_seq", c.FirstSeq, "last_seq", c.LastSeq, "err", err)
			send(ctx, out, Item{Coalesced: &c})
			break
		}
		if len(evs) == 0 {
			break // no longer kept: the daemon reports that itself
		}
		for i := range evs {
			e := &evs[i]
			after = e.Seq
			if e.Seq > c.LastSeq {
				break
			}
			if severity.Of(e.Severity) >= severity.High {
				continue // had its own Event signal
			}
			fetched++
			if !send(ctx, out, Item{Event: e}) {
				return nil
			}
		}
	}
	f.log.Debug("unfolded a storm", "count", c.Count, "fetched", fetched)
	f.foldedTo = c.LastSeq
	f.lastSeq = max(f.lastSeq, c.LastSeq)
	return nil
}

// devicesInUse hands on the daemon's list of devices in use; a daemon too
// old to have GetDevicesInUse is skipped.
func (f *Follower) devicesInUse(ctx context.Context, obj dbus.BusObject, out chan<- Item) {
	ctx, cancel := context.WithTimeout(ctx, f.o.CallTimeout)
	defer cancel()
	var evs []secmondbus.Event
	if err := obj.CallWithContext(ctx, secmondbus.Interface+"."+secmondbus.MethodGetDevicesInUse, 0).Store(&evs); err != nil {
		f.log.Warn("cannot ask which devices are in use", "err", err)
		return
	}
	send(ctx, out, Item{InUse: &InUse{Events: evs}})
}

func (f *Follower) getEventsAfter(ctx context.Context, obj dbus.BusObject, after uint64) ([]secmondbus.Event, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.CallTimeout)
	defer cancel()
	var evs []secmondbus.Event
	var last uint64
	err := obj.CallWithContext(ctx, secmondbus.Interface+"."+secmondbus.MethodGetEventsAfter, 0, after, f.o.PageSize).Store(&evs, &last)
	return evs, last, err
}

// daemonLastSeq reads the LastSeq property (public under the shipped
// policy).
func (f *Follower) daemonLastSeq(ctx context.Context, obj dbus.BusObject) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.CallTimeout)
	defer cancel()
	var v dbus.Variant
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, secmondbus.Interface, "LastSeq").Store(&v); err != nil {
		return 0, fmt.Errorf("cannot read LastSeq: %w", err)
	}
	n, ok := v.Value().(uint64)
	if !ok {
		return 0, fmt.Errorf("cannot read LastSeq: it is %s, want t", v.Signature())
	}
	return n, nil
}

// down reports the daemon absent, once per absence.
func (f *Follower) down(ctx context.Context, out chan<- Item, why error) {
	if f.up != nil && !*f.up {
		return
	}
	up := false
	f.up = &up
	send(ctx, out, Item{Status: &Status{LastSeq: f.lastSeq, Err: why}})
}

func send(ctx context.Context, out chan<- Item, it Item) bool {
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

func nameOwnerChanged(body []any) (name, old, now string, ok bool) {
	if len(body) != 3 {
		return "", "", "", false
	}
	name, ok1 := body[0].(string)
	old, ok2 := body[1].(string)
	now, ok3 := body[2].(string)
	return name, old, now, ok1 && ok2 && ok3
}

func isDBusError(err error, name string) bool {
	var e dbus.Error
	if errors.As(err, &e) {
		return e.Name == name
	}
	var pe *dbus.Error
	return errors.As(err, &pe) && pe.Name == name
}
