// Package systemtest holds the system test: it builds a Debian bookworm root
// file system with debootstrap (cached outside the checkout), installs secmon
// into a copy with make install, boots it with systemd-nspawn as PID 1 and
// drives the installed units from outside with nsenter — socket and D-Bus
// activation, reloads, the watchdog, a real sshd, the group policy, the
// notifier as a user unit. It has no code of its own.
package systemtest
