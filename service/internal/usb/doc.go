// Package usb reports USB devices as they are plugged in and pulled out:
// UsbDeviceInserted and UsbDeviceRemoved for whole devices (never their
// interfaces), with ids, names, serial, port and the interface classes in
// words, and how worrying a device is by whether secmon has seen it before
// (a never-seen keyboard is a keystroke-injection risk).
//
// It listens to udev's netlink monitor (the "udev" source, so rules have
// run and the hardware database names are there) through a small cgo
// wrapper of libudev waited on with poll(2) and no timeout: an idle
// machine costs no wake-ups. The monitor is opened before the devices
// present are enumerated (with go-udev), and uevents for a device already
// listed are dropped by syspath, as snapd's udevmon does, so a device
// plugged during start-up is reported once.
//
// Seen devices are kept in StateDir/usb-devices (see store.go).
package usb
