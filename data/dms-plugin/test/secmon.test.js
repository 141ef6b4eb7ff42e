// Tests of the plugin's state library (secmon/secmon.js) with node's own
// test runner: node --test data/dms-plugin/test/. Run by
// data/dms-plugin/plugin_test.go as part of go test ./...
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const root = path.resolve(__dirname, "..", "..", "..");
const plugin = path.join(root, "data", "dms-plugin", "secmon");

// secmon.js is a QML JavaScript library: its first line is
// ".pragma library", which is not JavaScript. Load the rest as QML does,
// in a context of its own.
function load() {
    const src = fs.readFileSync(path.join(plugin, "secmon.js"), "utf8");
    assert.match(src, /^\.pragma library\n/, "secmon.js must start with .pragma library");
    const ctx = vm.createContext({});
    vm.runInContext(src.replace(/^\.pragma library\n/, "\n"), ctx, { filename: "secmon.js" });
    return ctx;
}
const S = load();

// Values made in secmon.js's context have that context's prototypes:
// compare them as plain data.
const same = (got, want, msg) => assert.deepEqual(JSON.parse(JSON.stringify(got)), want, msg);

const appName = (fixture) => (d) => fixture[d.comm] || "";

function line(o) {
    const base = {
        timestamp: "2025-09-25T14:30:45.123Z",
        seq: 1,
        event_type: { type: "CustomMessage" },
        path: "",
        details: { severity: "Low", description: "", metadata: {} },
    };
    return JSON.stringify(Object.assign(base, o));
}

function ev(seq, type, severity, p, details) {
    return { seq, time: 0, type, severity, path: p || "", description: "", details: details || {} };
}

test("visible escapes exactly the control and format characters", () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        const ch = String.fromCodePoint(cp);
        const hidden = /\p{Cc}|\p{Cf}/u.test(ch) || cp === 0xfffd;
        const shown = S.visible(ch);
        if (hidden && shown === ch) assert.fail(`U+${cp.toString(16)} is shown raw`);
        if (!hidden && shown !== ch) assert.fail(`U+${cp.toString(16)} is escaped as ${shown}`);
    }
});

test("visible escapes as secmon's Go side does", () => {
    const cases = [
        ["plain", "plain"],
        ["a\nb", "a\\nb"],
        ["\x1b[31mred", "\\x1b[31mred"],
        ["gpj\u202eexe.", "gpj\\u202eexe."],
        ["\u2066x\u2069", "\\u2066x\\u2069"],
        ["zero\u200bwidth", "zero\\u200bwidth"],
        ["bom\ufeff", "bom\\ufeff"],
        ["bad\ufffdbyte", "bad\\ufffdbyte"],
        ["lone\ud800", "lone\\ufffd"],
        ["tag\u{e0041}", "tag\\U000e0041"],
        ["c1\u0085", "c1\\u0085"],
        ["del\x7f", "del\\x7f"],
        ["Ärger 日本 🎥", "Ärger 日本 🎥"],
        ["<b>bold</b> &amp;", "<b>bold</b> &amp;"],
        [undefined, ""],
    ];
    for (const [in_, want] of cases) assert.equal(S.visible(in_), want, JSON.stringify(in_));
});

test("shortPath keeps the file name and cuts in the middle", () => {
    assert.equal(S.shortPath("/etc/passwd", 60), "/etc/passwd");
    assert.equal(S.shortPath("/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/name", 20), "/aaaaaa…ccccccc/name");
    const deep = "/home/a/" + "d/".repeat(500) + "x".repeat(200) + "-evil.desktop";
    const s = S.shortPath(deep, 160);
    assert.ok(s.endsWith("x".repeat(200) + "-evil.desktop"), s);
    assert.ok(s.length < 260, `${s.length} characters`);
});

