//go:build race

package e2e_test

// Under -race the notifier the tests run is built with the race detector
// too (after the CGO_ENABLED=0 build that proves it needs no cgo).
func init() { raceBuild = true }
