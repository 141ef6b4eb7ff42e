package bench

import (
	"fmt"
	"strings"
	"time"
)

// render writes the report as Markdown: the command, the machine, the goals
// at a glance, then one table per figure.
func render(command string, m *machine, sections []section) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# secmon benchmarks\n\n")
	p("Produced by `make bench`, that is:\n\n```sh\n%s\n```\n\n", command)
	p("It builds secmon-daemon from the checkout and measures it against its floor in the same run; see the README, " +
		"\"Performance\", and `go run ./service/cmd/secmon-bench -h`. Every figure is the median of its runs, with " +
		"each run's value in parentheses. MB = 2^20 bytes.\n\n")
	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", m.date.Format(time.RFC3339))
	p("| commit | %s |\n", orDash(m.commit))
	p("| kernel | %s |\n", orDash(m.kernel))
	p("| CPUs | %d × %s |\n", m.cpus, orDash(m.cpu))
	p("| memory | %s |\n", orDash(m.memory))
	p("| Go | %s |\n", m.goVersion)
	p("| scratch filesystem | %s |\n", m.fs)
	p("| run as | %s |\n", m.user)
	p("| tools | %s |\n", strings.Join(m.tools, "; "))
	p("| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", m.loadStart, m.loadEnd)
	p("| took | %s |\n\n", m.took.Round(time.Second))
	p("The machine is shared: other sessions were building and testing on it during the run, so the " +
		"timing figures carry their noise (the load averages above say how much); memory, tick and system-call " +
		"counts of an idle process are not affected. There is no journald here: the daemon's journal sink writes " +
		"each event as a JSON line to stderr, which goes to a file on the tmpfs (about what journald would cost it, " +
		"and nothing to the bench while it measures; with a journal, the bench hides it from the daemon so as not " +
		"to flood it).\n\n")

	p("## Goals\n\n")
	p("| goal | target | secmon | floor / reference | met |\n|---|---|---|---|---|\n")
	for _, s := range sections {
		if s.err != nil {
			p("| %s | | failed: %s | | **no** |\n", cell(s.title), cell(firstLine(s.err.Error())))
			continue
		}
		for _, g := range s.goals {
			p("| %s | %s | %s | %s | %s |\n", cell(g.what), cell(g.target), cell(g.secmon), cell(g.floor), g.met)
		}
	}
	p("\n")
	for _, s := range sections {
		p("## %s\n\n", s.title)
		if s.err != nil {
			p("failed: %s\n\n", s.err)
			continue
		}
		if s.how != "" {
			p("%s\n\n", s.how)
		}
		if s.load != "" {
			p("Load average when it started: %s.\n\n", s.load)
		}
		p("%s", table(s.header, s.rows))
		for _, n := range s.notes {
			p("\n%s\n", n)
		}
		p("\n")
	}
	return b.String()
}

// table is a Markdown table.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(cells(header), " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(cells(r), " | ") + " |\n")
	}
	return b.String()
}

func cells(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = cell(x)
	}
	return out
}

// cell keeps a value on one table row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
