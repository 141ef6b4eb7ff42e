import QtQuick
// Stand-in: DMS's SelectionSetting (Modules/Plugins/SelectionSetting.qml).
Item {
    required property string settingKey
    required property string label
    property string description: ""
    required property var options
    property string defaultValue: ""
}
