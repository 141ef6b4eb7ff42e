// Package version holds secmon's version, set at build time with
// -ldflags "-X github.com/pantheros/secmon/service/internal/version.Version=…".
package version

// Version is secmon's release.
var Version = "0.1.0-dev"
