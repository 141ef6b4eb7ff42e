// Package control lets a person reach the running secmon-notifier of
// their session: `secmon-notifier --unmute` ends every mute at once. The
// notifier owns a name on the session bus, which only the session's user
// can reach, and answers one method.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/sessionbus"
)

// Names on the session bus.
const (
	Name  = "org.pantheros.SecmonNotifier"
	Path  = dbus.ObjectPath("/org/pantheros/SecmonNotifier")
	Iface = "org.pantheros.SecmonNotifier"
)

// Request is a call for the notifier's one goroutine; it sends the answer
// on Reply (buffered).
type Request struct {
	// Unmute ends every mute.
	Unmute bool
	Reply  chan string
}

// Options configure Serve and Call.
type Options struct {
	// Connect opens the session bus; nil is sessionbus.Connect.
	Connect func(opts ...dbus.ConnOption) (*dbus.Conn, error)
	Logger  *slog.Logger
}

func (o Options) connect(opts ...dbus.ConnOption) (*dbus.Conn, error) {
	if o.Connect == nil {
		return sessionbus.Connect(opts...)
	}
	return o.Connect(opts...)
}

// Serve owns Name while ctx lasts, reconnecting when the bus goes, and
// hands each call to requests.
func Serve(ctx context.Context, o Options, requests chan<- Request) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "control")
	wait := 100 * time.Millisecond
	for {
		err := serve(ctx, o, requests)
		if ctx.Err() != nil {
			return
		}
		log.Warn("secmon-notifier --unmute cannot reach this notifier", "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func serve(ctx context.Context, o Options, requests chan<- Request) error {
	conn, err := o.connect(dbus.WithContext(ctx))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Export(&object{ctx: ctx, requests: requests}, Path, Iface); err != nil {
		return fmt.Errorf("cannot export %s: %w", Path, err)
	}
	r, err := conn.RequestName(Name, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("cannot own %s: %w", Name, err)
	}
	if r != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("cannot own %s: another secmon-notifier runs in this session", Name)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-conn.Context().Done():
		return errors.New("lost the session bus")
	}
}

type object struct {
	ctx      context.Context
	requests chan<- Request
}

// Unmute is the bus method.
func (o *object) Unmute() (string, *dbus.Error) {
	req := Request{Unmute: true, Reply: make(chan string, 1)}
	select {
	case o.requests <- req:
	case <-o.ctx.Done():
		return "", dbus.MakeFailedError(errors.New("secmon-notifier is stopping"))
	}
	select {
	case s := <-req.Reply:
		return s, nil
	case <-o.ctx.Done():
		return "", dbus.MakeFailedError(errors.New("secmon-notifier is stopping"))
	}
}

// Unmute asks the session's running secmon-notifier to end every mute and
// returns what it says.
func Unmute(ctx context.Context, o Options) (string, error) {
	conn, err := o.connect(dbus.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("cannot reach the session bus: %w", err)
	}
	defer conn.Close()
	var out string
	err = conn.Object(Name, Path).CallWithContext(ctx, Iface+".Unmute", 0).Store(&out)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
		return "", errors.New("cannot unmute: no secmon-notifier runs in this session")
	}
	if err != nil {
		return "", fmt.Errorf("cannot unmute: %w", err)
	}
	return out, nil
}
