// Package sshlog understands OpenSSH's log messages: [Parse] turns one sshd
// message (the journal's MESSAGE, or the text after "sshd[pid]: " in an auth
// log, see [ParseLine]) into who tried to log in, from where, how, and what
// became of it; [Detector] spots one address failing too often.
//
// The formats are those of OpenSSH 7.5 to 9.x (auth.c auth_log,
// auth2.c, sshd.c/sshd-session.c, and pam_unix), as logged by sshd and, from
// OpenSSH 9.8 on, by sshd-session.
//
// User names in failed attempts come from the network. sshd escapes control
// characters (strnvis) but not spaces, so a name may contain " from 6.6.6.6
// port 22": every pattern takes the address from the end of the message,
// which the client does not control.
//
// Pure Go, no state, no I/O: fuzzed so that no input panics.
package sshlog

import (
	"regexp"
	"strconv"
	"strings"
)

// Kind is what an sshd message reports.
type Kind int

const (
	// Other is a message this package does not interpret.
	Other Kind = iota
	// Accepted: "Accepted METHOD for USER from IP port PORT ssh2[: KEY]".
	Accepted
	// Failed: "Failed METHOD for [invalid user ]USER from IP port PORT ssh2".
	Failed
	// InvalidUser: "Invalid user USER from IP port PORT" (no such account).
	InvalidUser
	// NotAllowed: "User USER from IP not allowed because REASON"
	// (AllowUsers, DenyGroups, a locked account, a missing shell…).
	NotAllowed
	// TooManyFailures: "maximum authentication attempts exceeded for …" or
	// "Disconnecting … : Too many authentication failures".
	TooManyFailures
	// PAMFailure: "pam_unix(sshd:auth): authentication failure; … rhost=IP
	// user=USER" and sshd's "PAM: Authentication failure for USER from IP".
	PAMFailure
	// Closed: a connection ended without a login, or a session ended:
	// "Connection closed by [authenticating user USER ]IP port PORT
	// [preauth]", "Disconnected from invalid user USER IP port PORT", …
	Closed
)

// IsFailure says whether sshd refused something with this message: the
// kinds reported as SshLoginFailed.
func (k Kind) IsFailure() bool {
	switch k {
	case Failed, InvalidUser, NotAllowed, TooManyFailures, PAMFailure:
		return true
	}
	return false
}

// Entry is one parsed message. Fields sshd did not log are empty (zero for
// RemotePort).
type Entry struct {
	Kind Kind
	// User is the account name as the client sent it; it may be empty
	// ("Invalid user  from …") and may contain spaces.
	User string
	// InvalidUser is set when sshd said the account does not exist or may
	// not log in ("for invalid user", "Disconnected from invalid user").
	InvalidUser bool
	// RemoteIP is the client's address as sshd logged it: an IPv4 or IPv6
	// address, or a host name where sshd resolved it (UseDNS, PAM rhost).
	RemoteIP   string
	RemotePort int
	// Method is the authentication method: password, publickey,
	// keyboard-interactive/pam, hostbased, gssapi-with-mic, none.
	Method string
	// Fingerprint is the key's type and hash, "ED25519 SHA256:…", for
	// publickey and hostbased.
	Fingerprint string
	// Reason says in a few words why it failed or ended, e.g. "failed
	// password for invalid user", "not allowed because not listed in
	// AllowUsers".
	Reason string
	// Preauth is set for messages of the unauthenticated phase ("[preauth]").
	Preauth bool
}

var (
	// The user is greedy so that the address is the last "from IP port N"
	// in the message; the key part after "ssh2: " must look like a key.
	reAuth             = regexp.MustCompile(`^(Accepted|Failed) (\S+) for (invalid user )?(.*) from (\S+) port (\d{1,5})(?: ssh2)?(?:: ([A-Z0-9]+(?:-[A-Z0-9]+)* (?:SHA256|MD5):[A-Za-z0-9+/=:]+)(?: .*)?)?$`)
	reInvalid          = regexp.MustCompile(`^Invalid user (.*) from (\S+)(?: port (\d{1,5}))?$`)
	reNotAllowed       = regexp.MustCompile(`^User (.*) from (\S+) not allowed because (.+)$`)
	reMaxAttempts      = regexp.MustCompile(`^(?:error: )?maximum authentication attempts exceeded for (invalid user )?(.*) from (\S+) port (\d{1,5})(?: ssh2)?$`)
	reDisconnecting    = regexp.MustCompile(`^Disconnecting (authenticating user|invalid user|user) (.*) (\S+) port (\d{1,5}): (.+)$`)
	reDisconnectingOld = regexp.MustCompile(`^Disconnecting: Too many authentication failures(?: for (invalid user )?(.*))?$`)
	reClosed           = regexp.MustCompile(`^(Connection closed by|Connection reset by|Disconnected from|Received disconnect from) (?:(authenticating user|invalid user|user) (.*) )?(\S+) port (\d{1,5})(?::(\d+): ?(.*))?$`)
	rePAMModule        = regexp.MustCompile(`^(pam_[A-Za-z0-9_]+)\(sshd(?:-session)?:auth\): authentication failure; (.*)$`)
	rePAMSshd          = regexp.MustCompile(`^(?:error: )?PAM: Authentication failure for (illegal user )?(.*) from (\S+)$`)
)

