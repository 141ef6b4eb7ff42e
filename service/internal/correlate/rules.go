package correlate

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// sensitive says what makes p a place for persistence, "" when it is none:
// files that let access or code outlast a session. home says whether it
// belongs to one user (under a home), as against the whole system.
func sensitive(p string) (what string, home bool) {
	base := filepath.Base(p)
	switch {
	case base == "authorized_keys" || base == "authorized_keys2":
		return "SSH login keys", !within(p, "/etc")
	case p == "/etc/crontab" || p == "/etc/anacrontab" || within(p, "/etc/cron.d") ||
		within(p, "/etc/cron.hourly") || within(p, "/etc/cron.daily") || within(p, "/etc/cron.weekly") ||
		within(p, "/etc/cron.monthly") || within(p, "/var/spool/cron"):
		return "a cron job", false
	case within(p, "/etc/systemd/system") || within(p, "/etc/systemd/user") || within(p, "/usr/local/lib/systemd") ||
		within(p, "/run/systemd/system"):
		return "a systemd unit", false
	case strings.Contains(p, "/.config/systemd/user/") || strings.Contains(p, "/.local/share/systemd/user/"):
		return "a systemd user unit", true
	case within(p, "/etc/xdg/autostart"):
		return "an autostart entry", false
	case strings.Contains(p, "/.config/autostart/"):
		return "an autostart entry", true
	}
	return "", false
}

// persistence: an SshLogin, then a sensitive file changed by that session.
func (c *Correlator) persistence(e event.Event) *event.Event {
	if e.Type == event.SshLogin {
		l := login{seq: e.Seq, at: e.Time, user: e.Metadata["user"], ip: e.Metadata["remote_ip"]}
		if e.Process != nil {
			l.pid = e.Process.PID
		}
		c.logins.Add(e.Seq, l)
		return nil
	}
	if !isChange(e) {
		return nil
	}
	what, inHome := sensitive(e.Path)
	if what == "" {
		return nil
	}
	w := c.cfg.PersistenceAfterLogin.Window
	var self Proc
	var up []Proc
	known := false
	if e.Process != nil {
		self, up, known = ancestors(c.opts.Procs, e.Process.PID)
	}
	// The newest login that explains the change.
	var match *login
	var reason string
	for _, l := range c.logins.All() {
		if c.now.Sub(l.at) > w || e.Time.Before(l.at) {
			continue
		}
		switch {
		case e.Metadata["ssh_from"] != "" && e.Metadata["ssh_from"] == l.ip:
			// Named at the write (fanotify), from its sshd's socket: it
			// holds when the writer is gone by now.
			match, reason = &l, fmt.Sprintf("%s ran in an SSH session from %s", programName(e.Process), l.ip)
		case known && l.pid != 0:
			for _, a := range append([]Proc{self}, up...) {
				if a.PID == l.pid {
					match, reason = &l, fmt.Sprintf("%s descends from the SSH session's sshd (pid %d)", programName(e.Process), l.pid)
				}
			}
		case inHome && within(e.Path, c.opts.Home(l.user)):
			match, reason = &l, "matched by time and the login user's home: the file event does not say which process wrote it"
		case !inHome && l.user == "root":
			// Only root writes system-wide places; after another user's
			// login, time alone would blame every package upgrade.
			match, reason = &l, "matched by time and a root login: the file event does not say which process wrote it"
		}
	}
	if match == nil || !c.once(RulePersistence, fmt.Sprint(match.seq, "|", e.Path), w) {
		return nil
	}
	desc := fmt.Sprintf("Someone who logged in over SSH as %s from %s made their access permanent: %s changed (%s) %s after the login",
		match.user, match.ip, e.Path, what, e.Time.Sub(match.at).Round(time.Second))
	return incident(RulePersistence, event.Critical, w, e.Path, desc,
		map[string]string{"ssh_user": match.user, "remote_ip": match.ip, "reason": reason}, e.Process, match.seq, e.Seq)
}

// shellsAndDownloaders are what a keystroke payload starts first; a
// process already gone when its event is read counts only if named so.
var shellsAndDownloaders = []string{"sh", "bash", "dash", "zsh", "fish", "ksh", "busybox", "curl", "wget", "nc", "ncat",
	"netcat", "socat", "python", "python3", "perl", "ruby", "pwsh", "powershell", "php", "telnet", "ssh"}