// The popout's words are the notifier's: every one-event case of the
// notifier's golden file, from the same inputs, gives the same summary.
test("summaries are the notifier's (notifier/internal/present/testdata/events.golden)", () => {
    const golden = fs.readFileSync(path.join(root, "notifier", "internal", "present", "testdata", "events.golden"), "utf8");
    const want = new Map();
    for (const m of golden.matchAll(/^== (.*)\nsummary: (.*)$/gm)) want.set(m[1], m[2]);
    assert.ok(want.size > 20, "cannot read the golden file's cases");
    const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "testdata", "golden-cases.json"), "utf8"));
    const names = new Set(fx.cases.map((c) => c.name));
    for (const name of want.keys()) {
        assert.ok(names.has(name) || fx.skipped.includes(name),
            `the notifier's golden file has a case "${name}" that testdata/golden-cases.json does not mirror`);
    }
    for (const c of fx.cases) {
        assert.ok(want.has(c.name), `golden-cases.json has "${c.name}", which the golden file does not`);
        const e = Object.assign({ seq: 1, time: 0 }, c.event);
        assert.equal(S.summary(e, appName(fx.appName)), want.get(c.name), c.name);
    }
    // Every event type of the contract is worded.
    const names_go = fs.readFileSync(path.join(root, "dbus", "names.go"), "utf8");
    const types = [...names_go.matchAll(/^\s*Type\w+\s*=\s*"(\w+)"/gm)].map((m) => m[1]);
    assert.ok(types.length >= 23, `read ${types.length} types from dbus/names.go`);
    for (const t of types) {
        assert.ok(t in S.TITLES, `secmon.js has no title for ${t}`);
        assert.ok(fx.cases.some((c) => c.event.type === t), `no golden case for ${t}`);
    }
});

test("summaries of hostile events stay plain and bounded", () => {
    const e = ev(5, "CameraAccess", "High", "/dev/video0", { comm: "x\u202eexe.gpj", pid: "1" });
    assert.equal(S.summary(e), "Camera in use by x\\u202eexe.gpj");
    const m = ev(6, "UsbDeviceInserted", "Medium", "", { vendor: "<b>Evil</b>", product: "&lt;i&gt;" });
    assert.equal(S.summary(m), "USB device plugged in: <b>Evil</b> &lt;i&gt;");
    const long = ev(7, "SshLogin", "High", "", { user: "u".repeat(1000), remote_ip: "192.0.2.1" });
    assert.ok(Array.from(S.summary(long)).length <= 200);
    const unknown = ev(8, "BrandNewThing", "High", "", {});
    assert.equal(S.summary(unknown), "Brand new thing");
});

test("parseLine reads the socket's lines", () => {
    const r = S.parseLine(JSON.stringify({
        timestamp: "2025-09-25T14:30:45.123Z", seq: 42, event_type: { type: "CameraAccess" }, path: "/dev/video0",
        details: { severity: "High", description: "Camera device access detected: /dev/video0", metadata: { mask: "OPEN" } },
        process: { pid: 4242, comm: "firefox", exe: "/usr/bin/firefox", uid: 1000, user: "alice", unit: "app.scope" },
    }));
    assert.equal(r.kind, "event");
    assert.equal(r.event.seq, 42);
    assert.equal(r.event.type, "CameraAccess");
    assert.equal(r.event.severity, "High");
    assert.equal(r.event.path, "/dev/video0");
    assert.equal(r.event.time, Date.parse("2025-09-25T14:30:45.123Z"));
    same({ ...r.event.details }, { mask: "OPEN", pid: "4242", comm: "firefox", exe: "/usr/bin/firefox", uid: "1000", user: "alice", unit: "app.scope" });

    // unknown pid and uid are left out, as on the bus
    const u = S.parseLine(line({ process: { pid: 0, uid: -1, comm: "x" } }));
    same({ ...u.event.details }, { comm: "x" });

    // a drop notice: seq 0
    const d = S.parseLine(line({ seq: 0, event_type: { type: "EventsDropped" }, details: { severity: "High", description: "", metadata: { dropped: "7" } } }));
    assert.equal(d.kind, "event");
    assert.equal(d.event.seq, 0);

    same({ ...S.parseLine('{"error": "bad request: unknown type \\"X\\""}') }, { kind: "error", message: 'bad request: unknown type "X"' });
    for (const bad of ["", "not json", "[]", "null", "42", '{"seq": 1}', '{"event_type": {"type": "X"}}', '{"event_type": {"type": "X"}, "seq": -1}', '{"event_type": {"type": "X"}, "seq": 1.5}', '{"event_type": "X", "seq": 1}']) {
        assert.equal(S.parseLine(bad).kind, "invalid", bad);
    }
    // metadata values are strings whatever was sent
    const odd = S.parseLine(line({ details: { severity: "Low", metadata: { n: 5, o: null } } }));
    assert.equal(odd.event.details.n, "5");
    assert.equal(odd.event.details.o, "");
});

