// Command workload is secmon-bench's file generator: a separate process, so
// that the time it takes to run is not disturbed by the bench's own readers.
// It runs one burst of file operations under -dir and prints, as one JSON
// object on stdout, when the first operation started and the last ended
// (CLOCK_REALTIME, nanoseconds) and how many operations it made.
//
// The layout is fixed so the bench can tell from a path which operation it
// belongs to (see bench.Layout): flat files -dir/s{i%subdirs}/f{i} in
// subdirectories that exist before the burst (created, written when -write,
// then deleted at once), and -nested chains -dir/n{j}/a/b/c/d/f created by one
// MkdirAll each, spread evenly through the burst, whose file is kept: the
// directories appear faster than a recursive watcher can add its watches.
// Last, -dir/DONE is created: the sentinel readers stop at.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

type result struct {
	StartNS int64 `json:"start_ns"`
	EndNS   int64 `json:"end_ns"`
	Ops     int   `json:"ops"`
}

func main() {
	dir := flag.String("dir", "", "root of the watched tree (s0… must exist)")
	files := flag.Int("files", 0, "flat files to create (and delete)")
	subdirs := flag.Int("subdirs", 10, "existing subdirectories s0… the flat files go to")
	nested := flag.Int("nested", 0, "nested chains n{j}/a/b/c/d/f")
	write := flag.Bool("write", true, "write to each flat file before deleting it")
	del := flag.Bool("delete", true, "delete each flat file at once")
	flag.Parse()
	if *dir == "" || *subdirs < 1 {
		fmt.Fprintln(os.Stderr, "workload: -dir and -subdirs ≥ 1 are required")
		os.Exit(2)
	}
	r, err := run(*dir, *files, *subdirs, *nested, *write, *del)
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func run(dir string, files, subdirs, nested int, write, del bool) (result, error) {
	data := []byte("secmon-bench workload: 64 bytes of data to write to each file.\n")
	subs := make([]string, subdirs)
	for k := range subs {
		subs[k] = filepath.Join(dir, "s"+strconv.Itoa(k))
	}
	every := 0
	if nested > 0 {
		every = max(files/nested, 1)
	}
	var r result
	chain := 0
	doChain := func() error {
		d := filepath.Join(dir, "n"+strconv.Itoa(chain), "a", "b", "c", "d")
		chain++
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %w", d, err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), data, 0o644); err != nil {
			return fmt.Errorf("cannot write in %s: %w", d, err)
		}
		r.Ops += 5 + 2
		return nil
	}
	start := time.Now()
	for i := range files {
		if every > 0 && i%every == 0 && chain < nested {
			if err := doChain(); err != nil {
				return r, err
			}
		}
		p := filepath.Join(subs[i%subdirs], "f"+strconv.Itoa(i))
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return r, fmt.Errorf("cannot create %s: %w", p, err)
		}
		r.Ops++
		if write {
			if _, err := f.Write(data); err != nil {
				f.Close()
				return r, fmt.Errorf("cannot write %s: %w", p, err)
			}
			r.Ops++
		}
		if err := f.Close(); err != nil {
			return r, fmt.Errorf("cannot close %s: %w", p, err)
		}
		if del {
			if err := os.Remove(p); err != nil {
				return r, fmt.Errorf("cannot delete %s: %w", p, err)
			}
			r.Ops++
		}
	}
	for chain < nested {
		if err := doChain(); err != nil {
			return r, err
		}
	}
	end := time.Now()
	r.StartNS, r.EndNS = start.UnixNano(), end.UnixNano()
	if err := os.WriteFile(filepath.Join(dir, "DONE"), nil, 0o644); err != nil {
		return r, fmt.Errorf("cannot create the sentinel: %w", err)
	}
	return r, nil
}
