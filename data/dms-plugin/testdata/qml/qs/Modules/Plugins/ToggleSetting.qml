import QtQuick
// Stand-in: DMS's ToggleSetting (Modules/Plugins/ToggleSetting.qml).
Item {
    required property string settingKey
    required property string label
    property string description: ""
    property bool defaultValue: false
}
