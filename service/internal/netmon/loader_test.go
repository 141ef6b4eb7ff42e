package netmon

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
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