test("fromDBus reads GetDevicesInUse's structs as DMS's bridge hands them over", () => {
    const e = S.fromDBus([12, 1758810645123456, "CameraAccess", "High", "/dev/video0", "", { comm: "firefox", pid: "4242" }]);
    assert.equal(e.seq, 12);
    assert.equal(e.time, 1758810645123);
    assert.equal(e.details.comm, "firefox");
    for (const bad of [null, [], [1, 2, 3], ["1", 0, "CameraAccess", "", "", "", {}], { seq: 1 }]) assert.equal(S.fromDBus(bad), null);
});

test("alerts: at least the minimum severity, newest first, counted", () => {
    const st = S.newState(-1, { minSeverity: "High" });
    assert.equal(S.handleEvent(st, ev(1, "FileModify", "Low", "/etc/x", { watch: "/etc" })), false);
    assert.equal(S.handleEvent(st, ev(2, "SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", { op: "WRITE", ssh_file: "authorized_keys" })), true);
    assert.equal(S.handleEvent(st, ev(3, "PortScanDetected", "High", "", { remote_ip: "192.0.2.9" })), true);
    assert.equal(st.unacked, 2);
    same(st.alerts.map((a) => a.seq), [3, 2]);
    assert.equal(st.alerts[1].summary, "SSH login keys changed for alice");
    assert.equal(st.lastSeen, 3);

    const medium = S.newState(-1, { minSeverity: "Medium" });
    S.handleEvent(medium, ev(1, "FileCreate", "Medium", "/etc/x", {}));
    assert.equal(medium.unacked, 1);
    // a bad setting falls back to High
    assert.equal(S.newState(-1, { minSeverity: "Severe" }).minSeverity, "High");
});

test("the popout keeps the newest alerts; the count goes on", () => {
    const st = S.newState(-1, {});
    for (let i = 1; i <= 250; i++) S.handleEvent(st, ev(i, "PortScanDetected", "High", "", { remote_ip: "192.0.2." + i }));
    assert.equal(st.unacked, 250);
    assert.equal(st.alerts.length, S.MAX_ALERTS);
    assert.equal(st.alerts[0].seq, 250);
});

test("acknowledge all, then a restart replays only what came after", () => {
    const st = S.newState(-1, {});
    assert.equal(S.replayRequest(st), "", "nothing acknowledged yet: no replay of the daemon's whole buffer");
    assert.equal(S.baseline(st, 10), true);
    assert.equal(st.lastAck, 9);
    assert.equal(S.baseline(st, 20), false);
    S.handleEvent(st, ev(10, "SshBruteForce", "High", "", { remote_ip: "192.0.2.7" }));
    S.handleEvent(st, ev(11, "SshBruteForce", "High", "", { remote_ip: "192.0.2.8" }));
    assert.equal(S.acknowledgeAll(st), 11);
    assert.equal(st.unacked, 0);
    assert.equal(st.alerts.length, 0);
    assert.equal(S.replayRequest(st), '{"replay_after":11}\n');
    S.handleEvent(st, ev(12, "FileModify", "Low", "/etc/x", {}));
    assert.equal(S.replayRequest(st), '{"replay_after":12}\n', "a reconnect resumes after the last seq handled");

    // The shell restarts with the kept seq 11: events 12.. come again
    // from the daemon's replay and count; 11 and older do not.
    const again = S.newState(11, {});
    assert.equal(S.replayRequest(again), '{"replay_after":11}\n');
    S.handleEvent(again, ev(11, "SshBruteForce", "High", "", {}));
    S.handleEvent(again, ev(13, "SshBruteForce", "High", "", { remote_ip: "192.0.2.10" }));
    assert.equal(again.unacked, 1);
    // an overlapping replay does not count twice
    S.handleEvent(again, ev(13, "SshBruteForce", "High", "", { remote_ip: "192.0.2.10" }));
    assert.equal(again.unacked, 1);
    // acknowledging with nothing new keeps the seq
    assert.equal(S.acknowledgeAll(S.newState(40, {})), 40);
});

