package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// benchPackages hold the hot paths' go test benchmarks.
var benchPackages = []string{"./service/internal/event/", "./service/internal/hub/"}

// goBenchLine is one result line of go test -bench.
type goBenchLine struct {
	Name string // package-qualified, without the -GOMAXPROCS suffix
	// Values by unit: ns/op, B/op, allocs/op, and custom ones.
	Values map[string]float64
}

// parseGoBench reads go test -bench output: "pkg: …" lines name the package
// of the benchmark lines that follow, which read
// "BenchmarkX-2   1000   1234 ns/op   56 B/op   1 allocs/op".
func parseGoBench(text string) []goBenchLine {
	var out []goBenchLine
	pkg := ""
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p[strings.LastIndexByte(p, '/')+1:]
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if pkg != "" {
			name = pkg + "." + name
		}
		l := goBenchLine{Name: name, Values: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			l.Values[f[i+1]] = v
		}
		out = append(out, l)
	}
	return out
}

// goBenchFigure runs the hot paths' benchmarks -bench-count times and
// reports the medians, with benchstat's summary when it can be had.
func (b *bench) goBenchFigure(ctx context.Context) []section {
	const title = "Hot paths (go test -bench)"
	o := b.opts
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(o.benchCount)}, benchPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return []section{failed(title, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, lastLines(string(out), 5)))}
	}
	lines := parseGoBench(string(out))
	if len(lines) == 0 {
		return []section{failed(title, fmt.Errorf("go test printed no benchmark results"))}
	}
	s := section{
		title: title,
		how: fmt.Sprintf("`go %s` in the checkout; medians of the %d counts. The event benchmark encodes one "+
			"filesystem event as its JSON line (what each socket client's writer does per event); the hub benchmark "+
			"publishes one event to ten subscribers.", strings.Join(args, " "), o.benchCount),
		header: []string{"benchmark", "time/op", "B/op", "allocs/op"},
	}
	var names []string
	by := map[string][]goBenchLine{}
	for _, l := range lines {
		if _, ok := by[l.Name]; !ok {
			names = append(names, l.Name)
		}
		by[l.Name] = append(by[l.Name], l)
	}
	for _, n := range names {
		col := func(unit string) []float64 {
			var xs []float64
			for _, l := range by[n] {
				if v, ok := l.Values[unit]; ok {
					xs = append(xs, v)
				}
			}
			return xs
		}
		ns := Median(col("ns/op"))
		timeCell := fmtNum(ns, 1) + " ns"
		if ns >= 1000 {
			timeCell = fmtNum(ns/1000, 2) + " µs"
		}
		s.rows = append(s.rows, []string{n, timeCell, fmtNum(Median(col("B/op")), 0), fmtNum(Median(col("allocs/op")), 0)})
	}
	if stat, err := benchstat(ctx, b.r.dir, out); err != nil {
		s.notes = append(s.notes, "benchstat unavailable ("+err.Error()+"): medians above are the bench's own.")
	} else {
		s.notes = append(s.notes, "benchstat (golang.org/x/perf/cmd/benchstat):\n\n```\n"+strings.TrimSpace(stat)+"\n```")
	}
	return []section{s}
}

// benchstat runs benchstat, through the module proxy, on the output.
func benchstat(ctx context.Context, dir string, out []byte) (string, error) {
	f := filepath.Join(dir, "gobench.txt")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "golang.org/x/perf/cmd/benchstat@latest", f)
	cmd.Dir = dir // outside the module: @latest resolves on its own
	res, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go run golang.org/x/perf/cmd/benchstat@latest: %v", err)
	}
	// benchstat names the file; the reader does not need the temp path.
	return strings.ReplaceAll(string(res), f, "gobench.txt"), nil
}
