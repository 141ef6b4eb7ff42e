// Package dmsplugin_test tests secmon's DankMaterialShell plugin
// (data/dms-plugin/secmon), which holds no Go: its state library with
// node's test runner, its manifest against DMS's plugin schema, and its
// QML under Qt's qml tool with stand-ins for DMS's modules, rendered
// offscreen to a picture (the README's). The tests live here, beside the
// plugin, so that `go test ./...` runs them; a directory with only test
// files is a package for go test and for nothing else.
//
// Without node or Qt's qml tool the tests skip saying what to install;
// under CI=true a missing tool is a failure.
package dmsplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "copy the rendered picture to screenshot.png (the README's)")

const pluginDir = "secmon"

// need finds a tool, or skips (fails under CI=true) saying which Debian
// package has it.
func need(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := names[0] + " is not installed (Debian: " + pkg + "; bash .ci/setup installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The state library: parsing, words, acknowledge, replay position, devices
// in use, back-off (data/dms-plugin/test/secmon.test.js).
func TestStateLibraryWithNode(t *testing.T) {
	node := need(t, "nodejs", "node", "nodejs")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "test/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test test/: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^# pass [1-9]\d*$`).Match(out) || !regexp.MustCompile(`(?m)^# fail 0$`).Match(out) {
		t.Fatalf("node ran no test, or did not say so:\n%s", out)
	}
}

// The manifest against quickshell/PLUGINS/plugin-schema.json of
// DankMaterialShell: its required fields, patterns and enums, and the
// files it names exist.
func TestManifestFollowsDMSSchema(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(pluginDir, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	for _, k := range []string{"id", "name", "description", "version", "author", "type", "capabilities"} {
		if _, ok := m[k]; !ok {
			t.Errorf("plugin.json: no %q (required by the schema)", k)
		}
	}
	str := func(k string) string {
		s, ok := m[k].(string)
		if _, present := m[k]; present && !ok {
			t.Errorf("plugin.json: %q is not a string", k)
		}
		return s
	}
	patterns := map[string]string{
		"id":           `^[a-zA-Z][a-zA-Z0-9]*$`,
		"version":      `^\d+\.\d+\.\d+(-[a-zA-Z0-9.-]+)?(\+[a-zA-Z0-9.-]+)?$`,
		"requires_dms": `^(>=?|<=?|=|>|<)\d+\.\d+\.\d+$`,
		"settings":     `^\./.*\.qml$`,
	}
	for k, p := range patterns {
		if v := str(k); v != "" && !regexp.MustCompile(p).MatchString(v) {
			t.Errorf("plugin.json: %s %q does not match %s", k, v, p)
		}
	}
	for _, k := range []string{"name", "description", "author"} {
		if str(k) == "" {
			t.Errorf("plugin.json: %q is empty", k)
		}
	}
	switch str("type") {
	case "widget", "daemon", "launcher", "desktop", "composite":
	default:
		t.Errorf("plugin.json: type %q is not one of widget, daemon, launcher, desktop, composite", str("type"))
	}
	caps, _ := m["capabilities"].([]any)
	if len(caps) == 0 {
		t.Error("plugin.json: capabilities must have at least one item")
	}
	for _, c := range caps {
		if _, ok := c.(string); !ok {
			t.Errorf("plugin.json: capability %v is not a string", c)
		}
	}
	perms, _ := m["permissions"].([]any)
	for _, p := range perms {
		switch p {
		case "settings_read", "settings_write", "process", "network":
		default:
			t.Errorf("plugin.json: permission %v is not one the schema knows", p)
		}
	}
	comps, _ := m["components"].(map[string]any)
	if len(comps) == 0 && str("component") == "" {
		t.Error("plugin.json: neither component nor components")
	}
	files := []string{str("settings")}
	for surface, p := range comps {
		switch surface {
		case "widget", "desktop", "daemon", "launcher":
		default:
			t.Errorf("plugin.json: components has the unknown surface %q", surface)
		}
		ps, _ := p.(string)
		if !regexp.MustCompile(`^\./.*\.qml$`).MatchString(ps) {
			t.Errorf("plugin.json: components.%s %q is not ./….qml", surface, ps)
		}
		files = append(files, ps)
	}
	if _, ok := comps["launcher"]; ok && str("trigger") == "" {
		t.Error("plugin.json: a launcher needs a trigger")
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(pluginDir, f)); err != nil {
			t.Errorf("plugin.json names %s: %v", f, err)
		}
	}
	// The settings component stores under the manifest's id.
	s, err := os.ReadFile(filepath.Join(pluginDir, strings.TrimPrefix(str("settings"), "./")))
	if err == nil && !strings.Contains(string(s), `pluginId: "`+str("id")+`"`) {
		t.Errorf("%s does not set pluginId: %q", str("settings"), str("id"))
	}
}

