package procinfo_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/procinfo"
)

func TestStatusIDs(t *testing.T) {
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	st := procinfo.ParseStatus(b)
	for _, tc := range []struct {
		key  string
		want []uint32
	}{
		{"Uid", []uint32{1000, 1001, 1002, 1003}},
		{"Gid", []uint32{100, 101, 102, 103}},
		{"Groups", []uint32{27, 44, 100, 997}},
		{"Missing", nil},
		{"State", nil}, // not numbers
	} {
		if got := st.IDs(tc.key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("IDs(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	if got := st["VmRSS"]; got != "21436 kB" {
		t.Errorf(`VmRSS = %q, want "21436 kB"`, got)
	}
}

func TestParseStatusOddLines(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       procinfo.Status
	}{
		{"empty", "", procinfo.Status{}},
		{"no colon", "garbage\nUid:\t5\t5\t5\t5", procinfo.Status{"Uid": "5\t5\t5\t5"}},
		{"empty groups", "Groups:\t\n", procinfo.Status{"Groups": ""}},
		{"colon in value", "State:\tS (a:b)\n", procinfo.Status{"State": "S (a:b)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := procinfo.ParseStatus([]byte(tc.text)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if ids := procinfo.ParseStatus([]byte("Groups:\t\n")).IDs("Groups"); ids != nil {
		t.Errorf("no groups: IDs = %v, want nil", ids)
	}
}

func TestReadStatusOfThisProcess(t *testing.T) {
	st, err := procinfo.ReadStatus("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ids := st.IDs("Uid"); len(ids) != 4 || int(ids[0]) != os.Getuid() || int(ids[1]) != os.Geteuid() {
		t.Errorf("Uid ids %v, want real %d effective %d", ids, os.Getuid(), os.Geteuid())
	}
	if _, err := procinfo.ReadStatus(t.TempDir(), 1); err == nil {
		t.Error("ReadStatus of a missing process: no error")
	}
}

// PIDs are the numeric entries, in numeric order ("10" after "9").
func TestPIDs(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"10", "9", "100", "self", "sys", "0x1", "2"} {
		os.Mkdir(filepath.Join(root, n), 0o755)
	}
	got, err := procinfo.PIDs(root)
	if err != nil || !reflect.DeepEqual(got, []int{2, 9, 10, 100}) {
		t.Fatalf("PIDs = %v, %v; want [2 9 10 100]", got, err)
	}
	if _, err := procinfo.PIDs(filepath.Join(root, "missing")); err == nil {
		t.Error("PIDs of a missing root: no error")
	}
}

// The fd paths FDs returns resolve, through the real /proc, to the files
// this process has open.
func TestFDsOfThisProcess(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pids, err := procinfo.PIDs("/proc")
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("PIDs(/proc) = %d pids, %v; want this process (%d) among them", len(pids), err, os.Getpid())
	}
	fds, err := procinfo.FDs("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("/proc", strconv.Itoa(os.Getpid()), "fd", strconv.Itoa(int(f.Fd())))
	if !slices.Contains(fds, want) {
		t.Fatalf("FDs = %q, want %s among them", fds, want)
	}
	var a, b unix.Stat_t
	if err := unix.Stat(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(f.Fd()), &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev != b.Dev || a.Ino != b.Ino {
		t.Errorf("%s is not the file held open", want)
	}
	if _, err := procinfo.FDs(t.TempDir(), 1); err == nil {
		t.Error("FDs of a missing process: no error")
	}
}
