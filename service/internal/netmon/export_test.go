package netmon

import (
	"time"

	"github.com/cilium/ebpf"
)

// LoadSpec is the embedded eBPF object, for checks of its code.
func LoadSpec() (*ebpf.CollectionSpec, error) { return loadNetmon() }

// DefaultConfig is the seed's defaults: 10 ports in 60 s.
func DefaultConfig() Config {
	return Config{ScanThreshold: 10, ScanWindow: 60 * time.Second, ConnectionRateLimit: 60 * time.Second}
}
