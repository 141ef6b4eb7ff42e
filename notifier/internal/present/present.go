// Package present holds every word secmon-notifier shows: summary, body,
// icon, urgency and category for an incident and for the notifier's own
// warnings, the action labels, what a mute covers, and the status lines
// the service manager shows.
//
// Words are for people, not for security engineers: the summary says what
// happened and who did it ("Camera in use by Firefox"); the body says
// where, who, in one line what it means, in one line what to do now (the
// same advice as the journal catalog's entry), and ends with the time to
// the second and the event's number, so two real alerts never look the
// same (DankMaterialShell drops a notification identical to one shown in
// the last 5 s) and "secmon-client --show N" finds it. Type names stay in
// the JSON and the journal. Long paths are shortened in the middle: the
// file name, the watch's description and the time are never cut. Icons are
// names the installed themes really ship (the -symbolic ones), with a
// Material Symbols name for DankMaterialShell. Event text is untrusted:
// control characters and characters that change how text reads
// (bidirectional controls, zero-width ones) are shown escaped. Notes are
// plain text: package desktop escapes markup for the server that receives
// them, when it sends them.
//
// See https://specifications.freedesktop.org/notification-spec/latest/.
package present

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Urgency is the notification spec's urgency hint.
type Urgency byte

// The spec's urgencies.
const (
	UrgencyLow      Urgency = 0
	UrgencyNormal   Urgency = 1
	UrgencyCritical Urgency = 2
)

// ParseUrgency reads "low", "normal" or "critical".
func ParseUrgency(s string) (Urgency, error) {
	switch s {
	case "low":
		return UrgencyLow, nil
	case "normal":
		return UrgencyNormal, nil
	case "critical":
		return UrgencyCritical, nil
	}
	return 0, fmt.Errorf("unknown urgency %q (want low, normal or critical)", s)
}

// UrgencyOf maps a severity: Critical and High are critical, Medium normal,
// Low low.
func UrgencyOf(l severity.Level) Urgency {
	switch {
	case l >= severity.High:
		return UrgencyCritical
	case l == severity.Medium:
		return UrgencyNormal
	}
	return UrgencyLow
}

// Note is one notification's content.
type Note struct {
	Summary, Body string
	// Icon is a freedesktop icon name; Material a Material Symbols name
	// for servers that draw those (DankMaterialShell), or "".
	Icon, Material string
	// Category is the spec's category hint ("device", "network"…), or "".
	Category string
	Urgency  Urgency
	// Resident asks the server to keep it until it is replaced or
	// dismissed (a camera in use).
	Resident bool
}

// Style is what the user and the session decide about wording.
type Style struct {
	// Urgency and Icon override the defaults per event type.
	Urgency map[string]Urgency
	Icon    map[string]string
	// Location for times; nil is time.Local.
	Location *time.Location
	// Now is the time a date is left out against; nil is time.Now.
	Now func() time.Time
	// AppName names the application behind a process's details (a
	// desktop file's Name for its executable or Flatpak id), "" when none
	// matches; nil names none.
	AppName func(details map[string]string) string
}

// Bounds, in characters. A body is built from parts each bounded on its
// own, so no part (a deep path, a long description) can push the file
// name, the description or the time out of it.
const (
	maxSummary = 200
	maxBody    = 1000
	maxPath    = 160
	maxText    = 240
)

