.pragma library
// secmon's DankMaterialShell plugin: everything that is not drawing.
// Parsing the daemon's JSON lines (and the D-Bus event structs DMS's bridge
// hands over), the words of the notifier's summaries, which alerts are
// unacknowledged, which cameras and microphones are in use, the replay
// position and the reconnect back-off. Plain JavaScript with no Qt in it,
// so node tests it (data/dms-plugin/test/secmon.test.js); the QML files
// only wire it to a socket, timers and DMS's services.
//
// Every string that came from an event is hostile (file names, process
// names, user names sent over the network): it goes through visible()
// before it is shown, and the QML shows it as plain text, never markup.

var SEVERITIES = ["Low", "Medium", "High", "Critical"];

// At most this many alerts are kept for the popout (newest first); the
// count of unacknowledged alerts goes on past it.
var MAX_ALERTS = 100;

// Reconnect back-off: 1 s, 2 s, 4 s … at most 60 s.
var BACKOFF_FIRST_MS = 1000;
var BACKOFF_MAX_MS = 60000;

// Bounds in characters, as the notifier's (notifier/internal/present).
var MAX_SUMMARY = 200;
var MAX_PATH = 160;
// MAX_TEXT bounds a part of a summary (the notifier's maxText).
var MAX_TEXT = 240;

function severityRank(s) {
    return SEVERITIES.indexOf(s);
}

// --- hostile text ---------------------------------------------------------

// Unicode's format characters (category Cf), as ranges: the bidirectional
// controls that make "gpj.exe" read as "exe.jpg", zero-width characters,
// the byte-order mark. Written out because the regular expressions of
// older Qt JavaScript engines do not know \p{Cf}; the node test checks the
// list against \p{Cf} for every code point.
var FORMAT_RANGES = [
    [0x00AD, 0x00AD], [0x0600, 0x0605], [0x061C, 0x061C], [0x06DD, 0x06DD],
    [0x070F, 0x070F], [0x0890, 0x0891], [0x08E2, 0x08E2], [0x180E, 0x180E],
    [0x200B, 0x200F], [0x202A, 0x202E], [0x2060, 0x2064], [0x2066, 0x206F],
    [0xFEFF, 0xFEFF], [0xFFF9, 0xFFFB], [0x110BD, 0x110BD], [0x110CD, 0x110CD],
    [0x13430, 0x1343F], [0x1BCA0, 0x1BCA3], [0x1D173, 0x1D17A], [0xE0001, 0xE0001],
    [0xE0020, 0xE007F]
];

function isFormat(cp) {
    for (var i = 0; i < FORMAT_RANGES.length; i++) {
        if (cp < FORMAT_RANGES[i][0])
            return false;
        if (cp <= FORMAT_RANGES[i][1])
            return true;
    }
    return false;
}

function hex(n, width) {
    var s = n.toString(16);
    while (s.length < width)
        s = "0" + s;
    return s;
}

var SHORT_ESCAPES = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };

// visible is s as it may be shown: control and format characters, lone
// surrogates and U+FFFD (what the JSON decoder made of bytes that were not
// UTF-8) escaped as secmon's Go side escapes them (secmondbus.Visible:
// \n, \x1b, \u202e, \ufffd). Everything else, other scripts and emoji
// included, is kept.
function visible(s) {
    s = s === undefined || s === null ? "" : String(s);
    var out = "";
    for (var i = 0; i < s.length; i++) {
        var c = s.charCodeAt(i);
        var cp = c;
        var len = 1;
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) {
            var d = s.charCodeAt(i + 1);
            if (d >= 0xDC00 && d <= 0xDFFF) {
                cp = (c - 0xD800) * 0x400 + (d - 0xDC00) + 0x10000;
                len = 2;
            }
        }
        var lone = len === 1 && c >= 0xD800 && c <= 0xDFFF;
        if (lone || cp === 0xFFFD) {
            out += "\\ufffd";
        } else if (cp < 0x20 || cp === 0x7F) {
            out += SHORT_ESCAPES[cp] || ("\\x" + hex(cp, 2));
        } else if ((cp >= 0x80 && cp <= 0x9F) || isFormat(cp)) {
            out += cp > 0xFFFF ? "\\U" + hex(cp, 8) : "\\u" + hex(cp, 4);
        } else {
            out += s.substr(i, len);
        }
        i += len - 1;
    }
    return out;
}

