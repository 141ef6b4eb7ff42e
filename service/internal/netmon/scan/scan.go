// Package scan decides when one remote address has touched enough distinct
// local ports within a window to be a port scan: once per address per
// window, with memory bounded by the number of addresses it keeps (the least
// recently active one is forgotten first) times the threshold.
//
// It is pure: the caller passes the time of each touch, so tests drive it
// with a made-up clock.
package scan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pantheros/secmon/service/internal/lru"
)

// Port is a local port of one protocol ("tcp", "udp").
type Port struct {
	Proto string
	Num   uint16
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Num, p.Proto) }

// Config sets the detector.
type Config struct {
	// Threshold is how many distinct ports make a scan (at least 2).
	Threshold int
	// Window is how close together the touches must be.
	Window time.Duration
	// MaxAddrs bounds the remote addresses followed at once.
	MaxAddrs int
}

// Scan is one detection.
type Scan struct {
	Remote netip.Addr
	// Ports are the distinct ports touched within the window, sorted.
	Ports []Port
	First time.Time
	Last  time.Time
}

// PortList is "22/tcp,23/tcp,53/udp".
func (s Scan) PortList() string {
	parts := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Detector follows remote addresses.
type Detector struct {
	cfg   Config
	addrs *lru.Cache[netip.Addr, *remote] // the least recently touched goes first
}

type remote struct {
	// ports maps each port touched to its latest touch; it holds fewer than
	// Threshold entries, because reaching Threshold reports and clears it.
	ports map[Port]time.Time
	// quietUntil: reported; touches until then are part of that scan.
	quietUntil time.Time
}

// New returns a detector; it panics on a threshold below 2, a window that is
// not positive or MaxAddrs below 1 (the configuration checks those first).
func New(cfg Config) *Detector {
	if cfg.Threshold < 2 || cfg.Window <= 0 || cfg.MaxAddrs < 1 {
		panic(fmt.Sprintf("scan: bad config %+v", cfg))
	}
	return &Detector{cfg: cfg, addrs: lru.New[netip.Addr, *remote](cfg.MaxAddrs)}
}

// Touch records that addr touched port at now. It returns a Scan the moment
// the address reaches the threshold within the window; then it stays quiet
// for that address for one window.
func (d *Detector) Touch(addr netip.Addr, port Port, now time.Time) (Scan, bool) {
	addr = addr.Unmap()
	r, ok := d.addrs.Get(addr)
	if !ok {
		r = &remote{ports: map[Port]time.Time{}}
		d.addrs.Add(addr, r)
	}
	if now.Before(r.quietUntil) {
		return Scan{}, false
	}
	for p, t := range r.ports {
		if now.Sub(t) >= d.cfg.Window {
			delete(r.ports, p)
		}
	}
	r.ports[port] = now
	if len(r.ports) < d.cfg.Threshold {
		return Scan{}, false
	}
	s := Scan{Remote: addr, First: now, Last: now}
	for p, t := range r.ports {
		s.Ports = append(s.Ports, p)
		if t.Before(s.First) {
			s.First = t
		}
	}
	slices.SortFunc(s.Ports, func(a, b Port) int {
		if a.Proto != b.Proto {
			return strings.Compare(a.Proto, b.Proto)
		}
		return int(a.Num) - int(b.Num)
	})
	clear(r.ports)
	r.quietUntil = now.Add(d.cfg.Window)
	return s, true
}
