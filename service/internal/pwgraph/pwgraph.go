// Package pwgraph names the applications behind a media broker: when
// PipeWire holds a camera or a microphone, the kernel only ever shows
// pipewire opening the device, and the program that asked for it is in
// PipeWire's graph — a stream node linked to the device's node.
//
// The graph is read with pw-dump (PipeWire's own tool, so secmon carries no
// protocol client), run as the broker's user against the broker's runtime
// directory, with a deadline and a size cap. The client's pid is the one
// PipeWire took from the socket's peer credentials (pipewire.sec.pid), not
// the one the application claims (application.process.id), and it is
// named again from /proc by the caller.
package pwgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pantheros/secmon/service/internal/procinfo"
)

// Brokers are the programs that open media devices for others. A name is
// an executable's base name or a comm.
var Brokers = []string{"pipewire", "pipewire-pulse", "wireplumber", "pipewire-media-session", "pulseaudio", "jackd", "jackdbus"}

// Broker returns the broker's name if comm or exe name one, else "".
// NixOS wraps some programs: .pipewire-wrapped (comm cut at 15 bytes:
// .pipewire-wrapp) is pipewire.
func Broker(comm, exe string) string {
	for _, n := range []string{filepath.Base(exe), comm} {
		n = strings.TrimPrefix(n, ".")
		if i := strings.Index(n, "-wrap"); i > 0 {
			n = n[:i]
		}
		for _, b := range Brokers {
			if n == b {
				return b
			}
		}
	}
	return ""
}

// Client is an application whose stream is linked to the device.
type Client struct {
	// PID is PipeWire's pipewire.sec.pid (from SO_PEERCRED), or the
	// application's own claim when PipeWire has none; 0 if neither.
	PID int
	// Name is application.name, as the application declared it.
	Name string
	// Binary is application.process.binary, as declared.
	Binary string
	// Stream is the stream node's node.name.
	Stream string
}

type object struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	Info *struct {
		OutputNode *int                       `json:"output-node-id"`
		InputNode  *int                       `json:"input-node-id"`
		Props      map[string]json.RawMessage `json:"props"`
	} `json:"info"`
}

var pcmName = regexp.MustCompile(`^pcmC(\d+)D(\d+)c$`)

// Linked parses a pw-dump and returns the clients whose input streams are
// linked, directly or through up to two filter nodes, to the node of
// device (a /dev/snd/pcmC*D*c or /dev/video* path).
func Linked(dump []byte, device string) ([]Client, error) {
	var objs []object
	if err := json.Unmarshal(dump, &objs); err != nil {
		return nil, fmt.Errorf("cannot read the PipeWire graph: %w", err)
	}
	nodes := map[int]map[string]string{}
	clients := map[int]map[string]string{}
	out := map[int][]int{} // node → nodes its output links feed
	for _, o := range objs {
		if o.Info == nil {
			continue
		}
		switch strings.TrimPrefix(o.Type, "PipeWire:Interface:") {
		case "Node":
			nodes[o.ID] = props(o.Info.Props)
		case "Client":
			clients[o.ID] = props(o.Info.Props)
		case "Link":
			if o.Info.OutputNode != nil && o.Info.InputNode != nil {
				out[*o.Info.OutputNode] = append(out[*o.Info.OutputNode], *o.Info.InputNode)
			}
		}
	}
	var found []Client
	seen := map[int]bool{}
	for id, p := range nodes {
		if !isDevice(p, device) {
			continue
		}
		// Breadth-first, three hops at most: device → stream, or device →
		// filter (echo cancel, loopback) → … → stream.
		frontier := []int{id}
		for hop := 0; hop < 3 && len(frontier) > 0; hop++ {
			var next []int
			for _, n := range frontier {
				for _, in := range out[n] {
					if seen[in] {
						continue
					}
					seen[in] = true
					np := nodes[in]
					if strings.HasPrefix(np["media.class"], "Stream/Input/") {
						found = append(found, client(np, clients))
					} else {
						next = append(next, in)
					}
				}
			}
			frontier = next
		}
	}
	return found, nil
}

func client(node map[string]string, clients map[int]map[string]string) Client {
	c := Client{Name: node["application.name"], Binary: node["application.process.binary"], Stream: node["node.name"]}
	if id, err := strconv.Atoi(node["client.id"]); err == nil {
		if cp := clients[id]; cp != nil {
			if c.Name == "" {
				c.Name = cp["application.name"]
			}
			if c.Binary == "" {
				c.Binary = cp["application.process.binary"]
			}
			c.PID, _ = strconv.Atoi(cp["pipewire.sec.pid"])
			if c.PID == 0 {
				c.PID, _ = strconv.Atoi(cp["application.process.id"])
			}
		}
	}
	return c
}

