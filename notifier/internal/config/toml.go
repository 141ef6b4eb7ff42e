// This file is the same in service/internal/config and
// notifier/internal/config (TestSharedTOMLCodeIsTheSame checks): the two
// config packages word TOML errors alike, file:line:col: key K: why. It is
// copied, not shared, because no package both halves may import fits it:
// see ARCHITECTURE.md, "What is copied on purpose".

package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Error is a configuration error at its place in the file.
type Error struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// decodeError turns go-toml's errors into Errors, one per unknown key.
func decodeError(file string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, de := range strict.Errors {
			line, col := de.Position()
			errs = append(errs, &Error{File: file, Line: line, Column: col,
				Key: strings.Join(de.Key(), "."), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: file, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
			Msg: strings.TrimPrefix(de.Error(), "toml: ")}
	}
	return &Error{File: file, Msg: err.Error()}
}

type position struct{ line, col int }

// positionIndex maps dotted keys ("watches.2.path", with array-table
// indexes) to where they are written.
type positionIndex map[string]position

// find returns the position of key or of its nearest written parent.
func (p positionIndex) find(key string) position {
	for key != "" {
		if pos, ok := p[key]; ok {
			return pos
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return position{}
}

// positions indexes every table header and key of a TOML document.
func positions(data []byte) (positionIndex, error) {
	var p unstable.Parser
	p.Reset(data)
	idx := positionIndex{}
	arrays := map[string]int{}
	prefix := ""
	at := func(b []byte) position {
		s := p.Shape(p.Range(b))
		return position{s.Start.Line, s.Start.Column}
	}
	keyOf := func(n *unstable.Node) (string, position) {
		var parts []string
		var first position
		it := n.Key()
		for it.Next() {
			k := it.Node()
			if len(parts) == 0 {
				first = at(k.Data)
			}
			parts = append(parts, string(k.Data))
		}
		return strings.Join(parts, "."), first
	}
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table:
			k, pos := keyOf(n)
			prefix = k
			idx.add(k, pos)
		case unstable.ArrayTable:
			k, pos := keyOf(n)
			i := arrays[k]
			arrays[k] = i + 1
			prefix = k + "." + strconv.Itoa(i)
			idx.add(k, pos)
			idx.add(prefix, pos)
		case unstable.KeyValue:
			k, pos := keyOf(n)
			if prefix != "" {
				k = prefix + "." + k
			}
			idx.add(k, pos)
		}
	}
	return idx, p.Error()
}

func (p positionIndex) add(k string, pos position) {
	if _, ok := p[k]; !ok {
		p[k] = pos
	}
}
