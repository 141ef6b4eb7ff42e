import QtQuick
// Stand-in: DMS's PluginSettings (Modules/Plugins/PluginSettings.qml).
Column {
    required property string pluginId
    property var pluginService: null
    width: 400
}
