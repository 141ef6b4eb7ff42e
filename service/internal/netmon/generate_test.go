package netmon_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The committed objects are what bpf/netmon.c compiles to, by the generate
// directive in generate.go. CI has no clang (it needs none to build), so this
// runs where clang is installed (`bash .ci/setup bpf`).
func TestObjectsMatchTheSource(t *testing.T) {
	cc, strip := os.Getenv("BPF2GO_CC"), os.Getenv("BPF2GO_STRIP")
	if cc == "" {
		cc, strip = "clang-14", "llvm-strip-14"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("%s is not installed (bash .ci/setup bpf installs it)", cc)
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		t.Skip("the libbpf headers are not installed (libbpf-dev)")
	}
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(l, "//go:generate go tool bpf2go "); ok {
			line = rest
		}
	}
	args := splitQuoted(line)
	if len(args) == 0 {
		t.Fatal("no go:generate line for bpf2go in generate.go")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", append([]string{"tool", "bpf2go", "-output-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GOPACKAGE=netmon", "BPF2GO_CC="+cc, "BPF2GO_STRIP="+strip)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bpf2go: %v\n%s", err, out)
	}
	for _, f := range []string{"netmon_bpfel.o", "netmon_bpfeb.o", "netmon_bpfel.go", "netmon_bpfeb.go"} {
		want, err1 := os.ReadFile(filepath.Join(dir, f))
		got, err2 := os.ReadFile(f)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", f, err1, err2)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what bpf/netmon.c compiles to: run go generate ./service/internal/netmon/", f)
		}
	}
}

// splitQuoted splits on spaces, keeping "double-quoted" parts whole.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, has := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, has = !quoted, true
		case r == ' ' && !quoted:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}
