package sshmon_test

import (
	"reflect"
	"testing"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		path string
		want event.Severity
	}{
		{"/home/u/.ssh/authorized_keys", event.Critical},
		{"/home/u/.ssh/authorized_keys2", event.Critical},
		{"/etc/ssh/authorized_keys", event.Critical},
		{"/srv/keys/authorized_keys", event.Critical},
		{"/home/u/.ssh/id_ed25519", event.High},
		{"/home/u/.ssh/config.d/work", event.High},
		{"/home/u/.ssh", event.High},
		{"/root/.ssh/known_hosts", event.High},
		{"/etc/ssh", event.High},
		{"/etc/ssh/sshd_config", event.High},
		{"/etc/ssh/sshd_config.d/10-x.conf", event.High},
		{"/etc/sshd", 0},
		{"/etc/ssh_config", 0},
		{"/home/u/.sshrc", 0},
		{"/home/u/my.ssh/key", 0},
		{"/home/u/.bashrc", 0},
		{"/home/u/authorized_keys.bak", 0},
	} {
		typ, sev, md := sshmon.Classify(tc.path)
		switch {
		case tc.want == 0 && (typ != "" || sev != 0 || md != nil):
			t.Errorf("Classify(%q) = %s %v %v, want nothing", tc.path, typ, sev, md)
		case tc.want != 0 && (typ != event.SshAccess || sev != tc.want || md["ssh_file"] == ""):
			t.Errorf("Classify(%q) = %s %v %v, want SshAccess %v with ssh_file", tc.path, typ, sev, md, tc.want)
		}
	}
}

// The ssh monitor watches keys and sshd's configuration: homes under
// home_root in system mode, the user's own in user mode.
func TestWatches(t *testing.T) {
	env := config.Env{Home: "/home/alice", RuntimeDir: "/run/user/1000", UID: 1000}
	tests := []struct {
		name string
		mode config.Mode
		toml string
		want []string
	}{
		{"system defaults", config.SystemMode, "", []string{"/etc/ssh", "/root/.ssh", "/home/*/.ssh"}},
		{"home_root", config.SystemMode, "[ssh]\nhome_root = \"/srv/homes/\"\n", []string{"/etc/ssh", "/root/.ssh", "/srv/homes/*/.ssh"}},
		{"user mode", config.UserMode, "", []string{"/home/alice/.ssh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("c.toml", []byte(tt.toml), tt.mode, env)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range sshmon.Watches(c.SSH) {
				got = append(got, w.Path+w.Pattern)
				if !w.Recursive || w.Description == "" {
					t.Errorf("watch %+v: want recursive and described", w)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Watches %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want bool
	}{
		{"/home/u/.ssh", true},
		{"/home/u/.ssh/config.d", true},
		{"/root/.ssh", true},
		{"/etc/ssh", true},
		{"/etc/ssh/sshd_config.d", true},
		{"/home/u", true},
		{"/root", true},
		{"/etc", false},
		{"/home/u/Documents", false},
		{"/srv/keys", false},
	} {
		if got := sshmon.Holds(tc.dir); got != tc.want {
			t.Errorf("Holds(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}
