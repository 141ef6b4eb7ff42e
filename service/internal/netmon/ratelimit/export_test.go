package ratelimit

// Len is how many keys are followed.
func (l *Limiter[K, V]) Len() int {
	n := 0
	for range l.keys.All() {
		n++
	}
	return n
}
