package sdlog_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pantheros/secmon/service/internal/sdlog"
)

// journalStream makes a file the test can read back and, when named, says
// through JOURNAL_STREAM that it is the journal stream.
func journalStream(t *testing.T, named bool) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if named {
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	} else {
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	}
	return f
}

func TestHandler(t *testing.T) {
	for _, tc := range []struct {
		name    string
		journal bool
		want    []string
	}{
		{"journal stream", true, []string{"<7>time=", "<6>time=", "<4>time=", "<3>time="}},
		{"another file", false, []string{"time=", "time=", "time=", "time="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := journalStream(t, tc.journal)
			log := slog.New(sdlog.NewHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "x").WithGroup("g")
			log.Debug("d", "k", 1)
			log.Info("i", "k", 2)
			log.Warn("w", "k", 3)
			log.Error("e", "k", 4)
			b, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.want), b)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, tc.want[i]) || !strings.Contains(l, "component=x") || !strings.Contains(l, fmt.Sprintf("g.k=%d", i+1)) {
					t.Errorf("line %d = %q, want it to start %q with its attributes", i, l, tc.want[i])
				}
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	f := journalStream(t, true)
	if got := sdlog.Prefix(f, sdlog.Err); got != "<3>" {
		t.Errorf("Prefix on the journal stream = %q, want <3>", got)
	}
	if got := sdlog.Prefix(os.Stdout, sdlog.Err); got != "" {
		t.Errorf("Prefix on another file = %q, want none", got)
	}
	t.Setenv("JOURNAL_STREAM", "")
	if got := sdlog.Prefix(f, sdlog.Err); got != "" {
		t.Errorf("Prefix without JOURNAL_STREAM = %q, want none", got)
	}
}

// The notifier's copy is this file, byte for byte: change both alike.
func TestNotifierCopyIsTheSame(t *testing.T) {
	ours, err := os.ReadFile("sdlog.go")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile("../../../notifier/internal/sdlog/sdlog.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Error("service/internal/sdlog/sdlog.go and notifier/internal/sdlog/sdlog.go differ: change both alike")
	}
}
