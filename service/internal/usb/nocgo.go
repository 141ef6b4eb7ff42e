//go:build !cgo

package usb

import "errors"

// Without cgo there is no libudev: the monitor reports itself unavailable
// instead of the daemon failing to build.

var errNoCgo = errors.New("this secmon was built without cgo, so without libudev")

type monitor struct{ fd int }

func openMonitor() (*monitor, error)              { return nil, errNoCgo }
func (m *monitor) close()                         {}
func (m *monitor) receive() (Uevent, bool, error) { return Uevent{}, false, errNoCgo }
func enumerate() ([]Uevent, error)                { return nil, errNoCgo }
