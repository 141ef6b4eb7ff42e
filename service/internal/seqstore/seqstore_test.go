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