// badUSB: a new keyboard, then within the window a program acts that was
// not started from a terminal opened before it.
func (c *Correlator) badUSB(e event.Event) *event.Event {
	if e.Type == event.UsbDeviceInserted {
		md := e.Metadata
		if md["known"] == "false" && md["found_by"] != "inventory" && strings.Contains(strings.ToLower(md["interfaces"]), "keyboard") {
			name := strings.TrimSpace(md["vendor"] + " " + md["product"])
			if name == "" {
				name = "unnamed device"
			}
			c.keyboards.Add(e.Seq, keyboard{seq: e.Seq, at: e.Time, device: fmt.Sprintf("%s (%s:%s)", name, md["vendor_id"], md["product_id"])})
		}
		return nil
	}
	w := c.cfg.BadUSB.Window
	var act string
	var acting func(k keyboard) (bool, string)
	switch {
	case e.Type == event.NetworkConnection || (e.Type == event.NetworkListen && e.Metadata["state"] == "listening"):
		if e.Process == nil {
			return nil
		}
		act = "connected to " + e.Path
		if e.Type == event.NetworkListen {
			act = "listens on " + e.Path
		}
		self, up, known := ancestors(c.opts.Procs, e.Process.PID)
		acting = func(k keyboard) (bool, string) {
			if !known {
				if isOneOf(e.Process, shellsAndDownloaders) {
					return true, "a shell or downloader by name (it was gone before it could be looked at)"
				}
				return false, ""
			}
			if self.Start.Before(k.at.Add(-time.Second)) {
				return false, ""
			}
			if self.TTY == 0 {
				return true, fmt.Sprintf("it started %s after the keyboard appeared, from no terminal", self.Start.Sub(k.at).Round(time.Second))
			}
			for _, a := range append([]Proc{self}, up...) {
				if a.PID == self.Session {
					if a.Start.Before(k.at.Add(-time.Second)) {
						return false, "" // a terminal opened before
					}
					return true, fmt.Sprintf("it started %s after the keyboard appeared, in a terminal opened after it", self.Start.Sub(k.at).Round(time.Second))
				}
			}
			return false, ""
		}
	case isChange(e):
		what, _ := sensitive(e.Path)
		if what == "" {
			return nil
		}
		act = "changed " + e.Path + " (" + what + ")"
		acting = func(keyboard) (bool, string) { return true, what + " changed right after the keyboard appeared" }
	default:
		return nil
	}
	for _, k := range c.keyboards.All() {
		if e.Time.Before(k.at) || e.Time.Sub(k.at) > w {
			continue
		}
		ok, reason := acting(k)
		if !ok || !c.once(RuleBadUSB, fmt.Sprint(k.seq), w) {
			continue
		}
		who := programName(e.Process)
		if who == "" {
			who = "something"
		}
		desc := fmt.Sprintf("A USB keyboard never seen before, %s, was plugged in, and %s later %s %s",
			k.device, e.Time.Sub(k.at).Round(time.Second), who, act)
		return incident(RuleBadUSB, event.Critical, w, e.Path, desc,
			map[string]string{"device": k.device, "program": programName(e.Process), "reason": reason}, e.Process, k.seq, e.Seq)
	}
	return nil
}

// away: a camera or microphone opened while nobody is at this computer.
func (c *Correlator) away(ctx context.Context, e event.Event) *event.Event {
	var device string
	switch e.Type {
	case event.CameraAccess:
		device = "camera"
	case event.MicrophoneAccess:
		device = "microphone"
	default:
		return nil
	}
	if c.opts.Sessions == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	away, why, err := c.opts.Sessions.Away(ctx)
	if err != nil {
		c.log.Warn("cannot tell whether anyone is at this computer", "err", err)
		return nil
	}
	w := c.cfg.WatchingWhileAway.Window
	if !away || !c.once(RuleAway, e.Path, w) {
		return nil
	}
	program := programName(e.Process)
	if cl := e.Metadata["client"]; cl != "" {
		program = cl
	}
	who := program
	if who == "" {
		who = "an unknown program"
	}
	desc := fmt.Sprintf("The %s %s was opened by %s while %s", device, e.Path, who, why)
	return incident(RuleAway, event.Critical, w, e.Path, desc,
		map[string]string{"device": device, "program": program, "reason": why}, e.Process, e.Seq)
}

