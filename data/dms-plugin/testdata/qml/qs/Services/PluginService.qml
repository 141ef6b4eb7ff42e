pragma Singleton
import QtQuick
// Stand-in: DMS's PluginService global variables and plugin state
// (Services/PluginService.qml), with a kept lastAck of 41 and a record of
// what is saved.
QtObject {
    property var globalVars: ({})
    property var state: ({ secmon: { lastAck: 41 } })
    property var saved: []
    signal globalVarChanged(string pluginId, string varName)
    signal pluginDataChanged(string pluginId)

    function getGlobalVar(pluginId, varName, defaultValue) {
        if (globalVars[pluginId] && varName in globalVars[pluginId])
            return globalVars[pluginId][varName];
        return defaultValue;
    }
    function setGlobalVar(pluginId, varName, value) {
        const g = Object.assign({}, globalVars);
        g[pluginId] = Object.assign({}, g[pluginId] || {});
        g[pluginId][varName] = value;
        globalVars = g;
        globalVarChanged(pluginId, varName);
    }
    function loadPluginState(pluginId, key, defaultValue) {
        const s = state[pluginId];
        return s && s[key] !== undefined ? s[key] : defaultValue;
    }
    function savePluginState(pluginId, key, value) {
        if (!state[pluginId])
            state[pluginId] = {};
        state[pluginId][key] = value;
        saved = saved.concat([pluginId + " " + key + " " + JSON.stringify(value)]);
    }
    function getPluginVariants(pluginId) { return []; }
}
