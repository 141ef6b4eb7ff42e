package jsonsock_test

import (
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/jsonsock"
)

func TestParseRequest(t *testing.T) {
	cam := event.Event{Type: event.CameraAccess, Severity: event.High}
	file := event.Event{Type: event.FileModify, Severity: event.Low}
	for _, tc := range []struct {
		line      string
		err       string // substring; "" = valid
		cam, file bool   // what the filter keeps
	}{
		{`{}`, "", true, true},
		{`{"replay_after":0}`, "", true, true},
		{`{"min_severity":"high"}`, "", true, false},
		{`{"types":["CameraAccess"]}`, "", true, false},
		{`{"types":["FileModify"],"min_severity":"Low"}`, "", false, true},
		{`null`, "", true, true},
		{`{"min_severity":"Urgent"}`, "min_severity", false, false},
		{`{"types":["Nope","CameraAccess"]}`, "unknown event type Nope", false, false},
		{`{"replay_after":-1}`, "bad request", false, false},
		{`{"replay_after":"7"}`, "bad request", false, false},
		{`{"seq":1,"event_type":{"type":"SshLogin"}}`, "unknown field", false, false},
		{`{} {}`, "follows", false, false},
		{`{}x`, "follows", false, false},
		{`[1]`, "bad request", false, false},
		{"\xff\xfe", "bad request", false, false},
		{`{"types":`, "bad request", false, false},
	} {
		_, f, err := jsonsock.ParseRequest([]byte(tc.line))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.line, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.line, err, tc.err)
		case err == nil && (f(cam) != tc.cam || f(file) != tc.file):
			t.Errorf("%s: filter keeps camera %v file %v, want %v %v", tc.line, f(cam), f(file), tc.cam, tc.file)
		}
	}
}

// No line crashes the parser, and a line it accepts gives a filter that
// can be applied.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"replay_after":12,"min_severity":"High","types":["SshAccess"]}`, `{"types":[]}`, `null`, "{\"types\":[\"\xff\"]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, filter, err := jsonsock.ParseRequest(line)
		if err == nil {
			filter(event.Event{Type: event.SshAccess, Severity: event.Critical})
		} else if !strings.HasPrefix(err.Error(), "bad request") {
			t.Fatalf("error %q does not say it is a bad request", err)
		}
	})
}
