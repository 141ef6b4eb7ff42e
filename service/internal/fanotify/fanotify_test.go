package fanotify_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/fanotify"
)

// record builds one information record: header, then body.
func record(typ byte, body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	b[0] = typ
	binary.NativeEndian.PutUint16(b[2:4], uint16(4+len(body)))
	return append(b, body...)
}

// fid is a file record's body: fsid, handle bytes, handle type, handle, name.
func fid(fsid [2]int32, typ int32, handle []byte, name string) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint32(b[0:4], uint32(fsid[0]))
	binary.NativeEndian.PutUint32(b[4:8], uint32(fsid[1]))
	binary.NativeEndian.PutUint32(b[8:12], uint32(len(handle)))
	binary.NativeEndian.PutUint32(b[12:16], uint32(typ))
	b = append(b, handle...)
	if name != "" {
		b = append(append(b, name...), 0, 0, 0) // NUL and padding
	}
	return b
}

func TestParseInfo(t *testing.T) {
	fsid, handle := [2]int32{-2, 7}, []byte{1, 2, 3, 4, 5, 6, 7, 8}
	key := fanotify.Key(fsid, 1, handle)
	pidfd := make([]byte, 4)
	binary.NativeEndian.PutUint32(pidfd, 42)
	for _, tt := range []struct {
		name string
		in   []byte
		want fanotify.Info
	}{
		{"FID", record(unix.FAN_EVENT_INFO_TYPE_FID, fid(fsid, 1, handle, "")), fanotify.Info{OK: true, Key: key, PIDFD: -1}},
		{"DFID_NAME and PIDFD", append(record(unix.FAN_EVENT_INFO_TYPE_DFID_NAME, fid(fsid, 1, handle, "authorized_keys")),
			record(unix.FAN_EVENT_INFO_TYPE_PIDFD, pidfd)...), fanotify.Info{OK: true, Key: key, Name: "authorized_keys", PIDFD: 42}},
		{"a handle longer than its record", record(unix.FAN_EVENT_INFO_TYPE_FID, fid(fsid, 1, handle, "")[:18]), fanotify.Info{PIDFD: -1}},
		{"a length past the end", record(unix.FAN_EVENT_INFO_TYPE_FID, fid(fsid, 1, handle, ""))[:10], fanotify.Info{PIDFD: -1}},
		{"a zero length", []byte{unix.FAN_EVENT_INFO_TYPE_FID, 0, 0, 0, 9, 9, 9, 9}, fanotify.Info{PIDFD: -1}},
		{"nothing", nil, fanotify.Info{PIDFD: -1}},
	} {
		if got := fanotify.ParseInfo(tt.in); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// The key of a path is what a record about it names (the handle the kernel
// gives name_to_handle_at).
func TestHandleKeyMatchesTheRecordsForm(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, nil, 0o600)
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p, 0)
	if err != nil {
		t.Skipf("name_to_handle_at is not supported here: %v", err)
	}
	var st unix.Statfs_t
	unix.Statfs(p, &st)
	in := record(unix.FAN_EVENT_INFO_TYPE_FID, fid(st.Fsid.Val, h.Type(), h.Bytes(), ""))
	k, err := fanotify.HandleKey(p)
	if got := fanotify.ParseInfo(in); err != nil || !got.OK || got.Key != k {
		t.Fatalf("record key %q, HandleKey %q (%v)", got.Key, k, err)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add(record(unix.FAN_EVENT_INFO_TYPE_DFID_NAME, fid([2]int32{1, 2}, 1, []byte{9, 9, 9, 9, 9, 9, 9, 9}, "x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		fanotify.ParseInfo(b) // must not panic on anything
	})
}
