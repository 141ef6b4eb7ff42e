// Package desktop shows notifications through org.freedesktop.Notifications
// on the session bus (DankMaterialShell, mako, dunst, GNOME…) with
// github.com/esiqveland/notify, and owns everything about the server: the
// replaces_id of each notification, the actions that come back, and the
// server coming and going.
//
// Callers name a notification by a key of their own; Show updates the
// notification shown for that key in place. When the server restarts (a
// DankMaterialShell reload) its ids mean nothing any more, so they are
// forgotten and the next Show starts a new notification. While no server
// runs, the latest note of each key is held (up to MaxPending keys, the
// overflow counted) and shown when one appears.
//
// esiqveland/notify type-asserts signal bodies without checking them, and
// any program on the session bus may emit a signal: a filter in front of it
// drops ActionInvoked and NotificationClosed signals of the wrong shape.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/esiqveland/notify"
	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/sessionbus"
	"github.com/pantheros/secmon/notifier/internal/present"
)

// Names on the session bus.
const (
	ServerName  = "org.freedesktop.Notifications"
	serverPath  = "/org/freedesktop/Notifications"
	serverIface = "org.freedesktop.Notifications"
)

// Action is a button: Key comes back in an Event.
type Action struct{ Key, Label string }

// Event is what the user or the server did.
type Event struct {
	// Key is the notification's key; "" for server events.
	Key string
	// Action is the invoked action's key ("" unless an action).
	Action string
	// Closed: the notification was closed (dismissed, expired).
	Closed bool
	// ServerUp: a notification server appeared.
	ServerUp bool
}

// Options configure a Desktop.
type Options struct {
	// Connect opens the session bus; nil is sessionbus.Connect.
	Connect func(opts ...dbus.ConnOption) (*dbus.Conn, error)
	// AppName is the app_name of every notification.
	AppName string
	// DesktopEntry is the desktop-entry hint: a .desktop file's basename
	// without the suffix, so the shell can group and apply its rules.
	DesktopEntry string
	// MaxPending bounds the notes held while no server runs; 0 is 32.
	MaxPending int
	// ResidentPath, if set, keeps the ids of the resident notices shown
	// and the server that shows them, so that a notifier started after
	// this one ended without closing them (a crash) closes them.
	ResidentPath string
	Logger       *slog.Logger
}

// Desktop is safe for concurrent use.
type Desktop struct {
	o      Options
	log    *slog.Logger
	events chan Event
	done   chan struct{}

	send sync.Mutex // one Notify at a time, so a key's updates stay in order

	mu       sync.Mutex
	n        notify.Notifier // nil while not connected
	serverUp bool
	markup   bool
	material bool // the server draws image-path "material:<name>"
	ids      map[string]uint32
	keys     map[uint32]string
	pending  map[string]held
	order    []string // pending keys, oldest first
	owner    string   // the server's unique name on the session bus
	resident map[string]uint32
	overflow int
}

type held struct {
	note    present.Note
	actions []Action
}

// New returns a Desktop; call Run.
func New(o Options) *Desktop {
	if o.Connect == nil {
		o.Connect = sessionbus.Connect
	}
	if o.MaxPending == 0 {
		o.MaxPending = 32
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Desktop{
		o: o, log: o.Logger.With("component", "desktop"),
		events: make(chan Event, 64), done: make(chan struct{}),
		ids: map[string]uint32{}, keys: map[uint32]string{}, pending: map[string]held{}, resident: map[string]uint32{},
	}
}

// Events delivers actions, closes and server arrivals.
func (d *Desktop) Events() <-chan Event { return d.events }

// Run keeps a session bus connection until ctx ends.
func (d *Desktop) Run(ctx context.Context) error {
	defer close(d.done)
	wait := 100 * time.Millisecond
	for {
		conn, err := d.o.Connect(dbus.WithSignalHandler(&checked{dbus.NewSequentialSignalHandler(), d.log}), dbus.WithContext(ctx))
		if err == nil {
			wait = 100 * time.Millisecond
			err = d.session(ctx, conn)
			conn.Close()
		}
		d.mu.Lock()
		d.n = nil
		d.serverUp = false
		// Our connection ended, not the server: what it shows stays on
		// screen, and the resident file says so to the next notifier.
		d.ids, d.keys = map[string]uint32{}, map[uint32]string{}
		d.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("no session bus; notifications wait", "err", err)
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

func (d *Desktop) session(ctx context.Context, conn *dbus.Conn) error {
	n, err := notify.New(conn,
		notify.WithOnAction(func(s *notify.ActionInvokedSignal) { d.fromServer(s.ID, s.ActionKey, false) }),
		notify.WithOnClosed(func(s *notify.NotificationClosedSignal) { d.fromServer(s.ID, "", true) }),
		notify.WithLogger(printf{d.log}))
	if err != nil {
		return fmt.Errorf("cannot listen to %s: %w", ServerName, err)
	}
	defer n.Close()
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	defer conn.RemoveSignal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, ServerName)); err != nil {
		return fmt.Errorf("cannot follow %s: %w", ServerName, err)
	}
	d.mu.Lock()
	d.n = n
	d.mu.Unlock()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, ServerName).Store(&has); err != nil {
		return fmt.Errorf("cannot ask for %s: %w", ServerName, err)
	}
	if has {
		var owner string
		conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, ServerName).Store(&owner)
		d.mu.Lock()
		d.owner = owner
		d.mu.Unlock()
		d.arrived(ctx, n)
	} else {
		d.log.Info("no notification server yet; notifications wait for one")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Context().Done():
			return errors.New("lost the session bus")
		case s, ok := <-ch:
			if !ok {
				return errors.New("lost the session bus")
			}
			if s.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(s.Body) != 3 {
				continue
			}
			name, _ := s.Body[0].(string)
			now, _ := s.Body[2].(string)
			if name != ServerName {
				continue
			}
			d.mu.Lock()
			// Its ids die with it; a new server has its own.
			d.forgetLocked()
			d.serverUp = now != ""
			d.owner = now
			d.mu.Unlock()
			if now == "" {
				d.log.Info("the notification server went away; notifications wait")
				continue
			}
			d.arrived(ctx, n)
		}
	}
}

