package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
)

const manDir = "../../man"

// render turns man/NAME.scd into roff with scdoc.
func render(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("scdoc"); err != nil {
		t.Skip("scdoc is not installed (Debian: scdoc)")
	}
	src, err := os.Open(filepath.Join(manDir, name+".scd"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cmd := exec.Command("scdoc")
	cmd.Stdin = src
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scdoc %s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}

// Every page renders, and groff (all warnings) and mandoc (errors) have
// nothing to say about it.
func TestManPagesRenderLintClean(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join(manDir, "*.scd"))
	if len(pages) < 4 {
		t.Fatalf("found only %v", pages)
	}
	for _, p := range pages {
		name := strings.TrimSuffix(filepath.Base(p), ".scd")
		t.Run(name, func(t *testing.T) {
			roff := filepath.Join(t.TempDir(), name)
			os.WriteFile(roff, []byte(render(t, name)), 0o644)
			for _, lint := range [][]string{
				{"groff", "-man", "-ww", "-z", "-Tutf8", roff},
				{"groff", "-man", "-ww", "-z", "-Tascii", roff},
				{"mandoc", "-Tlint", "-W", "error", roff},
			} {
				if _, err := exec.LookPath(lint[0]); err != nil {
					t.Skipf("%s is not installed (Debian: groff-base, mandoc)", lint[0])
				}
				if out, err := exec.Command(lint[0], lint[1:]...).CombinedOutput(); err != nil || len(out) > 0 {
					t.Errorf("%s: %v\n%s", strings.Join(lint[:len(lint)-1], " "), err, out)
				}
			}
		})
	}
}

// text is what a reader sees: the roff with font escapes removed.
func text(roff string) string {
	return regexp.MustCompile(`\\f[BIRP]|\\&|\\`).ReplaceAllString(roff, "")
}

// helpFlags lists the flags a binary's -help prints.
func helpFlags(t *testing.T, binary string) []string {
	out, _ := exec.Command(filepath.Join(bin, binary), "-help").CombinedOutput()
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(out), -1) {
		names = append(names, m[1])
	}
	if len(names) < 3 {
		t.Fatalf("%s -help lists only %v:\n%s", binary, names, out)
	}
	return names
}

// The pages document what the programs have: every flag, every event type,
// every config key, every D-Bus member.
func TestManPagesCoverEverything(t *testing.T) {
	daemon := text(render(t, "secmon-daemon.8"))
	for _, f := range helpFlags(t, "secmon-daemon") {
		if !strings.Contains(daemon, "-"+f) {
			t.Errorf("secmon-daemon(8) does not document -%s", f)
		}
	}
	for _, ti := range event.Types {
		if !strings.Contains(daemon, string(ti.Type)) {
			t.Errorf("secmon-daemon(8) does not list the event type %s", ti.Type)
		}
	}
	client := text(render(t, "secmon-client.1"))
	for _, f := range helpFlags(t, "secmon-client") {
		if !strings.Contains(client, "-"+f) {
			t.Errorf("secmon-client(1) does not document -%s", f)
		}
	}
	toml := text(render(t, "secmon.toml.5"))
	example := string(mustRead(t, "../../data/secmon.example.toml"))
	section := ""
	for _, line := range strings.Split(example, "\n") {
		if m := regexp.MustCompile(`^\[\[?([a-z_]+)\]\]?`).FindStringSubmatch(line); m != nil {
			section = m[1]
			if !strings.Contains(toml, "["+section+"]") {
				t.Errorf("secmon.toml(5) has no section [%s]", section)
			}
			continue
		}
		if m := regexp.MustCompile(`^([a-z_]+) *=`).FindStringSubmatch(line); m != nil {
			if !regexp.MustCompile(`(^|[\s,])` + m[1] + `\b`).MatchString(toml) {
				t.Errorf("secmon.toml(5) does not document %s (in [%s])", m[1], section)
			}
		}
	}
	notifier := text(render(t, "secmon-notifier.1"))
	for _, f := range helpFlags(t, "secmon-notifier") {
		if !strings.Contains(notifier, "-"+f) {
			t.Errorf("secmon-notifier(1) does not document -%s", f)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^#?\[?([a-z_]+)\]? *=|^#?\[([a-z_]+)`).FindAllStringSubmatch(string(mustRead(t, "../../data/notifier.example.toml")), -1) {
		key := m[1] + m[2]
		if !strings.Contains(notifier, key) {
			t.Errorf("secmon-notifier(1) does not document %s", key)
		}
	}
	dbus := text(render(t, "secmon-dbus.7"))
	xml := string(mustRead(t, "../../dbus/org.pantheros.Secmon1.xml"))
	for _, m := range regexp.MustCompile(`<(signal|method|property) name="(\w+)"`).FindAllStringSubmatch(xml, -1) {
		if !strings.Contains(dbus, m[2]) {
			t.Errorf("secmon-dbus(7) does not document the %s %s", m[1], m[2])
		}
	}
}
