import QtQuick
import qs.Common
// Stand-in: DMS's PopoutComponent (Modules/Plugins/PopoutComponent.qml):
// a header and a details line above the plugin's content. Its two texts
// are DMS's (objectName "dms"); the plugin gives them fixed words only.
Column {
    property string headerText: ""
    property string detailsText: ""
    property bool showCloseButton: false
    property var closePopout: null
    readonly property int headerHeight: 40
    readonly property int detailsHeight: details.implicitHeight
    Item {
        width: parent.width
        height: 40
        Text {
            objectName: "dms"
            x: Theme.spacingS
            anchors.verticalCenter: parent.verticalCenter
            text: headerText
            font.pixelSize: 20
            font.bold: true
            font.family: "DejaVu Sans"
            color: Theme.surfaceText
        }
    }
    Text {
        id: details
        objectName: "dms"
        width: parent.width
        leftPadding: Theme.spacingS
        bottomPadding: Theme.spacingS
        text: detailsText
        font.pixelSize: Theme.fontSizeMedium
        font.family: "DejaVu Sans"
        color: Theme.surfaceVariantText
    }
}
