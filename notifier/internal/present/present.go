// Package present holds every word secmon-notifier shows: summary, body,
// icon, urgency and category for an incident and for the notifier's own
// warnings, the action labels, what a mute covers, and the status lines
// the service manager shows.
//
// The summary says what happened and the body who and where ("Camera in
// use" / "firefox (pid 4242) opened /dev/video0"). Every body ends with a
// time or a count, because an update must never be identical to what is on
// screen (DankMaterialShell drops a notification identical to one shown in
// the last 5 s). Icons are freedesktop icon-naming-spec names, so every
// theme has them. Event text is untrusted: control characters and characters
// that change how text reads (bidirectional controls, zero-width ones) are
// shown escaped. Notes are plain text: package desktop escapes markup for
// the server that receives them, when it sends them.
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
	Icon          string
	// Category is the spec's category hint ("device", "network"…), or "".
	Category string
	Urgency  Urgency
	// Resident asks the server to keep it until it is replaced or
	// dismissed (a camera in use).
	Resident bool
}

type info struct {
	title    string
	icon     string // "": security-high/medium/low by severity
	category string
	verb     string // for file changes in a summary body
}

// types words every event type of the contract (secmondbus.Types); a type
// a newer daemon adds is worded from its name.
var types = map[string]info{
	"FileCreate":         {title: "New file", verb: "created"},
	"FileModify":         {title: "File changed", verb: "modified"},
	"FileDelete":         {title: "File deleted", verb: "deleted"},
	"FileAccess":         {title: "File opened", verb: "opened"},
	"FileMove":           {title: "File moved away", verb: "moved away"},
	"FileAttrib":         {title: "File permissions changed", verb: "with changed attributes"},
	"SshAccess":          {title: "SSH keys or configuration changed", verb: "SSH files changed"},
	"CameraAccess":       {title: "Camera in use", icon: "camera-web", category: "device"},
	"CameraReleased":     {title: "Camera released", icon: "camera-web", category: "device"},
	"MicrophoneAccess":   {title: "Microphone in use", icon: "audio-input-microphone", category: "device"},
	"MicrophoneReleased": {title: "Microphone released", icon: "audio-input-microphone", category: "device"},
	"SshLogin":           {title: "SSH login", category: "network"},
	"SshLoginFailed":     {title: "Failed SSH login", category: "network"},
	"SshBruteForce":      {title: "SSH brute force", category: "network"},
	"SshLogSpoofed":      {title: "A log entry posing as sshd", category: "network"},
	"NetworkConnection":  {title: "New network connection", icon: "network-wired", category: "network"},
	"NetworkListen":      {title: "Listening port", icon: "network-wired", category: "network"},
	"PortScanDetected":   {title: "Port scan", category: "network"},
	"UsbDeviceInserted":  {title: "USB device connected", icon: "drive-removable-media", category: "device.added"},
	"UsbDeviceRemoved":   {title: "USB device removed", icon: "drive-removable-media", category: "device.removed"},
	"CustomMessage":      {title: "Security monitor"},
	"EventsDropped":      {title: "Security events were lost", icon: "dialog-warning"},
	"MonitorStatus":      {title: "Security monitor status", icon: "dialog-warning"},
}

// Style is what the user and the server decide about wording.
type Style struct {
	// Urgency and Icon override the defaults per event type.
	Urgency map[string]Urgency
	Icon    map[string]string
	// Location for times; nil is time.Local.
	Location *time.Location
}

const (
	maxSummary = 200
	maxBody    = 1000
)

// Incident words an incident's notification.
func (s Style) Incident(inc *incident.Incident) Note {
	last := inc.Last
	lvl := inc.Severity
	if inc.Class == incident.Device {
		// A release is calmer than the use it ends.
		lvl = severity.Of(last.Severity)
	}
	n := Note{Urgency: UrgencyOf(lvl), Icon: iconFor(last.Type, lvl), Category: types[last.Type].category}
	switch {
	case inc.Class == incident.Device:
		n.Summary, n.Body = s.device(inc)
		n.Resident = !inc.Released
	case incident.IsFile(last.Type) && inc.Count > 1:
		n.Summary, n.Body = s.files(inc)
	case inc.Count > 1:
		n.Summary = fmt.Sprintf("%s (%d×)", s.title(last), inc.Count)
		n.Body = fmt.Sprintf("%s\n%d times since %s, last at %s", clean(last.Description), inc.Count, s.clock(inc.First), s.clock(last))
	default:
		n.Summary = s.title(last)
		n.Body = clean(last.Description)
		if w := who(last); w != "" {
			n.Body += "\nby " + w
		}
		n.Body += "\nat " + s.clock(last)
	}
	if u, ok := s.Urgency[last.Type]; ok {
		n.Urgency = u
	}
	if i := s.Icon[last.Type]; i != "" {
		n.Icon = i
	}
	return s.finish(n)
}

