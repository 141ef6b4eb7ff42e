package desktop

// Markup says whether the server renders body markup (so bodies are sent
// escaped, see Body).
func (d *Desktop) Markup() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.markup
}
