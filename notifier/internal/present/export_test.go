package present

// WordedTypes are the event types with their own wording.
func WordedTypes() []string {
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	return out
}

// Advice is the "What to do" of type t.
func Advice(t string) string { return types[t].advice }

// IconNames are every icon name the package may send.
func IconNames() []string {
	out := []string{iconHigh, iconMedium, iconLow, iconError, iconOK, iconCamera, iconMic, iconNetwork, iconUSB}
	for _, i := range types {
		if i.icon != "" {
			out = append(out, i.icon)
		}
	}
	return out
}

// ShortPath is shortPath.
var ShortPath = shortPath
