package usb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
)

// Config says where the monitor keeps its state.
type Config struct {
	// StateDir holds the seen-device store; an absolute path, created if
	// missing.
	StateDir string
}

// Found-by values: how a device came to be reported.
const (
	FoundInventory = "inventory" // present when the monitor started
	FoundHotplug   = "hotplug"   // a uevent said it arrived
	FoundRescan    = "rescan"    // found by the rescan after lost uevents
)

// Watcher reports USB devices.
type Watcher struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	ready chan struct{}

	store      *store
	present    map[string]Device // syspath → device, for removals and de-duplication
	saveFailed bool              // a MonitorStatus about saving was sent
}

// New checks cfg.
func New(cfg Config, logger *slog.Logger) (*Watcher, error) {
	if !filepath.IsAbs(cfg.StateDir) {
		return nil, fmt.Errorf("cannot watch USB devices: the state directory %q is not an absolute path", cfg.StateDir)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, log: logger.With("component", "usb"), now: time.Now, ready: make(chan struct{})}, nil
}

// Ready is closed once Run receives uevents and has emitted the inventory.
// It is never closed when Run fails before that.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run reports devices until ctx ends. When udev events cannot be received
// at all (no netlink in a sandbox, no libudev) the monitor is unavailable,
// not broken: it says so in a MonitorStatus and returns nil at once.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	mon, err := openMonitor()
	if err != nil {
		w.log.Warn("usb monitor unavailable", "err", err)
		emit(w.status(event.Unavailable, event.Medium, "udev events unavailable: "+err.Error()))
		return nil
	}
	defer mon.close()

	// The eventfd wakes the poll below when ctx ends; nothing else does.
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("cannot create an eventfd: %w", err)
	}
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	defer func() {
		if !stopWake() {
			<-woken // never close efd under a write in progress
		}
		unix.Close(efd)
	}()

	w.loadStore(emit)
	w.present = map[string]Device{}
	devs, err := enumerate()
	if err != nil {
		w.log.Warn("cannot list the USB devices present; reporting only changes", "err", err)
		emit(w.status(event.Degraded, event.Medium, err.Error()+"; devices present at start are not listed"))
	}
	for _, u := range devs {
		w.appear(Decode(u), FoundInventory, emit)
	}
	w.save(emit)
	w.log.Debug("watching", "present", len(w.present))
	emit(w.status(event.Running, event.Low, "udev events for USB devices; seen devices in "+filepath.Join(w.cfg.StateDir, StoreName)))
	close(w.ready)

	fds := []unix.PollFd{{Fd: int32(mon.fd), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
	failures := 0
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("cannot wait for udev events: %w", err)
		}
		if fds[1].Revents != 0 {
			return nil
		}
		if fds[0].Revents&unix.POLLNVAL != 0 {
			return errors.New("cannot wait for udev events: the monitor socket is gone")
		}
		for {
			u, ok, err := mon.receive()
			if errors.Is(err, syscall.ENOBUFS) {
				w.overflowed(emit)
				continue
			}
			if err != nil {
				// One bad message is skipped; a socket that only
				// fails would otherwise spin.
				if failures++; failures > 100 {
					return fmt.Errorf("cannot receive udev events: %w", err)
				}
				w.log.Warn("cannot receive a udev event", "err", err)
				break
			}
			if !ok {
				break
			}
			failures = 0
			w.handle(u, emit)
		}
	}
}

func (w *Watcher) handle(u Uevent, emit func(event.Event)) {
	w.log.Debug("uevent", "action", u.Action, "devtype", u.Devtype, "syspath", u.Syspath)
	if u.Devtype != "usb_device" {
		return
	}
	switch u.Action {
	case "add":
		if _, dup := w.present[u.Syspath]; dup {
			w.log.Debug("already present", "syspath", u.Syspath)
			return // listed by the enumeration, or a repeat
		}
		w.appear(Decode(u), FoundHotplug, emit)
		w.save(emit)
	case "remove":
		w.disappear(u, emit)
	}
}

