package persist_test

import (
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/persist"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		path string
		spot bool
	}{
		{"/etc/nixos/configuration.nix", true},
		{"/etc/nixos", true},
		{"/etc/sudoers", true},
		{"/etc/sudoers.d/90-evil", true},
		{"/etc/pam.d/sshd", true},
		{"/etc/passwd", true},
		{"/etc/shadow", true},
		{"/etc/crontab", true},
		{"/etc/cron.d/job", true},
		{"/var/spool/cron/crontabs/alice", true},
		{"/etc/systemd/system/evil.service", true},
		{"/etc/systemd/system/multi-user.target.wants/evil.service", true},
		{"/etc/xdg/autostart/evil.desktop", true},
		{"/etc/profile.d/evil.sh", true},
		{"/etc/ld.so.preload", true},
		{"/home/alice/.config/autostart/app.desktop", true},
		{"/home/alice/.config/systemd/user/evil.service", true},
		{"/home/alice/.bashrc", true},
		{"/home/alice/.config/fish/config.fish", true},
		{"/root/.profile", true},
		{"/tmp/test/home/alice/.zshrc", true}, // a home under another root (tests, containers)
		{"/home/alice/.local/bin/ls", true},
		// Ordinary files stay quiet.
		{"/etc/hostname", false},
		{"/etc/nixos-old", false},
		{"/etc/sudoers.bak/x", false},
		{"/home/alice/notes/.bashrc", false},
		{"/home/alice/Documents/report.odt", false},
		{"/home/alice/.config/autostartx/a", false},
		{"/srv/www/index.html", false},
	} {
		typ, least, _ := persist.Classify(tt.path)
		if typ != "" {
			t.Errorf("%s: type %q, want the file event's own", tt.path, typ)
		}
		if got := least == event.Medium; got != tt.spot {
			t.Errorf("%s: least %v, want a persistence spot: %v", tt.path, least, tt.spot)
		}
	}
}

func TestHolds(t *testing.T) {
	for _, tt := range []struct {
		dir  string
		want bool
	}{
		{"/etc", true}, // passwd, shadow, sudoers…
		{"/etc/zsh", true},
		{"/etc/nixos", true},
		{"/etc/systemd/system/multi-user.target.wants", true},
		{"/var/spool/cron/crontabs", true},
		{"/home/alice", true}, // shell start-up files
		{"/root", true},
		{"/home/alice/.config/fish", true},
		{"/home/alice/.config/autostart", true},
		{"/home/alice/.local/bin", true},
		{"/home/alice/Documents", false},
		{"/home/alice/.config", false},
		{"/etc/ssl", false},
		{"/srv/www", false},
		{"/home", false},
	} {
		if got := persist.Holds(tt.dir); got != tt.want {
			t.Errorf("Holds(%s) = %v, want %v", tt.dir, got, tt.want)
		}
	}
}