// Incident words an incident's notification.
func (s Style) Incident(inc *incident.Incident) Note {
	last := inc.Last
	lvl := inc.Severity
	if inc.Class == incident.Device {
		// A release is calmer than the use it ends.
		lvl = severity.Of(last.Severity)
	}
	n := Note{Urgency: UrgencyOf(lvl), Category: types[last.Type].category}
	n.Icon, n.Material = iconFor(last.Type, lvl)
	switch {
	case inc.Class == incident.Device:
		n.Summary, n.Body = s.device(inc)
		n.Resident = !inc.Released
	case incident.IsFile(last.Type) && inc.Count > 1:
		n.Summary, n.Body = s.files(inc)
	case inc.Count > 1:
		w := s.words(last)
		n.Summary = fmt.Sprintf("%s (%d times)", w.summary, inc.Count)
		n.Body = lines(w.what, w.by, w.meaning, advice(w.advice),
			fmt.Sprintf("%d times since %s, the last at %s", inc.Count, s.clock(inc.First), s.stamp(last)))
	default:
		w := s.words(last)
		n.Summary = w.summary
		n.Body = lines(w.what, w.by, w.meaning, advice(w.advice), "At "+s.stamp(last))
	}
	if u, ok := s.Urgency[last.Type]; ok {
		n.Urgency = u
	}
	if i := s.Icon[last.Type]; i != "" {
		n.Icon, n.Material = i, ""
	}
	return s.finish(n)
}

// worded is one event in words.
type worded struct {
	summary, what, by, meaning, advice string
}

// words words one event from the data it carries.
func (s Style) words(e secmondbus.Event) worded {
	d := e.Details
	t, known := types[e.Type]
	w := worded{summary: t.title, what: truncate(text(e.Description), maxText), by: s.who(d), meaning: t.meaning, advice: t.advice}
	if !known {
		w.summary = splitCamel(e.Type)
	}
	if incident.IsFile(e.Type) {
		s.file(e, &w)
		return w
	}
	ip := text(d["remote_ip"])
	switch e.Type {
	case "SshLogin":
		w.summary = fmt.Sprintf("SSH login as %s from %s", text(d["user"]), ip)
		w.what = fmt.Sprintf("%s logged in from %s with %s", text(d["user"]), ip, method(d))
	case "SshLoginFailed":
		w.summary = "Failed SSH login from " + ip
		if d["user"] != "" && d["reason"] != "" {
			w.what = fmt.Sprintf("Login as %s refused: %s", text(d["user"]), text(d["reason"]))
		}
	case "SshBruteForce":
		w.summary = "Password guessing over SSH from " + ip
		w.what = fmt.Sprintf("%s failed %s times within %s, trying %s", ip, text(d["count"]), seconds(d["window_seconds"]), text(d["users"]))
	case "SshLogSpoofed":
		w.what = fmt.Sprintf("%s (uid %s) wrote a log entry claiming to be %s: %s", text(d["sender_comm"]), text(d["sender_uid"]), text(d["claimed"]), truncate(text(d["message"]), maxText))
		if d["sender_exe"] != "" {
			w.by = "By " + text(d["sender_exe"])
		}
	case "PortScanDetected":
		w.summary = "Port scan from " + ip
		w.what = fmt.Sprintf("%s tried %s ports within %s", ip, text(d["ports"]), seconds(d["window_seconds"]))
	case "NetworkConnection":
		if p := s.program(d); p != "" {
			w.summary = "New network connection by " + p
		}
	case "NetworkListen":
		p := s.program(d)
		if p == "" {
			p = "A program"
		}
		if d["state"] == "closed" {
			w.summary = fmt.Sprintf("%s stopped listening on port %s", p, text(d["port"]))
			w.meaning, w.advice = "", ""
			break
		}
		w.summary = fmt.Sprintf("%s accepts connections on port %s", p, text(d["port"]))
		if loopback(d["address"]) {
			w.meaning = "Only programs on this computer can connect to it."
		}
	case "UsbDeviceInserted", "UsbDeviceRemoved":
		name := strings.TrimSpace(text(d["vendor"]) + " " + text(d["product"]))
		if name == "" {
			name = "unnamed device"
		}
		w.summary += ": " + name
		w.what = fmt.Sprintf("%s (%s:%s)", name, text(d["vendor_id"]), text(d["product_id"]))
		if d["interfaces"] != "" {
			w.what += ", " + text(d["interfaces"])
		}
		if e.Type == "UsbDeviceInserted" {
			switch {
			case strings.Contains(strings.ToLower(d["interfaces"]), "keyboard"):
				w.summary = "USB keyboard plugged in: " + name
				w.meaning = "It acts as a keyboard: it can type commands by itself."
			case d["known"] == "false":
				w.meaning = "This device was never seen here before."
			default:
				w.meaning = ""
			}
		}
	case "Incident":
		s.incident(e, &w)
	case "MonitorStatus":
		w.summary, w.what = s.monitor(d)
		if d["state"] == "running" {
			w.meaning, w.advice = "", ""
		}
	case "CustomMessage":
		w.meaning, w.advice = "", ""
	}
	return w
}

