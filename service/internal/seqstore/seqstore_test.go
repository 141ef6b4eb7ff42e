package seqstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/seqstore"
)

func TestReserveSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	f, n, err := seqstore.Open(dir)
	if err != nil || n != 0 {
		t.Fatalf("first Open = %d, %v; want 0, nil", n, err)
	}
	if err := f.Reserve(65536); err != nil {
		t.Fatal(err)
	}
	if _, n, err = seqstore.Open(dir); err != nil || n != 65536 {
		t.Fatalf("reopen = %d, %v; want 65536", n, err)
	}
}

func TestCorruptFileNamesItself(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, seqstore.FileName), []byte("banana\n"), 0o600)
	_, _, err := seqstore.Open(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "seq")+":1") {
		t.Fatalf("Open = %v, want an error naming the file and line", err)
	}
}

// A ceiling near 2^64 would wrap the numbering to 0, the seq of drop
// notices: it is refused with the file named, and the daemon starts from
// the clock instead.
func TestCeilingNearTheTopIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, seqstore.FileName), []byte("18446744073709551610\n"), 0o640)
	f, n, err := seqstore.Open(dir)
	if f == nil || n != 0 || err == nil || !strings.Contains(err.Error(), filepath.Join(dir, seqstore.FileName)+":1:") || !strings.Contains(err.Error(), "wrap") {
		t.Fatalf("Open = %v, %d, %v; want the store, 0 and an error naming the file", f, n, err)
	}
}
