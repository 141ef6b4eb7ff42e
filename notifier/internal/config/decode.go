package config

import (
	"bytes"

	"github.com/pelletier/go-toml/v2"
)

// raw is the file as written: a nil pointer is a key left out.
type raw struct {
	MinSeverity         *string            `toml:"min_severity"`
	MutedTypes          []string           `toml:"muted_types"`
	DaemonAbsentWarning *string            `toml:"daemon_absent_warning"`
	DetailsCommand      []string           `toml:"details_command"`
	LogLevel            *string            `toml:"log_level"`
	QuietHours          *rawQuiet          `toml:"quiet_hours"`
	Types               map[string]rawType `toml:"types"`
}

type rawQuiet struct {
	Start *string `toml:"start"`
	End   *string `toml:"end"`
}

type rawType struct {
	MinSeverity *string `toml:"min_severity"`
	Urgency     *string `toml:"urgency"`
	Icon        *string `toml:"icon"`
}

// decode reads the document into raw, refusing unknown keys and wrong
// types, and indexes where each key is written for the checks' errors.
func decode(file string, data []byte) (*raw, positionIndex, error) {
	var r raw
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, nil, decodeError(file, err)
	}
	pos, err := positions(data)
	if err != nil {
		return nil, nil, &Error{File: file, Msg: err.Error()}
	}
	return &r, pos, nil
}
