package inotify_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/inotify"
)

// record encodes one struct inotify_event as the kernel lays it out, the
// name padded with NULs to pad bytes (0: no name).
func record(wd int32, mask, cookie uint32, name string, pad int) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(wd))
	b = binary.NativeEndian.AppendUint32(b, mask)
	b = binary.NativeEndian.AppendUint32(b, cookie)
	b = binary.NativeEndian.AppendUint32(b, uint32(pad))
	return append(append(b, name...), make([]byte, pad-len(name))...)
}

func TestParse(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name    string
		in      []byte
		want    []inotify.Event
		wantErr string
	}{
		{"nothing", nil, nil, ""},
		{"no name", record(1, unix.IN_MODIFY, 0, "", 0),
			[]inotify.Event{{WD: 1, Mask: unix.IN_MODIFY}}, ""},
		{"name padded", record(2, unix.IN_CREATE, 0, "video0", 16),
			[]inotify.Event{{WD: 2, Mask: unix.IN_CREATE, Name: "video0"}}, ""},
		{"name filling its space", record(2, unix.IN_CREATE, 0, "exactly16bytes..", 16),
			[]inotify.Event{{WD: 2, Mask: unix.IN_CREATE, Name: "exactly16bytes.."}}, ""},
		{"a rename pair and an overflow", cat(
			record(3, unix.IN_MOVED_FROM, 77, "auth.log", 16),
			record(3, unix.IN_MOVED_TO, 77, "auth.log.1", 16),
			record(-1, unix.IN_Q_OVERFLOW, 0, "", 0)),
			[]inotify.Event{
				{WD: 3, Mask: unix.IN_MOVED_FROM, Cookie: 77, Name: "auth.log"},
				{WD: 3, Mask: unix.IN_MOVED_TO, Cookie: 77, Name: "auth.log.1"},
				{WD: -1, Mask: unix.IN_Q_OVERFLOW}}, ""},
		{"header cut short", cat(record(1, unix.IN_OPEN, 0, "", 0), []byte{1, 0, 0}),
			[]inotify.Event{{WD: 1, Mask: unix.IN_OPEN}}, "at byte 16: 3 bytes"},
		{"name longer than what is left", record(1, unix.IN_OPEN, 0, "abc", 16)[:20],
			nil, "at byte 0: name of 16 bytes, 4 left"},
		{"huge length", func() []byte {
			b := record(1, unix.IN_OPEN, 0, "", 0)
			binary.NativeEndian.PutUint32(b[12:], 0xffffffff)
			return b
		}(), nil, "name of 4294967295 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inotify.Parse(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events %+v, want %+v", got, tc.want)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// What the kernel really writes decodes: a file created in, opened in and
// moved out of a watched directory.
func TestParseKernelRecords(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_OPEN|unix.IN_MOVED_FROM|unix.IN_MOVED_TO)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "a-name-longer-than-sixteen-bytes")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, inotify.ReadSize)
	n, err := unix.Read(fd, buf) // the events are queued before the calls above return
	if err != nil {
		t.Fatal(err)
	}
	evs, err := inotify.Parse(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	cookie := uint32(0)
	for _, e := range evs {
		if int(e.WD) != wd {
			t.Errorf("wd %d, want %d", e.WD, wd)
		}
		switch {
		case e.Mask&unix.IN_CREATE != 0:
			got = append(got, "create "+e.Name)
		case e.Mask&unix.IN_OPEN != 0:
			got = append(got, "open "+e.Name)
		case e.Mask&unix.IN_MOVED_FROM != 0:
			got, cookie = append(got, "from "+e.Name), e.Cookie
		case e.Mask&unix.IN_MOVED_TO != 0:
			got = append(got, "to "+e.Name)
			if e.Cookie != cookie || cookie == 0 {
				t.Errorf("rename cookies %d and %d, want one non-zero", cookie, e.Cookie)
			}
		}
	}
	want := []string{"create a-name-longer-than-sixteen-bytes", "open a-name-longer-than-sixteen-bytes",
		"from a-name-longer-than-sixteen-bytes", "to b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// Parse never panics, and whatever it decodes re-encodes to the bytes it
// consumed, names aside from their padding.
func FuzzParse(f *testing.F) {
	f.Add(record(1, unix.IN_MODIFY, 0, "", 0))
	f.Add(bytes.Join([][]byte{record(3, unix.IN_MOVED_FROM, 77, "auth.log", 16), record(-1, unix.IN_Q_OVERFLOW, 0, "", 0)}, nil))
	f.Add(record(1, unix.IN_OPEN, 0, "abc", 16)[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := inotify.Parse(b)
		off := 0
		for _, e := range evs {
			n := int(binary.NativeEndian.Uint32(b[off+12:]))
			again := record(e.WD, e.Mask, e.Cookie, e.Name, n)
			// The bytes after the first NUL are padding; compare up to it.
			orig := b[off : off+unix.SizeofInotifyEvent+len(e.Name)]
			if !bytes.Equal(again[:len(orig)], orig) || strings.IndexByte(e.Name, 0) >= 0 {
				t.Fatalf("record at %d decoded as %+v", off, e)
			}
			off += unix.SizeofInotifyEvent + n
		}
		if (err == nil) != (off == len(b)) {
			t.Fatalf("consumed %d of %d bytes, error %v", off, len(b), err)
		}
	})
}
