package config

// Correlation is the [correlation] section: the rules that put events
// together into one Incident (see package correlate), each on or off and
// with its window in seconds.
type Correlation struct {
	PersistenceAfterLogin              bool `toml:"persistence_after_login"`
	PersistenceAfterLoginWindowSeconds int  `toml:"persistence_after_login_window_seconds"`
	BadUSB                             bool `toml:"badusb"`
	BadUSBWindowSeconds                int  `toml:"badusb_window_seconds"`
	WatchingWhileAway                  bool `toml:"watching_while_away"`
	WatchingWhileAwayWindowSeconds     int  `toml:"watching_while_away_window_seconds"`
	DoorOpened                         bool `toml:"door_opened"`
	DoorOpenedWindowSeconds            int  `toml:"door_opened_window_seconds"`
	BackdoorListener                   bool `toml:"backdoor_listener"`
	BackdoorListenerWindowSeconds      int  `toml:"backdoor_listener_window_seconds"`
}

func defaultCorrelation() Correlation {
	return Correlation{
		PersistenceAfterLogin: true, PersistenceAfterLoginWindowSeconds: 900,
		BadUSB: true, BadUSBWindowSeconds: 30,
		WatchingWhileAway: true, WatchingWhileAwayWindowSeconds: 60,
		DoorOpened: true, DoorOpenedWindowSeconds: 600,
		BackdoorListener: true, BackdoorListenerWindowSeconds: 3600,
	}
}

func (c *Config) checkCorrelation(bad complain) {
	r := &c.Correlation
	for key, n := range map[string]int{
		"correlation.persistence_after_login_window_seconds": r.PersistenceAfterLoginWindowSeconds,
		"correlation.badusb_window_seconds":                  r.BadUSBWindowSeconds,
		"correlation.watching_while_away_window_seconds":     r.WatchingWhileAwayWindowSeconds,
		"correlation.door_opened_window_seconds":             r.DoorOpenedWindowSeconds,
		"correlation.backdoor_listener_window_seconds":       r.BackdoorListenerWindowSeconds,
	} {
		if n < 1 || n > 86400 {
			bad(key, "must be between 1 and 86400, not %d", n)
		}
	}
}
