package journal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/journal"
)

const catalogFile = "../../../data/catalog/secmon.catalog"

var (
	entryHeader = regexp.MustCompile(`^-- ([0-9a-f]{32})$`)
	fieldRef    = regexp.MustCompile(`@([A-Z0-9_]+)@`)
)

// The catalog has one entry per MESSAGE_ID, each with a subject, and every
// @FIELD@ it shows is one the journal projection of that type can carry.
func TestCatalogCoversEveryMessageID(t *testing.T) {
	b, err := os.ReadFile(catalogFile)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*event.TypeInfo{}
	for i := range event.Types {
		byID[event.Types[i].MessageID] = &event.Types[i]
	}
	seen := map[string]bool{}
	var cur *event.TypeInfo
	var subject bool
	end := func() {
		if cur != nil && !subject {
			t.Errorf("%s: entry for %s has no Subject:", catalogFile, cur.Type)
		}
	}
	for n, line := range strings.Split(string(b), "\n") {
		if m := entryHeader.FindStringSubmatch(line); m != nil {
			end()
			cur, subject = byID[m[1]], false
			if cur == nil {
				t.Errorf("%s:%d: %s is no MESSAGE_ID of secmon's", catalogFile, n+1, m[1])
			} else if seen[m[1]] {
				t.Errorf("%s:%d: second entry for %s", catalogFile, n+1, cur.Type)
			}
			seen[m[1]] = true
			continue
		}
		if cur == nil {
			continue
		}
		subject = subject || strings.HasPrefix(line, "Subject: ")
		for _, m := range fieldRef.FindAllStringSubmatch(line, -1) {
			if !fieldOf(cur, m[1]) {
				t.Errorf("%s:%d: %s shows @%s@, which its events never carry", catalogFile, n+1, cur.Type, m[1])
			}
		}
	}
	end()
	for _, ti := range event.Types {
		if !seen[ti.MessageID] {
			t.Errorf("%s: no entry for %s (MESSAGE_ID %s)", catalogFile, ti.Type, ti.MessageID)
		}
	}
}

// fieldOf says whether events of type ti can carry the journal field name:
// project an event with every metadata key and a process set.
func fieldOf(ti *event.TypeInfo, name string) bool {
	md := map[string]string{}
	for _, k := range ti.MetadataKeys {
		md[k] = "x"
	}
	e := event.Event{Type: ti.Type, Severity: ti.DefaultSeverity, Path: "/p", Description: "d", Metadata: md, Seq: 1,
		Process: &event.Process{PID: 1, Comm: "c", Exe: "/e", UID: 0, User: "u", Unit: "u.service", App: "a"}}
	_, ok := journal.Fields(e)[name]
	return ok
}

// journalctl itself compiles and shows the catalog.
func TestCatalogCompilesWithJournalctl(t *testing.T) {
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("journalctl is not installed (Debian: systemd)")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "usr", "lib", "systemd", "catalog")
	os.MkdirAll(dir, 0o755)
	b, err := os.ReadFile(catalogFile)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secmon.catalog"), b, 0o644)
	if out, err := exec.Command("journalctl", "--root="+root, "--update-catalog").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("journalctl --update-catalog: %v\n%s", err, out)
	}
	for _, ti := range event.Types {
		out, err := exec.Command("journalctl", "--root="+root, "--dump-catalog", ti.MessageID).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Event type: "+string(ti.Type)+".") {
			t.Errorf("journalctl --dump-catalog %s (%s): %v\n%s", ti.MessageID, ti.Type, err, out)
		}
	}
}
