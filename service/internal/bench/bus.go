package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// sessionConfig is a plain session bus (dbus 1.14's session.conf less the
// service directories and the machine's includes): the bench's bus is
// private, so that neither the machine's bus nor anyone on it sees the
// benchmark's events. Any user may connect: a daemon the bench runs as
// the service user is not the bus's. Argument: the listen address.
const sessionConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=%s</listen>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// bus is a private dbus-daemon.
type bus struct {
	p       *proc
	address string
}

// startBus starts dbus-daemon in dir (a short path: socket paths are
// limited to 107 bytes) and returns once it prints its address.
func (r *runner) startBus(ctx context.Context, dir string) (*bus, error) {
	socket := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(sessionConfig, socket)), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write the bus configuration: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	errs := newTailBuffer(4 << 10)
	p, err := r.start(ctx, "dbus-daemon", procSpec{
		name: "dbus-daemon", args: []string{"--config-file=" + conf, "--nofork", "--nopidfile", "--print-address=1"},
		stdout: pw, stderr: errs,
	})
	pw.Close()
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "unix:path="+socket) {
			p.stop()
			return nil, fmt.Errorf("dbus-daemon did not start (printed %q): %s", s, errs.String())
		}
		return &bus{p: p, address: "unix:path=" + socket}, nil
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, fmt.Errorf("dbus-daemon did not print its address within 15s: %s", errs.String())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// conn connects to the bus (authenticated, Hello done).
func (b *bus) conn() (*dbus.Conn, error) {
	c, err := dbus.Connect(b.address)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the private bus: %w", err)
	}
	return c, nil
}
