package netmon

// The eBPF programs are loaded and attached by a short-lived copy of the
// daemon (the loader), which hands the daemon the descriptors it needs and
// exits. Loading parses the kernel's BTF (a heap peak of several MB), and
// the Go runtime keeps metadata sized for that peak for the rest of the
// process's life: about 1.2 MB of the idle daemon's own memory (RssAnon)
// that the loader's exit gives back. The descriptors keep everything alive:
// the maps, and the programs through their links (bpf_link: closing the
// daemon's copy detaches them).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// loaderEnv, in the loader's environment, holds the namespace's inode and
// cookie ("INO:COOKIE"); its descriptor 3 is the socket to answer on.
const loaderEnv = "SECMON_NETMON_LOADER"

// init turns any program that links this package (the daemon, a test
// binary) into the loader when it was started as one: before main, so that
// nothing else of the program runs.
func init() {
	if spec, ok := os.LookupEnv(loaderEnv); ok {
		os.Exit(runLoader(spec))
	}
}

// loaderReply is the loader's one message; its descriptors come with it
// (SCM_RIGHTS) in this order: the events and udp_bound maps, then Links.
type loaderReply struct {
	Err     string   `json:"err,omitempty"`
	Missing []string `json:"missing,omitempty"`
	Links   int      `json:"links"`
}

// maxLinks bounds the links a reply may carry (8 programs are attached).
const maxLinks = 16

// runLoader loads and attaches the programs, sends the reply on descriptor
// 3 and returns the exit status. Exiting closes its own descriptors: the
// daemon's copies hold what it sent.
func runLoader(spec string) int {
	sock := os.NewFile(3, "loader socket")
	reply, fds := loadForDaemon(spec)
	b, _ := json.Marshal(reply)
	if err := unix.Sendmsg(int(sock.Fd()), b, unix.UnixRights(fds...), nil, 0); err != nil {
		fmt.Fprintln(os.Stderr, "secmon eBPF loader: cannot answer the daemon:", err)
		return 1
	}
	return 0
}

func loadForDaemon(spec string) (loaderReply, []int) {
	ino, cookie, err := parseLoaderSpec(spec)
	if err != nil {
		return loaderReply{Err: err.Error()}, nil
	}
	a, err := attach(ino, cookie)
	if err != nil {
		return loaderReply{Err: err.Error()}, nil
	}
	fds := []int{a.maps.Maps["events"].FD(), a.maps.Maps["udp_bound"].FD()}
	for _, l := range a.links {
		fds = append(fds, l.fd)
	}
	return loaderReply{Missing: a.missing, Links: len(a.links)}, fds
}

func parseLoaderSpec(spec string) (uint32, uint64, error) {
	i, c, ok := strings.Cut(spec, ":")
	ino, err1 := strconv.ParseUint(i, 10, 32)
	cookie, err2 := strconv.ParseUint(c, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("eBPF loader: bad %s %q", loaderEnv, spec)
	}
	return uint32(ino), cookie, nil
}

// errNoLoader is returned when the loader could not be started at all (no
// /proc/self/exe to run): the caller loads in process instead.
var errNoLoader = errors.New("cannot start the eBPF loader")

// loadProbe has the loader attach the programs for the namespace given by
// its inode and cookie, and opens the ring buffer on the maps it sends.
// Without a loader (none can be started) it attaches in this process.
func loadProbe(netnsIno uint32, netnsCookie uint64) (*probe, error) {
	p, err := loadProbeByLoader(netnsIno, netnsCookie)
	if errors.Is(err, errNoLoader) {
		return loadProbeHere(netnsIno, netnsCookie)
	}
	return p, err
}

func loadProbeByLoader(netnsIno uint32, netnsCookie uint64) (*probe, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoLoader, err)
	}
	mine := os.NewFile(uintptr(pair[0]), "loader socket")
	defer mine.Close()
	theirs := os.NewFile(uintptr(pair[1]), "loader socket")
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"secmon eBPF loader"}
	cmd.Env = append(os.Environ(), loaderEnv+"="+strconv.FormatUint(uint64(netnsIno), 10)+":"+strconv.FormatUint(netnsCookie, 10))
	cmd.ExtraFiles = []*os.File{theirs}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Start()
	theirs.Close() // the loader's copy is its own now; EOF once it exits
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoLoader, err)
	}
	reply, fds, rerr := receiveReply(int(mine.Fd()))
	werr := cmd.Wait()
	if rerr != nil {
		closeAll(fds)
		msg := strings.TrimSpace(stderr.String())
		if werr != nil && msg == "" {
			msg = werr.Error()
		}
		return nil, fmt.Errorf("the eBPF loader failed: %v (%s)", rerr, msg)
	}
	if reply.Err != "" {
		closeAll(fds)
		return nil, errors.New(reply.Err)
	}
	if len(fds) != 2+reply.Links {
		closeAll(fds)
		return nil, fmt.Errorf("the eBPF loader sent %d descriptors for %d links", len(fds), reply.Links)
	}
	p := &probe{missing: reply.Missing}
	for _, fd := range fds[2:] {
		p.held = append(p.held, os.NewFile(uintptr(fd), "bpf link"))
	}
	// NewMapFromFD owns the descriptor it is given, even when it fails.
	if p.events, err = ebpf.NewMapFromFD(fds[0]); err != nil {
		unix.Close(fds[1])
		p.close()
		return nil, fmt.Errorf("cannot use the eBPF ring buffer: %w", err)
	}
	p.held = append(p.held, p.events)
	if p.udpBound, err = ebpf.NewMapFromFD(fds[1]); err != nil {
		p.close()
		return nil, fmt.Errorf("cannot use the eBPF map udp_bound: %w", err)
	}
	p.held = append(p.held, p.udpBound)
	if p.reader, err = ringbuf.NewReader(p.events); err != nil {
		p.close()
		return nil, fmt.Errorf("cannot open the eBPF ring buffer: %w", err)
	}
	return p, nil
}

// receiveReply reads the loader's message and the descriptors with it.
func receiveReply(fd int) (loaderReply, []int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*(2+maxLinks)))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return loaderReply{}, nil, fmt.Errorf("cannot read its answer: %w", err)
	}
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return loaderReply{}, nil, fmt.Errorf("cannot read its descriptors: %w", err)
	}
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(fds)
			return loaderReply{}, nil, fmt.Errorf("cannot read its descriptors: %w", err)
		}
		fds = append(fds, got...)
	}
	if n == 0 {
		return loaderReply{}, fds, errors.New("it exited without an answer")
	}
	var r loaderReply
	if err := json.Unmarshal(buf[:n], &r); err != nil {
		return loaderReply{}, fds, fmt.Errorf("cannot read its answer: %w", err)
	}
	if r.Links < 0 || r.Links > maxLinks {
		return loaderReply{}, fds, fmt.Errorf("its answer names %d links", r.Links)
	}
	return r, fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
