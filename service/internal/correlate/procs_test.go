package correlate_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/correlate"
)

// ProcFS reads the real /proc: a child it started is a child of this
// process, started just now, with its executable.
func TestProcFSReadsARealProcess(t *testing.T) {
	before := time.Now().Add(-2 * time.Second) // start times have 10 ms steps, the boot time 1 s
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var fs correlate.ProcFS
	p, ok := fs.Proc(cmd.Process.Pid)
	if !ok {
		t.Fatal("cannot read the child")
	}
	if p.PPID != os.Getpid() || p.Comm != "sleep" || p.Exe == "" || p.Start.Before(before) || p.Start.After(time.Now().Add(2*time.Second)) {
		t.Errorf("child: %+v (this process %d, started after %v)", p, os.Getpid(), before)
	}
	if _, ok := fs.Proc(1 << 30); ok {
		t.Error("a pid that cannot exist was read")
	}
}

// A comm may hold spaces and parentheses: fields are counted after the
// last ')'.
func TestProcFSCommWithParentheses(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(root+"/stat", []byte("cpu 1 2 3\nbtime 1700000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root+"/42", 0o755); err != nil {
		t.Fatal(err)
	}
	stat := "42 (a) b (c)) S 7 42 42 34817 42 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"
	if err := os.WriteFile(root+"/42/stat", []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	p, ok := (&correlate.ProcFS{Root: root}).Proc(42)
	want := time.Unix(1700000000, 0).Add(123450 * time.Millisecond)
	if !ok || p.Comm != "a) b (c)" || p.PPID != 7 || p.Session != 42 || p.TTY != 34817 || !p.Start.Equal(want) {
		t.Errorf("got %+v, %v; want start %v", p, ok, want)
	}
}

// sshd's settings as sshd reads them: Include first where it stands, the
// first value of a keyword wins, Key=value and tabs, Match blocks apart.
func TestReadSSHDConfig(t *testing.T) {
	got, err := correlate.ReadSSHDConfig("testdata/sshd/sshd_config")()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"passwordauthentication": "yes", // the drop-in comes first
		"permitrootlogin":        "prohibit-password",
		"authorizedkeysfile":     ".ssh/authorized_keys .ssh/authorized_keys2",
		"port":                   "22",
		"match":                  "Match User backup; PasswordAuthentication yes",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, err := correlate.ReadSSHDConfig("testdata/sshd/missing")(); err == nil {
		t.Error("a missing file read without an error")
	}
}