// door: sshd's configuration written, then sshd listening anew.
func (c *Correlator) door(e event.Event) *event.Event {
	if isChange(e) && isSSHDConfig(e.Path) {
		c.changes.Add(e.Seq, sshChange{seq: e.Seq, at: e.Time, path: e.Path})
		return nil
	}
	if e.Type != event.NetworkListen || e.Metadata["state"] != "listening" || e.Metadata["found_by"] == "inventory" ||
		!isOneOf(e.Process, sshdNames) {
		return nil
	}
	if _, _, pending := c.changes.Oldest(); !pending {
		return nil
	}
	var members []uint64
	var paths []string
	for _, ch := range c.changes.All() {
		members = append(members, ch.seq)
		if !containsString(paths, ch.path) {
			paths = append(paths, ch.path)
		}
	}
	for {
		if _, _, ok := c.changes.RemoveOldest(); !ok {
			break
		}
	}
	settings := "not known: sshd's configuration could not be read"
	var changed string
	if c.opts.SSHD != nil {
		now, err := c.opts.SSHD()
		switch {
		case err != nil:
			c.log.Warn("cannot read sshd's settings", "err", err)
		case c.before == nil:
			settings = "not known: sshd's configuration could not be read before the change"
			c.before = now
		default:
			changed = diffSettings(c.before, now)
			c.before = now
			if changed == "" {
				return nil // written, but no setting that decides who gets in changed
			}
			settings = changed
		}
	}
	members = append(members, e.Seq)
	desc := fmt.Sprintf("sshd's configuration (%s) changed and sshd restarted with it; settings changed: %s", strings.Join(paths, ", "), settings)
	return incident(RuleDoorOpened, event.High, c.cfg.DoorOpened.Window, paths[0], desc,
		map[string]string{"settings": changed, "program": programName(e.Process)}, e.Process, members...)
}

func isSSHDConfig(p string) bool {
	return p == "/etc/ssh/sshd_config" || (within(p, "/etc/ssh/sshd_config.d") && strings.HasSuffix(p, ".conf"))
}

// backdoor: a listener on the network from a suspicious place or session.
func (c *Correlator) backdoor(e event.Event) *event.Event {
	if e.Type != event.NetworkListen || e.Metadata["state"] != "listening" || e.Process == nil {
		return nil
	}
	addr, err := netip.ParseAddr(e.Metadata["address"])
	if err != nil || addr.IsLoopback() {
		return nil
	}
	p := e.Process
	var reason, ip, user string
	var members []uint64
	exe := p.Exe
	self, up, known := ancestors(c.opts.Procs, p.PID)
	if exe == "" && known {
		exe = self.Exe
	}
	if where := suspectPlace(exe); where != "" {
		reason = "its program is under " + where
	}
	if reason == "" && known && !isSSHD(self) {
		// The nearest sshd makes it an SSH session; the one that logged
		// the login (the session's privileged process, further up) names it.
	walk:
		for _, a := range up {
			if !isSSHD(a) {
				continue
			}
			if reason == "" {
				reason = "it runs inside an SSH session"
			}
			for _, l := range c.logins.All() {
				if l.pid == a.PID {
					reason = fmt.Sprintf("it runs inside the SSH session of %s from %s", l.user, l.ip)
					ip, user = l.ip, l.user
					members = append(members, l.seq)
					break walk
				}
			}
		}
	}
	if reason == "" {
		return nil
	}
	w := c.cfg.BackdoorListener.Window
	key := exe + "|" + e.Metadata["port"]
	if exe == "" {
		key = p.Comm + "|" + e.Metadata["port"]
	}
	if !c.once(RuleBackdoor, key, w) {
		return nil
	}
	program := programName(p)
	desc := fmt.Sprintf("Possible backdoor: %s (pid %d) accepts connections from the network on %s, and %s", program, p.PID, e.Path, reason)
	members = append(members, e.Seq)
	return incident(RuleBackdoor, event.High, w, e.Path, desc,
		map[string]string{"program": program, "address": e.Path, "reason": reason, "ssh_user": user, "remote_ip": ip}, p, members...)
}

// suspectPlace says where exe lies when that is a place programs should
// not run from: world-writable temporary directories and downloads. An
// executable deleted after it started ("… (deleted)") is judged by where
// it was.
func suspectPlace(exe string) string {
	exe = strings.TrimSuffix(exe, " (deleted)")
	for _, d := range []string{"/tmp", "/var/tmp", "/dev/shm"} {
		if within(exe, d) {
			return d
		}
	}
	parts := strings.Split(exe, "/")
	for i, s := range parts {
		if s == "Downloads" && i > 0 {
			return "a Downloads folder"
		}
	}
	return ""
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
