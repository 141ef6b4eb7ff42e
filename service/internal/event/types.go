package event

import (
	"fmt"
	"strings"
)

// Severity orders events; the zero value is invalid.
type Severity int

// The seed's four severities.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = [...]string{"", "Low", "Medium", "High", "Critical"}

func (s Severity) String() string {
	if s < Low || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the four names, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i := Low; i <= Critical; i++ {
		if strings.EqualFold(s, severityNames[i]) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want Low, Medium, High or Critical)", s)
}

// MarshalText writes the name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Low || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText reads a name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// JournalPriority maps a severity to a syslog priority for the journal:
// Critical 2 (crit), High 3 (err), Medium 4 (warning), Low 6 (info).
func (s Severity) JournalPriority() int {
	switch s {
	case Critical:
		return 2
	case High:
		return 3
	case Medium:
		return 4
	default:
		return 6
	}
}

// Type names what happened. The seed's names keep the seed's meanings.
type Type string

// The event types. Keep Types (below), the README's table and the bus
// contract's list (dbus/names.go) in step: tests compare them.
const (
	FileCreate         Type = "FileCreate"
	FileModify         Type = "FileModify"
	FileDelete         Type = "FileDelete"
	FileAccess         Type = "FileAccess"
	FileMove           Type = "FileMove"
	FileAttrib         Type = "FileAttrib"
	CameraAccess       Type = "CameraAccess"
	CameraReleased     Type = "CameraReleased"
	MicrophoneAccess   Type = "MicrophoneAccess"
	MicrophoneReleased Type = "MicrophoneReleased"
	SshAccess          Type = "SshAccess"
	SshLogin           Type = "SshLogin"
	SshLoginFailed     Type = "SshLoginFailed"
	SshBruteForce      Type = "SshBruteForce"
	SshLogSpoofed      Type = "SshLogSpoofed"
	NetworkConnection  Type = "NetworkConnection"
	NetworkListen      Type = "NetworkListen"
	PortScanDetected   Type = "PortScanDetected"
	UsbDeviceInserted  Type = "UsbDeviceInserted"
	UsbDeviceRemoved   Type = "UsbDeviceRemoved"
	Incident           Type = "Incident"
	CustomMessage      Type = "CustomMessage"
	EventsDropped      Type = "EventsDropped"
	MonitorStatus      Type = "MonitorStatus"
)

// TypeInfo documents one type; the README's table is checked against it.
type TypeInfo struct {
	Type            Type
	DefaultSeverity Severity
	// MessageID is the journal MESSAGE_ID (128 bits, hex) of this type.
	MessageID string
	Meaning   string
	// MetadataKeys are the keys this type's metadata may carry.
	MetadataKeys []string
}