// truncate cuts s to at most n characters, ending it with "…".
function truncate(s, n) {
    var cs = Array.from(s);
    if (cs.length <= n)
        return s;
    return cs.slice(0, n - 1).join("") + "…";
}

// shortPath shows p in at most max characters, shortened in the middle:
// the file name is always whole, and so much of the start and of the end
// of its directory as fits (as the notifier's ShortPath).
function shortPath(p, max) {
    p = visible(p);
    if (Array.from(p).length <= max)
        return p;
    var i = p.lastIndexOf("/");
    if (i < 0)
        return p;
    var dir = Array.from(p.substring(0, i));
    var name = p.substring(i);
    var keep = max - Array.from(name).length - 1;
    if (keep < 12)
        keep = 12;
    if (keep >= dir.length)
        return p;
    var head = Math.floor(keep / 2);
    return dir.slice(0, head).join("") + "…" + dir.slice(dir.length - (keep - head)).join("") + name;
}

// --- events in ------------------------------------------------------------

function str(v) {
    return v === undefined || v === null ? "" : String(v);
}

// parseLine reads one line of the socket: {kind: "event", event} for an
// event (a drop notice is an event of type EventsDropped with seq 0),
// {kind: "error", message} for the daemon's answer to a bad request, and
// {kind: "invalid", reason} for anything else. Nothing in it throws.
function parseLine(line) {
    var j;
    try {
        j = JSON.parse(line);
    } catch (e) {
        return { kind: "invalid", reason: "not JSON" };
    }
    if (j === null || typeof j !== "object" || Array.isArray(j))
        return { kind: "invalid", reason: "not an object" };
    if (typeof j.error === "string")
        return { kind: "error", message: j.error };
    var type = j.event_type && typeof j.event_type === "object" ? j.event_type.type : undefined;
    if (typeof type !== "string" || type === "")
        return { kind: "invalid", reason: "no event type" };
    if (typeof j.seq !== "number" || j.seq < 0 || Math.floor(j.seq) !== j.seq)
        return { kind: "invalid", reason: "no seq" };
    var det = j.details && typeof j.details === "object" ? j.details : {};
    // The D-Bus projection's details: the metadata plus who acted.
    var d = {};
    var meta = det.metadata && typeof det.metadata === "object" ? det.metadata : {};
    for (var k in meta)
        d[k] = str(meta[k]);
    var p = j.process && typeof j.process === "object" ? j.process : null;
    if (p) {
        if (typeof p.pid === "number" && p.pid > 0)
            d.pid = String(p.pid);
        if (p.comm)
            d.comm = str(p.comm);
        if (p.exe)
            d.exe = str(p.exe);
        if (typeof p.uid === "number" && p.uid >= 0)
            d.uid = String(p.uid);
        if (p.user)
            d.user = str(p.user);
        if (p.unit)
            d.unit = str(p.unit);
        if (p.app)
            d.app = str(p.app);
    }
    var t = Date.parse(str(j.timestamp));
    return {
        kind: "event",
        event: {
            seq: j.seq,
            time: isNaN(t) ? 0 : t,
            type: type,
            severity: str(det.severity),
            path: str(j.path),
            description: str(det.description),
            details: d
        }
    };
}

// fromDBus reads one event as DMS's D-Bus bridge hands over a
// (txssssa{ss}) struct: an array [seq, timestamp_usec, type, severity,
// path, description, {details}]. null when it is not one.
function fromDBus(v) {
    if (!Array.isArray(v) || v.length !== 7 || typeof v[0] !== "number" || typeof v[2] !== "string")
        return null;
    var d = {};
    var det = v[6] && typeof v[6] === "object" ? v[6] : {};
    for (var k in det)
        d[k] = str(det[k]);
    return {
        seq: v[0],
        time: typeof v[1] === "number" ? Math.floor(v[1] / 1000) : 0,
        type: v[2],
        severity: str(v[3]),
        path: str(v[4]),
        description: str(v[5]),
        details: d
    };
}

// --- the notifier's words ---------------------------------------------------

