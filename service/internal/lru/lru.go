// Package lru is a bounded map that keeps its keys in order, oldest first:
// the one memory bound of secmon's detectors (port scans per address,
// rate-limit windows per key, brute-force counts per address), so that an
// attacker who sends from many addresses costs a fixed amount of memory.
//
// Get marks a key as the newest (least-recently-used order); Peek does
// not, so a caller that only ever uses Peek keeps insertion order. When the
// cache is full, Add evicts the oldest key and hands it back: a detector
// counts or reports what it forgets.
//
// Not safe for concurrent use.
package lru

import "iter"

// Cache holds at most its Max entries.
type Cache[K comparable, V any] struct {
	max   int
	items map[K]*node[K, V]
	// root is the ring's sentinel: root.next is the oldest entry, root.prev
	// the newest.
	root node[K, V]
}

type node[K comparable, V any] struct {
	key        K
	val        V
	prev, next *node[K, V]
}

// New returns a cache of at most max entries; it panics if max < 1 (a
// detector's configuration is checked before).
func New[K comparable, V any](max int) *Cache[K, V] {
	if max < 1 {
		panic("lru: a cache must hold at least one entry")
	}
	c := &Cache[K, V]{max: max, items: make(map[K]*node[K, V])}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// Get returns the value of k and makes k the newest.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	n, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(n)
	c.pushNewest(n)
	return n.val, true
}

// Peek returns the value of k and leaves the order alone.
func (c *Cache[K, V]) Peek(k K) (V, bool) {
	n, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	return n.val, true
}

// Add sets k to v and makes it the newest. When k is new and the cache is
// full, the oldest entry is removed first and returned with evicted true.
func (c *Cache[K, V]) Add(k K, v V) (oldKey K, oldVal V, evicted bool) {
	if n, ok := c.items[k]; ok {
		n.val = v
		c.unlink(n)
		c.pushNewest(n)
		return oldKey, oldVal, false
	}
	if len(c.items) >= c.max {
		oldKey, oldVal, evicted = c.RemoveOldest()
	}
	n := &node[K, V]{key: k, val: v}
	c.items[k] = n
	c.pushNewest(n)
	return oldKey, oldVal, evicted
}

// Oldest returns the oldest entry without removing it.
func (c *Cache[K, V]) Oldest() (K, V, bool) {
	if n := c.root.next; n != &c.root {
		return n.key, n.val, true
	}
	var k K
	var v V
	return k, v, false
}

// RemoveOldest removes the oldest entry and returns it.
func (c *Cache[K, V]) RemoveOldest() (K, V, bool) {
	k, v, ok := c.Oldest()
	if ok {
		c.Remove(k)
	}
	return k, v, ok
}

// Remove forgets k; it says whether k was held.
func (c *Cache[K, V]) Remove(k K) bool {
	n, ok := c.items[k]
	if ok {
		delete(c.items, k)
		c.unlink(n)
	}
	return ok
}

// All yields the entries oldest first. The cache must not be changed
// during the iteration.
func (c *Cache[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for n := c.root.next; n != &c.root; n = n.next {
			if !yield(n.key, n.val) {
				return
			}
		}
	}
}

func (c *Cache[K, V]) unlink(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (c *Cache[K, V]) pushNewest(n *node[K, V]) {
	n.prev, n.next = c.root.prev, &c.root
	c.root.prev.next = n
	c.root.prev = n
}
