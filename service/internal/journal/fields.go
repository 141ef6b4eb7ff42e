package journal

import (
	"maps"
	"slices"
	"strconv"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
)

const (
	// metaPrefix starts the name of every metadata field; no fixed field
	// starts with it, so metadata can only collide with metadata.
	metaPrefix = "SECMON_META_"
	// maxFieldName is journald's limit on a field name's length.
	maxFieldName = 64
)

// Fields is the journal projection of an event: MESSAGE (the description,
// always present), PRIORITY (from the severity), SYSLOG_IDENTIFIER=secmon,
// MESSAGE_ID (the type's, omitted for an unknown type), SECMON_EVENT_TYPE,
// SECMON_SEVERITY, SECMON_PATH, SECMON_SEQ, SECMON_TIMESTAMP (as in the JSON
// form), SECMON_PID, SECMON_COMM, SECMON_EXE, SECMON_UID, SECMON_USER, SECMON_UNIT and SECMON_APP
// when the process is known, and one SECMON_META_<KEY> per metadata entry.
//
// Any other field with an empty value is omitted, and so is SECMON_UID when
// the UID is unknown. A metadata key becomes a field name by upper-casing
// ASCII letters and replacing every other character outside [A-Z0-9_] with
// '_', cut so that the whole name fits journald's 64 characters. Keys are
// taken in sorted order and a key whose name is already taken is skipped, so
// the choice is stable.
func Fields(e event.Event) map[string]string {
	f := make(map[string]string, 16+len(e.Metadata))
	f["MESSAGE"] = secmondbus.VisibleLines(e.Description)
	f["PRIORITY"] = strconv.Itoa(e.Severity.JournalPriority())
	f["SYSLOG_IDENTIFIER"] = "secmon"
	if info := event.Info(e.Type); info != nil {
		setNonEmpty(f, "MESSAGE_ID", info.MessageID)
	}
	setNonEmpty(f, "SECMON_EVENT_TYPE", string(e.Type))
	f["SECMON_SEVERITY"] = e.Severity.String()
	setNonEmpty(f, "SECMON_PATH", e.Path)
	f["SECMON_SEQ"] = strconv.FormatUint(e.Seq, 10)
	f["SECMON_TIMESTAMP"] = e.Time.UTC().Format(event.TimeLayout)
	if p := e.Process; p != nil {
		f["SECMON_PID"] = strconv.Itoa(p.PID)
		setNonEmpty(f, "SECMON_COMM", p.Comm)
		setNonEmpty(f, "SECMON_EXE", p.Exe)
		if p.UID >= 0 {
			f["SECMON_UID"] = strconv.FormatInt(p.UID, 10)
		}
		setNonEmpty(f, "SECMON_USER", p.User)
		setNonEmpty(f, "SECMON_UNIT", p.Unit)
		setNonEmpty(f, "SECMON_APP", p.App)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Metadata)) {
		v := e.Metadata[k]
		if v == "" {
			continue
		}
		name := metaFieldName(k)
		if _, taken := f[name]; taken {
			continue
		}
		f[name] = v
	}
	return f
}

func setNonEmpty(f map[string]string, name, value string) {
	if value != "" {
		f[name] = value
	}
}

func metaFieldName(key string) string {
	b := make([]byte, 0, maxFieldName)
	b = append(b, metaPrefix...)
	// Ranging over runes turns a multi-byte character (or an invalid
	// byte) into a single '_'.
	for _, r := range key {
		if len(b) == maxFieldName {
			break
		}
		switch {
		case 'a' <= r && r <= 'z':
			b = append(b, byte(r-'a'+'A'))
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_':
			b = append(b, byte(r))
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}
