package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/config"
)

// No file crashes the parser, and every error names the file.
func FuzzParse(f *testing.F) {
	example, _ := os.ReadFile("../../../data/secmon.example.toml")
	f.Add(example)
	for _, s := range []string{
		"", "[monitors]\ncamera = 1\n", "[[watches]]\npath = \"relative\"\n",
		"socket_mode = \"0999\"\n", "[[triggers]]\ncommand = \"\"\nargs = [1]\n",
		"replay_buffer = -5\n", "[camera]\ndevices = [\"[\"]\n", "a.b.c = 1\n[a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mode := range []config.Mode{config.SystemMode, config.UserMode} {
			c, err := config.Parse("fuzz.toml", data, mode, env)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.toml") {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			if c == nil {
				t.Fatal("no config and no error")
			}
		}
	})
}