// file words a change under a watch: SshAccess is a file event too.
func (s Style) file(e secmondbus.Event, w *worded) {
	d := e.Details
	thing, place := "file", text(d["description"])
	if d["is_dir"] == "true" {
		thing = "folder"
	}
	if place == "" {
		place = shortPath(incident.Watch(e), 60)
	}
	done := map[string]string{"CREATE": "was created", "WRITE": "was changed", "REMOVE": "was deleted", "RENAME": "was moved away", "CHMOD": "got new permissions"}[d["op"]]
	if done == "" {
		done = map[string]string{"FileCreate": "was created", "FileModify": "was changed", "FileDelete": "was deleted",
			"FileAccess": "was opened", "FileMove": "was moved away", "FileAttrib": "got new permissions"}[e.Type]
	}
	if done == "" {
		done = "changed"
	}
	w.what = capital(thing) + " " + shortPath(e.Path, maxPath) + " " + done
	if actor := s.actor(d); actor != "" {
		// The daemon named the writer (fanotify): one sentence says
		// who did what, and the "By" line would repeat it.
		did := map[string]string{"CREATE": "created", "WRITE": "changed", "REMOVE": "deleted", "RENAME": "moved away",
			"CHMOD": "changed the permissions of"}[d["op"]]
		if did == "" {
			did = map[string]string{"FileCreate": "created", "FileDelete": "deleted", "FileAccess": "opened", "FileMove": "moved away",
				"FileAttrib": "changed the permissions of"}[e.Type]
		}
		if did == "" {
			did = "changed"
		}
		w.what, w.by = truncate(actor, maxText)+" "+did+" "+shortPath(e.Path, maxPath), ""
	}
	if d["description"] != "" {
		w.what += " (" + text(d["description"]) + ")"
	}
	switch e.Type {
	case "FileCreate":
		w.summary = fmt.Sprintf("New %s in %s", thing, place)
	case "FileModify":
		w.summary = "File changed in " + place
	case "FileDelete":
		w.summary = fmt.Sprintf("%s deleted from %s", capital(thing), place)
	case "FileAccess":
		w.summary = "File opened in " + place
	case "FileMove":
		w.summary = fmt.Sprintf("%s moved away from %s", capital(thing), place)
	case "FileAttrib":
		w.summary = "Permissions changed in " + place
	case "SshAccess":
		s.ssh(e, w)
	}
}

// ssh words a change to SSH material: who can now log in as whom.
func (s Style) ssh(e secmondbus.Event, w *worded) {
	d := e.Details
	name := d["ssh_file"]
	if name == "" {
		name = baseName(e.Path)
	}
	switch name {
	case "authorized_keys", "authorized_keys2":
	case "sshd_config":
		w.summary = "SSH server settings changed"
		w.meaning = "The SSH server's settings decide who may log in, and how."
		return
	default:
		w.summary = "SSH file changed: " + text(name)
		return
	}
	acct := account(e.Path)
	switch d["op"] {
	case "REMOVE", "RENAME":
		w.summary = "SSH login keys removed for " + acct
		w.meaning = "Keys that could log in as " + acct + " are gone: if you did not do this, someone may be hiding tracks or locking you out."
		return
	case "CHMOD":
		w.summary = "SSH login keys of " + acct + " got new permissions"
		w.meaning = "If others may write this file, they can add a key that logs in as " + acct + "."
		return
	case "CREATE":
		w.summary = "SSH login keys created for " + acct
	default:
		w.summary = "SSH login keys changed for " + acct
	}
	w.meaning = "Every key in this file can log in as " + acct + " without a password."
	// What the daemon may add about the line that was added (see the
	// README, "Desktop notifications").
	if fp := d["key_fingerprint"]; fp != "" {
		w.summary = "New SSH key can log in as " + acct
		key := strings.TrimSpace(strings.Join([]string{text(d["key_type"]), text(fp), text(d["key_comment"])}, " "))
		w.what += "\nAdded key: " + truncate(key, maxText)
	}
}

