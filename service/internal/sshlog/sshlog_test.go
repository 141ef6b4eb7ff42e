package sshlog_test

import (
	"testing"

	"github.com/pantheros/secmon/service/internal/sshlog"
)

const (
	fpEd  = "ED25519 SHA256:n3Y0b6Kp6+fWq9m0Gf2PlgxQ2c3o7eHkzq1O2y9yTb4"
	fpRSA = "RSA SHA256:8Kq3oPaJm1xV8sL5nH3cFqk6y2Zb0Qe9dW4tR7uI1oA"
)

// Messages as OpenSSH 8.x (sshd) and 9.x (sshd, and sshd-session from 9.8)
// log them, with what must come out.
var parseTests = []struct {
	name, msg string
	ok        bool
	want      sshlog.Entry
}{
	{"accepted publickey ed25519", "Accepted publickey for alice from 192.0.2.10 port 52144 ssh2: " + fpEd, true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "alice", RemoteIP: "192.0.2.10", RemotePort: 52144, Method: "publickey", Fingerprint: fpEd}},
	{"accepted publickey rsa ipv6", "Accepted publickey for root from 2001:db8::7 port 40022 ssh2: " + fpRSA, true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "root", RemoteIP: "2001:db8::7", RemotePort: 40022, Method: "publickey", Fingerprint: fpRSA}},
	{"accepted certificate", "Accepted publickey for alice from 198.51.100.4 port 50022 ssh2: ED25519-CERT SHA256:Zm9vYmFyYmF6cXV4 ID alice@corp (serial 17) CA ED25519 SHA256:Y2FrZXk", true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "alice", RemoteIP: "198.51.100.4", RemotePort: 50022, Method: "publickey", Fingerprint: "ED25519-CERT SHA256:Zm9vYmFyYmF6cXV4"}},
	{"accepted security key", "Accepted publickey for bob from 192.0.2.11 port 41000 ssh2: ED25519-SK SHA256:c2trZXk", true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "bob", RemoteIP: "192.0.2.11", RemotePort: 41000, Method: "publickey", Fingerprint: "ED25519-SK SHA256:c2trZXk"}},
	{"accepted password", "Accepted password for bob from 203.0.113.9 port 2222 ssh2", true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "bob", RemoteIP: "203.0.113.9", RemotePort: 2222, Method: "password"}},
	{"accepted keyboard-interactive", "Accepted keyboard-interactive/pam for carol from fe80::1%eth0 port 33333 ssh2", true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "carol", RemoteIP: "fe80::1%eth0", RemotePort: 33333, Method: "keyboard-interactive/pam"}},
	{"accepted ipv4-mapped", "Accepted publickey for alice from ::ffff:192.0.2.10 port 1 ssh2: " + fpEd, true,
		sshlog.Entry{Kind: sshlog.Accepted, User: "alice", RemoteIP: "::ffff:192.0.2.10", RemotePort: 1, Method: "publickey", Fingerprint: fpEd}},
	{"failed password", "Failed password for root from 192.0.2.66 port 51515 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "root", RemoteIP: "192.0.2.66", RemotePort: 51515, Method: "password", Reason: "failed password"}},
	{"failed password invalid user", "Failed password for invalid user admin from 192.0.2.66 port 51516 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "admin", InvalidUser: true, RemoteIP: "192.0.2.66", RemotePort: 51516, Method: "password", Reason: "failed password for invalid user"}},
	{"failed password invalid empty user", "Failed password for invalid user  from 2001:db8::66 port 51517 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "", InvalidUser: true, RemoteIP: "2001:db8::66", RemotePort: 51517, Method: "password", Reason: "failed password for invalid user"}},
	{"failed none", "Failed none for invalid user ubnt from 192.0.2.67 port 60000 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "ubnt", InvalidUser: true, RemoteIP: "192.0.2.67", RemotePort: 60000, Method: "none", Reason: "failed none for invalid user"}},
	{"failed publickey", "Failed publickey for alice from 192.0.2.12 port 50505 ssh2: " + fpRSA, true,
		sshlog.Entry{Kind: sshlog.Failed, User: "alice", RemoteIP: "192.0.2.12", RemotePort: 50505, Method: "publickey", Fingerprint: fpRSA, Reason: "failed publickey"}},
	{"failed keyboard-interactive", "Failed keyboard-interactive/pam for invalid user oracle from 192.0.2.68 port 41414 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "oracle", InvalidUser: true, RemoteIP: "192.0.2.68", RemotePort: 41414, Method: "keyboard-interactive/pam", Reason: "failed keyboard-interactive/pam for invalid user"}},
	{"spoofed address in user name", "Failed password for invalid user x from 10.9.9.9 port 1 ssh2 from 192.0.2.69 port 4444 ssh2", true,
		sshlog.Entry{Kind: sshlog.Failed, User: "x from 10.9.9.9 port 1 ssh2", InvalidUser: true, RemoteIP: "192.0.2.69", RemotePort: 4444, Method: "password", Reason: "failed password for invalid user"}},
	{"invalid user", "Invalid user admin from 192.0.2.70 port 39000", true,
		sshlog.Entry{Kind: sshlog.InvalidUser, User: "admin", InvalidUser: true, RemoteIP: "192.0.2.70", RemotePort: 39000, Reason: "invalid user"}},
	{"invalid empty user", "Invalid user  from 192.0.2.71 port 39001", true,
		sshlog.Entry{Kind: sshlog.InvalidUser, User: "", InvalidUser: true, RemoteIP: "192.0.2.71", RemotePort: 39001, Reason: "invalid user"}},
	{"invalid user with spaces ipv6", "Invalid user a b from 2001:db8:1::2 port 39002", true,
		sshlog.Entry{Kind: sshlog.InvalidUser, User: "a b", InvalidUser: true, RemoteIP: "2001:db8:1::2", RemotePort: 39002, Reason: "invalid user"}},
	{"invalid user before 7.5 (no port)", "Invalid user test from 192.0.2.72", true,
		sshlog.Entry{Kind: sshlog.InvalidUser, User: "test", InvalidUser: true, RemoteIP: "192.0.2.72", Reason: "invalid user"}},
	{"not allowed allowusers", "User root from 192.0.2.73 not allowed because not listed in AllowUsers", true,
		sshlog.Entry{Kind: sshlog.NotAllowed, User: "root", InvalidUser: true, RemoteIP: "192.0.2.73", Reason: "not allowed because not listed in AllowUsers"}},
	{"not allowed shell", "User daemon from 192.0.2.74 not allowed because shell /usr/sbin/nologin does not exist", true,
		sshlog.Entry{Kind: sshlog.NotAllowed, User: "daemon", InvalidUser: true, RemoteIP: "192.0.2.74", Reason: "not allowed because shell /usr/sbin/nologin does not exist"}},
	{"max attempts", "error: maximum authentication attempts exceeded for root from 192.0.2.75 port 50000 ssh2 [preauth]", true,
		sshlog.Entry{Kind: sshlog.TooManyFailures, User: "root", RemoteIP: "192.0.2.75", RemotePort: 50000, Reason: "maximum authentication attempts exceeded", Preauth: true}},
	{"max attempts invalid user", "error: maximum authentication attempts exceeded for invalid user admin from 2001:db8::75 port 50001 ssh2 [preauth]", true,
		sshlog.Entry{Kind: sshlog.TooManyFailures, User: "admin", InvalidUser: true, RemoteIP: "2001:db8::75", RemotePort: 50001, Reason: "maximum authentication attempts exceeded", Preauth: true}},
	{"disconnecting too many", "Disconnecting authenticating user root 192.0.2.75 port 50000: Too many authentication failures [preauth]", true,
		sshlog.Entry{Kind: sshlog.TooManyFailures, User: "root", RemoteIP: "192.0.2.75", RemotePort: 50000, Reason: "too many authentication failures", Preauth: true}},
	{"disconnecting too many invalid", "Disconnecting invalid user admin 192.0.2.76 port 50002: Too many authentication failures [preauth]", true,
		sshlog.Entry{Kind: sshlog.TooManyFailures, User: "admin", InvalidUser: true, RemoteIP: "192.0.2.76", RemotePort: 50002, Reason: "too many authentication failures", Preauth: true}},
	{"disconnecting old format", "Disconnecting: Too many authentication failures for root [preauth]", true,
		sshlog.Entry{Kind: sshlog.TooManyFailures, User: "root", Reason: "too many authentication failures", Preauth: true}},
	{"disconnecting other reason", "Disconnecting invalid user x 192.0.2.77 port 1: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh-connection) [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "x", InvalidUser: true, RemoteIP: "192.0.2.77", RemotePort: 1, Reason: "disconnecting invalid user: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh-connection)", Preauth: true}},
	{"closed by authenticating user", "Connection closed by authenticating user root 192.0.2.78 port 43210 [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "root", RemoteIP: "192.0.2.78", RemotePort: 43210, Reason: "connection closed by authenticating user", Preauth: true}},
	{"closed by invalid empty user", "Connection closed by invalid user  192.0.2.79 port 43211 [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "", InvalidUser: true, RemoteIP: "192.0.2.79", RemotePort: 43211, Reason: "connection closed by invalid user", Preauth: true}},
	{"closed by address", "Connection closed by 2001:db8::80 port 43212 [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, RemoteIP: "2001:db8::80", RemotePort: 43212, Reason: "connection closed by", Preauth: true}},
	{"reset by authenticating user", "Connection reset by authenticating user bob 192.0.2.81 port 1022 [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "bob", RemoteIP: "192.0.2.81", RemotePort: 1022, Reason: "connection reset by authenticating user", Preauth: true}},
	{"disconnected from invalid user", "Disconnected from invalid user admin 192.0.2.82 port 55555 [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "admin", InvalidUser: true, RemoteIP: "192.0.2.82", RemotePort: 55555, Reason: "disconnected from invalid user", Preauth: true}},
	{"disconnected from user (logout)", "Disconnected from user alice 192.0.2.10 port 52144", true,
		sshlog.Entry{Kind: sshlog.Closed, User: "alice", RemoteIP: "192.0.2.10", RemotePort: 52144, Reason: "disconnected from user"}},
	{"received disconnect", "Received disconnect from 192.0.2.83 port 52000:11: Bye Bye [preauth]", true,
		sshlog.Entry{Kind: sshlog.Closed, RemoteIP: "192.0.2.83", RemotePort: 52000, Reason: "received disconnect from: 11: Bye Bye", Preauth: true}},
	{"received disconnect by user", "Received disconnect from 2001:db8::84 port 52001:11: disconnected by user", true,
		sshlog.Entry{Kind: sshlog.Closed, RemoteIP: "2001:db8::84", RemotePort: 52001, Reason: "received disconnect from: 11: disconnected by user"}},
	{"pam_unix auth failure", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.85  user=root", true,
		sshlog.Entry{Kind: sshlog.PAMFailure, User: "root", RemoteIP: "192.0.2.85", Reason: "PAM authentication failure (pam_unix)"}},
	{"pam_unix auth failure unknown user ipv6", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::86", true,
		sshlog.Entry{Kind: sshlog.PAMFailure, RemoteIP: "2001:db8::86", Reason: "PAM authentication failure (pam_unix)"}},
	{"pam_sss in sshd-session", "pam_sss(sshd-session:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.87 user=dave", true,
		sshlog.Entry{Kind: sshlog.PAMFailure, User: "dave", RemoteIP: "192.0.2.87", Reason: "PAM authentication failure (pam_sss)"}},
	{"sshd's PAM failure", "error: PAM: Authentication failure for illegal user admin from 192.0.2.88", true,
		sshlog.Entry{Kind: sshlog.PAMFailure, User: "admin", InvalidUser: true, RemoteIP: "192.0.2.88", Reason: "PAM authentication failure"}},
	{"sshd's PAM failure valid user", "PAM: Authentication failure for eve from host.example.org", true,
		sshlog.Entry{Kind: sshlog.PAMFailure, User: "eve", RemoteIP: "host.example.org", Reason: "PAM authentication failure"}},

	// Messages that are not about logging in.
	{"pam session opened", "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)", false, sshlog.Entry{}},
	{"pam check pass", "pam_unix(sshd:auth): check pass; user unknown", false, sshlog.Entry{}},
	{"pam more failures", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.85  user=root", false, sshlog.Entry{}},
	{"server listening", "Server listening on :: port 22.", false, sshlog.Entry{}},
	{"penalty (9.8)", "drop connection #0 from [192.0.2.89]:50000 on [192.0.2.1]:22 penalty: failed authentication", false, sshlog.Entry{}},
	{"banner exchange", "banner exchange: Connection from 192.0.2.90 port 40000: invalid format", false, sshlog.Entry{}},
	{"unable to negotiate", "Unable to negotiate with 192.0.2.91 port 40001: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]", false, sshlog.Entry{Preauth: true}},
	{"accepted without address", "Accepted publickey for alice", false, sshlog.Entry{}},
	{"failed with port out of digits", "Failed password for root from 192.0.2.1 port 1234567 ssh2", false, sshlog.Entry{}},
	{"empty", "", false, sshlog.Entry{}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sshlog.Parse(tt.msg)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Parse(%q)\n got %v %+v\nwant %v %+v", tt.msg, ok, got, tt.ok, tt.want)
			}
		})
	}
}

func TestKindIsFailure(t *testing.T) {
	failures := map[sshlog.Kind]bool{sshlog.Failed: true, sshlog.InvalidUser: true, sshlog.NotAllowed: true,
		sshlog.TooManyFailures: true, sshlog.PAMFailure: true}
	for k := sshlog.Other; k <= sshlog.Closed; k++ {
		if k.IsFailure() != failures[k] {
			t.Errorf("%v.IsFailure() = %v", k, k.IsFailure())
		}
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
		wantLine   sshlog.Line
		wantKind   sshlog.Kind
	}{
		{"debian auth.log", "Mar  3 12:34:56 host sshd[1234]: Failed password for root from 192.0.2.1 port 22 ssh2", true,
			sshlog.Line{Host: "host", Ident: "sshd", PID: 1234, Message: "Failed password for root from 192.0.2.1 port 22 ssh2"}, sshlog.Failed},
		{"rfc3339 sshd-session", "2025-11-22T05:07:01.123456+01:00 box sshd-session[77]: Accepted publickey for alice from 2001:db8::1 port 5 ssh2: " + fpEd, true,
			sshlog.Line{Host: "box", Ident: "sshd-session", PID: 77, Message: "Accepted publickey for alice from 2001:db8::1 port 5 ssh2: " + fpEd}, sshlog.Accepted},
		{"pam line", "Nov 22 05:07:01 box sshd[9]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.5  user=root", true,
			sshlog.Line{Host: "box", Ident: "sshd", PID: 9, Message: "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.5  user=root"}, sshlog.PAMFailure},
		{"another program", "Nov 22 05:07:01 box sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true", false,
			sshlog.Line{Host: "box", Ident: "sudo", Message: "alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true"}, sshlog.Other},
		{"not syslog", "Failed password for root from 192.0.2.1 port 22 ssh2", false, sshlog.Line{}, sshlog.Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, l, ok := sshlog.ParseLine(tt.line)
			if ok != tt.ok || l != tt.wantLine || e.Kind != tt.wantKind {
				t.Errorf("ParseLine(%q)\n got %v %+v %v\nwant %v %+v %v", tt.line, ok, l, e.Kind, tt.ok, tt.wantLine, tt.wantKind)
			}
		})
	}
}
