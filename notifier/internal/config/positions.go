package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

type position struct{ line, col int }

// positionIndex maps dotted keys ("quiet_hours.start", "types.SshLogin") to
// where they are written, so checks made after decoding can name a line.
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

// positions indexes every table header and key of a TOML document. The
// notifier's file has no array tables, so a table header is a plain prefix.
func positions(data []byte) (positionIndex, error) {
	var p unstable.Parser
	p.Reset(data)
	idx := positionIndex{}
	prefix := ""
	keyOf := func(n *unstable.Node) (string, position) {
		var parts []string
		var first position
		it := n.Key()
		for it.Next() {
			k := it.Node()
			if len(parts) == 0 {
				s := p.Shape(p.Range(k.Data))
				first = position{s.Start.Line, s.Start.Column}
			}
			parts = append(parts, string(k.Data))
		}
		return strings.Join(parts, "."), first
	}
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			k, pos := keyOf(n)
			prefix = k
			idx.add(k, pos)
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
