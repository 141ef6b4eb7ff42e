package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Every package has a doc comment. go list reads the files the build would
// (build constraints included) and gives the comment's first sentence.
func TestEveryPackageHasADocComment(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Doc,GoFiles,Error", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannot list the packages: %v", err)
	}
	n := 0
	for dec := json.NewDecoder(bytes.NewReader(out)); ; n++ {
		var p struct {
			ImportPath, Doc string
			GoFiles         []string
			Error           *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("cannot decode go list's output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		// A directory of tests alone (nix/) is no package to document.
		if len(p.GoFiles) > 0 && strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d packages", n)
	}
}

// Every Go file is gofmt'ed.
func TestGofmt(t *testing.T) {
	out, err := exec.Command("gofmt", "-l", "../..").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot run gofmt: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Errorf("not gofmt'ed (run gofmt -w):\n%s", out)
	}
}