// incident words what the daemon's correlation put together: the rule
// says what it adds up to, the members which events to read.
func (s Style) incident(e secmondbus.Event, w *worded) {
	d := e.Details
	ip, user := text(d["remote_ip"]), text(d["ssh_user"])
	program := text(d["program"])
	if program == "" {
		program = "A program"
	}
	switch d["rule"] {
	case "persistence_after_login":
		w.summary = fmt.Sprintf("Someone who logged in over SSH from %s made their access permanent", ip)
		w.meaning = fmt.Sprintf("Right after %s logged in from %s, a file that lets access or code outlast the session changed: %s.", user, ip, shortPath(e.Path, maxPath))
	case "badusb":
		w.summary = "A new USB keyboard started programs: " + text(d["device"])
		w.meaning = "A device that types by itself can open a shell and download or change things within seconds."
	case "watching_while_away":
		what := capital(text(d["device"]))
		if what == "" {
			what = "A camera or microphone"
		}
		w.summary = fmt.Sprintf("%s opened while you were away", what)
		w.meaning = fmt.Sprintf("It was opened while %s.", text(d["reason"]))
		if d["program"] != "" {
			w.meaning = fmt.Sprintf("It was opened by %s while %s.", program, text(d["reason"]))
		}
	case "door_opened":
		w.summary = "The SSH server was opened up"
		if d["settings"] != "" {
			w.summary += ": " + truncate(text(d["settings"]), maxText)
		}
		w.meaning = "sshd's settings changed and sshd restarted with them: other people may now log in, or log in more easily."
	case "backdoor_listener":
		w.summary = fmt.Sprintf("Possible backdoor: %s accepts connections on %s", program, text(d["address"]))
		w.meaning = fmt.Sprintf("Other computers can connect to it, and %s.", text(d["reason"]))
	}
	if m := d["members"]; m != "" {
		nums := strings.Split(m, ",")
		for i, n := range nums {
			nums[i] = "#" + text(strings.TrimSpace(n))
		}
		w.what = lines(w.what, "Events: "+strings.Join(nums, ", "))
	}
}

// monitor words a monitor's state.
func (s Style) monitor(d map[string]string) (string, string) {
	m := monitors[d["monitor"]]
	if m == "" {
		m = text(d["monitor"])
	}
	reason := truncate(text(d["reason"]), maxText)
	switch d["state"] {
	case "running":
		return "Watching " + m, reason
	case "degraded":
		return "Only partly watching " + m, reason
	case "reload-failed":
		return "Security monitor kept its old configuration", reason
	}
	return "Not watching " + m, reason
}

