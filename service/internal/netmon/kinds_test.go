package netmon_test

import (
	"maps"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/pantheros/secmon/service/internal/netmon"
)

// The kind constants are written by hand (bpf2go's -type would generate
// them, but regenerating needs clang, which CI does not install): they are
// exactly bpf/netmon.c's enum kind, which this reads without a compiler.
func TestKindsMatchTheSource(t *testing.T) {
	src, err := os.ReadFile("bpf/netmon.c")
	if err != nil {
		t.Fatal(err)
	}
	enum := regexp.MustCompile(`(?s)enum kind \{(.*?)\};`).FindSubmatch(src)
	if enum == nil {
		t.Fatal("no enum kind in bpf/netmon.c")
	}
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(K_\w+)\s*=\s*(\d+)`).FindAllSubmatch(enum[1], -1) {
		got[string(m[1])], _ = strconv.Atoi(string(m[2]))
	}
	if !maps.Equal(got, netmon.Kinds) {
		t.Errorf("bpf/netmon.c's enum kind is %v; the Go constants are %v", got, netmon.Kinds)
	}
}
