package incident

// Len is the number of incidents held.
func (t *Tracker) Len() int { return len(t.incidents) }
