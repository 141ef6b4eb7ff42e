package scan

// Tracked is how many addresses are followed now.
func (d *Detector) Tracked() int { return d.addrs.Len() }
