package sshmon

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// Keys says which keys a change to an authorized_keys file added: it keeps
// the keys of each such file it has seen (read at start under the ssh
// monitor's watches, then at each change) and, when one changes, names the
// first key added — its type, its fingerprint as ssh-keygen -l prints it,
// its comment — and counts what was added and removed. A popup can then
// say which key can now log in. Safe for concurrent use.
type Keys struct {
	mu    sync.Mutex
	files map[string][]key // path → its keys, in file order
}

// maxKeyFiles and maxKeyFile bound what is kept and read.
const (
	maxKeyFiles = 1024
	maxKeyFile  = 1 << 20
)

type key struct{ typ, fingerprint, comment string }

// NewKeys reads the authorized_keys files under the ssh monitor's
// watches (Watches).
func NewKeys(watches []config.Watch) *Keys {
	k := &Keys{files: map[string][]key{}}
	for _, w := range watches {
		roots := []string{w.Path}
		if w.Path == "" {
			roots, _ = filepath.Glob(w.Pattern)
		}
		for _, r := range roots {
			for _, name := range []string{"authorized_keys", "authorized_keys2"} {
				p := filepath.Join(r, name)
				if ks, ok := readKeys(p); ok {
					k.files[p] = ks
				}
			}
		}
	}
	return k
}

// Classify is sshmon.Classify with, for an authorized_keys file, what the
// change added: key_type, key_fingerprint, key_comment of the first key
// added, keys_added and keys_removed.
func (k *Keys) Classify(p string) (event.Type, event.Severity, map[string]string) {
	typ, sev, md := Classify(p)
	if base := filepath.Base(p); typ == "" || (base != "authorized_keys" && base != "authorized_keys2") {
		return typ, sev, md
	}
	now, _ := readKeys(p) // gone or unreadable: every key was removed
	k.mu.Lock()
	before, seen := k.files[p]
	if len(k.files) < maxKeyFiles || seen {
		k.files[p] = now
	}
	k.mu.Unlock()
	had := map[string]bool{}
	for _, x := range before {
		had[x.fingerprint] = true
	}
	has := map[string]bool{}
	added := 0
	for _, x := range now {
		has[x.fingerprint] = true
		if had[x.fingerprint] {
			continue
		}
		if added == 0 {
			md["key_type"], md["key_fingerprint"] = x.typ, x.fingerprint
			if x.comment != "" {
				md["key_comment"] = x.comment
			}
		}
		added++
	}
	removed := 0
	for _, x := range before {
		if !has[x.fingerprint] {
			removed++
		}
	}
	if added > 0 || removed > 0 {
		md["keys_added"], md["keys_removed"] = strconv.Itoa(added), strconv.Itoa(removed)
	}
	return typ, sev, md
}

func readKeys(p string) ([]key, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var out []key
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 16<<10), maxKeyFile)
	for sc.Scan() {
		if k, ok := parseKey(sc.Bytes()); ok {
			out = append(out, k)
		}
	}
	return out, true
}

// keyTypes are the public key algorithms sshd accepts in authorized_keys.
var keyTypes = map[string]bool{
	"ssh-ed25519": true, "ssh-rsa": true, "ssh-dss": true,
	"ecdsa-sha2-nistp256": true, "ecdsa-sha2-nistp384": true, "ecdsa-sha2-nistp521": true,
	"sk-ssh-ed25519@openssh.com": true, "sk-ecdsa-sha2-nistp256@openssh.com": true,
	"ssh-ed25519-cert-v01@openssh.com": true, "ssh-rsa-cert-v01@openssh.com": true,
}

// parseKey reads one authorized_keys line: [options] type base64 [comment]
// (sshd(8), AUTHORIZED_KEYS FILE FORMAT). Options may hold quoted spaces,
// so the key type is found as the first field that names one, followed by
// valid base64.
func parseKey(line []byte) (key, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return key{}, false
	}
	f := fields(string(line))
	for i := 0; i+1 < len(f); i++ {
		if !keyTypes[f[i]] {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(f[i+1])
		if err != nil || len(blob) == 0 {
			continue
		}
		sum := sha256.Sum256(blob)
		return key{typ: f[i], fingerprint: "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]),
			comment: strings.Join(f[i+2:], " ")}, true
	}
	return key{}, false
}

// fields splits on blanks outside double quotes.
func fields(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case (r == ' ' || r == '\t') && !quoted:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
