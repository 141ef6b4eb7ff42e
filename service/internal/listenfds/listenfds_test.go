package listenfds_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/listenfds"
)

const childEnv = "LISTENFDS_TEST_CHILD"

// TestChild runs in the child that TestListener starts: it takes a
// listener as the daemon does, and prints its address and whether the
// variables are gone.
func TestChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("only in TestListener's child")
	}
	l := listenfds.Listener("secmon")
	addr := "none"
	if l != nil {
		addr = l.Addr().String()
	}
	fmt.Printf("addr=%s env=%q\n", addr, os.Getenv("LISTEN_FDS")+os.Getenv("LISTEN_PID")+os.Getenv("LISTEN_FDNAMES"))
}

func TestListener(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		sockets []string // passed as fd 3, 4, …
		env     string   // shell assignments; $$ is the child's pid
		want    string
	}{
		{"the named one", []string{"a", "b"}, "LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=other:secmon", "b"},
		{"the first without names", []string{"a", "b"}, "LISTEN_PID=$$ LISTEN_FDS=2", "a"},
		{"another process's", []string{"a"}, "LISTEN_PID=1 LISTEN_FDS=1", "none"},
		{"nothing passed", nil, "", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []*os.File
			paths := map[string]string{}
			for _, s := range tc.sockets {
				p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+"-"+s)
				paths[p] = s
				l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				f, err := l.File()
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				files = append(files, f)
			}
			// sh sets LISTEN_PID to its own pid, which exec keeps.
			cmd := exec.Command("sh", "-c", tc.env+` exec "$0" "$@"`, os.Args[0], "-test.run=^TestChild$", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			cmd.ExtraFiles = files
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var line string
			for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); {
				if strings.HasPrefix(sc.Text(), "addr=") {
					line = sc.Text()
				}
			}
			got := "none"
			if a, _, ok := strings.Cut(strings.TrimPrefix(line, "addr="), " "); ok && a != "none" {
				got = paths[a]
			}
			if got != tc.want || !strings.HasSuffix(line, `env=""`) {
				t.Errorf("child said %q (socket %q), want socket %q and the variables gone", line, got, tc.want)
			}
		})
	}
}
