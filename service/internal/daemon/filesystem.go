package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
	"github.com/pantheros/secmon/service/internal/persist"
	"github.com/pantheros/secmon/service/internal/sshmon"
	"github.com/pantheros/secmon/service/internal/writer"
)

// filesystem is the filesystem monitor with the writer tracker that names
// who changed a sensitive file. The tracker's fanotify group is made in Run
// (a monitor built for a reload that is then refused never runs, and must
// hold nothing); what it cannot do is said once as the "writers" monitor's
// status.
type filesystem struct {
	*fswatch.Watcher
	writers *lazyWriters
	log     *slog.Logger
	marked  []config.Watch // watches marked sensitive = true
}

func newFilesystem(s fsSection, log *slog.Logger) (*filesystem, error) {
	lw := &lazyWriters{}
	// The ssh rule knows which key a change to authorized_keys added.
	keys := sshmon.NewKeys(append(slices.Clone(s.SSH), s.Watches...))
	var marked []config.Watch
	for _, wt := range s.Watches {
		if wt.Sensitive {
			marked = append(marked, wt)
		}
	}
	// A watch marked sensitive = true is a persistence spot of the
	// user's choosing: every change there is Medium at least, and its
	// writer is named.
	markedRule := func(p string) (event.Type, event.Severity, map[string]string) {
		if underAny(p, marked) {
			return "", persist.Least, nil
		}
		return "", 0, nil
	}
	cfg := fswatch.Config{Off: s.Off, Watches: s.Watches, Rules: []fswatch.Rule{persist.Classify, markedRule, keys.Classify}, Writers: lw}
	if s.SSH != nil {
		cfg.Guests = []fswatch.Guest{{Monitor: "ssh", Watches: s.SSH}}
	}
	w, err := fswatch.New(cfg, log)
	if err != nil {
		return nil, err
	}
	return &filesystem{Watcher: w, writers: lw, log: log, marked: marked}, nil
}

// underAny tells whether p is a watch's path, or below it (a pattern
// watch: below a directory its glob matches).
func underAny(p string, ws []config.Watch) bool {
	for _, w := range ws {
		if w.Path != "" && (p == w.Path || strings.HasPrefix(p, strings.TrimSuffix(w.Path, "/")+"/")) {
			return true
		}
		if w.Pattern != "" {
			for d := p; d != "/" && d != "."; d = filepath.Dir(d) {
				if ok, _ := filepath.Match(w.Pattern, d); ok {
					return true
				}
			}
		}
	}
	return false
}

// sensitive: a change the filesystem monitor's rules single out (the
// plain ssh rule: whether, not which key).
func sensitive(p string) bool {
	typ, least, _ := sshmon.Classify(p)
	if typ != "" || least > 0 {
		return true
	}
	_, least, _ = persist.Classify(p)
	return least > 0
}

func (f *filesystem) Run(ctx context.Context, emit func(event.Event)) error {
	tr, err := writer.New(writer.Config{
		Holds:     func(d string) bool { return persist.Holds(d) || sshmon.Holds(d) || underAny(d, f.marked) },
		Sensitive: func(p string) bool { return sensitive(p) || underAny(p, f.marked) },
	}, f.log)
	if err != nil {
		emit(event.Status("writers", event.Unavailable, event.Low,
			"changes to sensitive files are reported without the process that made them: "+err.Error()))
	} else {
		f.writers.tr = tr
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				f.log.Warn("writers of sensitive files no longer named", "err", err)
			}
		}()
		emit(event.Status("writers", event.Running, event.Low, "who changes a sensitive file is named ("+tr.Features()+")"))
	}
	return f.Watcher.Run(ctx, emit)
}

// lazyWriters hands the filesystem monitor's calls to the tracker once Run
// has made one; before, and without one, it names nobody.
type lazyWriters struct{ tr *writer.Tracker }

func (l *lazyWriters) Watch(dir string) {
	if l.tr != nil {
		l.tr.Watch(dir)
	}
}

func (l *lazyWriters) Unwatch(dir string) {
	if l.tr != nil {
		l.tr.Unwatch(dir)
	}
}

func (l *lazyWriters) Attribute(path string, at time.Time) (*event.Process, map[string]string) {
	if l.tr == nil {
		return nil, nil
	}
	return l.tr.Attribute(path, at)
}