test("devices in use from open and release pairs", () => {
    const st = S.newState(-1, {});
    S.handleEvent(st, ev(1, "CameraAccess", "High", "/dev/video0", { comm: "firefox", pid: "4242" }));
    S.handleEvent(st, ev(2, "CameraAccess", "High", "/dev/video0", { comm: "pipewire", pid: "900", broker: "pipewire", client: "Zoom" }));
    S.handleEvent(st, ev(3, "MicrophoneAccess", "High", "/dev/snd/pcmC0D0c", { comm: "arecord", pid: "31" }));
    let v = S.view(st);
    same(v.cameras.map((c) => ({ ...c })), [{ path: "/dev/video0", names: "firefox (pid 4242), Zoom (through pipewire, pid 900)" }]);
    same(v.microphones.map((c) => ({ ...c })), [{ path: "/dev/snd/pcmC0D0c", names: "arecord (pid 31)" }]);
    assert.match(S.tooltip(v, false, false), /^Camera \/dev\/video0: firefox \(pid 4242\), Zoom/);

    // The daemon sends a release when the last opener closed the device.
    S.handleEvent(st, ev(4, "CameraReleased", "Medium", "/dev/video0", { duration_ms: "5000" }));
    v = S.view(st);
    assert.equal(v.cameras.length, 0);
    assert.equal(v.microphones.length, 1);
    // A release of a device never seen open changes nothing.
    assert.equal(S.handleEvent(st, ev(5, "CameraReleased", "Medium", "/dev/video9", {})), false);
    S.handleEvent(st, ev(6, "MicrophoneReleased", "Medium", "/dev/snd/pcmC0D0c", { how: "removed" }));
    assert.equal(S.view(st).microphones.length, 0);

    // Uses before the acknowledged seq still light the pill (the alert is
    // acknowledged, the device is still in use).
    const acked = S.newState(10, {});
    S.handleEvent(acked, ev(11, "CameraAccess", "High", "/dev/video0", { comm: "obs" }));
    S.acknowledgeAll(acked);
    assert.equal(S.view(acked).cameras.length, 1);
    assert.equal(acked.unacked, 0);

    // "which devices": microphones off
    const noMic = S.newState(-1, { microphone: false });
    S.handleEvent(noMic, ev(1, "MicrophoneAccess", "High", "/dev/snd/pcmC0D0c", { comm: "arecord" }));
    assert.equal(S.view(noMic).microphones.length, 0);
    assert.equal(noMic.unacked, 0);

    // An unknown opener is named as the notifier names it.
    const unk = S.newState(-1, {});
    S.handleEvent(unk, ev(1, "CameraAccess", "High", "/dev/video0", { attribution: "unknown" }));
    assert.equal(S.view(unk).cameras[0].names, "an unknown program");
});

test("GetDevicesInUse replaces what is known to be in use", () => {
    const st = S.newState(-1, {});
    S.handleEvent(st, ev(1, "CameraAccess", "High", "/dev/video0", { comm: "stale" }));
    S.setDevicesInUse(st, [
        S.fromDBus([7, 0, "MicrophoneAccess", "High", "/dev/snd/pcmC1D0c", "", { comm: "parecord", pid: "8" }]),
        S.fromDBus([9, 0, "CameraAccess", "High", "/dev/video2", "", { comm: "cheese" }]),
        null,
    ]);
    const v = S.view(st);
    same(v.cameras.map((c) => c.path), ["/dev/video2"]);
    same(v.microphones.map((c) => c.names), ["parecord (pid 8)"]);
    assert.equal(st.unacked, 1, "rebuilding the devices adds no alert");
});

