// Tests of the Nix files, with the Nix that Debian ships (nix-bin:
// nix-instantiate, nix-hash) and no nixpkgs: every .nix file parses, the
// module declares every option of the NixOS integration guide, and the
// package's vendorHash is the one Nix will compute for go.mod.
package nix_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository, seen from this package's directory.
const root = ".."

// nixCommand runs a Nix tool without touching /nix/var (a private state
// directory, so it works for any user) and without the warning about the
// missing nixbld group on machines where Nix only evaluates.
func nixCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: nix-bin)", name)
	}
	state := t.TempDir()
	cmd := exec.Command(path, append([]string{"--option", "build-users-group", ""}, args...)...)
	cmd.Env = append(os.Environ(), "NIX_STATE_DIR="+state+"/state", "NIX_LOG_DIR="+state+"/log")
	return cmd
}

func nixFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "result") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".nix") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cannot walk the repository: %v", err)
	}
	return files
}

// Every .nix file in the repository parses.
func TestEveryNixFileParses(t *testing.T) {
	files := nixFiles(t)
	for _, want := range []string{"flake.nix", "nix/package.nix", "nix/module.nix", "nix/tests/vm.nix", "data/datadog/secmon.nix"} {
		if !slices.Contains(files, filepath.Join(root, want)) {
			t.Errorf("%s was not found by the walk (found %v)", want, files)
		}
	}
	for _, f := range files {
		var stderr bytes.Buffer
		cmd := nixCommand(t, "nix-instantiate", "--parse", f)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("nix-instantiate --parse %s: %v\n%s", f, err, stderr.String())
		}
	}
}

// The parse check can fail: a broken file is reported with the parser's
// message and position.
func TestParseCheckRejectsABrokenFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.nix")
	if err := os.WriteFile(bad, []byte("{\n  a = ;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := nixCommand(t, "nix-instantiate", "--parse", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "syntax error") || !strings.Contains(string(out), "bad.nix:2:") {
		t.Fatalf("nix-instantiate --parse of a broken file: err %v, output %q; want a syntax error at bad.nix:2", err, out)
	}
}

// guideOptions are the options of services.secmon that the NixOS
// integration guide (shared/seeds/nixos-integration-guide.md) uses, and
// those the project added (package, notifier). watches.* are the fields of
// one watch.
var guideOptions = []string{
	"enable",
	"monitors.filesystem", "monitors.network", "monitors.usb",
	"monitors.camera", "monitors.microphone", "monitors.ssh",
	"socketPath",
	"watches", "watches.path", "watches.description", "watches.enabled", "watches.recursive",
	"settings",
	"user", "group", "extraGroups",
}

var addedOptions = []string{"package", "notifier.enable", "notifier.users"}

// moduleOptions evaluates nix/module.nix with a stand-in lib that records
// option declarations, and returns the option paths under services.secmon.
// Only the options are evaluated, never config, so no nixpkgs is needed.
const moduleOptions = `
let
  opt = attrs: attrs // { _type = "option"; };
  type = name: { inherit name; };
  lib = {
    mkOption = opt;
    mkEnableOption = name: opt { type = type "bool"; description = "Whether to enable ${name}."; };
    mkPackageOption = pkgs: name: extra: opt { type = type "package"; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalMD = text: { _type = "literalMD"; inherit text; };
    types = {
      bool = type "bool"; str = type "str"; int = type "int"; port = type "port";
      path = type "path"; lines = type "lines"; package = type "package";
      nonEmptyStr = type "nonEmptyStr"; strMatching = _: type "strMatching";
      enum = _: type "enum"; nullOr = t: t; listOf = t: { listOf = t; };
      attrsOf = t: { attrsOf = t; }; either = a: b: a; oneOf = ts: builtins.head ts;
      submodule = m: { submodule = if builtins.isFunction m then {} else m.options or {}; };
    };
  };
  pkgs = { formats.toml = _: { type = type "toml"; }; };
  module = import (builtins.getEnv "MODULE") { inherit lib pkgs; config = {}; };
  walk = prefix: set: builtins.concatLists (map (n:
    let v = set.${n}; p = prefix ++ [ n ]; in
    if (v._type or null) == "option" then [ (builtins.concatStringsSep "." p) ] ++ sub p v.type
    else if builtins.isAttrs v then walk p v
    else [ ]) (builtins.attrNames set));
  sub = p: t:
    if t ? listOf then sub p t.listOf
    else if t ? attrsOf then sub p t.attrsOf
    else if t ? submodule then walk p t.submodule
    else [ ];
in walk [ ] module.options.services.secmon
`

