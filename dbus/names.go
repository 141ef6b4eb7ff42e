package dbus

import "slices"

// The event types the daemon sends, in the order of the README's table.
// Clients match on these strings; a type not listed here never comes from
// this version of the daemon (a newer one may add some, so a client shows
// an unknown type rather than dropping it).
const (
	TypeFileCreate         = "FileCreate"
	TypeFileModify         = "FileModify"
	TypeFileDelete         = "FileDelete"
	TypeFileAccess         = "FileAccess"
	TypeFileMove           = "FileMove"
	TypeFileAttrib         = "FileAttrib"
	TypeCameraAccess       = "CameraAccess"
	TypeCameraReleased     = "CameraReleased"
	TypeMicrophoneAccess   = "MicrophoneAccess"
	TypeMicrophoneReleased = "MicrophoneReleased"
	TypeSshAccess          = "SshAccess"
	TypeSshLogin           = "SshLogin"
	TypeSshLoginFailed     = "SshLoginFailed"
	TypeSshBruteForce      = "SshBruteForce"
	TypeSshLogSpoofed      = "SshLogSpoofed"
	TypeNetworkConnection  = "NetworkConnection"
	TypeNetworkListen      = "NetworkListen"
	TypePortScanDetected   = "PortScanDetected"
	TypeUsbDeviceInserted  = "UsbDeviceInserted"
	TypeUsbDeviceRemoved   = "UsbDeviceRemoved"
	TypeIncident           = "Incident"
	TypeCustomMessage      = "CustomMessage"
	TypeEventsDropped      = "EventsDropped"
	TypeMonitorStatus      = "MonitorStatus"
)

var types = []string{
	TypeFileCreate, TypeFileModify, TypeFileDelete, TypeFileAccess, TypeFileMove, TypeFileAttrib,
	TypeCameraAccess, TypeCameraReleased, TypeMicrophoneAccess, TypeMicrophoneReleased,
	TypeSshAccess, TypeSshLogin, TypeSshLoginFailed, TypeSshBruteForce, TypeSshLogSpoofed,
	TypeNetworkConnection, TypeNetworkListen, TypePortScanDetected,
	TypeUsbDeviceInserted, TypeUsbDeviceRemoved,
	TypeIncident,
	TypeCustomMessage, TypeEventsDropped, TypeMonitorStatus,
}

// Types lists every event type, in the order of the README's table.
func Types() []string { return slices.Clone(types) }

var knownTypes = func() map[string]bool {
	m := make(map[string]bool, len(types))
	for _, t := range types {
		m[t] = true
	}
	return m
}()

// KnownType says whether t is one of Types() (case-sensitive, as sent).
func KnownType(t string) bool { return knownTypes[t] }

// The severities, as the Event signal's severity argument spells them.
const (
	SeverityLow      = "Low"
	SeverityMedium   = "Medium"
	SeverityHigh     = "High"
	SeverityCritical = "Critical"
)

// Severities lists the severities, least first.
func Severities() []string {
	return []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// The keys of an Event's details that name the process behind it, when the
// daemon knows it; the other keys are the type's metadata (the README's
// table). A key is left out when its value is unknown.
const (
	DetailPID  = "pid"
	DetailComm = "comm"
	DetailExe  = "exe"
	DetailUID  = "uid"
	DetailUser = "user"
	// DetailUnit is the systemd unit of the process's cgroup.
	DetailUnit = "unit"
	// DetailApp is the Flatpak application ID of the process.
	DetailApp = "app"
)