func (s Style) device(inc *incident.Incident) (string, string) {
	last := inc.Last
	t := types[last.Type]
	thing := "Camera"
	if strings.HasPrefix(last.Type, "Microphone") {
		thing = "Microphone"
	}
	var names, full []string
	for i, o := range inc.Openers {
		var d map[string]string
		if i < len(inc.OpenerDetails) {
			d = inc.OpenerDetails[i]
		}
		short, long := s.opener(o, d)
		names = append(names, short)
		full = append(full, long)
	}
	path := shortPath(last.Path, maxPath)
	if !inc.Released {
		who := "an unknown program"
		if len(names) > 0 {
			who = names[0]
		}
		if len(names) > 1 {
			who += fmt.Sprintf(" and %d more", len(names)-1)
		}
		first := types[inc.First.Type]
		return fmt.Sprintf("%s in use by %s", thing, who),
			lines(unknownFirst(andList(full))+" opened "+path, first.meaning, advice(first.advice), "Since "+s.stamp(inc.First))
	}
	d := time.Duration(0)
	if ms, err := strconv.ParseInt(last.Details["duration_ms"], 10, 64); err == nil {
		d = time.Duration(ms) * time.Millisecond
	} else if inc.First.Type != last.Type {
		d = last.Time().Sub(inc.First.Time())
	}
	what := fmt.Sprintf("%s used %s for %s", unknownFirst(andList(full)), path, Duration(d))
	if len(full) == 0 {
		// The use began before the notifier was following.
		what = fmt.Sprintf("%s was in use for %s", path, Duration(d))
		if d == 0 {
			what = path + " is no longer in use"
		}
	}
	return thing + " no longer in use", lines(what, advice(t.advice), "At "+s.stamp(last))
}

// opener names who opened a device: its application's name first where
// one is known, then "comm (pid)" ("Firefox (firefox-bin, pid 4242)").
// short is the name alone, for the summary.
func (s Style) opener(o string, d map[string]string) (short, long string) {
	o = text(o)
	if d == nil {
		return o, o
	}
	short = text(d[secmondbus.DetailComm])
	if short == "" {
		short = o
	}
	if c := d["client"]; c != "" {
		// Through PipeWire: the client is the application, the opener
		// the broker.
		return text(c), fmt.Sprintf("%s, through %s", text(c), o)
	}
	app := s.appName(d)
	if app == "" {
		return short, o
	}
	inner := text(d[secmondbus.DetailComm])
	if pid := d[secmondbus.DetailPID]; pid != "" {
		inner = strings.TrimPrefix(inner+", pid "+text(pid), ", ")
	}
	if inner == "" {
		return text(app), text(app)
	}
	return text(app), fmt.Sprintf("%s (%s)", text(app), inner)
}

func (s Style) files(inc *incident.Incident) (string, string) {
	var parts []string
	for _, t := range inc.Types {
		verb := types[t].verb
		if verb == "" {
			verb = splitCamel(t)
		}
		parts = append(parts, fmt.Sprintf("%d %s", inc.ByType[t], verb))
	}
	last := inc.Last
	place := text(last.Details["description"])
	watch := shortPath(incident.Watch(last), maxPath)
	if place == "" {
		place = shortPath(incident.Watch(last), 60)
	}
	latest := "Latest: " + shortPath(last.Path, maxPath)
	if last.Details["is_dir"] == "true" {
		latest = "Latest: folder " + shortPath(last.Path, maxPath)
	}
	after := uint64(0)
	if inc.First.Seq > 0 {
		after = inc.First.Seq - 1
	}
	return fmt.Sprintf("%d changes in %s", inc.Count, place),
		lines(strings.Join(parts, ", ")+" under "+watch, latest,
			fmt.Sprintf("What to do: If you did not make these changes (an update, a build), look at them: secmon-client --replay-after %d", after),
			"The latest at "+s.stamp(last))
}

// Coalesced words a storm the daemon folded and the notifier could not
// fetch back: only the counts are known.
func (s Style) Coalesced(after uint64, count uint32, byType map[string]uint32, at time.Time) Note {
	m := make(map[string]int, len(byType))
	for t, n := range byType {
		m[t] = int(n)
	}
	return s.finish(Note{
		Summary: fmt.Sprintf("%d events in a burst", count),
		Body: lines(counted(m), "Too many at once to show each: see them with secmon-client --replay-after "+strconv.FormatUint(after, 10),
			"At "+s.timeOf(at)),
		Icon: iconMedium, Material: matMedium, Urgency: UrgencyNormal,
	})
}

