import QtQuick
// Stand-in: DMS draws Material Symbols by name; without the font, a
// coloured disc with a short label.
Item {
    property string name: ""
    property real size: 24
    property bool filled: false
    width: size
    height: size
    property color color: "white"
    Rectangle {
        anchors.fill: parent
        radius: width / 2
        color: "transparent"
        border.width: 2
        border.color: parent.color
    }
    Text {
        anchors.centerIn: parent
        textFormat: Text.PlainText
        font.pixelSize: parent.size * 0.42
        font.bold: true
        font.family: "DejaVu Sans"
        color: parent.color
        text: ({ videocam: "cam", mic: "mic", gpp_maybe: "!", error: "!!", shield: "S" })[parent.name] || "?"
    }
}