// The module declares every option the guide uses, with the same names, and
// the ones the project added; the table above agrees with the guide.
func TestModuleHasEveryGuideOption(t *testing.T) {
	module, err := filepath.Abs(filepath.Join(root, "nix", "module.nix"))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := nixCommand(t, "nix-instantiate", "--eval", "--strict", "--json", "-E", moduleOptions)
	cmd.Env = append(cmd.Env, "MODULE="+module)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannot evaluate the options of nix/module.nix: %v\n%s", err, stderr.String())
	}
	var declared []string
	if err := json.Unmarshal(out, &declared); err != nil {
		t.Fatalf("cannot read the evaluated options %q: %v", out, err)
	}
	for _, name := range append(slices.Clone(guideOptions), addedOptions...) {
		if !slices.Contains(declared, name) {
			t.Errorf("nix/module.nix does not declare services.secmon.%s (it declares %v)", name, declared)
		}
	}

	guide := filepath.Join(root, "..", "shared", "seeds", "nixos-integration-guide.md")
	text, err := os.ReadFile(guide)
	if err != nil {
		t.Logf("the guide is not beside the repository (%v): checked the table only", err)
		return
	}
	used := guideNames(string(text))
	t.Logf("guide: %v\ndeclared: %v", used, declared)
	if len(used) < 10 {
		t.Fatalf("found only %v in the guide's Nix blocks", used)
	}
	for _, name := range used {
		if !slices.Contains(guideOptions, name) {
			t.Errorf("the guide uses services.secmon.%s, which is missing from guideOptions", name)
		}
	}
}

// guideNames returns the services.secmon option paths that the guide's Nix
// code blocks set. Inside settings (freeform: the daemon's keys) nothing is
// an option; an attribute set in a list (watches = [ { … } ]) adds no name
// to the path; a name set to an attribute set of options (monitors = { … })
// is a group, not an option.
func guideNames(markdown string) []string {
	var assigned []assignment
	inNix := false
	var block strings.Builder
	sc := bufio.NewScanner(strings.NewReader(markdown))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !inNix && strings.TrimSpace(line) == "```nix":
			inNix = true
			block.Reset()
		case inNix && strings.TrimSpace(line) == "```":
			inNix = false
			assigned = append(assigned, nixAssignments(block.String())...)
		case inNix:
			block.WriteString(line + "\n")
		}
	}
	var options []string
	for _, a := range assigned {
		rest, ok := strings.CutPrefix(a.path, "services.secmon.")
		if ok && !strings.HasPrefix(rest, "settings.") && !slices.Contains(options, rest) {
			options = append(options, rest)
		}
	}
	return slices.DeleteFunc(options, func(name string) bool {
		group := slices.ContainsFunc(assigned, func(a assignment) bool { return a.path == "services.secmon."+name && a.set })
		return group && slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, name+".") })
	})
}

// assignment is one `name = value` in Nix source: the name as written
// (a.b = … is one name), the full attribute path, and whether the value is
// an attribute set.
type assignment struct {
	name string
	path string
	set  bool
}

var token = regexp.MustCompile(`''(?s:.*?)''|"(?:\\.|[^"\\])*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_'.-]*|\S`)