// DaemonAbsent warns that secmon-daemon has not been on the bus since since.
func (s Style) DaemonAbsent(since time.Time) Note {
	return s.finish(Note{
		Summary: "Security monitor is not running",
		Body: lines("secmon-daemon has not been running since "+s.timeOf(since)+": nothing is being watched or reported.",
			"What to do: systemctl status secmon"),
		Icon: iconError, Material: matError,
		Urgency:  UrgencyCritical,
		Resident: true,
	})
}

// DaemonBack replaces DaemonAbsent. It promises only what follows: the
// events the daemon kept after the last one shown; what happened while it
// was not running may not have been seen at all.
func (s Style) DaemonBack(at time.Time) Note {
	return s.finish(Note{
		Summary: "Security monitor is running again",
		Body: lines("secmon-daemon is back since "+s.timeOf(at)+".",
			"Events it kept are shown now; what happened while it was not running may not have been seen."),
		Icon: iconOK, Material: matOK,
		Urgency: UrgencyLow,
	})
}

// Denied says the bus refused the events to this user.
func (s Style) Denied(at time.Time) Note {
	return s.finish(Note{
		Summary: "Security events are not allowed for you",
		Body: lines("The system bus refused secmon's events to this user at "+s.timeOf(at)+".",
			"What to do: add your user to group secmon (sudo usermod -aG secmon $USER) and log in again."),
		Icon: iconError, Material: matError,
		Urgency: UrgencyCritical,
	})
}

// Muted replaces a notification whose kind the user muted; what is
// MuteScope's.
func (s Style) Muted(n Note, what string, until time.Time) Note {
	n.Summary = "Muted: " + n.Summary
	n.Body = lines("No notifications about "+what+" until "+until.In(s.loc()).Format("15:04")+".",
		"Unmute brings them back; secmon-notifier --unmute does too.")
	n.Urgency = UrgencyLow
	n.Resident = false
	return s.finish(n)
}

// Unmuted replaces the Muted notice when the user ends the mute; what is
// MuteScope's, or "" for every mute.
func (s Style) Unmuted(what string, at time.Time) Note {
	if what == "" {
		what = "everything muted"
	}
	return s.finish(Note{
		Summary: "Notifications are back",
		Body:    "Notifications about " + what + " are shown again since " + s.timeOf(at) + ".",
		Icon:    iconOK, Material: matOK,
		Urgency: UrgencyLow,
	})
}

// Held reports events that were not shown while muted or in quiet hours
// (why), the first of them after seq after.
func (s Style) Held(why string, after uint64, count int, byType map[string]int, at time.Time) Note {
	return s.finish(Note{
		Summary: fmt.Sprintf("%d %s not shown %s", count, plural(count, "notification", "notifications"), why),
		Body:    lines(counted(byType), "See them: secmon-client --replay-after "+strconv.FormatUint(after, 10), "Until "+s.timeOf(at)),
		Icon:    iconMedium, Material: matMedium,
		Urgency: UrgencyLow,
	})
}

// Away sums up the Low and Medium events that came while the notifier was
// not running (a restart, a logout, a reboot), after seq after; the High
// and Critical ones are shown each on its own.
func (s Style) Away(after uint64, count int, byType map[string]int, at time.Time) Note {
	return s.finish(Note{
		Summary: fmt.Sprintf("While you were away: %d less urgent %s", count, plural(count, "event", "events")),
		Body: lines(counted(byType), "Urgent ones are shown each on its own. See them all: secmon-client --replay-after "+strconv.FormatUint(after, 10),
			"Summed up at "+s.timeOf(at)),
		Icon: iconMedium, Material: matMedium,
		Urgency: UrgencyNormal,
	})
}

// Problem reports a problem of the notifier itself (a bad config file).
func (s Style) Problem(summary string, err error) Note {
	return s.finish(Note{Summary: summary, Body: truncate(text(err.Error()), maxText), Icon: iconHigh, Material: matHigh, Urgency: UrgencyNormal})
}

func (s Style) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

