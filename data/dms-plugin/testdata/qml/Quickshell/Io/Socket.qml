import QtQuick
// Stand-in: Quickshell's Socket (path, connected, parser, write, flush,
// error). Connecting always succeeds and hands SocketFeed.lines to the
// parser; what is written is kept in SocketFeed.written.
Item {
    id: s
    property string path: ""
    property bool connected: false
    property var parser: null
    signal error(var error)
    function write(data) { if (connected) SocketFeed.written += data; }
    function flush() {}
    onConnectedChanged: {
        if (connected) {
            SocketFeed.connects++;
            Qt.callLater(feed);
        }
    }
    function feed() {
        for (const l of SocketFeed.lines)
            if (connected && parser)
                parser.read(l);
    }
}
