// Package e2e holds the end-to-end tests: they build secmon-daemon and
// secmon-client and drive them as a user would — real config files, real
// sockets, real inotify, systemd-socket-activate, and a NOTIFY_SOCKET the
// test owns. It has no code of its own.
package e2e
