package dbus

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Visible is s as it may be shown to a person — in a popup, on a terminal,
// in the journal's MESSAGE — by either side of the bus. Event text comes
// from whoever named a file, a user or a process, so it is hostile: control
// characters (they drive terminals and break lines), format characters
// (Unicode category Cf: the bidirectional controls U+202A–U+202E and
// U+2066–U+2069 that make "gpj.exe" read as "exe.jpg", zero-width
// characters, the byte-order mark) and bytes that are not UTF-8 are shown
// escaped as Go quotes them (\n, \x1b, \u202e, \xff). Everything else,
// other scripts and emoji included, is kept. The JSON lines, the signal's
// arguments and the journal's SECMON_* fields keep the raw text.
func Visible(s string) string { return visible(s, hidden) }

// VisibleLines is Visible keeping newlines and tabs, for a reader that
// shows a multi-line text as such (the journal's MESSAGE: journalctl
// indents the lines that follow the first, and shows other control
// characters as a blob unless asked).
func VisibleLines(s string) string {
	return visible(s, func(r rune) bool { return r != '\n' && r != '\t' && hidden(r) })
}

func visible(s string, hidden func(rune) bool) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case hidden(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hidden(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
