package seqstate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/notifier/internal/seqstate"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "secmon", seqstate.FileName)
	if _, ok, err := seqstate.Load(path); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v, want neither", ok, err)
	}
	for _, seq := range []uint64{1, 42, 1<<64 - 1} {
		if err := seqstate.Save(path, seq); err != nil {
			t.Fatal(err)
		}
		got, ok, err := seqstate.Load(path)
		if !ok || err != nil || got != seq {
			t.Fatalf("Load after Save(%d) = %d %v %v", seq, got, ok, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
}

func TestLoadNamesTheBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), seqstate.FileName)
	os.WriteFile(path, []byte("twelve\n"), 0o600)
	_, ok, err := seqstate.Load(path)
	if ok || err == nil || !strings.Contains(err.Error(), path+":1:") {
		t.Fatalf("ok %v err %v, want an error naming %s:1", ok, err, path)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if got := seqstate.DefaultPath(); got != "/x/state/secmon/notifier-last-seq" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "relative")
	t.Setenv("HOME", "/home/alice")
	if got := seqstate.DefaultPath(); got != "/home/alice/.local/state/secmon/notifier-last-seq" {
		t.Errorf("without: %q", got)
	}
}
