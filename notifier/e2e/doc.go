// Package e2e holds secmon-notifier's end-to-end tests: they build the real
// daemon and notifier, run them on a private system-like bus with the
// repository's policy and a private session bus served by python3-dbusmock's
// notification_daemon template, and assert on the Notify calls it received.
package e2e
