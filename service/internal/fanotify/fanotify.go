// Package fanotify holds what the two fanotify users (devaccess, which
// names the openers of cameras and microphones, and writer, which names
// who changed a sensitive file) share: reading the information records
// that follow an event's metadata (fanotify(7): FID, DFID, DFID_NAME,
// PIDFD), the key that identifies a file as fanotify names it (fsid, handle
// type, handle bytes), and whether the process may hear pids at all.
package fanotify

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Info is what one event's information records say.
type Info struct {
	// OK: a FID, DFID or DFID_NAME record gave Key.
	OK bool
	// Key is the file's (for FID) or its directory's (DFID, DFID_NAME)
	// fsid and handle, as HandleKey computes it for a path.
	Key string
	// Name is the entry in the directory (DFID_NAME): "" or "." for the
	// directory itself.
	Name string
	// PIDFD is the pidfd the kernel opened for the event's process, or -1
	// (the caller closes it).
	PIDFD int
}

// ParseInfo reads the records: each a header (type u8, pad u8, len u16),
// then for FID, DFID and DFID_NAME an fsid [2]int32 and a struct
// file_handle (bytes u32, type i32, handle) followed, for DFID_NAME, by a
// NUL-terminated name; for PIDFD an int32. The first file record wins; a
// record cut short ends the reading.
func ParseInfo(info []byte) Info {
	r := Info{PIDFD: -1}
	for len(info) >= 4 {
		typ, l := info[0], int(binary.NativeEndian.Uint16(info[2:4]))
		if l < 4 || l > len(info) {
			break
		}
		body := info[4:l]
		switch typ {
		case unix.FAN_EVENT_INFO_TYPE_DFID_NAME, unix.FAN_EVENT_INFO_TYPE_DFID, unix.FAN_EVENT_INFO_TYPE_FID:
			if r.OK || len(body) < 16 {
				break
			}
			var fsid [2]int32
			fsid[0] = int32(binary.NativeEndian.Uint32(body[0:4]))
			fsid[1] = int32(binary.NativeEndian.Uint32(body[4:8]))
			hb := int(binary.NativeEndian.Uint32(body[8:12]))
			ht := int32(binary.NativeEndian.Uint32(body[12:16]))
			if hb < 0 || 16+hb > len(body) {
				break
			}
			r.Key, r.OK = Key(fsid, ht, body[16:16+hb]), true
			if typ == unix.FAN_EVENT_INFO_TYPE_DFID_NAME {
				name := body[16+hb:]
				for i, c := range name {
					if c == 0 {
						name = name[:i]
						break
					}
				}
				r.Name = string(name)
			}
		case unix.FAN_EVENT_INFO_TYPE_PIDFD:
			if len(body) >= 4 {
				r.PIDFD = int(int32(binary.NativeEndian.Uint32(body[0:4])))
			}
		}
		info = info[l:]
	}
	return r
}

// HandleKey identifies path as fanotify's records will name it.
func HandleKey(path string) (string, error) {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		return "", fmt.Errorf("cannot take the file handle of %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "", fmt.Errorf("cannot statfs %s: %w", path, err)
	}
	return Key(st.Fsid.Val, h.Type(), h.Bytes()), nil
}

// Key is the text form of an fsid and a file handle.
func Key(fsid [2]int32, typ int32, handle []byte) string {
	return fmt.Sprintf("%x:%x:%d:%x", uint32(fsid[0]), uint32(fsid[1]), typ, handle)
}

// HasSysAdmin reports whether CAP_SYS_ADMIN is effective: without it
// fanotify's FID marks work but every event's pid is 0.
func HasSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_ADMIN/32].Effective&(1<<(unix.CAP_SYS_ADMIN%32)) != 0
}
