package journal_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/journal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fieldsCases = []struct {
	name string
	e    event.Event
}{{
	// A file name that reads backwards: MESSAGE shows the override
	// escaped, SECMON_PATH keeps the raw name for scripts.
	name: "bidi-file-name",
	e: event.Event{
		Seq:         43,
		Time:        time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC),
		Type:        event.FileCreate,
		Path:        "/home/alice/invoice\u202egpj.exe",
		Severity:    event.Medium,
		Description: "Created /home/alice/invoice\u202egpj.exe\nsecond line",
	},
}, {
	name: "camera-access",
	e: event.Event{
		Seq:         42,
		Time:        time.Date(2025, 9, 25, 14, 30, 45, 123456789, time.UTC),
		Type:        event.CameraAccess,
		Path:        "/dev/video0",
		Severity:    event.High,
		Description: "firefox opened /dev/video0",
		Metadata:    map[string]string{"mask": "OPEN"},
		Process:     &event.Process{PID: 4242, Comm: "firefox", Exe: "/usr/bin/firefox", UID: 1000, User: "alice"},
	},
}, {
	// A severity above the type's default, a time outside UTC, an unknown
	// UID and empty values that must not become fields.
	name: "ssh-login-failed-critical",
	e: event.Event{
		Seq:         7,
		Time:        time.Date(2025, 9, 25, 16, 30, 45, 9000000, time.FixedZone("CEST", 2*3600)),
		Type:        event.SshLoginFailed,
		Severity:    event.Critical,
		Description: "Failed password for root from 203.0.113.9 port 50022 ssh2",
		Metadata: map[string]string{
			"user": "root", "remote_ip": "203.0.113.9", "remote_port": "50022",
			"method": "password", "reason": "",
		},
		Process: &event.Process{PID: 77, Comm: "sshd", UID: -1},
	},
}, {
	// No MESSAGE_ID for a type the model does not know; MESSAGE stays even
	// when empty.
	name: "unknown-type",
	e: event.Event{
		Type:     event.Type("NotAType"),
		Severity: event.Medium,
	},
}, {
	name: "metadata-names",
	e: event.Event{
		Seq:         3,
		Time:        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Type:        event.CustomMessage,
		Severity:    event.Low,
		Description: "first line\nsecond line",
		Metadata: map[string]string{
			"Remote-IP": "198.51.100.1",
			// "a.b" sorts before "a_b" and takes SECMON_META_A_B.
			"a.b":     "kept",
			"a_b":     "skipped: the name is taken",
			"ключ":    "one '_' per character",
			"9lives":  "digits stay",
			"note":    "line one\nline two",
			"invalid": "",
			// 80 characters: cut to 52 after the prefix; the second
			// differs only past the cut and is skipped.
			strings.Repeat("x", 79) + "1": "long key kept",
			strings.Repeat("x", 79) + "2": "long key skipped",
		},
	},
}}

func TestFieldsGolden(t *testing.T) {
	for _, tc := range fieldsCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(journal.Fields(tc.e), "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "fields", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("cannot read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Fields(%s) differs from %s\ngot:\n%s\nwant:\n%s", tc.name, golden, got, want)
			}
		})
	}
}

// journald drops fields whose names break these rules (see
// journal_field_valid in systemd): a client may not start a name with '_'
// or a digit.
var validFieldName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

func TestFieldNamesAreValidForJournald(t *testing.T) {
	for _, tc := range fieldsCases {
		f := journal.Fields(tc.e)
		if _, ok := f["MESSAGE"]; !ok {
			t.Errorf("%s: no MESSAGE", tc.name)
		}
		for name := range f {
			if !validFieldName.MatchString(name) {
				t.Errorf("%s: field name %q is not valid for journald", tc.name, name)
			}
		}
	}
}

func TestFieldsMessageIDAndPriorityOfEveryType(t *testing.T) {
	wantPriority := map[event.Severity]string{event.Critical: "2", event.High: "3", event.Medium: "4", event.Low: "6"}
	for _, info := range event.Types {
		f := journal.Fields(event.Event{Type: info.Type, Severity: info.DefaultSeverity})
		if f["MESSAGE_ID"] != info.MessageID {
			t.Errorf("%s: MESSAGE_ID = %q, want %q", info.Type, f["MESSAGE_ID"], info.MessageID)
		}
		if f["PRIORITY"] != wantPriority[info.DefaultSeverity] {
			t.Errorf("%s: PRIORITY = %q, want %q", info.Type, f["PRIORITY"], wantPriority[info.DefaultSeverity])
		}
		if f["SECMON_EVENT_TYPE"] != string(info.Type) {
			t.Errorf("%s: SECMON_EVENT_TYPE = %q", info.Type, f["SECMON_EVENT_TYPE"])
		}
	}
}
