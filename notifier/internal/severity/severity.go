// Package severity is secmon's four severities as the notifier orders them.
// The contract carries them as strings (secmondbus.Severities, "Low" …
// "Critical"); a string the notifier does not know sorts as Medium, so a
// newer daemon's severity is shown rather than hidden.
package severity

import (
	"fmt"

	secmondbus "github.com/pantheros/secmon/dbus"
)

// Level orders the severities; the zero value is Low.
type Level int

// The severities, least first, as in secmondbus.Severities.
const (
	Low Level = iota
	Medium
	High
	Critical
)

var names = secmondbus.Severities()

func (l Level) String() string {
	if l < Low || l > Critical {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return names[l]
}

// Parse reads a severity name, exactly as the contract spells it.
func Parse(s string) (Level, error) {
	for i, n := range names {
		if s == n {
			return Level(i), nil
		}
	}
	return Medium, fmt.Errorf("unknown severity %q (want Low, Medium, High or Critical)", s)
}

// Of is the level of an event's severity string; unknown names are Medium.
func Of(s string) Level {
	l, _ := Parse(s)
	return l
}
