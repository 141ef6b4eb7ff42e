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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
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

// Server hands hub events to socket clients.
type Server struct {
	l     net.Listener
	hub   *hub.Hub
	queue int
	log   *slog.Logger

	clients atomic.Int64
	wg      sync.WaitGroup

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
	for {
		c, err := s.l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("cannot accept socket client: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveClient(ctx, c)
		}()
	}
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
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/status", s.procRoot, pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, g := range strings.Fields(rest) {
				if g == strconv.Itoa(gid) {
					return true
				}
			}
		}
	}
	return false
}

type control struct {
	req    Request
	filter func(event.Event) bool
	err    string
}

func (s *Server) serveClient(ctx context.Context, c net.Conn) {
	cred := credentials(c)
	name := peer(cred)
	if err := s.allowed(cred); err != nil {
		s.log.Warn("client refused", "peer", name, "err", err)
		// Say why, then let the client finish writing its request before
		// the close (else its write fails and it never reads this).
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(append(b, '\n'))
		if uc, ok := c.(*net.UnixConn); ok {
			uc.CloseWrite()
		}
		io.Copy(io.Discard, io.LimitReader(c, maxRequest))
		c.Close()
		return
	}
	sub := s.hub.Subscribe(hub.SubOptions{Name: "socket " + name, Queue: s.queue})
	defer s.hub.Unsubscribe(sub)
	s.clients.Add(1)
	defer s.clients.Add(-1)
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
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		select {
		case out <- control{err: fmt.Sprintf("bad request: line longer than %d bytes; no more requests are read", maxRequest)}:
		case <-ctx.Done():
		}
	}
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
