package client_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/client"
	"github.com/pantheros/secmon/service/internal/event"
)

const completions = "../../../data/completions/"

// flags lists secmon-client's flags as its --help prints them.
func flags(t *testing.T) []string {
	t.Helper()
	var out strings.Builder
	client.Run(context.Background(), []string{"--help"}, &out, &out)
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(out.String(), -1) {
		names = append(names, m[1])
	}
	if len(names) < 5 {
		t.Fatalf("found only %v in --help:\n%s", names, out.String())
	}
	return names
}

// Every completion offers every flag and every event type.
func TestCompletionsKnowEveryFlagAndType(t *testing.T) {
	for file, flagForm := range map[string]string{
		"secmon-client.bash": "--%s",
		"_secmon-client":     "--%s",
		"secmon-client.fish": "-l %s ",
	} {
		b, err := os.ReadFile(completions + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags(t) {
			if !strings.Contains(string(b), strings.Replace(flagForm, "%s", f, 1)) {
				t.Errorf("%s does not complete the flag %s", file, f)
			}
		}
		for _, ti := range event.Types {
			if !regexp.MustCompile(`\b` + string(ti.Type) + `\b`).Match(b) {
				t.Errorf("%s does not offer the type %s", file, ti.Type)
			}
		}
	}
}

// The bash completion, run by bash: flags, types (also after a comma),
// severities.
func TestBashCompletion(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"secmon-client", "--ty"}, "--type"},
		{[]string{"secmon-client", "--type", "Camera"}, "CameraAccess CameraReleased"},
		{[]string{"secmon-client", "--type", "FileCreate,SshL"}, "FileCreate,SshLogin FileCreate,SshLoginFailed FileCreate,SshLogSpoofed"},
		{[]string{"secmon-client", "--min-severity", "H"}, "High"},
		{[]string{"secmon-client", "--count", ""}, ""},
	} {
		script := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _secmon_client; echo "${COMPREPLY[*]}"`
		cmd := exec.Command("bash", append([]string{"-c", script, "bash", completions + "secmon-client.bash"}, tc.words...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.words, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.words, got, tc.want)
		}
	}
}

// zsh and fish at least accept their files.
func TestZshAndFishParse(t *testing.T) {
	for shell, file := range map[string]string{"zsh": "_secmon-client", "fish": "secmon-client.fish"} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("%s is not installed (Debian: %s)", shell, shell)
			}
			out, err := exec.Command(shell, "-n", completions+file).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("%s -n %s: %v\n%s", shell, file, err, out)
			}
		})
	}
}