// isDevice says whether a node with props p is the PipeWire node for the
// device node path: ALSA nodes by card and device number (ACP and plain
// ALSA nodes both carry api.alsa.pcm.* or alsa.*), V4L2 nodes by path.
func isDevice(p map[string]string, device string) bool {
	base := filepath.Base(device)
	if m := pcmName.FindStringSubmatch(base); m != nil {
		if !strings.HasPrefix(p["media.class"], "Audio/Source") && !strings.HasPrefix(p["media.class"], "Audio/Duplex") {
			return false
		}
		card, dev := first(p, "api.alsa.pcm.card", "alsa.card"), first(p, "api.alsa.pcm.device", "alsa.device")
		return card == m[1] && dev == m[2]
	}
	if strings.HasPrefix(base, "video") {
		return p["api.v4l2.path"] == device
	}
	return false
}

func first(p map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := p[k]; ok {
			return v
		}
	}
	return ""
}

// props flattens string, number and boolean values to strings; PipeWire
// writes card numbers as either.
func props(raw map[string]json.RawMessage) map[string]string {
	m := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			m[k] = s
			continue
		}
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if d.Decode(&n) == nil {
			m[k] = n.String()
		}
	}
	return m
}

// Reader reads a broker's graph.
type Reader struct {
	// PwDump is the pw-dump program; empty: looked up in PATH.
	PwDump string
	// Timeout bounds one read; the device event waits for it.
	Timeout time.Duration
	// Proc is the proc filesystem, for the broker's environment.
	Proc string
}

// Clients returns the applications linked to device in the graph of the
// broker with pid brokerPID, running as uid.
func (r *Reader) Clients(ctx context.Context, brokerPID int, uid int64, device string) ([]Client, error) {
	if uid < 0 {
		return nil, errors.New("cannot read the PipeWire graph: the broker's user is unknown")
	}
	gid := uint32(uid)
	if st, err := procinfo.ReadStatus(r.proc(), brokerPID); err == nil {
		if ids := st.IDs("Gid"); ids != nil {
			gid = ids[0]
		}
	}
	dump, err := r.Dump(ctx, brokerPID, uint32(uid), gid)
	if err != nil {
		return nil, err
	}
	return Linked(dump, device)
}

func (r *Reader) proc() string {
	if r.Proc == "" {
		return "/proc"
	}
	return r.Proc
}

// maxDump caps what is read from pw-dump: a desktop graph is 100–500 KB.
const maxDump = 16 << 20

// Dump runs pw-dump as the broker's user (uid, gid), pointed at the
// runtime directory in the broker's environment (PIPEWIRE_RUNTIME_DIR,
// XDG_RUNTIME_DIR, PIPEWIRE_REMOTE; /run/user/UID when unreadable). It
// needs to be that user or root.
func (r *Reader) Dump(ctx context.Context, brokerPID int, uid, gid uint32) ([]byte, error) {
	prog := r.PwDump
	if prog == "" {
		p, err := exec.LookPath("pw-dump")
		if err != nil {
			return nil, errors.New("cannot read the PipeWire graph: pw-dump is not installed")
		}
		prog = p
	}
	self := uint32(os.Geteuid())
	if self != 0 && self != uid {
		return nil, fmt.Errorf("cannot read uid %d's PipeWire graph: secmon runs as uid %d, not root or that user", uid, self)
	}
	proc := r.proc()
	env := []string{"PATH=/run/current-system/sw/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR=/run/user/" + strconv.Itoa(int(uid))}
	if b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(brokerPID), "environ")); err == nil {
		for _, kv := range strings.Split(string(b), "\x00") {
			for _, k := range []string{"XDG_RUNTIME_DIR=", "PIPEWIRE_RUNTIME_DIR=", "PIPEWIRE_REMOTE="} {
				if strings.HasPrefix(kv, k) {
					env = append(env, kv)
				}
			}
		}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if self != uid {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: true}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout capped
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cannot read the PipeWire graph with %s: %w", prog, err)
	}
	if stdout.over {
		return nil, fmt.Errorf("cannot read the PipeWire graph: pw-dump wrote more than %d bytes", maxDump)
	}
	return stdout.Bytes(), nil
}

type capped struct {
	bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxDump {
		c.over = true
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
