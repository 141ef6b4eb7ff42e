package sshlog_test

import (
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/sshlog"
)

// FuzzParse: no input panics, and what comes out is taken from the input.
// The seed corpus is testdata/fuzz/FuzzParse plus the parse table.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		e, ok := sshlog.Parse(msg)
		if ok == (e.Kind == sshlog.Other) {
			t.Fatalf("Parse(%q): ok %v with kind %v", msg, ok, e.Kind)
		}
		if e.RemotePort < 0 || e.RemotePort > 65535 {
			t.Fatalf("Parse(%q): port %d", msg, e.RemotePort)
		}
		if strings.ContainsAny(e.RemoteIP, " \t\n") || !strings.Contains(msg, e.RemoteIP) {
			t.Fatalf("Parse(%q): remote address %q", msg, e.RemoteIP)
		}
		for _, s := range []string{e.User, e.Method, e.Fingerprint} {
			if !strings.Contains(msg, s) {
				t.Fatalf("Parse(%q): %q is not from the message", msg, s)
			}
		}
		if again, _ := sshlog.Parse(msg); again != e {
			t.Fatalf("Parse(%q) is not deterministic", msg)
		}
		sshlog.ParseLine(msg)
		sshlog.ParseLine("Nov 22 05:07:01 host sshd[1]: " + msg)
	})
}
