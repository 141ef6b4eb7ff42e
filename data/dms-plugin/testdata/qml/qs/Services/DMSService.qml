pragma Singleton
import QtQuick
// Stand-in: DMS's backend connection and its D-Bus bridge
// (Services/DMSService.qml): dbusCall answers GetDevicesInUse as the bridge
// does, {result: {values: [[struct, …]]}}, each struct an array.
QtObject {
    property bool isConnected: true
    property var calls: []
    property var devicesInUse: []
    function dbusCall(bus, dest, path, iface, method, args, callback) {
        calls = calls.concat([[bus, dest, path, iface, method, JSON.stringify(args)].join(" ")]);
        if (method === "GetDevicesInUse")
            Qt.callLater(() => callback({ result: { values: [devicesInUse] } }));
        else
            Qt.callLater(() => callback({ error: "unknown method " + method }));
    }
}
