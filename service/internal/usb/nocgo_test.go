//go:build !cgo

package usb_test

// haveCgo: the watcher has libudev (the umockdev tests need it).
const haveCgo = false
