pragma Singleton
import QtQuick
// The stand-in socket's other end: the lines it sends on connecting, and
// what the client wrote.
QtObject {
    property var lines: []
    property string written: ""
    property int connects: 0
}
