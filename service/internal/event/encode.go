package event

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// AppendJSONLine appends the event's JSON and a newline to b. It writes the
// same bytes as MarshalJSON (encoding/json, HTML-safe escaping included; a
// fuzz test compares them) without reflection: it is what every socket
// client's writer and the journal's fallback run per event, and the
// reflective encoder cost about five times as much, in CPU and allocations.
//
// An event from [Event.Shared] is encoded once: the copies a hub hands its
// subscribers (each socket client, the journal, the replay log) append the
// bytes the first of them made.
func (e Event) AppendJSONLine(b []byte) ([]byte, error) {
	if e.line == nil {
		return e.appendJSONLine(b)
	}
	if l := e.line.Load(); l != nil {
		return append(b, *l...), nil
	}
	n := len(b)
	b, err := e.appendJSONLine(b)
	if err == nil {
		l := slices.Clone(b[n:])
		e.line.CompareAndSwap(nil, &l)
	}
	return b, err
}

// sharedLine holds an event's JSON line once one of its copies encoded it.
type sharedLine = atomic.Pointer[[]byte]

// Shared returns e with room for its JSON line that every copy made from it
// shares (see AppendJSONLine). The hub publishes events so; an event must
// not be changed once shared, or its copies would write what it was.
func (e Event) Shared() Event {
	e.line = new(sharedLine)
	return e
}

// Unshared returns e without its shared line, for a copy that may be kept
// long: it does not hold the bytes, and encodes them again when asked.
func (e Event) Unshared() Event {
	e.line = nil
	return e
}

func (e Event) appendJSONLine(b []byte) ([]byte, error) {
	if e.Severity < Low || e.Severity > Critical {
		return b, fmt.Errorf("cannot encode event %d: invalid severity %d", e.Seq, int(e.Severity))
	}
	b = append(b, `{"timestamp":"`...)
	b = e.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"event_type":{"type":`...)
	b = appendString(b, string(e.Type))
	b = append(b, `},"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"details":{"severity":"`...)
	b = append(b, severityNames[e.Severity]...)
	b = append(b, `","description":`...)
	b = appendString(b, e.Description)
	b = append(b, `,"metadata":{`...)
	if len(e.Metadata) > 0 {
		var stack [16]string
		keys := stack[:0]
		for k := range e.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, e.Metadata[k])
		}
	}
	b = append(b, "}}"...)
	if p := e.Process; p != nil {
		b = append(b, `,"process":{"pid":`...)
		b = strconv.AppendInt(b, int64(p.PID), 10)
		b = appendField(b, "comm", p.Comm)
		b = appendField(b, "exe", p.Exe)
		b = append(b, `,"uid":`...)
		b = strconv.AppendInt(b, p.UID, 10)
		b = appendField(b, "user", p.User)
		b = appendField(b, "unit", p.Unit)
		b = appendField(b, "app", p.App)
		b = append(b, '}')
	}
	return append(b, "}\n"...), nil
}

// appendField appends ,"name":"v" unless v is empty (omitempty).
func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping: ", \ and control characters escaped (\b \f \n \r \t by
// name), <, > and & as \u003c \u003e \u0026, each byte of invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 escaped (JavaScript takes them for line
// ends).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
