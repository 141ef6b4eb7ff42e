import QtQuick
import qs.Services
// Stand-in with DMS's code path: the value of the parent plugin's global
// variable (Widgets/PluginGlobalVar.qml).
Item {
    required property string varName
    property var defaultValue: undefined
    readonly property var value: {
        const pid = parent?.pluginId ?? "";
        if (!pid || !PluginService.globalVars[pid])
            return defaultValue;
        return PluginService.globalVars[pid][varName] ?? defaultValue;
    }
    visible: false
}