// The notifier's one-event titles (notifier/internal/present/words.go),
// used when the event's data gives no better summary. The node test checks
// summary() against the notifier's golden file, so the two cannot drift.
var TITLES = {
    FileCreate: "New file",
    FileModify: "File changed",
    FileDelete: "File deleted",
    FileAccess: "File opened",
    FileMove: "File moved away",
    FileAttrib: "Permissions changed",
    SshAccess: "SSH settings changed",
    CameraAccess: "Camera in use",
    CameraReleased: "Camera off",
    MicrophoneAccess: "Microphone in use",
    MicrophoneReleased: "Microphone off",
    SshLogin: "SSH login",
    SshLoginFailed: "Failed SSH login",
    SshBruteForce: "Password guessing over SSH",
    SshLogSpoofed: "A program posed as the SSH server",
    NetworkConnection: "New network connection",
    NetworkListen: "Program open to the network",
    PortScanDetected: "Port scan",
    UsbDeviceInserted: "USB device plugged in",
    UsbDeviceRemoved: "USB device unplugged",
    Incident: "Possible attack",
    CustomMessage: "Security monitor",
    EventsDropped: "Security events were lost",
    MonitorStatus: "Security monitor status"
};

var MONITORS = {
    filesystem: "files", camera: "the camera", microphone: "the microphone", network: "the network",
    ssh: "SSH logins", usb: "USB devices", journal: "the copy to the journal", dbus: "notifications on the system bus",
    config: "its configuration", state: "event numbering", correlation: "attacks made of several events"
};

var FILE_TYPES = ["FileCreate", "FileModify", "FileDelete", "FileAccess", "FileMove", "FileAttrib", "SshAccess"];

function capital(s) {
    return s.length ? s.charAt(0).toUpperCase() + s.substring(1) : s;
}

function splitCamel(s) {
    var out = "";
    for (var i = 0; i < s.length; i++) {
        var ch = s.charAt(i);
        if (i > 0 && ch >= "A" && ch <= "Z")
            out += " " + ch.toLowerCase();
        else
            out += ch;
    }
    return out;
}

function baseName(p) {
    var i = p.lastIndexOf("/");
    return i >= 0 ? p.substring(i + 1) : p;
}

// account is whose SSH keys a path holds: the home directory's owner.
function account(p) {
    if (p.indexOf("/root/") === 0)
        return "root";
    if (p.indexOf("/home/") === 0) {
        var rest = p.substring(6);
        var i = rest.indexOf("/");
        if (i > 0)
            return visible(rest.substring(0, i));
    }
    return "this account";
}

// watchOf is the watched tree of a file event: its metadata's watch, else
// the event's directory.
function watchOf(e) {
    if (e.details.watch)
        return e.details.watch;
    var i = e.path.lastIndexOf("/");
    return i > 0 ? e.path.substring(0, i) : e.path;
}

function loopback(a) {
    return a.indexOf("127.") === 0 || a === "::1" || a === "localhost";
}

// appNameOf is the application's name for the process of details d, from
// the optional look-up appName (the notifier matches desktop entries; the
// plugin has none unless the shell gives one), never just the comm again.
function appNameOf(d, appName) {
    if (!appName)
        return "";
    var a = appName(d) || "";
    if (a.toLowerCase() === str(d.comm).toLowerCase())
        return "";
    return a;
}

function program(d, appName) {
    var a = appNameOf(d, appName);
    return visible(a || d.comm || "");
}

// opener names who opened a device, as the notifier's summary does: the
// PipeWire client when the opener is the broker, else the application's
// name, else the comm; "" when nobody is known.
function opener(d, appName) {
    if (d.client)
        return visible(d.client);
    if (d.attribution === "unknown" && !d.comm && !d.pid)
        return "";
    var a = appNameOf(d, appName);
    if (a)
        return visible(a);
    return visible(d.comm || (d.pid ? "pid " + d.pid : ""));
}

