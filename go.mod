module github.com/pantheros/secmon

go 1.26.0

require (
	github.com/cilium/ebpf v0.22.0
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/esiqveland/notify v0.13.3
	github.com/fsnotify/fsnotify v1.10.1
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/sys v0.49.0
)

require (
	github.com/godbus/dbus/v5 v5.2.4
	github.com/jochenvg/go-udev v0.0.0-20240801134859-b65ed646224b
)

require github.com/jkeiser/iter v0.0.0-20200628201005-c8aa0ae784d1 // indirect

tool github.com/cilium/ebpf/cmd/bpf2go
