package sshmon

import (
	"path/filepath"
	"strings"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// Watches are the files the ssh monitor has the filesystem monitor watch:
// sshd's configuration and host keys, root's keys and every user's under
// home_root (homes created later included) in system mode; the user's own
// ~/.ssh in user mode. What a change to them means is Classify's.
func Watches(cfg config.SSH) []config.Watch {
	if cfg.UserHome != "" {
		return []config.Watch{{Path: filepath.Join(cfg.UserHome, ".ssh"), Description: "your SSH keys and client config", Recursive: true}}
	}
	return []config.Watch{
		{Path: "/etc/ssh", Description: "sshd configuration and host keys", Recursive: true},
		{Path: "/root/.ssh", Description: "root's SSH keys", Recursive: true},
		{Pattern: filepath.Join(cfg.HomeRoot, "*", ".ssh"), Description: "users' SSH keys", Recursive: true},
	}
}

// Classify is the rule the filesystem monitor applies to every path it
// reports, under any watch (a recursive watch on /home sees keys too): SSH
// material is an SshAccess,
// Critical for authorized_keys files, which grant logins, and at least High
// for anything else in a directory named .ssh or in /etc/ssh, and for those
// directories themselves. Anything else is left a file event.
func Classify(p string) (event.Type, event.Severity, map[string]string) {
	var sev event.Severity
	switch base := filepath.Base(p); {
	case base == "authorized_keys" || base == "authorized_keys2":
		sev = event.Critical
	case base == ".ssh" || strings.Contains(p, "/.ssh/") || p == "/etc/ssh" || strings.HasPrefix(p, "/etc/ssh/"):
		sev = event.High
	default:
		return "", 0, nil
	}
	return event.SshAccess, sev, map[string]string{"ssh_file": filepath.Base(p)}
}

// Holds says whether directory dir can hold SSH material Classify rates: a
// .ssh directory or one inside it, /etc/ssh or inside it, or a home (where
// .ssh is created). The writer of a change is named (package writer) only
// in such directories; an authorized_keys elsewhere is classified but its
// writer is not named.
func Holds(dir string) bool {
	dir = filepath.Clean(dir)
	return filepath.Base(dir) == ".ssh" || strings.Contains(dir, "/.ssh/") ||
		dir == "/etc/ssh" || strings.HasPrefix(dir, "/etc/ssh/") ||
		dir == "/root" || filepath.Base(filepath.Dir(dir)) == "home"
}
