package config_test

import (
	"bytes"
	"os"
	"testing"
)

// toml.go is copied into the notifier's config package on purpose (see its
// header); the copies must not drift apart.
func TestSharedTOMLCodeIsTheSame(t *testing.T) {
	ours, err := os.ReadFile("toml.go")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile("../../../notifier/internal/config/toml.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Error("service/internal/config/toml.go and notifier/internal/config/toml.go differ: change both alike")
	}
}
