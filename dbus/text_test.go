package dbus_test

import (
	"testing"

	secmondbus "github.com/pantheros/secmon/dbus"
)

func TestVisible(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", "/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys"},
		{"other scripts and emoji stay", "/tmp/résumé-日本-🙂", "/tmp/résumé-日本-🙂"},
		{"right-to-left override", "/tmp/invoice\u202Egpj.exe", `/tmp/invoice\u202egpj.exe`},
		{"isolates", "a\u2066b\u2067c\u2068d\u2069", `a\u2066b\u2067c\u2068d\u2069`},
		{"embeddings and marks", "\u202A\u202B\u202C\u202D\u200E\u200F\u061C", `\u202a\u202b\u202c\u202d\u200e\u200f\u061c`},
		{"zero-width", "ro\u200Bot\u200C\u200D\u2060\uFEFF", `ro\u200bot\u200c\u200d\u2060\ufeff`},
		{"terminal escapes and newlines", "x\x1b[2J\nfake\r\t", `x\x1b[2J\nfake\r\t`},
		{"C1 controls", "a\u0085b\u009bc", `a\u0085b\u009bc`},
		{"invalid UTF-8", "a\xffb\xc3(", `a\xffb\xc3(`},
		{"a real U+FFFD stays", "a\uFFFDb", "a\uFFFDb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := secmondbus.Visible(tt.in); got != tt.want {
				t.Errorf("Visible(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestVisibleLines(t *testing.T) {
	in := "line one\n\tline two\u202egpj.exe\x1b[2J"
	if got, want := secmondbus.VisibleLines(in), "line one\n\tline two\\u202egpj.exe\\x1b[2J"; got != want {
		t.Errorf("VisibleLines(%q) = %q, want %q", in, got, want)
	}
}

func FuzzVisible(f *testing.F) {
	f.Add("/tmp/a\u202Eb\x1b\xff")
	f.Fuzz(func(t *testing.T, s string) {
		v := secmondbus.Visible(s)
		for _, r := range v {
			if r == '\uFFFD' && !containsRune(s, '\uFFFD') {
				t.Fatalf("Visible(%q) = %q holds U+FFFD", s, v)
			}
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200b || r == 0xfeff {
				t.Fatalf("Visible(%q) = %q keeps %U", s, v, r)
			}
		}
		if secmondbus.Visible(v) != v {
			t.Fatalf("Visible is not stable on %q", v)
		}
	})
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}
