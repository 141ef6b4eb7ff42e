package netmon

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The loader is gone once loadProbe returns, and what it attached is held
// by this process as bpf_link descriptors: the programs outlive it (the
// observe tests see their events) and go with the daemon.
func TestLoaderHandsOverItsLinksAndExits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (CI runs as root)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("the kernel has no BTF, which the eBPF programs need: %v", err)
	}
	p, err := loadProbe(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if kids := children(t); kids != "" {
		t.Fatalf("children left after loading: %s", kids)
	}
	links := 0
	for _, c := range p.held {
		var f *os.File
		switch c := c.(type) {
		case *ebpf.Map: // events and udp_bound, from the loader's descriptors
			continue
		case *os.File:
			f = c
		default:
			t.Fatalf("held %T: loaded in this process, not by the loader", c)
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(info), "link_type:") {
			links++
		}
	}
	// 3 tracepoints and, with cgroup v2, 5 cgroup programs; fewer only if
	// listed as missing.
	if links < 1 || links+len(p.missing) < 2 {
		t.Fatalf("%d bpf links held, missing %q", links, p.missing)
	}
	if p.reader == nil || p.udpBound == nil {
		t.Fatal("no ring buffer reader or udp_bound map")
	}
}

func children(t *testing.T) string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		if err != nil {
			continue // a thread that has exited
		}
		all = append(all, strings.Fields(string(b))...)
	}
	return strings.Join(all, " ")
}

// A reply the daemon cannot use is an error naming what was wrong, and the
// descriptors that came with it are handed back to be closed.
func TestReceiveReply(t *testing.T) {
	devNull := func(t *testing.T) int {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	for _, tc := range []struct {
		name    string
		msg     string
		fds     int
		want    string // error text; "" for none
		links   int
		missing int
	}{
		{"good", `{"links":2,"missing":["x"]}`, 4, "", 2, 1},
		{"error from the loader", `{"err":"missing CAP_BPF"}`, 0, "", 0, 0},
		{"no answer", "", 0, "exited without an answer", 0, 0},
		{"garbage", `{"links":`, 1, "cannot read its answer", 0, 0},
		{"too many links", `{"links":99}`, 2, "names 99 links", 0, 0},
		{"negative links", `{"links":-1}`, 2, "names -1 links", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pair[0])
			var fds []int
			for range tc.fds {
				fds = append(fds, devNull(t))
			}
			var oob []byte
			if len(fds) > 0 {
				oob = unix.UnixRights(fds...)
			}
			if tc.msg == "" {
				unix.Close(pair[1]) // the loader died before answering
			} else {
				if err := unix.Sendmsg(pair[1], []byte(tc.msg), oob, nil, 0); err != nil {
					t.Fatal(err)
				}
				unix.Close(pair[1])
			}
			r, got, err := receiveReply(pair[0])
			defer closeAll(got)
			if len(got) != tc.fds {
				t.Errorf("%d descriptors handed back, want %d", len(got), tc.fds)
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want one saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Links != tc.links || len(r.Missing) != tc.missing {
				t.Errorf("reply %+v", r)
			}
		})
	}
}
