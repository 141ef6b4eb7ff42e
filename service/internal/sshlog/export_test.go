package sshlog

import "strconv"

// The kinds' names make test failures readable; nothing in secmon prints a
// Kind.
var kindNames = [...]string{
	Other:           "other",
	Accepted:        "accepted",
	Failed:          "failed",
	InvalidUser:     "invalid user",
	NotAllowed:      "not allowed",
	TooManyFailures: "too many authentication failures",
	PAMFailure:      "PAM authentication failure",
	Closed:          "closed",
}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Tracked is the number of addresses held.
func (d *Detector) Tracked() int {
	n := 0
	for range d.addrs.All() {
		n++
	}
	return n
}