func (s Style) device(inc *incident.Incident) (string, string) {
	last := inc.Last
	thing := "Camera"
	if strings.HasPrefix(last.Type, "Microphone") {
		thing = "Microphone"
	}
	openers := strings.Join(inc.Openers, ", ")
	if !inc.Released {
		return thing + " in use", fmt.Sprintf("%s opened %s\nsince %s", openers, clean(last.Path), s.clock(inc.First))
	}
	d := time.Duration(0)
	if ms, err := strconv.ParseInt(last.Details["duration_ms"], 10, 64); err == nil {
		d = time.Duration(ms) * time.Millisecond
	} else if inc.First.Type != last.Type {
		d = last.Time().Sub(inc.First.Time())
	}
	if openers == "" {
		// The use began before the notifier was following.
		return thing + " released", fmt.Sprintf("%s released after %s\nat %s", clean(last.Path), Duration(d), s.clock(last))
	}
	return thing + " released", fmt.Sprintf("%s used %s, released after %s\nat %s", openers, clean(last.Path), Duration(d), s.clock(last))
}

func (s Style) files(inc *incident.Incident) (string, string) {
	var parts []string
	for _, t := range inc.Types {
		parts = append(parts, fmt.Sprintf("%d %s", inc.ByType[t], types[t].verb))
	}
	watch := clean(incident.Watch(inc.Last))
	if d := inc.Last.Details["description"]; d != "" {
		watch += " (" + clean(d) + ")"
	}
	return fmt.Sprintf("%d file changes under %s", inc.Count, clean(incident.Watch(inc.Last))),
		fmt.Sprintf("%d changes in %s: %s\nlatest: %s at %s", inc.Count, watch, strings.Join(parts, ", "), clean(inc.Last.Path), s.clock(inc.Last))
}

// title is a one-event summary.
func (s Style) title(e secmondbus.Event) string {
	d := e.Details
	t := types[e.Type].title
	if t == "" {
		t = splitCamel(e.Type)
	}
	switch e.Type {
	case "SshLogin":
		return fmt.Sprintf("SSH login: %s from %s", d["user"], d["remote_ip"])
	case "SshLoginFailed":
		return fmt.Sprintf("Failed SSH login from %s", d["remote_ip"])
	case "SshBruteForce", "PortScanDetected":
		return fmt.Sprintf("%s from %s", t, d["remote_ip"])
	case "MonitorStatus":
		return fmt.Sprintf("Monitor %s: %s", d["monitor"], d["state"])
	}
	return t
}

// Coalesced words a storm the daemon folded and the notifier could not
// fetch back: only the counts are known.
func (s Style) Coalesced(count uint32, byType map[string]uint32, at time.Time) Note {
	ts := make([]string, 0, len(byType))
	for t := range byType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %d", t, byType[t]))
	}
	return s.finish(Note{
		Summary: fmt.Sprintf("%d events during a storm", count),
		Body:    fmt.Sprintf("%s\nat %s; secmon-client --replay-after shows them", strings.Join(parts, ", "), at.In(s.loc()).Format(time.TimeOnly)),
		Icon:    "dialog-warning", Urgency: UrgencyNormal,
	})
}

// DaemonAbsent warns that secmon-daemon has not been on the bus since since.
func (s Style) DaemonAbsent(since time.Time) Note {
	return s.finish(Note{
		Summary:  "Security monitor is not running",
		Body:     fmt.Sprintf("secmon-daemon has not been on the system bus since %s: nothing is being reported.\nCheck: systemctl status secmon", since.In(s.loc()).Format(time.TimeOnly)),
		Icon:     "dialog-warning",
		Urgency:  UrgencyCritical,
		Resident: true,
	})
}

