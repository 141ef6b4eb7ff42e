package lru

// Len is how many entries are held.
func (c *Cache[K, V]) Len() int { return len(c.items) }
