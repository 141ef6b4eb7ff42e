package correlate

import "time"

// DefaultConfig has every rule on, with the default windows of
// [correlation] (service/internal/config, data/secmon.example.toml).
func DefaultConfig() Config {
	return Config{
		PersistenceAfterLogin: Rule{true, 15 * time.Minute},
		BadUSB:                Rule{true, 30 * time.Second},
		WatchingWhileAway:     Rule{true, time.Minute},
		DoorOpened:            Rule{true, 10 * time.Minute},
		BackdoorListener:      Rule{true, time.Hour},
	}
}
