//go:build cgo

package usb

/*
#cgo pkg-config: libudev
#include <errno.h>
#include <stdlib.h>
#include <libudev.h>

// secmon_monitor_open subscribes to the uevents udevd re-broadcasts after
// its rules ran (so ID_* properties are there), for whole USB devices only.
// It returns NULL with errno set on failure.
static struct udev_monitor *secmon_monitor_open(struct udev *u) {
	struct udev_monitor *m = udev_monitor_new_from_netlink(u, "udev");
	if (m == NULL) {
		if (errno == 0) errno = EPROTONOSUPPORT;
		return NULL;
	}
	int r = udev_monitor_filter_add_match_subsystem_devtype(m, "usb", "usb_device");
	if (r >= 0) r = udev_monitor_enable_receiving(m);
	if (r < 0) {
		udev_monitor_unref(m);
		errno = -r;
		return NULL;
	}
	// A burst (a hub with many devices, a resume) must not overflow the
	// socket; this is memory only while events wait. Without the
	// privilege to raise it the kernel default stays, and an overflow is
	// still noticed (ENOBUFS) and repaired by a rescan.
	udev_monitor_set_receive_buffer_size(m, 4 << 20);
	return m;
}

// secmon_receive takes one queued device; NULL with errno EAGAIN when the
// queue is empty.
static struct udev_device *secmon_receive(struct udev_monitor *m) {
	errno = 0;
	struct udev_device *d = udev_monitor_receive_device(m);
	if (d == NULL && errno == 0) errno = EAGAIN;
	return d;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// monitor is libudev's monitor and nothing more. go-udev's Monitor is not
// used because its DeviceChan wakes every second (epoll_wait with a 1 s
// timeout) even when nothing happens; this one is waited on with poll and
// no timeout. libudev is not thread-safe: one goroutine uses a monitor.
type monitor struct {
	udev *C.struct_udev
	mon  *C.struct_udev_monitor
	fd   int
}

func openMonitor() (*monitor, error) {
	u, err := C.udev_new()
	if u == nil {
		return nil, fmt.Errorf("cannot create a udev context: %w", errnoOr(err, syscall.ENOMEM))
	}
	m, err := C.secmon_monitor_open(u)
	if m == nil {
		C.udev_unref(u)
		return nil, fmt.Errorf("cannot open the udev netlink monitor: %w", errnoOr(err, syscall.EPROTONOSUPPORT))
	}
	return &monitor{udev: u, mon: m, fd: int(C.udev_monitor_get_fd(m))}, nil
}

func errnoOr(err error, def syscall.Errno) error {
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return def
}

func (m *monitor) close() {
	C.udev_monitor_unref(m.mon)
	C.udev_unref(m.udev)
}

// receive returns the next queued uevent. ok is false when the queue is
// empty (err nil) or the message could not be taken (err says why;
// syscall.ENOBUFS means the kernel dropped messages).
func (m *monitor) receive() (u Uevent, ok bool, err error) {
	d, err := C.secmon_receive(m.mon)
	if d == nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return Uevent{}, false, nil
		}
		return Uevent{}, false, errnoOr(err, syscall.EIO)
	}
	defer C.udev_device_unref(d)
	u = Uevent{
		Action:  goString(C.udev_device_get_action(d)),
		Syspath: goString(C.udev_device_get_syspath(d)),
		Sysname: goString(C.udev_device_get_sysname(d)),
		Devnode: goString(C.udev_device_get_devnode(d)),
		Devtype: goString(C.udev_device_get_devtype(d)),
		Props:   map[string]string{},
		Attrs:   map[string]string{},
	}
	for e := C.udev_device_get_properties_list_entry(d); e != nil; e = C.udev_list_entry_get_next(e) {
		u.Props[goString(C.udev_list_entry_get_name(e))] = goString(C.udev_list_entry_get_value(e))
	}
	// A removed device's sysfs directory is gone: nothing to read.
	if u.Action != "remove" {
		for _, a := range attrNames {
			ca := C.CString(a)
			v := C.udev_device_get_sysattr_value(d, ca)
			C.free(unsafe.Pointer(ca))
			if v != nil {
				u.Attrs[a] = C.GoString(v)
			}
		}
	}
	return u, true, nil
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