// timeOf is a time to the second, with the date when it is not today.
func (s Style) timeOf(t time.Time) string {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	t, now = t.In(s.loc()), now.In(s.loc())
	if y, m, d := t.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		return t.Format("Mon 2 Jan 15:04:05")
	}
	return t.Format(time.TimeOnly)
}

func (s Style) clock(e secmondbus.Event) string { return s.timeOf(e.Time()) }

// stamp is an event's time and number: "14:30:45, event 812". The number
// finds it (secmon-client --show 812) and tells two alike apart.
func (s Style) stamp(e secmondbus.Event) string {
	if e.Seq == 0 {
		return s.clock(e)
	}
	return fmt.Sprintf("%s, event %d", s.clock(e), e.Seq)
}

// finish bounds the lengths. Notes are plain text: the desktop package
// escapes them for the server that receives them, when it sends them.
func (s Style) finish(n Note) Note {
	n.Summary = truncate(n.Summary, maxSummary)
	n.Body = truncate(n.Body, maxBody)
	return n
}

func iconFor(t string, l severity.Level) (string, string) {
	i := types[t]
	icon, mat := i.icon, i.material
	if icon == "" {
		switch {
		case l >= severity.High:
			icon = iconHigh
		case l == severity.Medium:
			icon = iconMedium
		default:
			icon = iconLow
		}
	}
	if mat == "" {
		switch {
		case l >= severity.High:
			mat = matHigh
		case l == severity.Medium:
			mat = matMedium
		default:
			mat = matLow
		}
	}
	return icon, mat
}

// who names the process behind an event, if the daemon knew it: its
// application's name first, then "comm (pid, user, unit)".
func (s Style) who(d map[string]string) string {
	name := d[secmondbus.DetailComm]
	if name == "" {
		name = d[secmondbus.DetailApp]
	}
	if name == "" && d[secmondbus.DetailPID] == "" {
		return ""
	}
	var extra []string
	if d[secmondbus.DetailPID] != "" {
		extra = append(extra, "pid "+d[secmondbus.DetailPID])
	}
	if d[secmondbus.DetailUser] != "" {
		extra = append(extra, "user "+d[secmondbus.DetailUser])
	}
	if d[secmondbus.DetailUnit] != "" {
		extra = append(extra, "unit "+d[secmondbus.DetailUnit])
	}
	w := name
	switch {
	case name == "":
		w = strings.Join(extra, ", ")
	case len(extra) > 0:
		w = name + " (" + strings.Join(extra, ", ") + ")"
	}
	if app := s.appName(d); app != "" {
		w = app + ": " + w
	}
	return "By " + truncate(text(w), maxText)
}

// actor names the writer of a file, when the daemon knew it: "bash (pid
// 4242, alice, SSH session from 203.0.113.9)", its application's name
// first.
func (s Style) actor(d map[string]string) string {
	name := d[secmondbus.DetailComm]
	if name == "" {
		name = d[secmondbus.DetailApp]
	}
	if name == "" && d[secmondbus.DetailPID] == "" {
		return ""
	}
	var extra []string
	if d[secmondbus.DetailPID] != "" {
		extra = append(extra, "pid "+d[secmondbus.DetailPID])
	}
	if d[secmondbus.DetailUser] != "" {
		extra = append(extra, d[secmondbus.DetailUser])
	}
	if d["ssh_from"] != "" {
		extra = append(extra, "SSH session from "+d["ssh_from"])
	}
	w := name
	switch {
	case name == "":
		w = "A process (" + strings.Join(extra, ", ") + ")"
	case len(extra) > 0:
		w = name + " (" + strings.Join(extra, ", ") + ")"
	}
	if app := s.appName(d); app != "" {
		w = app + ": " + w
	}
	return text(w)
}

func (s Style) appName(d map[string]string) string {
	if s.AppName == nil {
		return ""
	}
	app := s.AppName(d)
	if strings.EqualFold(app, d[secmondbus.DetailComm]) {
		return ""
	}
	return app
}

