package journal_test

import (
	"fmt"
	"os"
	"testing"
)

// childModeEnv marks a re-executed copy of the test binary and says what
// it is to do; such a child never re-executes itself, so there is no fork
// loop.
const childModeEnv = "SECMON_JOURNAL_TEST_CHILD"

func TestMain(m *testing.M) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	var err error
	switch mode {
	case "socket":
		err = socketChild()
	case "journald":
		err = journaldChild()
	default:
		err = fmt.Errorf("unknown %s=%q", childModeEnv, mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s child: %v\n", mode, err)
		os.Exit(1)
	}
	os.Exit(0)
}