// DaemonBack replaces DaemonAbsent.
func (s Style) DaemonBack(at time.Time) Note {
	return s.finish(Note{
		Summary: "Security monitor is running again",
		Body:    fmt.Sprintf("secmon-daemon is back since %s; what it saw meanwhile follows.", at.In(s.loc()).Format(time.TimeOnly)),
		Icon:    "security-high",
		Urgency: UrgencyLow,
	})
}

// Denied says the bus refused the events to this user.
func (s Style) Denied(at time.Time) Note {
	return s.finish(Note{
		Summary: "Security events are not allowed for you",
		Body:    fmt.Sprintf("The system bus refused secmon's events to this user (at %s). Add your user to group secmon and log in again.", at.In(s.loc()).Format(time.TimeOnly)),
		Icon:    "dialog-warning",
		Urgency: UrgencyCritical,
	})
}

// Muted replaces a notification whose kind the user muted.
func (s Style) Muted(n Note, what string, until time.Time) Note {
	n.Summary = "Muted: " + n.Summary
	n.Body = fmt.Sprintf("%s muted until %s", what, until.In(s.loc()).Format("15:04"))
	n.Urgency = UrgencyLow
	n.Resident = false
	return s.finish(n)
}

// Held reports events that were not shown while muted or in quiet hours.
func (s Style) Held(why string, count int, byType map[string]int, at time.Time) Note {
	ts := make([]string, 0, len(byType))
	for t := range byType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %d", t, byType[t]))
	}
	return s.finish(Note{
		Summary: fmt.Sprintf("%d events not shown %s", count, why),
		Body:    fmt.Sprintf("%s\nuntil %s; journalctl SYSLOG_IDENTIFIER=secmon has them", strings.Join(parts, ", "), at.In(s.loc()).Format(time.TimeOnly)),
		Icon:    "security-medium",
		Urgency: UrgencyLow,
	})
}

// Away sums up the Low and Medium events that came while the notifier was
// not running (a restart, a logout, a reboot), after seq after; the High
// and Critical ones are shown each on its own.
func (s Style) Away(after uint64, count int, byType map[string]int, at time.Time) Note {
	ts := make([]string, 0, len(byType))
	for t := range byType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %d", t, byType[t]))
	}
	return s.finish(Note{
		Summary: fmt.Sprintf("While you were away: %d events", count),
		Body: fmt.Sprintf("%s\nshown at %s; secmon-client --replay-after %d shows them",
			strings.Join(parts, ", "), at.In(s.loc()).Format(time.TimeOnly), after),
		Icon:    "security-medium",
		Urgency: UrgencyNormal,
	})
}

// Problem reports a problem of the notifier itself (a bad config file).
func (s Style) Problem(summary string, err error) Note {
	return s.finish(Note{Summary: summary, Body: clean(err.Error()), Icon: "dialog-warning", Urgency: UrgencyNormal})
}

func (s Style) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

func (s Style) clock(e secmondbus.Event) string {
	return e.Time().In(s.loc()).Format(time.TimeOnly)
}

// finish bounds the lengths. Notes are plain text: the desktop package
// escapes them for the server that receives them, when it sends them.
func (s Style) finish(n Note) Note {
	n.Summary = truncate(n.Summary, maxSummary)
	n.Body = truncate(n.Body, maxBody)
	return n
}

func iconFor(t string, l severity.Level) string {
	if i := types[t].icon; i != "" {
		return i
	}
	switch {
	case l >= severity.High:
		return "security-high"
	case l == severity.Medium:
		return "security-medium"
	}
	return "security-low"
}

// who names the process behind an event, if the daemon knew it.
func who(e secmondbus.Event) string {
	d := e.Details
	name := d[secmondbus.DetailApp]
	if name == "" {
		name = d[secmondbus.DetailComm]
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
		extra = append(extra, d[secmondbus.DetailUnit])
	}
	if name == "" {
		return clean(strings.Join(extra, ", "))
	}
	return clean(name + " (" + strings.Join(extra, ", ") + ")")
}

// Duration is a short human duration: "45 s", "2 min", "1 h 5 min".
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// clean shows hostile text escaped (secmondbus.Visible): control and
// format characters, bytes that are not UTF-8. Newlines this package puts
// in itself are added after cleaning.
func clean(s string) string { return secmondbus.Visible(s) }

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
