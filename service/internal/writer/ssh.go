package writer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxAncestry bounds the walk up the process tree.
const maxAncestry = 64

// sshFrom returns the remote address of the SSH session pid runs in: the
// peer of the established TCP socket held by its nearest ancestor named
// sshd or sshd-session (OpenSSH 9.8 split the session off as
// sshd-session), found in that process's own network namespace. Not the
// SSH_CONNECTION of an environment, which the session's user can forge.
// "" when pid runs in no SSH session or the socket cannot be read.
func sshFrom(proc string, pid int) string {
	for range maxAncestry {
		comm, ppid, ok := stat(proc, pid)
		if !ok {
			return ""
		}
		if comm == "sshd" || comm == "sshd-session" {
			if a := peer(proc, pid); a != "" {
				return a
			}
		}
		if ppid <= 1 {
			return ""
		}
		pid = ppid
	}
	return ""
}

// stat reads comm and the parent's pid from /proc/PID/stat.
func stat(proc string, pid int) (comm string, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return string(b[open+1 : end]), ppid, err == nil
}

// peer returns the remote address of an established TCP socket pid holds.
func peer(proc string, pid int) string {
	fds, err := os.ReadDir(filepath.Join(proc, strconv.Itoa(pid), "fd"))
	if err != nil {
		return ""
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(proc, strconv.Itoa(pid), "fd", fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	for _, table := range []string{"tcp", "tcp6"} {
		if a := established(filepath.Join(proc, strconv.Itoa(pid), "net", table), inodes); a != "" {
			return a
		}
	}
	return ""
}

// established finds, in a /proc/net/tcp{,6} table, an established socket
// (st 01) whose inode is one of inodes and returns its remote address.
func established(table string, inodes map[string]bool) string {
	f, err := os.Open(table)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "01" || !inodes[fs[9]] {
			continue
		}
		host, _, ok := strings.Cut(fs[2], ":")
		if !ok {
			continue
		}
		if ip := procIP(host); ip != nil {
			return ip.String()
		}
	}
	return ""
}

// procIP decodes an address as /proc/net/tcp prints it: each 32-bit word
// of the address in network order, printed as a number in host order.
func procIP(h string) net.IP {
	if len(h) != 8 && len(h) != 32 {
		return nil
	}
	ip := make(net.IP, len(h)/2)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return nil
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}
