package jsonsock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/procinfo"
)

// Request is a line a client may send, at any time; each one replaces the
// client's filters. All fields are optional.
type Request struct {
	// ReplayAfter asks for the kept events with a larger seq first.
	ReplayAfter *uint64 `json:"replay_after"`
	// MinSeverity drops events below it.
	MinSeverity string `json:"min_severity"`
	// Types keeps only these event types.
	Types []string `json:"types"`
}

// maxRequest bounds a request line; longer lines are refused.
const maxRequest = 64 << 10

// MaxClients is how many clients are served at once by default; one more
// gets an error line and is closed. Each client costs a goroutine and a
// queue, so without a cap a member of the socket's group could make the
// daemon run out of memory or file descriptors.
const MaxClients = 1024

// maxRefusing bounds the connections being refused at once (each is kept
// up to refuseTime to say why); beyond it they are closed without a word.
const (
	maxRefusing = 64
	refuseTime  = 2 * time.Second
)

// Server hands hub events to socket clients.
type Server struct {
	l     net.Listener
	hub   *hub.Hub
	queue int
	log   *slog.Logger

	clients  atomic.Int64 // subscribed
	slots    atomic.Int64 // taken, against MaxClients
	refusing atomic.Int64
	wg       sync.WaitGroup

	// MaxClients caps the clients served at once; 0 is the package's
	// MaxClients. Set it before Serve.
	MaxClients int

	// access, taken from the socket file when Serve starts: see allowed.
	euid     int
	groupOK  bool // the file's mode gives its group read and write
	gid      int
	procRoot string
}

// New serves h's events on l, each client with a queue of queue events.
func New(l net.Listener, h *hub.Hub, queue int, logger *slog.Logger) *Server {
	return &Server{l: l, hub: h, queue: queue, log: logger.With("component", "socket"), euid: os.Geteuid(), gid: -1, procRoot: "/proc"}
}

// Clients is the number of connected clients.
func (s *Server) Clients() int { return int(s.clients.Load()) }

// Serve accepts clients until ctx ends, then closes the listener and every
// connection and waits for their goroutines.
func (s *Server) Serve(ctx context.Context) error {
	if a, ok := s.l.Addr().(*net.UnixAddr); ok && a.Name != "" && a.Name[0] != '@' {
		var st unix.Stat_t
		if err := unix.Stat(a.Name, &st); err == nil {
			s.gid, s.groupOK = int(st.Gid), st.Mode&0o060 == 0o060
		}
	}
	stop := context.AfterFunc(ctx, func() { s.l.Close() })
	defer stop()
	defer s.wg.Wait()
	max := s.MaxClients
	if max <= 0 {
		max = MaxClients
	}
	var pause time.Duration // the back-off while accept fails
	for {
		c, err := s.l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of file descriptors (EMFILE, ENFILE), buffers or
			// memory, or anything else: the connection waits in the
			// backlog. Back off and try again; the monitors and the other
			// sinks go on whatever happens to the socket.
			if pause == 0 {
				pause = 5 * time.Millisecond
				s.log.Error("cannot accept socket clients; retrying", "err", err)
			} else {
				pause = min(2*pause, time.Second)
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		if pause != 0 {
			s.log.Info("accepting socket clients again")
			pause = 0
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveClient(ctx, c, max)
		}()
	}
}

// refuse tells a client why it is not served, then closes it. It lets the
// client finish writing its request first (else its write fails and it
// never reads this), for refuseTime at most. Past maxRefusing refusals
// under way, the connection is closed at once.
func (s *Server) refuse(c net.Conn, why string) {
	defer c.Close()
	if s.refusing.Add(1) > maxRefusing {
		s.refusing.Add(-1)
		return
	}
	defer s.refusing.Add(-1)
	b, _ := json.Marshal(map[string]string{"error": why})
	c.SetDeadline(time.Now().Add(refuseTime))
	c.Write(append(b, '\n'))
	if uc, ok := c.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, maxRequest))
}

// credentials are the client's pid, uid and gid from SO_PEERCRED, as the
// kernel recorded them at connect.
func credentials(c net.Conn) *unix.Ucred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// peer names the client for logs.
func peer(cred *unix.Ucred) string {
	if cred == nil {
		return "client"
	}
	return fmt.Sprintf("client pid %d uid %d", cred.Pid, cred.Uid)
}

// allowed is the peer-credential check behind the file permissions: root,
// the daemon's own user, and — when the socket's mode gives its group read
// and write — members of the socket's group (primary group from
// SO_PEERCRED, supplementary ones from /proc/PID/status). The "other"
// permission bits never let anyone in: a socket_mode of 0666 still shows
// events to nobody else.
func (s *Server) allowed(cred *unix.Ucred) error {
	switch {
	case cred == nil:
		return errors.New("permission denied: cannot tell who the client is")
	case cred.Uid == 0 || int(cred.Uid) == s.euid:
		return nil
	case s.groupOK && s.gid >= 0 && (int(cred.Gid) == s.gid || s.inGroup(int(cred.Pid), s.gid)):
		return nil
	}
	return fmt.Errorf("permission denied: uid %d is not root, not secmon's user and not in the socket's group (gid %d)", cred.Uid, s.gid)
}

