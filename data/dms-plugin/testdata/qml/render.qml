// Drives the plugin under Qt's qml tool with the stand-ins beside this
// file: the daemon surface reads a fixed feed from the stand-in socket,
// the widget's pill and popout are drawn side by side, and the picture is
// saved to the path given after "--". It prints what the Go test checks
// (TEXT, CHECK, WROTE, SAVED lines) and exits 1 on a failed check.
//   qml -I data/dms-plugin/testdata/qml data/dms-plugin/testdata/qml/render.qml -- out.png
import QtQuick
import QtQuick.Window
import Quickshell.Io
import qs.Services

Window {
    id: win
    width: 760
    height: 600
    visible: true
    color: "#141218"

    property var daemon: null
    property var widget: null
    property bool failed: false

    function fail(msg) {
        console.log("CHECK FAILED: " + msg);
        failed = true;
    }

    function ev(seq, type, severity, path, meta, process) {
        return JSON.stringify({
            timestamp: "2025-09-25T14:3" + (seq % 10) + ":45.123Z", seq: seq, event_type: { type: type }, path: path,
            details: { severity: severity, description: "", metadata: meta }, process: process
        });
    }

    // What the daemon sends after {"replay_after": 41}: hostile names
    // among them (markup, a right-to-left override, a deep path).
    readonly property var feed: [
        ev(42, "CameraAccess", "High", "/dev/video0", { mask: "OPEN", attribution: "fanotify" }, { pid: 4242, comm: "firefox", uid: 1000, user: "alice" }),
        ev(43, "SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", { op: "WRITE", ssh_file: "authorized_keys", watch: "/home/alice/.ssh" }, null),
        ev(44, "FileCreate", "High", "/home/alice/.config/autostart/" + "very-long-directory-name/".repeat(30) + "invoice\u202Egpj.desktop", { op: "CREATE", watch: "/home/alice/.config/autostart", description: "programs started at login" }, null),
        "not json at all",
        ev(45, "UsbDeviceInserted", "High", "", { vendor: "<b>Evil</b>", product: "Keyboard<br>", interfaces: "HID keyboard", known: "false" }, null),
        ev(46, "FileModify", "Low", "/home/alice/.bashrc", { op: "WRITE", watch: "/home/alice" }, null),
        ev(47, "NetworkListen", "High", "0.0.0.0:4444", { address: "0.0.0.0", port: "4444", state: "listening" }, { pid: 99, comm: "nc", uid: 1000 })
    ]

    Rectangle {
        id: bar
        x: 0
        y: 0
        width: win.width
        height: 40
        color: "#1D1B20"
        Text {
            objectName: "dms"
            x: 12
            anchors.verticalCenter: parent.verticalCenter
            text: "DankBar (stand-in)"
            color: "#938F99"
            font.pixelSize: 12
            font.family: "DejaVu Sans"
        }
        Rectangle {
            id: pillBox
            anchors.right: parent.right
            anchors.rightMargin: 16
            anchors.verticalCenter: parent.verticalCenter
            height: 30
            width: pillSlot.childrenRect.width + 24
            radius: 12
            color: "#2B2930"
            Item {
                id: pillSlot
                x: 12
                width: childrenRect.width
                height: childrenRect.height
                anchors.verticalCenter: parent.verticalCenter
            }
        }
    }

    Rectangle {
        id: popBox
        x: win.width - width - 16
        y: 52
        width: 460 + 32
        height: 520 + 24
        radius: 16
        color: "#211F26"
        border.color: "#49454F"
        Item {
            id: popSlot
            x: 16
            y: 12
            width: 460
            height: 520
        }
    }

    function load(file, props) {
        const c = Qt.createComponent(Qt.resolvedUrl("../../secmon/" + file));
        if (c.status !== Component.Ready) {
            fail(file + ": " + c.errorString());
            return null;
        }
        const o = c.createObject(win, props);
        if (!o)
            fail(file + ": cannot create: " + c.errorString());
        return o;
    }

    function walk(item, f) {
        f(item);
        const kids = item.children || [];
        for (let i = 0; i < kids.length; i++)
            walk(kids[i], f);
    }

    Component.onCompleted: {
        SocketFeed.lines = feed;
        DMSService.devicesInUse = [[40, 1758810600000000, "MicrophoneAccess", "High", "/dev/snd/pcmC0D0c", "", { comm: "arecord", pid: "31" }]];
        daemon = load("SecmonDaemon.qml", { pluginId: "secmon", pluginService: PluginService, pluginData: {} });
        widget = load("SecmonWidget.qml", { pluginId: "secmon", pluginService: PluginService, pluginData: {}, visible: false });
        load("SecmonSettings.qml", { pluginId: "secmon", visible: false });
        if (!daemon || !widget) {
            Qt.exit(1);
            return;
        }
        settle.start();
    }

    // The feed and the bridge's answer come through Qt.callLater: wait
    // until the view has every event, then draw.
    Timer {
        id: settle
        interval: 20
        repeat: true
        property int tries: 0
        onTriggered: {
            const v = PluginService.getGlobalVar("secmon", "view", null);
            if ((!v || v.lastSeen < 47 || v.microphones.length === 0 || v.cameras.length === 0) && ++tries < 250)
                return;
            stop();
            win.draw();
        }
    }

    function draw() {
        const v = PluginService.getGlobalVar("secmon", "view", null);
        if (!v)
            return fail("the daemon published no view");
        console.log("WROTE " + JSON.stringify(SocketFeed.written));
        console.log("CALLS " + JSON.stringify(DMSService.calls));
        console.log("VIEW unacked=" + v.unacked + " lastSeen=" + v.lastSeen + " cameras=" + v.cameras.length + " microphones=" + v.microphones.length);
        if (!widget.effectiveVisible)
            fail("the pill is hidden while a camera is in use");
        const pill = widget.horizontalBarPill.createObject(pillSlot, {});
        const pop = widget.popoutContent.createObject(popSlot, { width: 460 });
        if (!pill || !pop)
            return fail("cannot create the pill or the popout");
        console.log("TOOLTIP " + JSON.stringify(widget.tip));
        shoot.start();
    }

    Timer {
        id: shoot
        interval: 200
        onTriggered: {
            walk(win.contentItem, item => {
                if (item.textFormat === undefined || item.text === undefined || item.objectName === "dms")
                    return;
                if (item.visible && item.text !== "")
                    console.log("TEXT " + JSON.stringify(item.text));
                if (item.textFormat !== Text.PlainText)
                    fail("a text that may show event data is not Text.PlainText: " + JSON.stringify(item.text));
            });
            const out = Qt.application.arguments[Qt.application.arguments.length - 1];
            win.contentItem.grabToImage(res => {
                if (!res.saveToFile(out))
                    fail("cannot save " + out);
                // Acknowledge all: the count goes to zero, the seq is kept.
                widget.acknowledge();
                const v = PluginService.getGlobalVar("secmon", "view", null);
                console.log("AFTER ACK unacked=" + v.unacked + " pill=" + widget.effectiveVisible);
                console.log("SAVED " + JSON.stringify(PluginService.saved));
                Qt.exit(win.failed ? 1 : 0);
            });
        }
    }
}
