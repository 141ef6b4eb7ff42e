package netmon

// The eBPF objects and their Go bindings (netmon_bpfel.*, netmon_bpfeb.*)
// are generated and committed, so building secmon needs no clang. After
// changing bpf/netmon.c, regenerate them with clang (14 or newer) and the
// libbpf headers (Debian: clang-14 llvm-14 libbpf-dev, or `bash .ci/setup bpf`):
//
//	BPF2GO_CC=clang-14 BPF2GO_STRIP=llvm-strip-14 go generate ./service/internal/netmon/
//
//go:generate go tool bpf2go -cflags "-O2 -g -Wall -mcpu=v3" -target bpfel,bpfeb -type event -type kind netmon bpf/netmon.c -- -I./bpf
