// Package inotify decodes what a read from an inotify descriptor returns:
// a run of records, each a struct inotify_event (wd, mask, cookie, len)
// followed by len bytes of name padded with NULs (inotify(7)). It is the
// one decoder of the monitors that read inotify themselves (the camera and
// microphone nodes, the auth log); fswatch goes through fsnotify.
package inotify

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// ReadSize is a read buffer that holds at least 64 records of the longest
// name: a smaller buffer than one record makes read fail with EINVAL.
const ReadSize = 64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)

// Event is one record.
type Event struct {
	WD     int32
	Mask   uint32
	Cookie uint32
	// Name is the entry's name within a watched directory, without the
	// padding; empty for an event on the watched object itself.
	Name string
}

// Parse decodes the records in b, one read's worth. The kernel returns
// whole records only; a record cut short is an error, with the records
// before it returned.
func Parse(b []byte) ([]Event, error) {
	var evs []Event
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < unix.SizeofInotifyEvent {
			return evs, fmt.Errorf("cannot decode inotify record at byte %d: %d bytes, want at least %d", off, len(rest), unix.SizeofInotifyEvent)
		}
		ne := binary.NativeEndian
		e := Event{WD: int32(ne.Uint32(rest[0:])), Mask: ne.Uint32(rest[4:]), Cookie: ne.Uint32(rest[8:])}
		n := ne.Uint32(rest[12:])
		if uint64(n) > uint64(len(rest)-unix.SizeofInotifyEvent) {
			return evs, fmt.Errorf("cannot decode inotify record at byte %d: name of %d bytes, %d left", off, n, len(rest)-unix.SizeofInotifyEvent)
		}
		name := rest[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+int(n)]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		e.Name = string(name)
		evs = append(evs, e)
		off += unix.SizeofInotifyEvent + int(n)
	}
	return evs, nil
}
