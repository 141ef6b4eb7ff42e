package systemtest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The root file system: Debian's own packages, nothing of secmon's. Any
// change to this list (or to recipe) gives a new cache entry.
var (
	suite    = "bookworm"
	packages = []string{
		"systemd", "systemd-sysv", "dbus", "dbus-user-session", "libpam-systemd",
		"openssh-server", "openssh-client", "sshpass", "procps",
	}
	recipe = "debootstrap --variant=minbase v1"
)

// cacheRoot holds one tree per package list, outside the checkout so that
// every worktree and every run shares it. SECMON_SYSTEST_CACHE overrides.
func cacheRoot() string {
	if d := os.Getenv("SECMON_SYSTEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/secmon-systest"
}

// rootfs returns the cached tree, building it first when it is missing
// (a fresh machine): debootstrap into a temporary directory beside it,
// renamed into place when complete, under a lock so that parallel runs
// build it once.
func rootfs(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(recipe + "\n" + suite + "\n" + strings.Join(packages, ",")))
	root := cacheRoot()
	dir := filepath.Join(root, suite+"-"+hex.EncodeToString(sum[:6]))
	done := filepath.Join(dir, ".secmon-systest-complete")
	if _, err := os.Stat(done); err == nil {
		t.Logf("root file system: cached in %s", dir)
		return dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatalf("cannot create the cache directory: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("cannot lock the cache: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("cannot lock the cache: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(done); err == nil {
		return dir // built by another run while this one waited
	}
	mirror := os.Getenv("SECMON_SYSTEST_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	start := time.Now()
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(packages, ","), suite, tmp, mirror)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		t.Fatalf("cannot build the root file system: debootstrap: %v\n%s", err, tail(out, 40))
	}
	os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(tmp, ".secmon-systest-complete"), []byte(recipe+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatalf("cannot move the root file system into the cache: %v", err)
	}
	t.Logf("root file system: built in %s (%s) from %s", time.Since(start).Round(time.Second), dir, mirror)
	return dir
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// overlay gives this run its own writable view of the cached tree: an
// overlay mount (instant), or a copy where overlayfs is refused.
func overlay(t *testing.T, lower string) string {
	t.Helper()
	run := t.TempDir()
	upper, work, merged := filepath.Join(run, "upper"), filepath.Join(run, "work"), filepath.Join(run, "root")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err == nil {
		t.Cleanup(func() {
			if err := syscall.Unmount(merged, syscall.MNT_DETACH); err != nil {
				t.Errorf("cannot unmount %s: %v", merged, err)
			}
		})
		return merged
	} else {
		t.Logf("overlayfs refused (%v): copying the root file system", err)
	}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", lower+"/.", merged).CombinedOutput(); err != nil {
		t.Fatalf("cannot copy the root file system: %v\n%s", err, out)
	}
	return merged
}
