// secmon's plugin, the daemon surface: one connection to secmon for the
// whole shell (DMS instantiates a daemon surface once). It reads secmon's
// JSON-lines socket, keeps the state (secmon.js) and publishes what the
// bar widgets draw as the plugin's global variable "view". The widgets
// ask for an acknowledgement through the global variable "ackUpTo".
//
// Why the socket and not the Event signal through DMS's D-Bus bridge: the
// socket replays by seq ({"replay_after": N}) and says when events were
// lost (EventsDropped); the bridge sends every number as a 32-bit D-Bus
// integer, so it cannot call GetEventsAfter (t, u), it drops signals when
// its queue is full, and it does not check a signal's sender. The bridge
// is used for one call without arguments: GetDevicesInUse, which rebuilds
// the cameras and microphones in use when the connection (re)starts.
import QtQuick
import Quickshell.Io
import qs.Services
import qs.Modules.Plugins
import "secmon.js" as Secmon

PluginComponent {
    id: root

    readonly property string socketPath: pluginData.socketPath || "/run/secmon/secmon.sock"
    readonly property var options: ({
            minSeverity: pluginData.minSeverity || "High",
            camera: pluginData.camera !== false,
            microphone: pluginData.microphone !== false
        })

    property var st: null

    function savedAck() {
        const v = pluginService ? pluginService.loadPluginState(pluginId, "lastAck", -1) : -1;
        return typeof v === "number" ? v : -1;
    }

    function saveAck() {
        if (pluginService)
            pluginService.savePluginState(pluginId, "lastAck", st.lastAck);
    }

    function publish() {
        if (pluginService && pluginId)
            pluginService.setGlobalVar(pluginId, "view", Secmon.view(st));
    }

    // start (again) from the acknowledged seq: on load and when the
    // settings change (another minimum severity changes which events are
    // alerts, so they are read again from the daemon's replay).
    function restart() {
        st = Secmon.newState(savedAck(), options);
        publish();
        retry.stop();
        if (sock.connected)
            sock.connected = false;
        else
            connect();
    }

    function connect() {
        sock.path = socketPath;
        sock.connected = true;
    }

    function lost(why) {
        // A failed attempt can be reported twice (error, then the state).
        if (retry.running)
            return;
        retry.interval = Secmon.disconnected(st, why);
        retry.restart();
        publish();
    }

    function handle(line) {
        const r = Secmon.parseLine(line);
        if (r.kind === "error") {
            console.warn("secmon: the daemon refused the request:", r.message);
            st.lastError = Secmon.visible(r.message);
            publish();
            return;
        }
        if (r.kind !== "event")
            return;
        if (Secmon.baseline(st, r.event.seq))
            saveAck();
        const changed = Secmon.handleEvent(st, r.event);
        // A gap in the record may hide a release: ask for the devices again.
        if (r.event.type === "EventsDropped")
            askDevices();
        if (changed)
            publish();
    }

    // askDevices asks secmon for the cameras and microphones in use now
    // (GetDevicesInUse), through DMS's D-Bus bridge when DMS's backend runs;
    // without it, the pill knows the uses it saw opening.
    function askDevices() {
        if (!DMSService.isConnected)
            return;
        Secmon.askingDevices(st);
        DMSService.dbusCall("system", "org.pantheros.Secmon", "/org/pantheros/Secmon1", "org.pantheros.Secmon1", "GetDevicesInUse", [], response => {
            if (response.error || !response.result || !Array.isArray(response.result.values)) {
                root.st.pending = null;
                console.warn("secmon: cannot ask for the devices in use:", response.error || "no answer");
                return;
            }
            const list = response.result.values[0];
            if (!Array.isArray(list)) {
                root.st.pending = null;
                return;
            }
            Secmon.setDevicesInUse(root.st, list.map(Secmon.fromDBus));
            publish();
        });
    }

    Socket {
        id: sock

        parser: SplitParser {
            onRead: data => root.handle(data)
        }

        onConnectedChanged: {
            if (connected) {
                Secmon.connectedAgain(root.st);
                const req = Secmon.replayRequest(root.st);
                if (req !== "") {
                    write(req);
                    flush();
                }
                root.askDevices();
                root.publish();
            } else {
                // Quickshell's Socket does not reconnect by itself.
                root.lost(root.st.lastError || "the connection closed");
            }
        }

        onError: error => {
            if (!connected)
                root.lost("cannot connect to " + root.socketPath + " (" + error + ")");
        }
    }

    Timer {
        id: retry
        repeat: false
        onTriggered: root.connect()
    }

    Connections {
        target: PluginService
        function onGlobalVarChanged(changedPluginId, varName) {
            if (changedPluginId !== root.pluginId || varName !== "ackUpTo")
                return;
            const upTo = PluginService.getGlobalVar(root.pluginId, "ackUpTo", -1);
            Secmon.acknowledgeAll(root.st, upTo);
            root.saveAck();
            root.publish();
        }
    }

    onOptionsChanged: {
        if (st)
            restart();
    }

    Component.onCompleted: restart()
}
