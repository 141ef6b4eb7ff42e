package usb

import (
	"sort"
	"time"
)

// LoadStoreKeys reads a seen-device file and returns its keys, sorted.
func LoadStoreKeys(path string) ([]string, error) {
	s, err := loadStore(path)
	var keys []string
	for k := range s.devices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, err
}

// SaveStoreKeys writes a seen-device file holding keys.
func SaveStoreKeys(path string, keys ...string) error {
	s, _ := loadStore(path)
	for _, k := range keys {
		s.put(seen{Key: k, FirstSeen: time.Unix(0, 0).UTC()})
	}
	return s.save()
}