// nixAssignments lists the assignments in src with their full paths,
// following the nesting of attribute sets and lists. It knows just enough
// Nix for the guide's examples: strings and comments are skipped whole.
func nixAssignments(src string) []assignment {
	var stack []string // the attribute each open { or [ is the value of ("" if none)
	var out []assignment
	last, pending := "", -1 // the last name seen; the assignment whose value comes next
	for _, tok := range token.FindAllString(src, -1) {
		switch {
		case strings.HasPrefix(tok, "#"), strings.HasPrefix(tok, "\""), strings.HasPrefix(tok, "''"):
			last, pending = "", -1
		case tok == "=" && last != "":
			var parts []string
			for _, k := range stack {
				if k != "" {
					parts = append(parts, k)
				}
			}
			out = append(out, assignment{name: last, path: strings.Join(append(parts, last), ".")})
			pending = len(out) - 1
			last = ""
		case tok == "{" || tok == "[":
			key := ""
			if pending >= 0 {
				key = out[pending].name
				out[pending].set = tok == "{"
			}
			stack = append(stack, key)
			last, pending = "", -1
		case tok == "}" || tok == "]":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			last, pending = "", -1
		case tok == ";" || tok == "=":
			last, pending = "", -1
		default:
			last = tok
		}
	}
	return out
}

var vendorHashLine = regexp.MustCompile(`(?m)^\s*vendorHash = (null|"(sha256-[A-Za-z0-9+/=]+)");`)

// nix/package.nix's vendorHash is the NAR hash of `go mod vendor` for this
// go.mod and go.sum, computed as buildGoModule does. When go.mod changes,
// this says the new value.
func TestVendorHash(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	m := vendorHashLine.FindSubmatch(src)
	if m == nil {
		t.Fatal("nix/package.nix has no line `vendorHash = \"sha256-…\";` or `vendorHash = null;`")
	}
	dir := t.TempDir()
	vendor := filepath.Join(dir, "vendor")
	cmd := exec.Command("go", "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(vendor)
	if len(entries) == 0 {
		if string(m[1]) != "null" {
			t.Fatalf("go.mod has no dependencies: nix/package.nix must say vendorHash = null, not %s", m[1])
		}
		return
	}
	out, err := nixCommand(t, "nix-hash", "--type", "sha256", vendor).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("nix-hash printed %q: %v", out, err)
	}
	want := "sha256-" + base64.StdEncoding.EncodeToString(sum)
	if got := string(m[2]); got != want {
		t.Errorf("nix/package.nix has vendorHash = %q; go.mod and go.sum need vendorHash = %q", got, want)
	}
}

// evaluated is what testdata/eval-module.nix returns.
type evaluated struct {
	Settings map[string]any
	Service  struct {
		Path            []string
		RestartTriggers []string
		WantedBy        []string
		ServiceConfig   map[string]any
	}
	Socket struct {
		WantedBy     []string
		SocketConfig map[string]any
	}
	Notifier struct {
		WantedBy      []string
		PartOf        []string
		UnitConfig    map[string]any
		ServiceConfig map[string]any
	}
	Users struct {
		Users  map[string]map[string]any
		Groups map[string]map[string]any
	}
	DbusPackages []string
	BusPolicies  []*string
	Variables    map[string]string
	Etc          map[string]struct{ Source string }
	Assertions   []struct {
		Assertion bool
		Message   string
	}
}

