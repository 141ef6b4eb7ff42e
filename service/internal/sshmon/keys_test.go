package sshmon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon"
)

// The key an authorized_keys change added is named as ssh-keygen names it.
func TestKeysNameTheAddedKey(t *testing.T) {
	home := filepath.Join(t.TempDir(), "alice")
	ssh := filepath.Join(home, ".ssh")
	os.MkdirAll(ssh, 0o700)
	auth := filepath.Join(ssh, "authorized_keys")
	old := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n"
	os.WriteFile(auth, []byte(old), 0o600)
	keys := sshmon.NewKeys(sshmon.Watches(config.SSH{UserHome: home}))

	added := `command="/bin/sh -c 'x y'",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBD6GuZJ0a2l8Df0m3TLpWS8EvgGq9uIl3xYZf3RU7lA mallory@evil host`
	os.WriteFile(auth, []byte(old+"# a comment line\n"+added+"\n"), 0o600)
	typ, sev, md := keys.Classify(auth)
	if typ != event.SshAccess || sev != event.Critical {
		t.Fatalf("got %s %s", typ, sev)
	}
	want := fingerprint(t, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBD6GuZJ0a2l8Df0m3TLpWS8EvgGq9uIl3xYZf3RU7lA")
	if md["key_type"] != "ssh-ed25519" || md["key_fingerprint"] != want || md["key_comment"] != "mallory@evil host" ||
		md["keys_added"] != "1" || md["keys_removed"] != "0" {
		t.Errorf("metadata %v, want the added key (%s), 1 added, 0 removed", md, want)
	}

	os.WriteFile(auth, []byte(added+"\n"), 0o600)
	if _, _, md := keys.Classify(auth); md["keys_added"] != "0" || md["keys_removed"] != "1" || md["key_fingerprint"] != "" {
		t.Errorf("after removing alice's key: %v", md)
	}
	if _, _, md := keys.Classify(filepath.Join(ssh, "config")); md["key_fingerprint"] != "" || md["ssh_file"] != "config" {
		t.Errorf("another file of .ssh: %v", md)
	}
}

// fingerprint asks ssh-keygen, when it is installed.
func fingerprint(t *testing.T, pub string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(f, []byte(pub+"\n"), 0o600)
	out, err := exec.Command("ssh-keygen", "-l", "-f", f).Output()
	if err != nil {
		t.Skipf("ssh-keygen is needed to check the fingerprint (Debian openssh-client): %v", err)
	}
	return strings.Fields(string(out))[1]
}