// program is the short name of the process behind an event.
func (s Style) program(d map[string]string) string {
	if app := s.appName(d); app != "" {
		return text(app)
	}
	return text(d[secmondbus.DetailComm])
}

// Duration is a duration in words: "45 seconds", "2 minutes", "1 hour 5
// minutes".
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "less than a second"
	case d < time.Minute:
		n := int(d.Round(time.Second) / time.Second)
		return fmt.Sprintf("%d %s", n, plural(n, "second", "seconds"))
	case d < time.Hour:
		n := int(d.Round(time.Minute) / time.Minute)
		return fmt.Sprintf("%d %s", n, plural(n, "minute", "minutes"))
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	out := fmt.Sprintf("%d %s", h, plural(h, "hour", "hours"))
	if m > 0 {
		out += fmt.Sprintf(" %d %s", m, plural(m, "minute", "minutes"))
	}
	return out
}

// seconds words a number of seconds sent as text ("600" → "10 minutes").
func seconds(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return text(v) + " seconds"
	}
	return Duration(time.Duration(n) * time.Second)
}

// counted words counts per type: "2 camera uses, 1 camera release".
func counted(byType map[string]int) string {
	ts := make([]string, 0, len(byType))
	for t := range byType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%d %s", byType[t], noun(t, byType[t])))
	}
	return strings.Join(parts, ", ")
}

// noun is a count's noun for type t.
func noun(t string, n int) string {
	i, ok := types[t]
	if !ok {
		return strings.ToLower(splitCamel(t)) + plural(n, "", "s")
	}
	return plural(n, i.one, i.many)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func method(d map[string]string) string {
	switch m := d["method"]; m {
	case "publickey":
		if fp := d["fingerprint"]; fp != "" {
			return "the key " + text(fp)
		}
		return "a key"
	case "password", "keyboard-interactive":
		return "a password"
	case "":
		return "an unknown method"
	default:
		return text(m)
	}
}

func loopback(addr string) bool {
	return strings.HasPrefix(addr, "127.") || addr == "::1" || addr == "localhost"
}

// account is whose SSH keys a path holds: the home directory's owner.
func account(p string) string {
	switch {
	case strings.HasPrefix(p, "/root/"):
		return "root"
	case strings.HasPrefix(p, "/home/"):
		if u, _, ok := strings.Cut(strings.TrimPrefix(p, "/home/"), "/"); ok && u != "" {
			return text(u)
		}
	}
	return "this account"
}

// advice is the "What to do" line, if any.
func advice(a string) string {
	if a == "" {
		return ""
	}
	return "What to do: " + a
}

// lines joins the non-empty parts, one a line.
func lines(parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

func andList(xs []string) string {
	switch len(xs) {
	case 0:
		return "An unknown program"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// unknownFirst starts a sentence with "an unknown program" capitalised; a
// program's name keeps its case.
func unknownFirst(s string) string {
	if strings.HasPrefix(s, "an unknown program") {
		return capital(s)
	}
	return s
}

func capital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// text shows hostile text escaped (secmondbus.Visible): control and
// format characters, bytes that are not UTF-8. Newlines this package puts
// in itself are added after cleaning.
func text(s string) string { return secmondbus.Visible(s) }

// shortPath shows p in at most max characters, shortened in the middle:
// the file name is always whole (a name is at most 255 bytes), and so much
// of the start and of the end of its directory as fits. An attacker can
// hide a file under a deep directory; cutting from the end would hide its
// name, and with it what came after it in the body.
func shortPath(p string, max int) string {
	p = text(p)
	if utf8.RuneCountInString(p) <= max {
		return p
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p
	}
	dir, name := []rune(p[:i]), p[i:]
	keep := max - utf8.RuneCountInString(name) - 1
	if keep < 12 {
		keep = 12
	}
	if keep >= len(dir) {
		return p
	}
	head := keep / 2
	return string(dir[:head]) + "…" + string(dir[len(dir)-(keep-head):]) + name
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
