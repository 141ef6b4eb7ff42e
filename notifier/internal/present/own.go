package present

import (
	"fmt"
	"strings"
	"time"

	"github.com/pantheros/secmon/notifier/internal/incident"
)

// AppName is the name notification servers show for secmon-notifier.
const AppName = "Security monitor"

// Labels of the actions a notification offers.
const (
	LabelDetails = "Details"
	LabelUnmute  = "Unmute"
)

// MuteLabel labels the action that mutes an incident for d.
func MuteLabel(d time.Duration) string { return "Mute for " + Duration(d) }

// Status lines for the service manager (sd_notify STATUS=, shown by
// systemctl --user status secmon-notifier).
const (
	StatusStarting = "starting"
	StatusWaiting  = "waiting for secmon-daemon on the system bus"
	StatusDenied   = "secmon-daemon refuses this user its events (not in group secmon?)"
)

// UnmuteReply is what secmon-notifier --unmute prints: how many mutes it
// ended.
func UnmuteReply(n int) string {
	if n == 0 {
		return "nothing was muted"
	}
	return fmt.Sprintf("ended %d %s: notifications are shown again", n, plural(n, "mute", "mutes"))
}

// StatusFollowing is the status line while secmon-daemon is followed.
func StatusFollowing(lastSeq uint64) string {
	return fmt.Sprintf("following secmon-daemon (last seq %d)", lastSeq)
}

// ConfigRefused says the configuration file was refused and the defaults
// are in use.
func (s Style) ConfigRefused(err error) Note {
	return s.Problem("secmon-notifier: configuration refused, using the defaults", err)
}

// MuteScope names, for people, what muting with these keys covers ("new
// files under /etc; failed SSH logins from 192.0.2.7"): Muted and the
// held-events note show it.
func MuteScope(mutes []incident.MuteKey) string {
	var parts []string
	seen := map[string]bool{}
	for _, m := range mutes {
		s := noun(m.Type, 2) + " " + sourceWords(m.Source)
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// sourceWords words an incident source ("watch:/etc", "program:firefox").
func sourceWords(src string) string {
	kind, v, _ := strings.Cut(src, ":")
	v = text(v)
	switch kind {
	case "watch":
		return "under " + v
	case "program":
		return "by " + v
	case "address":
		return "from " + v
	case "usb":
		return "for USB device " + v
	case "port":
		return "on port " + v
	case "monitor":
		if m := monitors[v]; m != "" {
			return "about " + m
		}
		return "about " + v
	case "device":
		return "of " + v
	case "path":
		return "about " + v
	case "rule":
		if r := rules[v]; r != "" {
			return "of the kind " + r
		}
		return "of the kind " + v
	}
	return "for " + v
}
