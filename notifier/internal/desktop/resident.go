package desktop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
)

// resident is what a notifier that ended without closing its notices (a
// crash, a kill) left on screen: the ids of its resident notifications and
// the server instance (its unique name on the session bus) that gave them.
// The next notifier closes them when it finds the same server, and shows
// what is still true again; on another server those ids mean nothing (and
// may be another program's), so they are left alone.
type resident struct {
	Server string            `json:"server"`
	IDs    map[string]uint32 `json:"ids"`
}

func loadResident(path string) resident {
	var r resident
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &r)
	}
	return r
}

// saveResident writes r atomically (a temporary file, rename).
func saveResident(path string, r resident) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// noteResidentLocked records that key shows id, resident or not, and
// keeps the file in step; d.mu is held.
func (d *Desktop) noteResidentLocked(key string, id uint32, on bool) {
	if d.o.ResidentPath == "" {
		return
	}
	old, had := d.resident[key]
	switch {
	case on && (!had || old != id):
		d.resident[key] = id
	case !on && had:
		delete(d.resident, key)
	default:
		return
	}
	d.saveResidentLocked()
}

func (d *Desktop) saveResidentLocked() {
	if err := saveResident(d.o.ResidentPath, resident{Server: d.owner, IDs: d.resident}); err != nil {
		d.log.Warn("cannot keep the ids of notices on screen", "err", err)
	}
}

// closeLeftOver closes what an earlier notifier left on this server.
func (d *Desktop) closeLeftOver(closer interface{ CloseNotification(uint32) (bool, error) }) {
	if d.o.ResidentPath == "" {
		return
	}
	r := loadResident(d.o.ResidentPath)
	if r.Server == "" || r.Server != d.owner {
		return
	}
	ids := make([]uint32, 0, len(r.IDs))
	for _, id := range r.IDs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := closer.CloseNotification(id); err != nil {
			d.log.Debug("cannot close a notice left on screen", "id", id, "err", err)
		}
	}
	d.log.Info("closed the notices an earlier notifier left on screen", "count", len(ids))
	// Done with: those ids must not be closed again (the server may give
	// them to another program's notifications one day).
	d.mu.Lock()
	d.saveResidentLocked()
	d.mu.Unlock()
}
