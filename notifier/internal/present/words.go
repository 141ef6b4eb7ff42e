package present

// info is how one event type is worded for people. Type names never reach
// a popup: they stay in the JSON, the journal and the configuration.
type info struct {
	// title is a one-event summary when no better one can be built from
	// the event's data.
	title string
	// one and many count events of the type: "1 new file", "3 new files".
	one, many string
	// verb words the type in a burst of file changes: "34 created".
	verb string
	// icon is a freedesktop icon name that Adwaita (Debian's included)
	// and hicolor-based themes ship, "" for the severity's; material is
	// the Material Symbols name DankMaterialShell draws.
	icon, material string
	category       string
	// meaning says in one line what it means; advice what to do now. The
	// advice is, word for word, the "What to do:" of the type's entry in
	// the journal catalog (data/catalog/secmon.catalog; a test checks).
	meaning, advice string
}

// Icon names, checked against the installed Adwaita and hicolor themes:
// Adwaita 45 and later ship only the -symbolic names, and every theme that
// follows the naming spec has them too.
const (
	iconHigh    = "dialog-warning-symbolic"
	iconMedium  = "security-medium-symbolic"
	iconLow     = "dialog-information-symbolic"
	iconError   = "dialog-error-symbolic"
	iconOK      = "security-high-symbolic"
	iconCamera  = "camera-web-symbolic"
	iconMic     = "audio-input-microphone-symbolic"
	iconNetwork = "network-wired-symbolic"
	iconUSB     = "media-removable-symbolic"
)

// Material Symbols names (https://fonts.google.com/icons) for
// DankMaterialShell's image-path hint "material:<name>".
const (
	matHigh    = "gpp_maybe"
	matMedium  = "shield"
	matLow     = "info"
	matError   = "error"
	matOK      = "verified_user"
	matCamera  = "videocam"
	matMic     = "mic"
	matNetwork = "lan"
	matUSB     = "usb"
	matKey     = "key"
)

