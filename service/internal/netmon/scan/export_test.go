package scan

// Tracked is how many addresses are followed now.
func (d *Detector) Tracked() int {
	n := 0
	for range d.addrs.All() {
		n++
	}
	return n
}
