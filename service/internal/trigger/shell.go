package trigger

import (
	"path/filepath"
	"strings"

	"github.com/pantheros/secmon/service/internal/event"
)

// shells run their first operand (a -c script or a script file) as code.
var shells = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "fish": true,
	"ksh": true, "mksh": true, "ash": true, "yash": true, "csh": true, "tcsh": true,
}

// wrappers run their arguments as another command line, so a shell may hide
// behind them: env sh -c …, sudo -u x bash -c …, busybox sh -c ….
var wrappers = map[string]bool{
	"env": true, "sudo": true, "doas": true, "busybox": true, "nice": true, "ionice": true,
	"nohup": true, "setsid": true, "timeout": true, "stdbuf": true, "runuser": true,
	"chroot": true, "flock": true, "systemd-run": true,
}

// shellInjection reports whether argv hands a placeholder to a shell as code:
// in an option or the first operand of sh/bash/…, rather than as a
// positional parameter after it. A shell behind a wrapper counts when it
// comes before any placeholder. It is a heuristic for a warning.
func shellInjection(command string, args []string) bool {
	argv := append([]string{command}, args...)
	n := 1
	if wrappers[filepath.Base(command)] {
		n = len(argv)
	}
	for i := 0; i < n; i++ {
		if hasPlaceholder(argv[i]) {
			break // what follows is data for whatever program came before
		}
		if shells[filepath.Base(argv[i])] && shellCode(argv[i+1:]) {
			return true
		}
	}
	return false
}

// shellCode reports whether a placeholder is among a shell's options or its
// first operand, which is the -c script or the script file.
func shellCode(args []string) bool {
	for j := 0; j < len(args); j++ {
		if hasPlaceholder(args[j]) {
			return true
		}
		switch {
		case args[j] == "-o" || args[j] == "+o":
			j++ // an option name follows
			if j < len(args) && hasPlaceholder(args[j]) {
				return true
			}
		case args[j] == "--":
			return j+1 < len(args) && hasPlaceholder(args[j+1])
		case !strings.HasPrefix(args[j], "-") && !strings.HasPrefix(args[j], "+"):
			return false // the first operand, checked above; the rest are data
		}
	}
	return false
}

// hasPlaceholder reports whether s contains something expand would replace.
func hasPlaceholder(s string) bool {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return false
		}
		s = s[i:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return false
		}
		if _, ok := value(s[1:j], event.Event{}); ok {
			return true
		}
		s = s[1:]
	}
}
