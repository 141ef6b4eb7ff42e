package correlate

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SSHDSettings returns sshd's settings that decide who may log in and how,
// by lower-case keyword.
type SSHDSettings func() (map[string]string, error)

// doorKeys are the settings door_opened compares, as sshd_config(5)
// spells them.
var doorKeys = []string{
	"PasswordAuthentication", "PermitRootLogin", "PermitEmptyPasswords", "PubkeyAuthentication",
	"KbdInteractiveAuthentication", "ChallengeResponseAuthentication", "AuthenticationMethods",
	"AuthorizedKeysFile", "AuthorizedKeysCommand", "AuthorizedKeysCommandUser", "AuthorizedPrincipalsFile",
	"TrustedUserCAKeys", "AllowUsers", "AllowGroups", "DenyUsers", "DenyGroups", "ListenAddress", "Port",
	"UsePAM", "PermitUserEnvironment", "GatewayPorts", "PermitTunnel", "Match",
}

// ReadSSHDConfig returns an SSHDSettings that reads path (normally
// /etc/ssh/sshd_config) with its Include directives, as sshd does: the
// first value of a keyword wins, and what follows the first Match applies
// only to some connections, so it is kept as one "match" setting holding
// the rest of the file.
func ReadSSHDConfig(path string) SSHDSettings {
	return func() (map[string]string, error) {
		out := map[string]string{}
		if err := readSSHD(path, filepath.Dir(path), out, 0); err != nil {
			return nil, err
		}
		return out, nil
	}
}

func readSSHD(path, base string, out map[string]string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("cannot read %s: Include nested too deep", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read sshd's configuration: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(strings.ReplaceAll(sc.Text(), "\t", " "))
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		if k, v, ok := strings.Cut(key, "="); ok {
			key, val = k, v+" "+val
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(val), "="))
		if _, inMatch := out["match"]; inMatch {
			out["match"] += "; " + line
			continue
		}
		switch key {
		case "include":
			for _, pat := range strings.Fields(val) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(base, pat)
				}
				files, _ := filepath.Glob(pat)
				sort.Strings(files)
				for _, f := range files {
					if err := readSSHD(f, base, out, depth+1); err != nil {
						return err
					}
				}
			}
		case "match":
			out["match"] = line
		default:
			if _, set := out[key]; !set {
				out[key] = val
			}
		}
	}
	return nil
}

// diffSettings words the settings of doorKeys that differ between before
// and after: "PasswordAuthentication no → yes; PermitRootLogin (default) → yes".
func diffSettings(before, after map[string]string) string {
	var parts []string
	for _, k := range doorKeys {
		lk := strings.ToLower(k)
		b, a := before[lk], after[lk]
		if b == a {
			continue
		}
		if b == "" {
			b = "(default)"
		}
		if a == "" {
			a = "(default)"
		}
		if k == "Match" {
			parts = append(parts, "Match blocks changed")
			continue
		}
		parts = append(parts, k+" "+b+" → "+a)
	}
	return strings.Join(parts, "; ")
}