// Parse reads one sshd message. ok is false for messages it does not
// interpret (Kind Other).
func Parse(msg string) (e Entry, ok bool) {
	msg = strings.TrimRight(msg, "\r\n ")
	if m, found := strings.CutSuffix(msg, " [preauth]"); found {
		msg, e.Preauth = m, true
	}
	switch {
	case strings.HasPrefix(msg, "Accepted ") || strings.HasPrefix(msg, "Failed "):
		m := reAuth.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		e.Kind, e.Method, e.InvalidUser, e.User, e.RemoteIP = Failed, m[2], m[3] != "", m[4], m[5]
		if m[1] == "Accepted" {
			e.Kind = Accepted
		}
		e.RemotePort = port(m[6])
		e.Fingerprint = m[7]
		if e.Kind == Failed {
			e.Reason = "failed " + e.Method
			if e.InvalidUser {
				e.Reason += " for invalid user"
			}
		}
		return e, true
	case strings.HasPrefix(msg, "Invalid user "):
		m := reInvalid.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		return Entry{Kind: InvalidUser, User: m[1], InvalidUser: true, RemoteIP: m[2], RemotePort: port(m[3]),
			Reason: "invalid user", Preauth: e.Preauth}, true
	case strings.HasPrefix(msg, "User "):
		m := reNotAllowed.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		return Entry{Kind: NotAllowed, User: m[1], InvalidUser: true, RemoteIP: m[2],
			Reason: "not allowed because " + m[3], Preauth: e.Preauth}, true
	case strings.Contains(msg, "maximum authentication attempts exceeded for "):
		m := reMaxAttempts.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		return Entry{Kind: TooManyFailures, InvalidUser: m[1] != "", User: m[2], RemoteIP: m[3], RemotePort: port(m[4]),
			Reason: "maximum authentication attempts exceeded", Preauth: e.Preauth}, true
	case strings.HasPrefix(msg, "Disconnecting: "):
		m := reDisconnectingOld.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		return Entry{Kind: TooManyFailures, InvalidUser: m[1] != "", User: m[2],
			Reason: "too many authentication failures", Preauth: e.Preauth}, true
	case strings.HasPrefix(msg, "Disconnecting "):
		m := reDisconnecting.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		d := Entry{Kind: Closed, InvalidUser: m[1] == "invalid user", User: m[2], RemoteIP: m[3], RemotePort: port(m[4]),
			Reason: "disconnecting " + m[1] + ": " + m[5], Preauth: e.Preauth}
		if strings.EqualFold(m[5], "Too many authentication failures") {
			d.Kind, d.Reason = TooManyFailures, "too many authentication failures"
		}
		return d, true
	case strings.HasPrefix(msg, "Connection ") || strings.HasPrefix(msg, "Disconnected from ") ||
		strings.HasPrefix(msg, "Received disconnect from "):
		m := reClosed.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		reason := strings.ToLower(m[1][:1]) + m[1][1:]
		if m[2] != "" {
			reason += " " + m[2]
		}
		if m[6] != "" {
			reason += ": " + m[6]
			if m[7] != "" {
				reason += ": " + m[7]
			}
		}
		return Entry{Kind: Closed, InvalidUser: m[2] == "invalid user", User: m[3], RemoteIP: m[4], RemotePort: port(m[5]),
			Reason: reason, Preauth: e.Preauth}, true
	case strings.HasPrefix(msg, "pam_"):
		m := rePAMModule.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		rhost, user := pamFields(m[2])
		return Entry{Kind: PAMFailure, User: user, RemoteIP: rhost,
			Reason: "PAM authentication failure (" + m[1] + ")", Preauth: e.Preauth}, true
	case strings.Contains(msg, "PAM: Authentication failure for "):
		m := rePAMSshd.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		return Entry{Kind: PAMFailure, InvalidUser: m[1] != "", User: m[2], RemoteIP: m[3],
			Reason: "PAM authentication failure", Preauth: e.Preauth}, true
	}
	return Entry{Kind: Other, Preauth: e.Preauth}, false
}

// port reads a port of up to five digits; out of range is 0 (not logged).
func port(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}

// pamFields picks rhost and user out of pam_unix's
// "logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root".
// rhost is one token; user comes last and is the rest of the line.
func pamFields(s string) (rhost, user string) {
	if i := strings.Index(s, "rhost="); i >= 0 && (i == 0 || s[i-1] == ' ') {
		rest := s[i+len("rhost="):]
		rhost, rest, _ = strings.Cut(rest, " ")
		if j := strings.Index(rest, "user="); j >= 0 && strings.TrimSpace(rest[:j]) == "" {
			user = rest[j+len("user="):]
		}
	}
	return rhost, user
}
