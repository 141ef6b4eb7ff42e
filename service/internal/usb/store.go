package usb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pantheros/secmon/service/internal/atomicfile"
)

// StoreName is the seen-device file in the state directory.
const StoreName = "usb-devices"

// seen is one remembered device: one JSON object a line, so the file reads
// well and a damaged line is named by its number.
type seen struct {
	Key        string    `json:"key"`
	Name       string    `json:"name,omitempty"`
	Interfaces string    `json:"interfaces"`
	FirstSeen  time.Time `json:"first_seen"`
}

// store remembers every USB device secmon has seen.
type store struct {
	path    string
	devices map[string]seen
	dirty   bool // changed since read or saved
}

const storeHeader = "# USB devices secmon has seen (one JSON object a line; delete a line to forget a device)\n"

// loadStore reads path. A missing file is an empty store. A damaged one is
// an error naming the file and line, and an empty store all the same:
// every device then counts as new, which is loud but not blind.
func loadStore(path string) (*store, error) {
	s := &store{path: path, devices: map[string]seen{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("cannot read the seen USB devices: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var e seen
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			s.devices = map[string]seen{}
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return s, fmt.Errorf("%s:%d: %s: want a %s, not a JSON %s", path, n, te.Field, te.Type, te.Value)
			}
			return s, fmt.Errorf("%s:%d: cannot parse a seen USB device: %w", path, n, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			s.devices = map[string]seen{}
			return s, fmt.Errorf("%s:%d: cannot parse a seen USB device: more than one object on the line", path, n)
		}
		if e.Key == "" {
			s.devices = map[string]seen{}
			return s, fmt.Errorf("%s:%d: key: missing", path, n)
		}
		s.devices[e.Key] = e
	}
	if err := sc.Err(); err != nil {
		s.devices = map[string]seen{}
		return s, fmt.Errorf("%s: cannot read the seen USB devices: %w", path, err)
	}
	return s, nil
}

func (s *store) lookup(key string) (seen, bool) {
	e, ok := s.devices[key]
	return e, ok
}

func (s *store) put(e seen) {
	s.devices[e.Key] = e
	s.dirty = true
}

// save replaces the file atomically: a crash leaves the old list or the
// new one, never half of one.
func (s *store) save() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("cannot save the seen USB devices: %w", err)
	}
	keys := make([]string, 0, len(s.devices))
	for k := range s.devices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte(storeHeader)
	for _, k := range keys {
		b, err := json.Marshal(s.devices[k])
		if err != nil {
			return fmt.Errorf("cannot save the seen USB devices: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := atomicfile.WriteFile(s.path, buf, 0o600); err != nil {
		return fmt.Errorf("cannot save the seen USB devices: %w", err)
	}
	s.dirty = false
	return nil
}