function fileSummary(e) {
    var d = e.details;
    var thing = d.is_dir === "true" ? "folder" : "file";
    var place = visible(d.description || "");
    if (place === "")
        place = shortPath(watchOf(e), 60);
    switch (e.type) {
    case "FileCreate":
        return "New " + thing + " in " + place;
    case "FileModify":
        return "File changed in " + place;
    case "FileDelete":
        return capital(thing) + " deleted from " + place;
    case "FileAccess":
        return "File opened in " + place;
    case "FileMove":
        return capital(thing) + " moved away from " + place;
    case "FileAttrib":
        return "Permissions changed in " + place;
    }
    // SshAccess
    var name = d.ssh_file || baseName(e.path);
    if (name === "sshd_config")
        return "SSH server settings changed";
    if (name !== "authorized_keys" && name !== "authorized_keys2")
        return "SSH file changed: " + visible(name);
    var acct = account(e.path);
    switch (d.op) {
    case "REMOVE":
    case "RENAME":
        return "SSH login keys removed for " + acct;
    case "CHMOD":
        return "SSH login keys of " + acct + " got new permissions";
    }
    if (d.key_fingerprint)
        return "New SSH key can log in as " + acct;
    if (d.op === "CREATE")
        return "SSH login keys created for " + acct;
    return "SSH login keys changed for " + acct;
}

// incidentSummary is the notifier's summary of an Incident, by its rule;
// "" for a rule it does not know.
function incidentSummary(d) {
    switch (d.rule) {
    case "persistence_after_login":
        return "Someone who logged in over SSH from " + visible(d.remote_ip) + " made their access permanent";
    case "badusb":
        return "A new USB keyboard started programs: " + visible(d.device);
    case "watching_while_away":
        return (capital(visible(d.device)) || "A camera or microphone") + " opened while you were away";
    case "door_opened":
        return "The SSH server was opened up" + (d.settings ? ": " + truncate(visible(d.settings), MAX_TEXT) : "");
    case "backdoor_listener":
        return "Possible backdoor: " + (visible(d.program) || "A program") + " accepts connections on " + visible(d.address);
    }
    return "";
}

// summary is the notifier's summary of one event, in plain (already
// escaped) text. appName is optional: a function from details to an
// application's name.
function summary(e, appName) {
    var d = e.details || {};
    var s = TITLES[e.type] || splitCamel(visible(e.type));
    var ip = visible(d.remote_ip);
    if (FILE_TYPES.indexOf(e.type) >= 0) {
        s = fileSummary(e);
    } else {
        switch (e.type) {
        case "CameraAccess":
        case "MicrophoneAccess":
            var who = opener(d, appName) || "an unknown program";
            s = (e.type === "CameraAccess" ? "Camera" : "Microphone") + " in use by " + who;
            break;
        case "CameraReleased":
            s = "Camera no longer in use";
            break;
        case "MicrophoneReleased":
            s = "Microphone no longer in use";
            break;
        case "SshLogin":
            s = "SSH login as " + visible(d.user) + " from " + ip;
            break;
        case "SshLoginFailed":
            s = "Failed SSH login from " + ip;
            break;
        case "SshBruteForce":
            s = "Password guessing over SSH from " + ip;
            break;
        case "PortScanDetected":
            s = "Port scan from " + ip;
            break;
        case "NetworkConnection":
            var pc = program(d, appName);
            if (pc)
                s = "New network connection by " + pc;
            break;
        case "NetworkListen":
            var pl = program(d, appName) || "A program";
            s = pl + (d.state === "closed" ? " stopped listening on port " : " accepts connections on port ") + visible(d.port);
            break;
        case "UsbDeviceInserted":
        case "UsbDeviceRemoved":
            var name = (visible(d.vendor) + " " + visible(d.product)).trim() || "unnamed device";
            s = s + ": " + name;
            if (e.type === "UsbDeviceInserted" && str(d.interfaces).toLowerCase().indexOf("keyboard") >= 0)
                s = "USB keyboard plugged in: " + name;
            break;
        case "Incident":
            s = incidentSummary(d) || s;
            break;
        case "MonitorStatus":
            var m = MONITORS[d.monitor] || visible(d.monitor);
            switch (d.state) {
            case "running":
                s = "Watching " + m;
                break;
            case "degraded":
                s = "Only partly watching " + m;
                break;
            case "reload-failed":
                s = "Security monitor kept its old configuration";
                break;
            default:
                s = "Not watching " + m;
            }
            break;
        }
    }
    return truncate(s, MAX_SUMMARY);
}

// --- state ----------------------------------------------------------------

