package e2e_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/daemon"
)

// maxExposure is what `systemd-analyze security` scores secmon.service
// with every monitor on. The target is 1.5. Naming who opened a
// camera or microphone costs CAP_SYS_ADMIN and the fanotify calls (fanotify
// FID), CAP_SYS_PTRACE (other users' /proc entries); the network monitor
// costs CAP_BPF, CAP_NET_ADMIN and the bpf call; PrivateNetwork (0.5) would
// cut the USB monitor off udev. With the filesystem, ssh and USB monitors
// only, the unit meets 1.5 (tested below).
const (
	maxExposure       = 2.4
	maxExposureNoDevs = 1.5
)

const unitDir = "../../systemd"

func needSystemdAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian: systemd)")
	}
}

// units returns every unit file under systemd/, relative to it.
func units(t *testing.T) []string {
	var out []string
	filepath.WalkDir(unitDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && regexp.MustCompile(`\.(service|socket|target|timer|path)$`).MatchString(p) {
			rel, _ := filepath.Rel(unitDir, p)
			out = append(out, rel)
		}
		return nil
	})
	if len(out) < 2 {
		t.Fatalf("found only %v under %s", out, unitDir)
	}
	return out
}

// installed copies a unit into dir as installed: /usr/bin/secmon-* points
// at the binaries this test built.
func installed(t *testing.T, rel, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(unitDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`/usr/bin/(secmon-[a-z]+)`).ReplaceAllString(string(b), bin+"/$1")
	dst := filepath.Join(dir, filepath.Base(rel))
	if err := os.WriteFile(dst, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// systemd-analyze verify prints nothing for any unit; it warns on stderr
// and still exits 0, so stderr is what counts.
func TestUnitsVerifyCleanly(t *testing.T) {
	needSystemdAnalyze(t)
	for _, rel := range units(t) {
		t.Run(rel, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"verify", "--man=no"}
			if strings.HasPrefix(rel, "user/") {
				args = append(args, "--user")
			}
			p := installed(t, rel, dir)
			switch rel { // each with its companion
			case "secmon.service":
				args = append(args, installed(t, "secmon.socket", dir))
			case "secmon.socket":
				args = append(args, installed(t, "secmon.service", dir))
			}
			cmd := exec.Command("systemd-analyze", append(args, p)...)
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir) // --user looks there
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", rel, err, stderr.String())
			}
		})
	}
}