// The QML loads under Qt's qml tool with stand-ins for DMS's qs.* modules
// and Quickshell.Io's Socket, is driven by a feed of events, and renders
// offscreen to a picture that is not blank.
func TestQMLRendersUnderQt(t *testing.T) {
	qml := need(t, "qml-qt6 and qml6-module-qtquick", "qml6", "qml", "/usr/lib/qt6/bin/qml")
	dir := t.TempDir()
	out := filepath.Join(dir, "secmon.png")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qml, "-I", "testdata/qml", "testdata/qml/render.qml", "--", out)
	cmd.Env = append(os.Environ(), "QT_QPA_PLATFORM=offscreen", "QT_QUICK_BACKEND=software", "XDG_RUNTIME_DIR="+dir, "TZ=UTC")
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("qml render.qml: %v\n%s", err, log)
	}
	text := string(log)
	for _, want := range []string{
		// the replay position kept across restarts (the stand-in keeps 41)
		`WROTE "{\"replay_after\":41}\n"`,
		// the devices in use at start, asked through DMS's D-Bus bridge
		`GetDevicesInUse []`,
		"VIEW unacked=5 lastSeen=47 cameras=1 microphones=1",
		// the notifier's words, newest first
		`TEXT "nc accepts connections on port 4444"`,
		`TEXT "Camera in use by firefox"`,
		`TEXT "SSH login keys changed for alice"`,
		`TEXT "Camera /dev/video0 in use: firefox (pid 4242)"`,
		`TEXT "Microphone /dev/snd/pcmC0D0c in use: arecord (pid 31)"`,
		// markup shown as it is, a right-to-left override escaped
		`TEXT "USB keyboard plugged in: <b>Evil</b> Keyboard<br>"`,
		`invoice\\u202egpj.desktop`,
		`TOOLTIP "Security monitor\nCamera /dev/video0: firefox (pid 4242)\n`,
		// acknowledge all: nothing left, the seq kept
		"AFTER ACK unacked=0",
		`SAVED ["secmon lastAck 47"]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the run did not show %s\n%s", want, text)
		}
	}
	if strings.Contains(text, "CHECK FAILED") || strings.Contains(text, "\u202e") {
		t.Errorf("a check failed, or a raw bidirectional control was shown:\n%s", text)
	}
	if strings.Index(text, "nc accepts") > strings.Index(text, "Camera in use by firefox") {
		t.Error("the alerts are not newest first")
	}
	img := readPNG(t, out)
	if n := colours(img); n < 16 {
		t.Errorf("the picture has %d colours: blank", n)
	}
	if *update {
		b, _ := os.ReadFile(out)
		if err := os.WriteFile("screenshot.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The README's picture is this test's, and is no stale size.
	shown := readPNG(t, "screenshot.png")
	if shown.Bounds() != img.Bounds() {
		t.Errorf("screenshot.png is %v, the rendering %v: run go test ./data/dms-plugin -update", shown.Bounds(), img.Bounds())
	}
}

func readPNG(t *testing.T, p string) image.Image {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return img
}

func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			a, b, c, d := img.At(x, y).RGBA()
			seen[[4]uint32{a >> 8, b >> 8, c >> 8, d >> 8}] = true
		}
	}
	return len(seen)
}