// arrived learns the server's capabilities and shows what waited.
func (d *Desktop) arrived(ctx context.Context, n notify.Notifier) {
	caps, err := n.GetCapabilities()
	info, _ := n.GetServerInformation()
	d.log.Info("notification server", "name", info.Name, "version", info.Version, "capabilities", caps, "err", err)
	d.closeLeftOver(n)
	// Held notes go first: no newer Show may pass them.
	d.send.Lock()
	d.mu.Lock()
	d.serverUp = true
	d.markup = rendersMarkup(info.Name, caps)
	d.material = drawsMaterial(info.Name)
	d.mu.Unlock()
	d.flushLocked()
	d.send.Unlock()
	select {
	case d.events <- Event{ServerUp: true}:
	case <-ctx.Done():
	}
}

// flushLocked shows the held notes, oldest first; d.send is held.
func (d *Desktop) flushLocked() {
	d.mu.Lock()
	order, pending, overflow := d.order, d.pending, d.overflow
	d.order, d.pending, d.overflow = nil, map[string]held{}, 0
	d.mu.Unlock()
	for _, k := range order {
		h := pending[k]
		d.show(k, h.note, h.actions)
	}
	if overflow > 0 {
		d.show("desktop:overflow", present.Note{
			Summary: fmt.Sprintf("%d more notifications while no notification server ran", overflow),
			Body:    "journalctl SYSLOG_IDENTIFIER=secmon has the events",
			Icon:    "dialog-warning", Urgency: present.UrgencyNormal,
		}, nil)
	}
}

// Show shows n under key, replacing what key shows. Without a server it is
// held and shown when one appears; the error says why it was not shown now.
func (d *Desktop) Show(key string, n present.Note, actions []Action) error {
	d.send.Lock()
	defer d.send.Unlock()
	return d.show(key, n, actions)
}

// show is Show with d.send held.
func (d *Desktop) show(key string, n present.Note, actions []Action) error {
	d.mu.Lock()
	nt, up, id := d.n, d.serverUp, d.ids[key]
	d.mu.Unlock()
	if nt == nil || !up {
		d.hold(key, n, actions)
		return errors.New("no notification server: held until one appears")
	}
	d.mu.Lock()
	markup, material := d.markup, d.material
	d.mu.Unlock()
	note := notify.Notification{
		AppName: d.o.AppName, ReplacesID: id, AppIcon: n.Icon, Summary: n.Summary, Body: Body(n.Body, markup),
		Hints: map[string]dbus.Variant{
			"urgency":       dbus.MakeVariant(byte(n.Urgency)),
			"desktop-entry": dbus.MakeVariant(d.o.DesktopEntry),
		},
		ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
	}
	if n.Category != "" {
		note.Hints["category"] = dbus.MakeVariant(n.Category)
	}
	if material && n.Material != "" {
		// DankMaterialShell draws a Material Symbols icon for it; other
		// servers would look for a file of that name.
		note.Hints["image-path"] = dbus.MakeVariant("material:" + n.Material)
	}
	if n.Resident {
		note.ExpireTimeout = notify.ExpireTimeoutNever
		note.Hints["resident"] = dbus.MakeVariant(true)
	}
	for _, a := range actions {
		note.Actions = append(note.Actions, notify.Action{Key: a.Key, Label: a.Label})
	}
	newID, err := nt.SendNotification(note)
	if err != nil {
		// The server vanished between the check and the call, or hangs:
		// hold it for the next one.
		d.hold(key, n, actions)
		return fmt.Errorf("cannot show a notification: %w", err)
	}
	d.mu.Lock()
	if id != 0 && id != newID {
		delete(d.keys, id)
	}
	d.ids[key] = newID
	d.keys[newID] = key
	d.noteResidentLocked(key, newID, n.Resident)
	d.mu.Unlock()
	return nil
}

