//go:build !cgo

package sshmon

import (
	"context"
	"errors"
)

// errNoJournal: the journal cannot be opened at all.
var errNoJournal = errors.New("cannot open the journal: secmon was built without cgo, which sd-journal needs")

func (w *Watcher) followJournal(ctx context.Context, ready func()) error {
	return errNoJournal
}