// types words every event type of the contract (secmondbus.Types); a type
// a newer daemon adds is worded from its name.
var types = map[string]info{
	"FileCreate": {title: "New file", one: "new file", many: "new files", verb: "created",
		meaning: "New files where settings or start-up scripts live can make programs run at login or boot.",
		advice:  "If you did not create it, open it and check its owner (ls -l); remove it if it is not yours."},
	"FileModify": {title: "File changed", one: "file change", many: "file changes", verb: "changed",
		meaning: "A changed settings or start-up file can run code the next time someone logs in or the system starts.",
		advice:  "If you did not change it, compare it with what you expect (a backup, git) and undo what is not yours."},
	"FileDelete": {title: "File deleted", one: "deleted file", many: "deleted files", verb: "deleted",
		meaning: "Deleting logs, keys or settings can hide tracks or lock you out.",
		advice:  "If you did not delete it, restore it from a backup and look for other changes made at the same time."},
	"FileAccess": {title: "File opened", one: "opened file", many: "opened files", verb: "opened",
		meaning: "A program opened a file that is watched for that.",
		advice:  "Check that the program named here should read it."},
	"FileMove": {title: "File moved away", one: "file moved away", many: "files moved away", verb: "moved away",
		meaning: "Editors save by renaming, so this is often a save; otherwise the file was replaced or hidden.",
		advice:  "If no editor or program of yours did this, find where it went and what replaced it."},
	"FileAttrib": {title: "Permissions changed", one: "permission change", many: "permission changes", verb: "with new permissions",
		meaning: "A file others may write, or that belongs to someone else now, can be abused.",
		advice:  "Check with ls -l that its owner and permissions are what they should be."},
	"SshAccess": {title: "SSH settings changed", one: "SSH file change", many: "SSH file changes", verb: "SSH files changed", material: matKey,
		meaning: "This file decides who may log in over SSH, and how.",
		advice:  "Read the file now: remove keys you do not recognise, and check who logged in since (journalctl -u ssh -u sshd)."},
	"CameraAccess": {title: "Camera in use", one: "camera use", many: "camera uses", icon: iconCamera, material: matCamera, category: "device",
		meaning: "The program sees what the camera sees while it is on.",
		advice:  "If you did not start a video call or a camera app, close the program named here."},
	"CameraReleased": {title: "Camera off", one: "camera release", many: "camera releases", icon: iconCamera, material: matCamera, category: "device",
		advice: "Nothing to do if the use was yours."},
	"MicrophoneAccess": {title: "Microphone in use", one: "microphone use", many: "microphone uses", icon: iconMic, material: matMic, category: "device",
		meaning: "The program hears what the microphone picks up while it is on.",
		advice:  "If nothing should be recording, close the program named here."},
	"MicrophoneReleased": {title: "Microphone off", one: "microphone release", many: "microphone releases", icon: iconMic, material: matMic, category: "device",
		advice: "Nothing to do if the recording was yours."},
	"SshLogin": {title: "SSH login", one: "SSH login", many: "SSH logins", material: matKey, category: "network",
		meaning: "Someone is now logged in to this computer over the network.",
		advice:  "If it was not you, end the session (loginctl terminate-session) and change the password or key that was used."},
	"SshLoginFailed": {title: "Failed SSH login", one: "failed SSH login", many: "failed SSH logins", material: matKey, category: "network",
		meaning: "One failure is usually a typo or an automated scanner.",
		advice:  "Nothing to do for one; turn password logins off (PasswordAuthentication no) if they are on."},
	"SshBruteForce": {title: "Password guessing over SSH", one: "password guessing alert", many: "password guessing alerts", material: matKey, category: "network",
		meaning: "Someone is trying one password after another to get in.",
		advice:  "Block the address in your firewall, make sure password logins are off, and check for a login from it."},
	"SshLogSpoofed": {title: "A program posed as the SSH server", one: "log entry posing as sshd", many: "log entries posing as sshd", material: matKey, category: "network",
		meaning: "It is not a login: someone may be trying to trigger alerts, or to get an address banned.",
		advice:  "Find out why that program imitates sshd, and stop it if it is not yours."},
	"NetworkConnection": {title: "New network connection", one: "new connection", many: "new connections", icon: iconNetwork, material: matNetwork, category: "network",
		meaning: "Programs make many connections; this program or address is new.",
		advice:  "Only a program or address you do not expect needs a look."},
	"NetworkListen": {title: "Program open to the network", one: "listening port", many: "listening ports", icon: iconNetwork, material: matNetwork, category: "network",
		meaning: "Other computers can connect to this program.",
		advice:  "If the program should not serve the network, stop it or make it listen on 127.0.0.1 only."},
	"PortScanDetected": {title: "Port scan", one: "port scan", many: "port scans", icon: iconNetwork, material: matNetwork, category: "network",
		meaning: "Someone is mapping which services this computer offers.",
		advice:  "Check that your firewall blocks what it should, and whether the address belongs to your network."},
	"UsbDeviceInserted": {title: "USB device plugged in", one: "USB device plugged in", many: "USB devices plugged in", icon: iconUSB, material: matUSB, category: "device.added",
		meaning: "A device can act as a keyboard and type commands by itself.",
		advice:  "If you did not plug it in, unplug it: a stick that also acts as a keyboard can type commands."},
	"UsbDeviceRemoved": {title: "USB device unplugged", one: "USB device unplugged", many: "USB devices unplugged", icon: iconUSB, material: matUSB, category: "device.removed",
		advice: "Nothing to do, unless the device should have stayed."},
	"Incident": {title: "Possible attack", one: "possible attack", many: "possible attacks",
		meaning: "Each of these events can be ordinary; together, in this order, they look like an attack.",
		advice:  "Treat this computer as possibly compromised: read each event named here (secmon-client --show N), and if you cannot explain them, take it off the network and get help."},
	"CustomMessage": {title: "Security monitor", one: "message", many: "messages",
		advice: "Read the message."},
	"EventsDropped": {title: "Security events were lost", one: "notice of lost events", many: "notices of lost events", icon: iconError, material: matError,
		meaning: "What happened in that time cannot all be shown: the record has a gap.",
		advice:  "See what is still kept with secmon-client --replay-after 0; if it repeats, narrow the watch that is too busy."},
	"MonitorStatus": {title: "Security monitor status", one: "monitor notice", many: "monitor notices", icon: iconHigh, material: matHigh,
		meaning: "Part of what secmon watches is not watched right now.",
		advice:  "See secmon-daemon(8), CAPABILITIES, for what this monitor needs."},
}

// monitors names the daemon's monitors for people.
var monitors = map[string]string{
	"filesystem": "files", "writers": "who changes sensitive files", "camera": "the camera", "microphone": "the microphone", "network": "the network",
	"ssh": "SSH logins", "usb": "USB devices", "journal": "the copy to the journal", "dbus": "notifications on the system bus",
	"config": "its configuration", "state": "event numbering", "correlation": "attacks made of several events",
}

// rules names the daemon's correlation rules for people.
var rules = map[string]string{
	"persistence_after_login": "access made permanent after an SSH login",
	"badusb":                  "a new USB keyboard starting programs",
	"watching_while_away":     "camera or microphone while you are away",
	"door_opened":             "the SSH server opened up",
	"backdoor_listener":       "a possible backdoor",
}