// appear reports a device and remembers it, in memory (for its removal)
// and in the store (the caller saves).
func (w *Watcher) appear(d Device, foundBy string, emit func(event.Event)) {
	w.present[d.Syspath] = d
	key, ifs := d.Key(), strings.Join(d.Interfaces, ", ")
	prev, known := w.store.lookup(key)
	changed := known && prev.Interfaces != ifs
	if !known || changed {
		first := w.now().UTC()
		if known {
			first = prev.FirstSeen
		}
		w.store.put(seen{Key: key, Name: d.Name(), Interfaces: ifs, FirstSeen: first})
	}
	// A known device whose interfaces changed is treated as new: a
	// look-alike of a known stick that now also types is the attack.
	isNew := !known || changed

	sev := event.Low
	if foundBy != FoundInventory && isNew {
		sev = event.Medium
		if d.HasKeyboard() {
			sev = event.High
		}
	}
	var history string
	switch {
	case changed:
		history = "seen before with other interfaces (" + or(prev.Interfaces, "none listed") + ")"
	case known:
		history = "seen before"
	case foundBy == FoundInventory:
		history = "first time seen"
	default:
		history = "never seen before"
	}
	what := "inserted"
	if foundBy == FoundInventory {
		what = "present at start"
	}
	desc := fmt.Sprintf("USB device %s: %s (%s), %s", what, d.Name(), d.IDs(), or(ifs, "no interfaces listed"))
	if d.Authorized == "false" {
		desc += ", not authorized"
	}
	md := d.metadata()
	md["authorized"] = d.Authorized
	md["known"] = fmt.Sprint(!isNew)
	md["found_by"] = foundBy
	emit(event.Event{
		Type: event.UsbDeviceInserted, Path: d.Path, Severity: sev,
		Description: desc + "; " + history, Metadata: md,
	})
}

// disappear reports a removal, naming the device from what its add or the
// inventory said: a remove uevent may carry little more than its path.
func (w *Watcher) disappear(u Uevent, emit func(event.Event)) {
	d, ok := w.present[u.Syspath]
	if ok {
		delete(w.present, u.Syspath)
	} else {
		d = Decode(u)
	}
	w.removed(d, emit)
}

func (w *Watcher) removed(d Device, emit func(event.Event)) {
	emit(event.Event{
		Type: event.UsbDeviceRemoved, Path: d.Path, Severity: event.Low,
		Description: fmt.Sprintf("USB device removed: %s (%s)", d.Name(), d.IDs()),
		Metadata:    d.metadata(),
	})
}

func (d Device) metadata() map[string]string {
	return map[string]string{
		"vendor_id": d.VendorID, "product_id": d.ProductID, "vendor": d.Vendor, "product": d.Product,
		"serial": d.Serial, "bus_path": d.BusPath, "interfaces": strings.Join(d.Interfaces, ", "),
	}
}

// overflowed handles lost uevents (the socket's queue overflowed): it says
// so, then lists the devices again and reports the difference, so that
// what changed unseen is known at least now.
func (w *Watcher) overflowed(emit func(event.Event)) {
	reason := "the udev event queue overflowed"
	w.log.Warn("USB events lost; rescanning", "reason", reason)
	emit(event.Event{
		Type: event.EventsDropped, Severity: event.High,
		Description: "USB device events were lost: " + reason + "; the devices are listed again",
		Metadata:    map[string]string{"monitor": "usb", "reason": reason},
	})
	devs, err := enumerate()
	if err != nil {
		w.log.Warn("cannot rescan USB devices", "err", err)
		return
	}
	now := map[string]bool{}
	for _, u := range devs {
		now[u.Syspath] = true
		if _, ok := w.present[u.Syspath]; !ok {
			w.appear(Decode(u), FoundRescan, emit)
		}
	}
	for sp, d := range w.present {
		if !now[sp] {
			delete(w.present, sp)
			w.removed(d, emit)
		}
	}
	w.save(emit)
}

func (w *Watcher) storePath() string { return filepath.Join(w.cfg.StateDir, StoreName) }

// loadStore reads the seen devices. A damaged file is set aside (so the
// next save does not destroy it) and reported; every device then counts as
// new.
func (w *Watcher) loadStore(emit func(event.Event)) {
	s, err := loadStore(w.storePath())
	w.store = s
	if err == nil {
		return
	}
	reason := err.Error() + "; every device counts as new"
	aside := w.storePath() + ".corrupt"
	if fi, statErr := os.Lstat(w.storePath()); statErr == nil && fi.Mode().IsRegular() {
		if os.Rename(w.storePath(), aside) == nil {
			reason += "; the file was moved to " + aside
		}
	}
	w.log.Error("cannot use the seen USB devices", "err", err)
	emit(w.status(event.Degraded, event.Medium, reason))
}

// save writes the store if anything changed since it was read. A failure
// is logged each time and reported once: the monitor keeps running, and
// the devices stay known in memory.
func (w *Watcher) save(emit func(event.Event)) {
	if !w.store.dirty {
		return
	}
	if err := w.store.save(); err != nil {
		w.log.Warn("cannot remember USB devices", "err", err)
		if !w.saveFailed {
			w.saveFailed = true
			emit(w.status(event.Degraded, event.Medium, err.Error()+"; devices seen now will count as new after a restart"))
		}
	}
}

func (w *Watcher) status(state event.State, sev event.Severity, reason string) event.Event {
	return event.Status("usb", state, sev, reason)
}