// newState starts the plugin's state. lastAck is the last acknowledged seq
// kept across restarts (-1: never acknowledged, so nothing old is
// replayed); options: minSeverity ("High"), camera and microphone (true).
function newState(lastAck, options) {
    options = options || {};
    var ack = typeof lastAck === "number" && lastAck >= 0 ? Math.floor(lastAck) : -1;
    return {
        lastAck: ack,
        // The highest seq handled: where a reconnect resumes.
        lastSeen: ack,
        minSeverity: severityRank(options.minSeverity) >= 0 ? options.minSeverity : "High",
        camera: options.camera !== false,
        microphone: options.microphone !== false,
        alerts: [],
        unacked: 0,
        // path → {kind, openers: [{seq, name, detail}]}
        devices: {},
        lost: 0,
        // Device events handled while a GetDevicesInUse answer is awaited.
        pending: null,
        connected: false,
        attempt: 0,
        lastError: ""
    };
}

function deviceKind(type) {
    if (type === "CameraAccess" || type === "CameraReleased")
        return "camera";
    if (type === "MicrophoneAccess" || type === "MicrophoneReleased")
        return "microphone";
    return "";
}

function clock(ms) {
    if (!ms)
        return "";
    var t = new Date(ms);
    function two(n) {
        return n < 10 ? "0" + n : String(n);
    }
    return two(t.getHours()) + ":" + two(t.getMinutes()) + ":" + two(t.getSeconds());
}

// opened records a device's opener from its Access event.
function opened(st, e, appName) {
    var kind = deviceKind(e.type);
    var dev = st.devices[e.path];
    if (!dev) {
        dev = { kind: kind, openers: [] };
        st.devices[e.path] = dev;
    }
    for (var i = 0; i < dev.openers.length; i++) {
        if (dev.openers[i].seq === e.seq)
            return;
    }
    var d = e.details;
    var name = opener(d, appName) || "an unknown program";
    var extra = [];
    if (d.client)
        extra.push("through " + visible(d.comm || d.broker || "PipeWire"));
    else if (d.comm && name !== visible(d.comm))
        extra.push(visible(d.comm));
    if (d.pid)
        extra.push("pid " + visible(d.pid));
    dev.openers.push({ seq: e.seq, name: name, detail: extra.join(", ") });
}

// handleEvent applies one event. It returns true when what is shown
// changed. Events at or below the replay position are ones already
// handled (a replay that overlaps what came live).
function handleEvent(st, e, appName) {
    if (e.seq > 0 && e.seq <= st.lastSeen)
        return false;
    if (e.seq > 0 && e.seq > st.lastSeen)
        st.lastSeen = e.seq;
    var changed = false;
    if (st.pending && deviceKind(e.type))
        st.pending.push(e);
    switch (e.type) {
    case "CameraAccess":
    case "MicrophoneAccess":
        opened(st, e, appName);
        changed = true;
        break;
    case "CameraReleased":
    case "MicrophoneReleased":
        // The last opener closed it (or it was unplugged in use).
        if (st.devices[e.path]) {
            delete st.devices[e.path];
            changed = true;
        }
        break;
    case "EventsDropped":
        st.lost += parseInt(e.details.dropped, 10) || 0;
        changed = true;
        break;
    }
    var kind = deviceKind(e.type);
    if (kind && !st[kind])
        return changed;
    if (severityRank(e.severity) < severityRank(st.minSeverity))
        return changed;
    if (e.seq > 0 && e.seq <= st.lastAck)
        return changed;
    st.alerts.unshift({
        seq: e.seq,
        severity: e.severity,
        type: e.type,
        summary: summary(e, appName),
        path: shortPath(e.path, MAX_PATH),
        time: clock(e.time)
    });
    if (st.alerts.length > MAX_ALERTS)
        st.alerts.length = MAX_ALERTS;
    st.unacked++;
    return true;
}

// askingDevices is called when GetDevicesInUse is asked: the device
// events handled until the answer comes are kept, as the answer may have
// been made before or after them.
function askingDevices(st) {
    st.pending = [];
}

// setDevicesInUse replaces what is known to be in use by the daemon's own
// list (GetDevicesInUse: the opening events of each device in use), then
// applies again, in order, the device events handled since it was asked
// (an open is recorded once by its seq; a release of a device not in use
// changes nothing), so the answer never undoes what came after it.
function setDevicesInUse(st, events, appName) {
    var since = st.pending || [];
    st.pending = null;
    st.devices = {};
    var i;
    for (i = 0; i < events.length; i++) {
        var e = events[i];
        if (e && (e.type === "CameraAccess" || e.type === "MicrophoneAccess"))
            opened(st, e, appName);
    }
    for (i = 0; i < since.length; i++) {
        if (since[i].type === "CameraAccess" || since[i].type === "MicrophoneAccess")
            opened(st, since[i], appName);
        else
            delete st.devices[since[i].path];
    }
}

