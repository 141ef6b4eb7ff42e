import QtQuick
// Stand-in: DMS's StringSetting (Modules/Plugins/StringSetting.qml).
Item {
    required property string settingKey
    required property string label
    property string description: ""
    property string placeholder: ""
    property string defaultValue: ""
}
