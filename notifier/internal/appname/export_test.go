package appname

// SetInstalled replaces the check of who installed an executable.
func SetInstalled(f *Finder, installed func(string) bool) { f.installed = installed }

// Installed is the real check of who installed an executable.
var Installed = installed