// acknowledgeAll marks every alert up to seq upTo seen (all of them when
// upTo is not given): the popout acknowledges what it showed, so an alert
// that came while the person was reading stays. It returns the seq to keep
// (PluginService.savePluginState), so a restart replays only what comes
// after it.
function acknowledgeAll(st, upTo) {
    var to = typeof upTo === "number" && upTo >= 0 ? Math.min(upTo, st.lastSeen) : st.lastSeen;
    var kept = [];
    for (var i = 0; i < st.alerts.length; i++) {
        if (st.alerts[i].seq > to)
            kept.push(st.alerts[i]);
    }
    st.alerts = kept;
    st.unacked = kept.length;
    st.lost = 0;
    if (to > st.lastAck)
        st.lastAck = to;
    return st.lastAck;
}

// replayRequest is the request line to send on connecting: replay what
// came after the replay position, or only what comes from now on when
// there is none yet.
function replayRequest(st) {
    if (st.lastSeen < 0)
        return "";
    return JSON.stringify({ replay_after: st.lastSeen }) + "\n";
}

// baseline is called with the first event's seq when the plugin had no
// acknowledged seq: from then on, a restart replays from just before it.
function baseline(st, seq) {
    if (st.lastAck < 0 && seq > 0) {
        st.lastAck = seq - 1;
        return true;
    }
    return false;
}

// nextDelay is how long to wait before connecting again after attempt
// failed attempts in a row (1 s, 2 s, 4 s … 60 s).
function nextDelay(attempt) {
    var ms = BACKOFF_FIRST_MS;
    for (var i = 0; i < attempt && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return Math.min(ms, BACKOFF_MAX_MS);
}

function connectedAgain(st) {
    st.connected = true;
    st.attempt = 0;
    st.lastError = "";
}

// disconnected returns the delay before the next attempt.
function disconnected(st, why) {
    st.connected = false;
    if (why)
        st.lastError = visible(why);
    var ms = nextDelay(st.attempt);
    st.attempt++;
    return ms;
}

// inUse lists the devices of one kind in use, for the pill and its
// tooltip: [{path, names: "Firefox, arecord"}].
function inUse(st, kind) {
    var out = [];
    for (var p in st.devices) {
        var dev = st.devices[p];
        if (dev.kind !== kind || !st[kind])
            continue;
        var names = [];
        for (var i = 0; i < dev.openers.length; i++) {
            var o = dev.openers[i];
            names.push(o.detail ? o.name + " (" + o.detail + ")" : o.name);
        }
        out.push({ path: shortPath(p, 60), names: names.join(", ") });
    }
    out.sort(function (a, b) {
        return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
    });
    return out;
}

// view is what the bar widgets draw, as one plain object (shared through
// PluginService's global variables, so every bar on every screen shows
// the same).
function view(st) {
    return {
        connected: st.connected,
        lastError: st.lastError,
        alerts: st.alerts.slice(),
        unacked: st.unacked,
        lost: st.lost,
        cameras: inUse(st, "camera"),
        microphones: inUse(st, "microphone"),
        lastAck: st.lastAck,
        lastSeen: st.lastSeen
    };
}

// tooltip words what is in use, plain text, one line a device.
function tooltip(v, pipewireCamera, pipewireMic) {
    var lines = [];
    var i;
    for (i = 0; i < v.cameras.length; i++)
        lines.push("Camera " + v.cameras[i].path + ": " + v.cameras[i].names);
    if (pipewireCamera && v.cameras.length === 0)
        lines.push("Camera: a PipeWire stream");
    for (i = 0; i < v.microphones.length; i++)
        lines.push("Microphone " + v.microphones[i].path + ": " + v.microphones[i].names);
    if (pipewireMic && v.microphones.length === 0)
        lines.push("Microphone: a PipeWire stream");
    if (v.unacked > 0)
        lines.push(v.unacked + (v.unacked === 1 ? " alert" : " alerts") + " not acknowledged");
    if (!v.connected)
        lines.push("Not connected to secmon" + (v.lastError ? ": " + v.lastError : ""));
    return lines.join("\n");
}