func exposure(t *testing.T, unit string) float64 {
	t.Helper()
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func TestServiceExposure(t *testing.T) {
	needSystemdAnalyze(t)
	dir := t.TempDir()
	unit := installed(t, "secmon.service", dir)
	if got := exposure(t, unit); got > maxExposure {
		t.Errorf("secmon.service exposure %.1f, want at most %.1f:\n%s", got, maxExposure, mustRun(t, "systemd-analyze", "security", "--offline=true", unit))
	}
	variant := func(name string, edits ...string) string {
		b := mustRead(t, unit)
		for _, e := range edits {
			b = regexp.MustCompile(e).ReplaceAll(b, nil)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	// The system call filter lets the monitors make their calls: a deny of
	// @privileged after the allow list removes them unless a later line
	// names them again. systemd-analyze names one allowed @privileged call;
	// take the others' lines away to see each.
	for call, drop := range map[string]string{"fanotify_init": `(?m)^SystemCallFilter=bpf\n`, "bpf": `(?m)^SystemCallFilter=fanotify_init fanotify_mark\n`} {
		if out := mustRun(t, "systemd-analyze", "security", "--offline=true", variant("secmon-"+call+".service", drop)); !strings.Contains(out, call+" is allowed") {
			t.Errorf("secmon.service's SystemCallFilter blocks %s:\n%s", call, out)
		}
	}
	// Without the camera, microphone and network monitors' capabilities
	// and calls, as the NixOS module writes the unit when they are off.
	lean := variant("secmon-lean.service", ` CAP_(BPF|PERFMON|NET_ADMIN|SYS_ADMIN|SYS_PTRACE)\b`, `(?m)^SystemCallFilter=(fanotify_init fanotify_mark|bpf)\n`)
	if regexp.MustCompile(`(?m)^[^#].*(CAP_SYS_ADMIN|CAP_BPF|fanotify_init)`).Match(mustRead(t, lean)) {
		t.Fatalf("could not drop the device and network monitors' privileges:\n%s", mustRead(t, lean))
	}
	if got := exposure(t, lean); got > maxExposureNoDevs {
		t.Errorf("secmon.service for the filesystem, ssh and USB monitors: exposure %.1f, want at most %.1f\n%s", got, maxExposureNoDevs, mustRun(t, "systemd-analyze", "security", "--offline=true", lean))
	}
}

// The units say what the daemon and the contract expect.
func TestUnitsMatchTheDaemon(t *testing.T) {
	socket := string(mustRead(t, filepath.Join(unitDir, "secmon.socket")))
	service := string(mustRead(t, filepath.Join(unitDir, "secmon.service")))
	for _, want := range []string{
		"ListenStream=/run/secmon/secmon.sock", "SocketMode=0660", "SocketGroup=secmon",
		"FileDescriptorName=" + daemon.ListenFDName,
	} {
		if !strings.Contains(socket, "\n"+want+"\n") {
			t.Errorf("secmon.socket lacks %q", want)
		}
	}
	for _, want := range []string{
		"Type=notify", "BusName=" + secmondbus.BusName, "Restart=on-failure", "StateDirectory=secmon",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only",
	} {
		if !strings.Contains(service, "\n"+want+"\n") {
			t.Errorf("secmon.service lacks %q", want)
		}
	}
	// A reload checks the file first (with ExecStart's flags), so a bad
	// one fails systemctl reload instead of being refused silently.
	start := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(service)
	reload := regexp.MustCompile(`(?m)^ExecReload=(.*)$`).FindAllStringSubmatch(service, -1)
	if start == nil || len(reload) != 2 || reload[0][1] != start[1]+" --check" || reload[1][1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("secmon.service: ExecReload= %q, want %q then the HUP", reload, start[1]+" --check")
	}
	// The socket unit owns /run/secmon: a RuntimeDirectory= would chown
	// it and the socket to the service's user at every start.
	if strings.Contains(service, "\nRuntimeDirectory=") {
		t.Error("secmon.service has RuntimeDirectory=: the socket's owner would change when the service starts")
	}
	if !regexp.MustCompile(`\nWatchdogSec=\d+s\n`).MatchString(service) {
		t.Error("secmon.service has no WatchdogSec=")
	}
}

// The sysusers.d and tmpfiles.d snippets work with the real tools.
func TestSysusersAndTmpfiles(t *testing.T) {
	for _, p := range []string{"systemd-sysusers", "systemd-tmpfiles"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian: systemd)", p)
		}
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	abs, _ := filepath.Abs("../../data")
	mustRun(t, "systemd-sysusers", "--root="+root, filepath.Join(abs, "sysusers.d", "secmon.conf"))
	passwd := string(mustRead(t, filepath.Join(root, "etc", "passwd")))
	group := string(mustRead(t, filepath.Join(root, "etc", "group")))
	if !regexp.MustCompile(`(?m)^secmon:x:\d+:\d+:.*:/usr/sbin/nologin$`).MatchString(passwd) || !strings.Contains(group, "secmon:x:") {
		t.Fatalf("sysusers did not create user and group secmon:\n%s\n%s", passwd, group)
	}
	mustRun(t, "systemd-tmpfiles", "--root="+root, "--create", filepath.Join(abs, "tmpfiles.d", "secmon.conf"))
	fi, err := os.Stat(filepath.Join(root, "var", "lib", "secmon"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("tmpfiles: /var/lib/secmon %v, %v; want a 0700 directory", fi, err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// secmon.service runs the daemon as the user secmon: --system keeps it in
// system mode (the system socket and watches), not user mode.
func TestServiceUserRunsInSystemMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running as another user needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed (Debian: util-linux)")
	}
	m := regexp.MustCompile(`(?m)^ExecStart=/usr/bin/secmon-daemon(.*)$`).FindSubmatch(mustRead(t, filepath.Join(unitDir, "secmon.service")))
	if m == nil {
		t.Fatal("no ExecStart=/usr/bin/secmon-daemon in secmon.service")
	}
	args := append([]string{"--reuid=secmon", "--regid=secmon", "--clear-groups", filepath.Join(bin, "secmon-daemon")}, strings.Fields(string(m[1]))...)
	out, err := exec.Command("setpriv", append(args, "--check")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(system mode)") || !strings.Contains(string(out), "socket: /run/secmon/secmon.sock") {
		t.Fatalf("secmon-daemon%s --check as secmon: %v\n%s", m[1], err, out)
	}
}