func (d *Desktop) hold(key string, n present.Note, actions []Action) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.pending[key]; !ok {
		if len(d.order) >= d.o.MaxPending {
			oldest := d.order[0]
			d.order = d.order[1:]
			delete(d.pending, oldest)
			d.overflow++
		}
		d.order = append(d.order, key)
	}
	d.pending[key] = held{n, actions}
}

func (d *Desktop) fromServer(id uint32, action string, closed bool) {
	d.mu.Lock()
	key, ok := d.keys[id]
	if ok && closed {
		// An update must not revive a closed notification's id.
		delete(d.keys, id)
		delete(d.ids, key)
		d.noteResidentLocked(key, id, false)
	}
	d.mu.Unlock()
	if !ok {
		return
	}
	select {
	case d.events <- Event{Key: key, Action: action, Closed: closed}:
	case <-d.done:
	}
}

// forgetLocked forgets the ids of a server that went away: they die with
// it, resident ones too.
func (d *Desktop) forgetLocked() {
	d.ids = map[string]uint32{}
	d.keys = map[uint32]string{}
	if len(d.resident) > 0 {
		d.resident = map[string]uint32{}
		d.saveResidentLocked()
	}
}

// checked drops Notifications signals whose bodies notify would misread.
type checked struct {
	dbus.SignalHandler
	log *slog.Logger
}

func (c *checked) DeliverSignal(iface, name string, s *dbus.Signal) {
	if iface == serverIface && s.Path == serverPath && !wellFormed(name, s.Body) {
		c.log.Warn("dropping a malformed signal", "name", s.Name, "sender", s.Sender, "signature", dbus.SignatureOf(s.Body...).String())
		return
	}
	c.SignalHandler.DeliverSignal(iface, name, s)
}

func (c *checked) AddSignal(ch chan<- *dbus.Signal) {
	c.SignalHandler.(dbus.SignalRegistrar).AddSignal(ch)
}

func (c *checked) RemoveSignal(ch chan<- *dbus.Signal) {
	c.SignalHandler.(dbus.SignalRegistrar).RemoveSignal(ch)
}

func (c *checked) Terminate() {
	if t, ok := c.SignalHandler.(dbus.Terminator); ok {
		t.Terminate()
	}
}

func wellFormed(member string, body []any) bool {
	switch member {
	case "ActionInvoked":
		if len(body) != 2 {
			return false
		}
		_, ok1 := body[0].(uint32)
		_, ok2 := body[1].(string)
		return ok1 && ok2
	case "NotificationClosed":
		if len(body) != 2 {
			return false
		}
		_, ok1 := body[0].(uint32)
		_, ok2 := body[1].(uint32)
		return ok1 && ok2
	}
	return true
}

// printf gives notify's log lines to slog, at debug: it logs every signal
// it does not handle.
type printf struct{ log *slog.Logger }

func (p printf) Printf(format string, v ...any) {
	p.log.Debug(fmt.Sprintf(format, v...), "from", "notify")
}

// rendersMarkup tells whether a server may render a body as markup: it
// says so (body-markup), or it is a Quickshell-based shell such as
// DankMaterialShell, which renders any body that holds a tag as rich text
// — also one whose escaped entities decode to tags — and gives any other
// body to a markdown converter, whatever it advertises.
func rendersMarkup(name string, caps []string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "quickshell") || strings.Contains(n, "dankmaterialshell") {
		return true
	}
	return slices.Contains(caps, "body-markup")
}

// drawsMaterial tells whether a server draws the image-path hint
// "material:<icon name>" as a Material Symbols icon: DankMaterialShell
// does (a Quickshell-based shell; it names itself either way).
func drawsMaterial(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "quickshell") || strings.Contains(n, "dankmaterialshell")
}

// Body is the plain text s as the body sent to a server that renders
// markup (markup true) or not. Text is escaped at send time, for the
// server that receives it: a note held while no server ran is sent to
// whichever comes next. For a server that renders markup, every &, < and
// > is escaped and an empty <b></b> goes first: with a real tag in it, the
// body is taken as markup by every server (DankMaterialShell decodes the
// entities of a tagless body and renders the result, or runs it through
// markdown, where "_name_" becomes italics), so the escaped text is shown
// as it is. For any other server the text goes as it is, which such a
// server shows literally.
func Body(s string, markup bool) string {
	if !markup || s == "" {
		return s
	}
	return "<b></b>" + escaper.Replace(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
