pragma Singleton
import QtQuick
// Stand-in: DMS's Theme (Common/Theme.qml), the names the plugin uses, in
// DMS's default dark colours.
QtObject {
    property real spacingXS: 4
    property real spacingS: 8
    property real spacingL: 16
    property real spacingXL: 24
    property real fontSizeSmall: 12
    property real fontSizeMedium: 14
    property real iconSize: 24
    property real cornerRadius: 12
    property color primary: "#D0BCFF"
    property color primaryHover: Qt.rgba(0.82, 0.74, 1, 0.12)
    property color surfaceText: "#E6E0E9"
    property color surfaceVariantText: "#CAC4D0"
    property color surfaceContainer: "#211F26"
    property color surfaceContainerHigh: "#2B2930"
    property color error: "#F2B8B5"
    property color warning: "#FF9800"
    property color widgetTextColor: "#E6E0E9"
}
