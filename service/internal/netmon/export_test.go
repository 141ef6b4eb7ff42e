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

// Kinds are the Go copies of bpf/netmon.c's enum kind, by the C names.
var Kinds = map[string]int{
	"K_LISTEN": kListen, "K_LISTEN_CLOSE": kListenClose, "K_UDP_BIND": kUDPBind, "K_UDP_CLOSE": kUDPClose,
	"K_CONNECT_OUT": kConnectOut, "K_CONNECT_IN": kConnectIn, "K_TOUCH_TCP": kTouchTCP, "K_TOUCH_UDP": kTouchUDP,
}
