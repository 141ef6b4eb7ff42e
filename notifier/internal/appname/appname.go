// Package appname names the application behind a process for people: the
// Name of the desktop entry that matches its Flatpak application id, its
// executable or its command name, so a popup says "Firefox" and not
// "firefox-esr". The process's own name and pid are shown beside it:
// desktop entries in the user's data directory are the user's to write,
// like a program's name, so this is a convenience, never an identity.
//
// See https://specifications.freedesktop.org/desktop-entry-spec/latest/.
package appname

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// refresh bounds how old the index may be: applications come and go.
const refresh = 30 * time.Second

// maxEntries bounds the index, and maxSize a desktop file read.
const (
	maxEntries = 4096
	maxSize    = 64 << 10
)

// Finder looks names up in the desktop entries of some directories. It is
// safe for concurrent use.
type Finder struct {
	dirs      []string
	now       func() time.Time
	installed func(exe string) bool

	mu    sync.Mutex
	built time.Time
	byID  map[string]string // desktop file id (without .desktop), lower case → Name
	byExe map[string]string // executable: full path and base name → Name
}

// New returns a Finder over the applications directories dirs (searched
// in order: the first entry of an id wins, as for the spec's data dirs).
func New(dirs []string) *Finder { return &Finder{dirs: dirs, now: time.Now, installed: installed} }

// installed tells whether exe was installed by root: the file and its
// directory belong to root and no one else may write them. Only such a
// program is named from a desktop entry by its executable's or command's
// name: any user can name a program firefox, or copy one to /tmp, and a
// camera popup must not call that "Firefox".
func installed(exe string) bool {
	for _, p := range []string{exe, filepath.Dir(exe)} {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil || st.Uid != 0 || st.Mode&0o022 != 0 {
			return false
		}
	}
	return true
}

// DefaultDirs are the applications directories of the spec's data
// directories ($XDG_DATA_HOME, then $XDG_DATA_DIRS), with Flatpak's
// exports.
func DefaultDirs() []string {
	home, _ := os.UserHomeDir()
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" && home != "" {
		dataHome = filepath.Join(home, ".local", "share")
	}
	dataDirs := os.Getenv("XDG_DATA_DIRS")
	if dataDirs == "" {
		dataDirs = "/usr/local/share:/usr/share"
	}
	var out []string
	if dataHome != "" {
		out = append(out, filepath.Join(dataHome, "applications"), filepath.Join(dataHome, "flatpak", "exports", "share", "applications"))
	}
	for _, d := range strings.Split(dataDirs, ":") {
		if d != "" {
			out = append(out, filepath.Join(d, "applications"))
		}
	}
	return append(out, "/var/lib/flatpak/exports/share/applications")
}

// Name is the application's name for a process's details (secmondbus's
// app, exe and comm keys), or "" when no desktop entry matches.
func (f *Finder) Name(d map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); f.byID == nil || now.Sub(f.built) > refresh {
		f.build()
		f.built = now
	}
	if app := d["app"]; app != "" {
		if n := f.byID[strings.ToLower(app)]; n != "" {
			return n
		}
	}
	exe := d["exe"]
	if exe == "" || !f.installed(exe) {
		// Unknown, or the user's to write: its name is its own claim.
		return ""
	}
	if n := f.byExe[exe]; n != "" {
		return n
	}
	if n := f.byExe[filepath.Base(exe)]; n != "" {
		return n
	}
	if comm := d["comm"]; comm != "" {
		if n := f.byID[strings.ToLower(comm)]; n != "" {
			return n
		}
		return f.byExe[comm]
	}
	return ""
}

func (f *Finder) build() {
	f.byID, f.byExe = map[string]string{}, map[string]string{}
	n := 0
	for _, dir := range f.dirs {
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || n >= maxEntries {
				return filepath.SkipDir
			}
			if e.IsDir() || !strings.HasSuffix(p, ".desktop") || !e.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			id := strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(rel, ".desktop"), "/", "-"))
			if _, seen := f.byID[id]; seen {
				return nil
			}
			ent, ok := read(p)
			if !ok {
				f.byID[id] = "" // hidden: also hides the id further down
				return nil
			}
			n++
			f.byID[id] = ent.name
			for _, exe := range []string{ent.tryExec, ent.exec} {
				if exe == "" {
					continue
				}
				if _, taken := f.byExe[exe]; !taken {
					f.byExe[exe] = ent.name
				}
				if b := filepath.Base(exe); f.byExe[b] == "" {
					f.byExe[b] = ent.name
				}
			}
			return nil
		})
	}
}

type entry struct{ name, exec, tryExec string }

// read parses the [Desktop Entry] group of an application's desktop file;
// ok is false for one that is hidden, not an application, or has no name.
func read(p string) (entry, bool) {
	var e entry
	file, err := os.Open(p)
	if err != nil {
		return e, false
	}
	defer file.Close()
	sc := bufio.NewScanner(&limited{file, maxSize})
	in, app, hidden := false, false, false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			in = l == "[Desktop Entry]"
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !in || !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "Name":
			e.name = v
		case "Type":
			app = v == "Application"
		case "Hidden":
			hidden = v == "true"
		case "TryExec":
			e.tryExec = v
		case "Exec":
			e.exec = program(v)
		}
	}
	return e, app && !hidden && e.name != ""
}

// program is the executable an Exec line runs: its first word, past env
// and its assignments; none for a Flatpak launcher (the id names those).
func program(exec string) string {
	words := strings.Fields(exec)
	for len(words) > 0 {
		w := strings.Trim(words[0], `"'`)
		switch {
		case w == "env" || filepath.Base(w) == "env" || strings.Contains(w, "=") && !strings.HasPrefix(w, "/"):
			words = words[1:]
			continue
		case filepath.Base(w) == "flatpak":
			return ""
		}
		return w
	}
	return ""
}

// limited stops reading after n bytes.
type limited struct {
	f *os.File
	n int64
}

func (l *limited) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, fs.ErrClosed
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	k, err := l.f.Read(b)
	l.n -= int64(k)
	return k, err
}
