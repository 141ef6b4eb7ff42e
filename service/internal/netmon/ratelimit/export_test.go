package ratelimit

// Len is how many keys are followed.
func (l *Limiter[K, V]) Len() int { return l.keys.Len() }