test("lost events are counted and shown until acknowledged", () => {
    const st = S.newState(-1, {});
    const r = S.parseLine(line({ seq: 0, event_type: { type: "EventsDropped" }, details: { severity: "High", description: "7 events lost", metadata: { dropped: "7", first_seq: "3", last_seq: "9" } } }));
    assert.equal(S.handleEvent(st, r.event), true);
    assert.equal(st.lost, 7);
    assert.equal(st.alerts[0].summary, "Security events were lost");
    // seq 0 never moves the replay position
    assert.equal(st.lastSeen, -1);
    S.acknowledgeAll(st);
    assert.equal(st.lost, 0);
});

test("reconnect back-off: 1 s doubling to 60 s, reset by a connection", () => {
    const st = S.newState(-1, {});
    const got = [];
    for (let i = 0; i < 9; i++) got.push(S.disconnected(st, "connection refused"));
    same(got, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    assert.equal(st.connected, false);
    assert.equal(st.lastError, "connection refused");
    assert.match(S.tooltip(S.view(st), false, false), /Not connected to secmon: connection refused/);
    S.connectedAgain(st);
    assert.equal(st.connected, true);
    assert.equal(S.disconnected(st, ""), 1000);
    assert.equal(S.nextDelay(1000), 60000);
});

test("the tooltip combines secmon with DMS's PipeWire view", () => {
    const st = S.newState(-1, {});
    S.connectedAgain(st);
    assert.equal(S.tooltip(S.view(st), true, true), "Camera: a PipeWire stream\nMicrophone: a PipeWire stream");
    S.handleEvent(st, ev(1, "CameraAccess", "High", "/dev/video0", { comm: "firefox" }));
    assert.equal(S.tooltip(S.view(st), true, false), "Camera /dev/video0: firefox\n1 alert not acknowledged");
});

test("acknowledging what the popout showed keeps what came since", () => {
    const st = S.newState(0, {});
    S.handleEvent(st, ev(1, "PortScanDetected", "High", "", { remote_ip: "192.0.2.1" }));
    S.handleEvent(st, ev(2, "PortScanDetected", "High", "", { remote_ip: "192.0.2.2" }));
    const shown = S.view(st).lastSeen;
    S.handleEvent(st, ev(3, "PortScanDetected", "High", "", { remote_ip: "192.0.2.3" }));
    assert.equal(S.acknowledgeAll(st, shown), 2);
    same(st.alerts.map((a) => a.seq), [3]);
    assert.equal(st.unacked, 1);
    // a request beyond what was seen acknowledges only what was seen
    assert.equal(S.acknowledgeAll(st, 99), 3);
    assert.equal(st.unacked, 0);
    // an older request changes nothing
    assert.equal(S.acknowledgeAll(st, 1), 3);
});

test("an answer to GetDevicesInUse never undoes what came after the question", () => {
    const st = S.newState(-1, {});
    S.askingDevices(st);
    // while the question is out: a camera opens, a microphone opens and closes
    S.handleEvent(st, ev(42, "CameraAccess", "High", "/dev/video0", { comm: "firefox" }));
    S.handleEvent(st, ev(43, "MicrophoneAccess", "High", "/dev/snd/pcmC0D0c", { comm: "arecord" }));
    S.handleEvent(st, ev(44, "MicrophoneReleased", "Medium", "/dev/snd/pcmC0D0c", {}));
    // an answer made before all of it, naming another device opened earlier
    S.setDevicesInUse(st, [S.fromDBus([40, 0, "MicrophoneAccess", "High", "/dev/snd/pcmC1D0c", "", { comm: "parecord" }])]);
    const v = S.view(st);
    same(v.cameras.map((c) => c.names), ["firefox"]);
    same(v.microphones.map((c) => c.path), ["/dev/snd/pcmC1D0c"]);
    // an answer made after it (it lists the camera too): the same, once
    const st2 = S.newState(-1, {});
    S.askingDevices(st2);
    S.handleEvent(st2, ev(42, "CameraAccess", "High", "/dev/video0", { comm: "firefox" }));
    S.setDevicesInUse(st2, [S.fromDBus([42, 0, "CameraAccess", "High", "/dev/video0", "", { comm: "firefox" }])]);
    same(S.view(st2).cameras.map((c) => c.names), ["firefox"]);
    assert.equal(st2.pending, null);
});