// Types lists every type secmon emits, in documentation order.
var Types = []TypeInfo{
	{FileCreate, Medium, "9ff3f2cbd4304ac5adc37141c871ec4a", "a file or directory appeared in a watched tree (also one found by the scan of a newly watched directory)", []string{"watch", "description", "op", "is_dir", "found_by", "ssh_from"}},
	{FileModify, Low, "a7cdcd93a0594629bcab69e561d77eae", "a watched file was written (repeated writes within 1 s are one event)", []string{"watch", "description", "op", "found_by", "ssh_from"}},
	{FileDelete, Medium, "a2e2b3cc49f74fa4ae9115d2c80cf0d2", "a file or directory was removed from a watched tree", []string{"watch", "description", "op", "is_dir", "found_by", "ssh_from"}},
	{FileAccess, Low, "cb381f2fe4fd499e937555c31864f1bb", "a watched file was opened (only where a monitor asks for opens; plain reads are never events)", []string{"watch", "description", "mask"}},
	{FileMove, Medium, "39f9007c0cc14dd28592aaeea449073e", "a file was renamed or moved away from this path (its new name, if watched, gets a FileCreate)", []string{"watch", "description", "op", "is_dir", "ssh_from"}},
	{FileAttrib, Low, "4b8ba33af59b4315bf793b7d8c7a3d13", "permissions, owner or timestamps of a watched file changed", []string{"watch", "description", "op", "is_dir", "found_by", "ssh_from"}},
	{CameraAccess, High, "eff547c4f89240488e7f17c055bdfd25", "a process opened a camera (through PipeWire: the broker, and the client linked to it where its graph is readable)", []string{"mask", "attribution", "broker", "client", "client_pid", "client_exe", "client_lookup"}},
	{CameraReleased, Medium, "83491014b2b0491da8e1eacd2b2acaf4", "the last opener closed a camera, or it was unplugged in use", []string{"duration_ms", "how"}},
	{MicrophoneAccess, High, "d0a92432607541638feb846f26d1484c", "a process opened a microphone (capture device; through PipeWire as for a camera)", []string{"mask", "attribution", "broker", "client", "client_pid", "client_exe", "client_lookup"}},
	{MicrophoneReleased, Medium, "992354e27cf24bacadb70f8d991c2dac", "the last opener closed a microphone, or it was unplugged in use", []string{"duration_ms", "how"}},
	{SshAccess, High, "583ab6bed48a45949d98c168c8709573", "an SSH key or sshd configuration file changed (Critical for authorized_keys)", []string{"watch", "description", "op", "ssh_file", "is_dir", "found_by", "key_type", "key_fingerprint", "key_comment", "keys_added", "keys_removed", "ssh_from"}},
	{SshLogin, Medium, "c76dc75620194602a94cb036293989d8", "sshd accepted a login (High for root, and for a password typed with password or keyboard-interactive)", []string{"user", "remote_ip", "remote_port", "method", "fingerprint", "found_by"}},
	{SshLoginFailed, Low, "201bc4f7bf08444abf2d7695805a4a04", "sshd refused a login attempt: a failed password or key, an invalid or disallowed user, too many attempts, a PAM failure", []string{"user", "remote_ip", "remote_port", "method", "fingerprint", "reason", "found_by"}},
	{SshBruteForce, High, "d59886fc9ada4538b1fc7d7821167376", "one address failed brute_force_threshold times within the window (at most once per address and window)", []string{"remote_ip", "count", "window_seconds", "users", "found_by"}},
	{SshLogSpoofed, Medium, "5b0b6f4c2e8d4f0a9c1e3d7a8b6f2c45", "a log entry claims to be sshd's (SYSLOG_IDENTIFIER sshd…) but journald says another program wrote it: it is never taken for a login or a failure", []string{"claimed", "sender_comm", "sender_exe", "sender_uid", "sender_unit", "message", "found_by"}},
	{NetworkConnection, Low, "7ce692fd51424415941d05683effda4d", "a new TCP connection, outbound or inbound (repeats within the rate limit are counted into one summary with suppressed)", []string{"protocol", "local_address", "local_port", "remote_address", "remote_port", "direction", "suppressed"}},
	{NetworkListen, Low, "618f9bd01bcc41739a82f7b23b47d30d", "a process started or stopped listening on a TCP port or bound a UDP port (High on a non-loopback address outside the allow-list; Low for those found at start)", []string{"protocol", "address", "port", "state", "found_by"}},
	{PortScanDetected, High, "3c9865b1a6154d61b70c16aedd6c5e91", "one remote address touched many local ports in a short window", []string{"remote_ip", "ports", "window_seconds"}},
	{UsbDeviceInserted, Medium, "784e5ccfda2d4a00bdfea1b7f5a2bd44", "a USB device appeared (never seen before: Medium, High if it brings a keyboard; known, or present at start: Low)", []string{"vendor_id", "product_id", "vendor", "product", "serial", "bus_path", "interfaces", "authorized", "known", "found_by"}},
	{UsbDeviceRemoved, Low, "97620218ad77479a90b2b4612f90e46f", "a USB device went away", []string{"vendor_id", "product_id", "vendor", "product", "serial", "bus_path", "interfaces"}},
	{Incident, Critical, "79a6c94d74024083a504fdaf4ab23ef4", "events that together look like an attack (rule: persistence after an SSH login, a new USB keyboard that starts programs, camera or microphone while away; High: sshd's settings changed and sshd restarted, a listener from an SSH session or a download); members lists their seqs", []string{"rule", "members", "window_seconds", "ssh_user", "remote_ip", "device", "program", "settings", "address", "reason"}},
	{CustomMessage, Low, "7ab9de72efa7466ab034cf5e1ca23645", "a message from secmon itself that fits no other type", []string{}},
	{EventsDropped, High, "28c755b448114d3797198ed771af61bd", "events were lost: a client or sink could not keep up, the kernel queue overflowed, or a replay reached past the buffer", []string{"dropped", "first_seq", "last_seq", "reason", "monitor"}},
	{MonitorStatus, Medium, "a38701d2f1634b1ba30533e7ccdb16eb", "a monitor started, degraded or stopped (a missing privilege, a kernel limit, a feature not built)", []string{"monitor", "state", "reason"}},
}

var typeIndex = func() map[Type]*TypeInfo {
	m := make(map[Type]*TypeInfo, len(Types))
	for i := range Types {
		m[Types[i].Type] = &Types[i]
	}
	return m
}()

// Info returns the documentation of t, or nil for an unknown type.
func Info(t Type) *TypeInfo { return typeIndex[t] }

// ParseType checks that s names a known type (case-sensitive, as in JSON).
func ParseType(s string) (Type, error) {
	if Info(Type(s)) == nil {
		return "", fmt.Errorf("unknown event type %q", s)
	}
	return Type(s), nil
}
