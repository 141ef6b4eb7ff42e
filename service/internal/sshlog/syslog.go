package sshlog

import (
	"regexp"
	"strconv"
)

// Line is a syslog line taken apart: the program that logged it and what it
// said.
type Line struct {
	Host  string
	Ident string
	// PID is 0 when the line has none.
	PID     int
	Message string
}

// A traditional ("Mar  3 12:34:56") or RFC 3339 ("2024-03-03T12:34:56.1+01:00")
// timestamp, the host, then "ident[pid]: " or "ident: ".
var reSyslog = regexp.MustCompile(`^(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) (\S+) ([^\s\[\]:]+)(?:\[(\d{1,10})\])?: (.*)$`)

// SplitSyslog takes apart one line of /var/log/auth.log or /var/log/secure
// as rsyslog and syslog-ng write it.
func SplitSyslog(line string) (Line, bool) {
	m := reSyslog.FindStringSubmatch(line)
	if m == nil {
		return Line{}, false
	}
	pid, _ := strconv.Atoi(m[3])
	return Line{Host: m[1], Ident: m[2], PID: pid, Message: m[4]}, true
}

// IsSSHD says whether a syslog identifier or command name is sshd's:
// sshd, or sshd-session and sshd-auth, which log a connection's messages
// from OpenSSH 9.8 and 10.0 on.
func IsSSHD(ident string) bool {
	switch ident {
	case "sshd", "sshd-session", "sshd-auth":
		return true
	}
	return false
}

// ParseLine reads one auth log line: ok is false unless sshd logged it and
// Parse interprets its message.
func ParseLine(line string) (Entry, Line, bool) {
	l, ok := SplitSyslog(line)
	if !ok || !IsSSHD(l.Ident) {
		return Entry{}, l, false
	}
	e, ok := Parse(l.Message)
	return e, l, ok
}
