// Package persist knows the places where a program makes itself start
// again — at boot, at login, in every shell, on a schedule — and where the
// keys to the machine are kept: the persistence spots an attacker writes
// to stay. A change there matters even when it is a plain write to an
// existing file, so the filesystem monitor raises every such change to at
// least Medium (an ordinary file's write stays Low), in system and user
// mode alike and under whichever watch sees it.
//
// SSH keys and sshd's configuration are the ssh monitor's (sshmon.Classify),
// which rates them higher.
package persist

import (
	"path/filepath"
	"strings"

	"github.com/pantheros/secmon/service/internal/event"
)

// Least is the severity a change to a persistence spot gets at least.
const Least = event.Medium

// Spot says what p is, when it is a persistence spot: "" otherwise.
//
// The filesystem monitor asks it of every event: it allocates nothing for
// a clean path.
func Spot(p string) string {
	p = filepath.Clean(p)
	// Most paths are under no spot's top directory (/etc, /var) and hold
	// no hidden directory (every home spot is under .config or .local):
	// the lists are not walked for them.
	if systemTops[topDir(p)] {
		for _, s := range trees {
			if inTree(p, s.path) {
				return s.what
			}
		}
		for _, s := range files {
			if p == s.path {
				return s.what
			}
		}
	}
	// In any home (users' homes, /root, a user-mode daemon's own home):
	// what runs at login, by the path inside the home.
	if strings.Contains(p, "/.") {
		for _, s := range homeTrees {
			if inHomeTree(p, s.path) {
				return s.what
			}
		}
	}
	if dir, base := filepath.Split(p); shellStartup[base] && inHome(dir) {
		return "login shell start-up file"
	}
	return ""
}

// systemTops are the first components of trees' and files' paths ("/etc",
// "/var").
var systemTops = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range append(append([]spot(nil), trees...), files...) {
		m[topDir(s.path)] = true
	}
	return m
}()

// topDir is the first component of an absolute path: "/etc" of
// "/etc/passwd", "/etc" of "/etc".
func topDir(p string) string {
	if i := strings.IndexByte(p[min(1, len(p)):], '/'); i >= 0 {
		return p[:i+1]
	}
	return p
}

// inTree says whether p is dir or inside it.
func inTree(p, dir string) bool {
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == '/')
}

// inHomeTree says whether p is, or is inside, a directory named by rel (a
// path relative to a home) anywhere: "/" + rel + "/" is in p + "/".
func inHomeTree(p, rel string) bool {
	for i := strings.Index(p, rel); i >= 0; {
		end := i + len(rel)
		if i > 0 && p[i-1] == '/' && (end == len(p) || p[end] == '/') {
			return true
		}
		if i >= len(p) {
			return false
		}
		next := strings.Index(p[i+1:], rel)
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

// Holds says whether directory dir can hold a persistence spot: it is one
// of the trees or inside one, the directory of one of the files, a home
// (start-up files) or inside a home's spot. The writer of a change is named
// (package writer) only in such directories.
func Holds(dir string) bool {
	dir = filepath.Clean(dir)
	for _, s := range trees {
		if inTree(dir, s.path) {
			return true
		}
	}
	for _, s := range files {
		if dir == filepath.Dir(s.path) {
			return true
		}
	}
	for _, s := range homeTrees {
		if inHomeTree(dir, s.path) {
			return true
		}
	}
	return inHome(dir + "/")
}

// Classify is the rule the filesystem monitor asks (fswatch.Rule): a change
// to a persistence spot keeps its type and gets at least Least.
func Classify(p string) (event.Type, event.Severity, map[string]string) {
	if Spot(p) == "" {
		return "", 0, nil
	}
	return "", Least, nil
}

type spot struct{ path, what string }

var trees = []spot{
	{"/etc/nixos", "NixOS configuration"},
	{"/etc/sudoers.d", "sudo rules"},
	{"/etc/pam.d", "PAM configuration"},
	{"/etc/security", "PAM configuration"},
	{"/etc/cron.d", "cron jobs"},
	{"/etc/cron.hourly", "cron jobs"},
	{"/etc/cron.daily", "cron jobs"},
	{"/etc/cron.weekly", "cron jobs"},
	{"/etc/cron.monthly", "cron jobs"},
	{"/var/spool/cron", "users' cron jobs"},
	{"/etc/systemd/system", "system services (systemd units)"},
	{"/etc/systemd/user", "every user's services (systemd user units)"},
	{"/etc/xdg/autostart", "programs started at every login"},
	{"/etc/profile.d", "shell start-up for every user"},
	{"/etc/init.d", "system services (init scripts)"},
}

var files = []spot{
	{"/etc/sudoers", "sudo rules"},
	{"/etc/passwd", "user accounts"},
	{"/etc/shadow", "password hashes"},
	{"/etc/group", "groups"},
	{"/etc/gshadow", "group passwords"},
	{"/etc/crontab", "cron jobs"},
	{"/etc/profile", "shell start-up for every user"},
	{"/etc/bash.bashrc", "shell start-up for every user"},
	{"/etc/zshenv", "shell start-up for every user"},
	{"/etc/zsh/zshrc", "shell start-up for every user"},
	{"/etc/environment", "every session's environment"},
	{"/etc/ld.so.preload", "a library loaded into every program"},
	{"/etc/rc.local", "a script run at boot"},
}

// homeTrees are directories inside a home.
var homeTrees = []spot{
	{".config/autostart", "programs started at login (XDG autostart)"},
	{".config/systemd/user", "your systemd user units"},
	{".config/environment.d", "your session environment"},
	{".config/niri", "niri config (spawn-at-startup)"},
	{".local/bin", "programs early in your PATH"},
}

var shellStartup = map[string]bool{
	".bashrc": true, ".bash_profile": true, ".bash_login": true, ".bash_logout": true, ".profile": true,
	".zshrc": true, ".zshenv": true, ".zprofile": true, ".zlogin": true,
	".xprofile": true, ".xsessionrc": true, ".pam_environment": true,
	"config.fish": true,
}

// inHome: dir is a home (/root/, /home/NAME/, or any /…/home/NAME/), or
// fish's config directory in one.
func inHome(dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	dir = strings.TrimSuffix(dir, "/.config/fish")
	if dir == "/root" {
		return true
	}
	parent := filepath.Base(filepath.Dir(dir))
	return parent == "home"
}
