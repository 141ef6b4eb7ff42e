package present

// WordedTypes are the event types with their own wording.
func WordedTypes() []string {
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	return out
}
