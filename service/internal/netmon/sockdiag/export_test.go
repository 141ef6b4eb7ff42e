package sockdiag

// NewConn is a Conn on the socket fd: the tests' end of a socket pair whose
// other end plays the kernel.
func NewConn(fd int) *Conn { return &Conn{fd: fd} }

// ParseReply feeds datagrams to the answer of the dump numbered seq, as
// Listeners does, until the dump ends or fails.
func ParseReply(seq uint32, proto string, dgrams ...[]byte) (socks []Socket, done bool, err error) {
	r := reply{seq: seq, proto: proto}
	for _, d := range dgrams {
		if done, err = r.add(d); done || err != nil {
			break
		}
	}
	return r.socks, done, err
}
