package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const module = "github.com/pantheros/secmon"

// moduleRoot is the secmon checkout the bench is run from.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("cannot find the Go module (is go installed?): %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("cannot find the secmon module: run secmon-bench inside the secmon checkout")
	}
	b, err := os.ReadFile(gomod)
	if err != nil || !bytes.Contains(b, []byte("module "+module+"\n")) {
		return "", fmt.Errorf("cannot find the secmon module: %s is not %s's", gomod, module)
	}
	return filepath.Dir(gomod), nil
}

// build compiles the programs the bench runs into r.bin: the daemon as
// make builds it (trimpath, cgo for the USB monitor), the floor and the
// file generator. Each is then written to disk, as an installed program
// is: a just-written file's pages are dirty in the page cache, and the
// kernel does not let a process give dirty pages back (the daemon pages
// out its start-up code once ready).
func (r *runner) build(ctx context.Context, root string) error {
	for _, pkg := range []string{"./service/cmd/secmon-daemon", "./service/internal/bench/floor", "./service/internal/bench/workload"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", r.bin+"/", pkg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("cannot build %s: %v\n%s", pkg, err, out)
		}
		if err := syncFile(r.binPath(filepath.Base(pkg))); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies an executable and writes the copy to disk (see build).
func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		return err
	}
	return syncFile(to)
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("cannot write %s to disk: %w", name, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot write %s to disk: %w", name, err)
	}
	return nil
}

func (r *runner) binPath(name string) string { return filepath.Join(r.bin, name) }
