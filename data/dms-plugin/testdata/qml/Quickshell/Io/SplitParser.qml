import QtQuick
// Stand-in: Quickshell's SplitParser: read() once per line.
QtObject {
    property string splitMarker: "\n"
    signal read(string data)
}
