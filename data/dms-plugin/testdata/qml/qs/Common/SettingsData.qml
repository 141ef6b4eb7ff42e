pragma Singleton
import QtQuick
QtObject {
    function getPluginSettingsForPlugin(pluginId) { return {}; }
}
