import QtQuick
import qs.Common
// Stand-in: DMS's PluginComponent (Modules/Plugins/PluginComponent.qml),
// its properties and setVisibilityOverride; the harness instantiates the
// pill and the popout itself instead of DMS's BasePill and PluginPopout.
Item {
    property string layerNamespacePlugin: "plugin"
    property var axis: null
    property var parentScreen: null
    property real barThickness: 48
    property string pluginId: ""
    property var pluginService: null
    property var pluginData: ({})
    property Component horizontalBarPill: null
    property Component verticalBarPill: null
    property Component popoutContent: null
    property real popoutWidth: 400
    property real popoutHeight: 0
    readonly property int iconSize: 20
    property bool _visibilityOverride: false
    property bool _visibilityOverrideValue: true
    readonly property bool effectiveVisible: _visibilityOverride ? _visibilityOverrideValue : true
    function setVisibilityOverride(visible) {
        _visibilityOverride = true;
        _visibilityOverrideValue = visible;
    }
    function clearVisibilityOverride() { _visibilityOverride = false; }
}
