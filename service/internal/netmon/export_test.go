package netmon

import "github.com/cilium/ebpf"

// LoadSpec is the embedded eBPF object, for checks of its code.
func LoadSpec() (*ebpf.CollectionSpec, error) { return loadNetmon() }