// words splits the values of a list-valued unit setting, leaving out the
// empty value that resets it.
func words(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, strings.Fields(x.(string))...)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// The module's config, evaluated with a stand-in lib that keeps the module
// system's meaning for mkIf, mkMerge and mkDefault: what each option turns
// into, the capabilities of each monitor, and settings overriding the rest.
func TestModuleConfig(t *testing.T) {
	module, err := filepath.Abs(filepath.Join(root, "nix", "module.nix"))
	if err != nil {
		t.Fatal(err)
	}
	allCaps := sorted("CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN")
	only := func(monitor string) string {
		var b strings.Builder
		for _, m := range []string{"filesystem", "network", "usb", "camera", "microphone", "ssh"} {
			b.WriteString(m + " = " + map[bool]string{true: "true", false: "false"}[m == monitor] + "; ")
		}
		return "{ enable = true; monitors = { " + b.String() + "}; }"
	}
	tests := []struct {
		name   string
		secmon string
		check  func(t *testing.T, e *evaluated)
	}{
		{"defaults", "{ enable = true; }", func(t *testing.T, e *evaluated) {
			wantSettings := map[string]any{
				"socket_path": "/run/secmon/secmon.sock", "socket_group": "secmon",
				"monitors": map[string]any{"filesystem": true, "network": true, "usb": true, "camera": true, "microphone": true, "ssh": true},
			}
			if e.Settings["watches"] == nil {
				delete(e.Settings, "watches") // absent: the daemon's own watches apply
			}
			if !reflectEqual(e.Settings, wantSettings) {
				t.Errorf("settings %v, want %v", e.Settings, wantSettings)
			}
			sc := e.Service.ServiceConfig
			if got := words(sc["CapabilityBoundingSet"]); !slices.Equal(got, allCaps) {
				t.Errorf("CapabilityBoundingSet %v, want %v", got, allCaps)
			}
			if got := words(sc["AmbientCapabilities"]); !slices.Equal(got, allCaps) {
				t.Errorf("AmbientCapabilities %v, want %v", got, allCaps)
			}
			if sc["User"] != "secmon" || sc["Group"] != "secmon" {
				t.Errorf("User %v Group %v, want secmon", sc["User"], sc["Group"])
			}
			if got := sc["ExecStart"]; !reflectEqual(got, []any{"", "/nix/store/secmon/bin/secmon-daemon --system --config /etc/secmon/config.toml"}) {
				t.Errorf("ExecStart %v", got)
			}
			if !slices.Equal(e.Service.WantedBy, []string{"multi-user.target"}) || !slices.Equal(e.Socket.WantedBy, []string{"sockets.target"}) {
				t.Errorf("service wanted by %v, socket by %v", e.Service.WantedBy, e.Socket.WantedBy)
			}
			if got := e.Socket.SocketConfig["ListenStream"]; !reflectEqual(got, []any{"", "/run/secmon/secmon.sock"}) {
				t.Errorf("ListenStream %v", got)
			}
			src := e.Etc["secmon/config.toml"].Source
			if src == "" || !slices.Equal(e.Service.RestartTriggers, []string{src}) {
				t.Errorf("/etc/secmon/config.toml is %q, restart triggers %v", src, e.Service.RestartTriggers)
			}
			if u := e.Users.Users["secmon"]; u["isSystemUser"] != true || u["group"] != "secmon" {
				t.Errorf("user secmon %v", u)
			}
			if _, ok := e.Users.Groups["secmon"]; !ok {
				t.Errorf("no group secmon in %v", e.Users.Groups)
			}
			if !slices.Equal(e.DbusPackages, []string{"/nix/store/secmon"}) {
				t.Errorf("dbus packages %v, want the package alone", e.DbusPackages)
			}
			if _, ok := e.Variables["SECMON_SOCKET"]; ok {
				t.Errorf("SECMON_SOCKET set for the default socket")
			}
			if e.Notifier.ServiceConfig["ExecStart"] != nil {
				t.Errorf("notifier unit without notifier.enable: %v", e.Notifier)
			}
			if _, ok := e.Etc["xdg/quickshell/dms-plugins/secmon"]; ok {
				t.Errorf("the DankMaterialShell plugin installed without dmsPlugin.enable")
			}
			for _, a := range e.Assertions {
				if !a.Assertion {
					t.Errorf("assertion fails: %s", a.Message)
				}
			}
		}},
		{"the DankMaterialShell plugin", "{ enable = true; dmsPlugin.enable = true; }", func(t *testing.T, e *evaluated) {
			// DMS's PluginService reads /etc/xdg/quickshell/dms-plugins;
			// the package installs the plugin under share/dms-plugins.
			if got := e.Etc["xdg/quickshell/dms-plugins/secmon"].Source; got != "/nix/store/secmon/share/dms-plugins/secmon" {
				t.Errorf("/etc/xdg/quickshell/dms-plugins/secmon is %q", got)
			}
		}},
		{"no monitor, no capability", `{ enable = true; monitors = { filesystem = false; network = false; usb = false; camera = false; microphone = false; ssh = false; }; }`, func(t *testing.T, e *evaluated) {
			sc := e.Service.ServiceConfig
			if !reflectEqual(sc["CapabilityBoundingSet"], []any{""}) || !reflectEqual(sc["AmbientCapabilities"], []any{""}) {
				t.Errorf("capabilities %v / %v, want none", sc["CapabilityBoundingSet"], sc["AmbientCapabilities"])
			}
			if words(sc["SystemCallFilter"]) != nil || len(e.Service.Path) != 0 {
				t.Errorf("system calls %v, path %v, want none", sc["SystemCallFilter"], e.Service.Path)
			}
			if e.Settings["monitors"].(map[string]any)["camera"] != false {
				t.Errorf("settings.monitors %v", e.Settings["monitors"])
			}
		}},
		{"camera only", only("camera"), func(t *testing.T, e *evaluated) {
			want := sorted("CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH")
			if got := words(e.Service.ServiceConfig["AmbientCapabilities"]); !slices.Equal(got, want) {
				t.Errorf("capabilities %v, want %v", got, want)
			}
			if got := words(e.Service.ServiceConfig["SystemCallFilter"]); !slices.Equal(got, sorted("fanotify_init", "fanotify_mark")) {
				t.Errorf("system calls %v", got)
			}
			if !slices.Equal(e.Service.Path, []string{"/nix/store/pipewire"}) {
				t.Errorf("path %v, want pipewire for pw-dump", e.Service.Path)
			}
		}},
		{"network only", only("network"), func(t *testing.T, e *evaluated) {
			want := sorted("CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_PTRACE")
			if got := words(e.Service.ServiceConfig["AmbientCapabilities"]); !slices.Equal(got, want) {
				t.Errorf("capabilities %v, want %v", got, want)
			}
			if len(e.Service.Path) != 0 {
				t.Errorf("path %v, want none", e.Service.Path)
			}
		}},
		{"usb only", only("usb"), func(t *testing.T, e *evaluated) {
			if got := e.Service.ServiceConfig["AmbientCapabilities"]; !reflectEqual(got, []any{""}) {
				t.Errorf("capabilities %v, want none", got)
			}
		}},
		{"filesystem only", only("filesystem"), func(t *testing.T, e *evaluated) {
			if got := words(e.Service.ServiceConfig["AmbientCapabilities"]); !slices.Equal(got, []string{"CAP_DAC_READ_SEARCH"}) {
				t.Errorf("capabilities %v", got)
			}
		}},
		{"settings.monitors overrides monitors", `{ enable = true; settings.monitors = { camera = false; microphone = false; }; }`, func(t *testing.T, e *evaluated) {
			m := e.Settings["monitors"].(map[string]any)
			if m["camera"] != false || m["microphone"] != false || m["usb"] != true {
				t.Errorf("settings.monitors %v", m)
			}
			caps := words(e.Service.ServiceConfig["AmbientCapabilities"])
			if slices.Contains(caps, "CAP_SYS_ADMIN") || len(e.Service.Path) != 0 {
				t.Errorf("camera and microphone off, yet capabilities %v, path %v", caps, e.Service.Path)
			}
		}},
		{"socketPath", `{ enable = true; socketPath = "/run/secmon/events.sock"; }`, func(t *testing.T, e *evaluated) {
			if e.Settings["socket_path"] != "/run/secmon/events.sock" ||
				!reflectEqual(e.Socket.SocketConfig["ListenStream"], []any{"", "/run/secmon/events.sock"}) ||
				e.Variables["SECMON_SOCKET"] != "/run/secmon/events.sock" {
				t.Errorf("socket_path %v, ListenStream %v, SECMON_SOCKET %q", e.Settings["socket_path"], e.Socket.SocketConfig["ListenStream"], e.Variables["SECMON_SOCKET"])
			}
		}},
		{"settings.socket_path overrides socketPath", `{ enable = true; socketPath = "/run/a.sock"; settings.socket_path = "/run/b.sock"; }`, func(t *testing.T, e *evaluated) {
			if e.Settings["socket_path"] != "/run/b.sock" || !reflectEqual(e.Socket.SocketConfig["ListenStream"], []any{"", "/run/b.sock"}) {
				t.Errorf("socket_path %v, ListenStream %v", e.Settings["socket_path"], e.Socket.SocketConfig["ListenStream"])
			}
		}},
		{"a relative socket path is refused", `{ enable = true; socketPath = "secmon.sock"; }`, func(t *testing.T, e *evaluated) {
			if len(e.Assertions) != 1 || e.Assertions[0].Assertion {
				t.Errorf("assertions %v, want one failing", e.Assertions)
			}
		}},
		{"watches", `{ enable = true; watches = [ { path = "/etc/nixos"; description = "NixOS configuration"; enabled = true; recursive = true; } { path = "/srv"; description = ""; enabled = false; recursive = false; severity = "High"; } ]; }`, func(t *testing.T, e *evaluated) {
			want := []any{
				map[string]any{"path": "/etc/nixos", "description": "NixOS configuration", "enabled": true, "recursive": true},
				map[string]any{"path": "/srv", "description": "", "enabled": false, "recursive": false, "severity": "High"},
			}
			if !reflectEqual(e.Settings["watches"], want) {
				t.Errorf("settings.watches %v, want %v", e.Settings["watches"], want)
			}
		}},
		{"settings.watches overrides watches", `{ enable = true; watches = [ { path = "/etc/nixos"; description = ""; enabled = true; recursive = true; } ]; settings.watches = [ ]; }`, func(t *testing.T, e *evaluated) {
			if !reflectEqual(e.Settings["watches"], []any{}) {
				t.Errorf("settings.watches %v, want []", e.Settings["watches"])
			}
		}},
		{"another user and group", `{ enable = true; user = "svc"; group = "watchers"; extraGroups = [ "audio" "video" ]; }`, func(t *testing.T, e *evaluated) {
			sc := e.Service.ServiceConfig
			if sc["User"] != "svc" || sc["Group"] != "watchers" || e.Socket.SocketConfig["SocketGroup"] != "watchers" || e.Settings["socket_group"] != "watchers" {
				t.Errorf("User %v Group %v SocketGroup %v socket_group %v", sc["User"], sc["Group"], e.Socket.SocketConfig["SocketGroup"], e.Settings["socket_group"])
			}
			if !reflectEqual(sc["SupplementaryGroups"], []any{"audio", "video"}) {
				t.Errorf("SupplementaryGroups %v", sc["SupplementaryGroups"])
			}
			if e.Users.Users["secmon"] != nil || e.Users.Groups["secmon"] != nil {
				t.Errorf("user or group secmon created for another user: %v %v", e.Users.Users, e.Users.Groups)
			}
			if len(e.BusPolicies) != 2 || e.BusPolicies[1] == nil ||
				!strings.Contains(*e.BusPolicies[1], `<policy user="svc">`) || !strings.Contains(*e.BusPolicies[1], `<policy group="watchers">`) {
				t.Errorf("bus policies %v: want the package's and one for svc and watchers", e.BusPolicies)
			}
		}},
		{"notifier", `{ enable = true; notifier = { enable = true; users = [ "alice" "bob" ]; }; }`, func(t *testing.T, e *evaluated) {
			n := e.Notifier
			if !reflectEqual(n.ServiceConfig["ExecStart"], []any{"", "/nix/store/secmon/bin/secmon-notifier"}) ||
				!slices.Equal(n.WantedBy, []string{"graphical-session.target"}) || !slices.Equal(n.PartOf, []string{"graphical-session.target"}) ||
				n.UnitConfig["ConditionGroup"] != "secmon" {
				t.Errorf("notifier unit %+v", n)
			}
			if !reflectEqual(e.Users.Groups["secmon"]["members"], []any{"alice", "bob"}) {
				t.Errorf("group secmon %v, want members alice and bob", e.Users.Groups["secmon"])
			}
		}},
		{"disabled", `{ enable = false; notifier.enable = true; }`, func(t *testing.T, e *evaluated) {
			if e.Service.ServiceConfig["ExecStart"] != nil || e.Notifier.ServiceConfig["ExecStart"] != nil || e.Users.Users["secmon"] != nil || len(e.DbusPackages) != 0 {
				t.Errorf("disabled, yet %+v", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := nixCommand(t, "nix-instantiate", "--eval", "--strict", "--json",
				filepath.Join("testdata", "eval-module.nix"), "--arg", "module", module, "--arg", "secmon", tt.secmon)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cannot evaluate nix/module.nix with services.secmon = %s: %v\n%s", tt.secmon, err, stderr.String())
			}
			var e evaluated
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatalf("cannot decode %s: %v", out, err)
			}
			tt.check(t, &e)
		})
	}
}

func reflectEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