func (s *Server) inGroup(pid, gid int) bool {
	st, err := procinfo.ReadStatus(s.procRoot, pid)
	return err == nil && slices.Contains(st.IDs("Groups"), uint32(gid))
}

type control struct {
	req    Request
	filter func(event.Event) bool
	err    string
	gone   bool // the client closed its end
}

func (s *Server) serveClient(ctx context.Context, c net.Conn, max int) {
	cred := credentials(c)
	name := peer(cred)
	if err := s.allowed(cred); err != nil {
		s.log.Warn("client refused", "peer", name, "err", err)
		s.refuse(c, err.Error())
		return
	}
	// Closed on every return: a client that left must give its
	// descriptor back now, not when the garbage collector finds it.
	defer c.Close()
	if n := s.slots.Add(1); n > int64(max) {
		s.slots.Add(-1)
		s.log.Warn("client refused: too many clients", "peer", name, "max", max)
		s.refuse(c, fmt.Sprintf("too many clients: secmon serves %d at once; try again later", max))
		return
	}
	sub := s.hub.Subscribe(hub.SubOptions{Name: "socket " + name, Queue: s.queue, Waited: true})
	s.clients.Add(1)
	defer func() {
		// Once Clients has dropped, the place is free again.
		s.hub.Unsubscribe(sub)
		s.slots.Add(-1)
		s.clients.Add(-1)
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	s.log.Debug("client connected", "peer", name)

	ctrl := make(chan control, 4)
	go readRequests(ctx, c, ctrl)

	w := bufio.NewWriterSize(c, 32<<10)
	var filter func(event.Event) bool
	var line []byte
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ctrl:
			if m.gone {
				s.log.Debug("client gone", "peer", name)
				return
			}
			if m.err != "" {
				b, _ := json.Marshal(map[string]string{"error": m.err})
				w.Write(append(b, '\n'))
				break
			}
			filter = m.filter
			s.hub.Change(sub, m.filter, m.req.ReplayAfter)
		case <-sub.Ready():
		}
		for {
			e, ok := sub.Pop()
			if !ok {
				break
			}
			// The client's own drop notices (seq 0) pass any filter.
			if filter != nil && e.Seq != 0 && !filter(e) {
				continue
			}
			var err error
			line, err = e.AppendJSONLine(line[:0])
			if err != nil {
				s.log.Error("cannot encode event", "seq", e.Seq, "err", err)
				continue
			}
			if _, err := w.Write(line); err != nil {
				s.log.Debug("client gone", "peer", name, "err", err)
				return
			}
		}
		if err := w.Flush(); err != nil {
			s.log.Debug("client gone", "peer", name, "err", err)
			return
		}
	}
}

// readRequests parses request lines until the client stops writing. A
// client that half-closes (socat after its input ends) keeps receiving.
func readRequests(ctx context.Context, c net.Conn, out chan<- control) {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxRequest)
	for sc.Scan() {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var m control
		var err error
		if m.req, m.filter, err = ParseRequest(b); err != nil {
			m.err = err.Error()
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
	m := control{gone: true}
	switch {
	case errors.Is(sc.Err(), bufio.ErrTooLong):
		m = control{err: fmt.Sprintf("bad request: line longer than %d bytes; no more requests are read", maxRequest)}
	case sc.Err() == nil && !hungUp(c):
		return // half-closed: it still reads
	}
	select {
	case out <- m:
	case <-ctx.Done():
	}
}

// hungUp tells whether the peer closed its end entirely, not only its
// writing half. Without this, a client that connects and closes would
// hold its descriptor until the next event is written to it, and a crowd
// of them could exhaust the daemon's descriptors.
func hungUp(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	hup := false
	raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 {
			hup = fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
		}
	})
	return hup
}

// ParseRequest reads one request line: a JSON object with only Request's
// keys and nothing after it. It returns the filter the client asked for.
func ParseRequest(line []byte) (Request, func(event.Event) bool, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, nil, fmt.Errorf("bad request: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, nil, errors.New("bad request: something follows the JSON object")
	}
	f, err := r.filter()
	if err != nil {
		return Request{}, nil, err
	}
	return r, f, nil
}

func (r Request) filter() (func(event.Event) bool, error) {
	min := event.Low
	if r.MinSeverity != "" {
		s, err := event.ParseSeverity(r.MinSeverity)
		if err != nil {
			return nil, fmt.Errorf("bad request: min_severity: %w", err)
		}
		min = s
	}
	var types map[event.Type]bool
	if len(r.Types) > 0 {
		types = map[event.Type]bool{}
		var unknown []string
		for _, t := range r.Types {
			if _, err := event.ParseType(t); err != nil {
				unknown = append(unknown, t)
			}
			types[event.Type(t)] = true
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("bad request: types: unknown event type %s", strings.Join(unknown, ", "))
		}
	}
	return func(e event.Event) bool {
		return e.Severity >= min && (types == nil || types[e.Type])
	}, nil
}
