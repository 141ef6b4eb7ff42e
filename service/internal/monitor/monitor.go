// Package monitor is the one shape every secmon monitor has, and the set
// that runs them.
//
// A monitor is built from its configuration section by its package's New,
// and is a [Monitor]: Run until the context ends, Ready once what happens
// from then on is seen. It speaks for itself: its running, degraded or
// unavailable state goes out as an event.Status through emit before Ready
// closes. The daemon lists the monitors in a table of [Kind]s and hands it
// to a [Set], which is all it does with them.
//
// On a reload, [Set.Apply] compares each monitor's section with the one it
// runs: an unchanged monitor keeps running untouched, with its state (the
// ssh monitor's brute-force counts, the USB monitor's seen devices, the
// network monitor's listener inventory is not sent again); a changed one is
// taken in place when the monitor can ([Reconfigurer]: the ssh monitor
// takes new brute-force limits and keeps its counts), else replaced, the
// new one started and ready before the old one stops, so no event falls
// between them (one may be reported twice).
package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// Monitor is what every monitor package's Watcher is.
type Monitor interface {
	// Run watches until ctx ends and then returns nil; an error means the
	// monitor failed, and the set reports it. A monitor that cannot work
	// here says so (event.Unavailable) and returns nil.
	Run(ctx context.Context, emit func(event.Event)) error
	// Ready is closed once changes from then on are seen and the monitor
	// has said its state. It may stay open if Run fails first.
	Ready() <-chan struct{}
}

// Kind is one row of the daemon's table: a monitor's name, where its
// section is in the configuration, and how it is built from it.
type Kind struct {
	Name        string
	section     func(*config.Config) (any, bool)
	build       func(any, *slog.Logger) (Monitor, error)
	reconfigure func(Monitor, any) bool
}

// Reconfigurer is a monitor that may take a changed section in place,
// keeping its state: Reconfigure says false when it cannot (the monitor is
// then replaced). S is the monitor's section type.
type Reconfigurer[S any] interface {
	Reconfigure(section S) bool
}

// Define makes a Kind. section returns the monitor's section and whether
// the monitor is on; sections are compared with reflect.DeepEqual, so they
// hold values, not functions. build is the monitor package's New.
func Define[S any, M Monitor](name string, section func(*config.Config) (S, bool), build func(S, *slog.Logger) (M, error)) Kind {
	return Kind{
		Name:    name,
		section: func(c *config.Config) (any, bool) { return section(c) },
		build:   func(s any, log *slog.Logger) (Monitor, error) { return build(s.(S), log) },
		reconfigure: func(m Monitor, s any) bool {
			r, ok := m.(Reconfigurer[S])
			return ok && r.Reconfigure(s.(S))
		},
	}
}

// Section returns the kind's section in cfg and whether it is on.
func (k Kind) Section(cfg *config.Config) (any, bool) { return k.section(cfg) }

// Set runs the monitors of a table.
type Set struct {
	kinds []Kind
	emit  func(event.Event)
	log   *slog.Logger
	// running, by name; touched by Apply and Stop only, which the daemon
	// calls from one goroutine.
	running map[string]*run
}

type run struct {
	section any
	m       Monitor
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSet prepares a set of kinds; nothing runs before Apply.
func NewSet(kinds []Kind, emit func(event.Event), logger *slog.Logger) *Set {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Set{kinds: kinds, emit: emit, log: logger, running: map[string]*run{}}
}

// Changes says what an Apply did, by monitor name.
type Changes struct {
	Started, Kept, Reconfigured, Replaced, Stopped []string
}

// Apply makes the running monitors those cfg switches on, in table order.
// A changed monitor that can take its new section in place does so; every
// other new or changed monitor is built first: if one cannot be built, no
// monitor is started or stopped and the error says which (one reconfigured
// in place before it keeps its new section). Then it starts them and waits
// for each to be ready (or to end, or ctx to end), and only then stops the
// monitors replaced or switched off.
func (s *Set) Apply(ctx context.Context, cfg *config.Config) (Changes, error) {
	type start struct {
		kind    Kind
		section any
		m       Monitor
	}
	var ch Changes
	var starts []start
	on := map[string]bool{}
	for _, k := range s.kinds {
		sec, enabled := k.Section(cfg)
		if !enabled {
			continue
		}
		on[k.Name] = true
		if old := s.running[k.Name]; old != nil && reflect.DeepEqual(old.section, sec) {
			ch.Kept = append(ch.Kept, k.Name)
			continue
		} else if old != nil && k.reconfigure(old.m, sec) {
			old.section = sec
			ch.Reconfigured = append(ch.Reconfigured, k.Name)
			continue
		}
		m, err := k.build(sec, s.log)
		if err != nil {
			return Changes{}, fmt.Errorf("cannot set up the %s monitor: %w", k.Name, err)
		}
		starts = append(starts, start{k, sec, m})
	}
	var old []*run
	for _, st := range starts {
		r := s.start(ctx, st.kind.Name, st.section, st.m)
		if prev := s.running[st.kind.Name]; prev != nil {
			old = append(old, prev)
			ch.Replaced = append(ch.Replaced, st.kind.Name)
		} else {
			ch.Started = append(ch.Started, st.kind.Name)
		}
		s.running[st.kind.Name] = r
	}
	for _, k := range s.kinds {
		if r := s.running[k.Name]; r != nil && !on[k.Name] {
			old = append(old, r)
			delete(s.running, k.Name)
			ch.Stopped = append(ch.Stopped, k.Name)
		}
	}
	stopAll(old)
	return ch, nil
}

// start runs m and waits until it is ready, has ended, or ctx ends.
func (s *Set) start(parent context.Context, name string, section any, m Monitor) *run {
	ctx, cancel := context.WithCancel(parent)
	r := &run{section: section, m: m, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := m.Run(ctx, s.emit); err != nil && ctx.Err() == nil {
			s.log.Error(name+" monitor failed", "err", err)
			s.emit(event.Status(name, event.Failed, event.High, err.Error()))
		}
	}()
	select {
	case <-m.Ready():
	case <-r.done:
	case <-parent.Done():
	}
	return r
}

// Stop stops every monitor and waits for them.
func (s *Set) Stop() {
	var all []*run
	for name, r := range s.running {
		all = append(all, r)
		delete(s.running, name)
	}
	stopAll(all)
}

// stopAll tells every run to stop, then waits for them all.
func stopAll(rs []*run) {
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
}
