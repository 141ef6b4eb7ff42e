// secmon's plugin, the bar widget: a pill while a camera or microphone is
// in use (secmon's view, or DMS's own PipeWire view) or while alerts are
// unacknowledged, and a popout with the recent alerts in the notifier's
// words. It only draws: the state comes from the daemon surface
// (SecmonDaemon.qml) through the plugin's global variable "view".
//
// Every text that can hold event data is Text.PlainText: file and program
// names are chosen by whoever made them, and must never become markup.
import QtQuick
import qs.Common
import qs.Services
import qs.Widgets
import qs.Modules.Plugins
import "secmon.js" as Secmon

PluginComponent {
    id: root

    layerNamespacePlugin: "secmon"

    PluginGlobalVar {
        id: viewVar
        varName: "view"
        defaultValue: null
    }

    readonly property var v: viewVar.value || Secmon.view(Secmon.newState(-1, {}))
    readonly property bool showCamera: pluginData.camera !== false
    readonly property bool showMicrophone: pluginData.microphone !== false
    // DMS's own view: PipeWire streams. secmon sees the opens that bypass
    // PipeWire; either lights the pill.
    readonly property bool cameraOn: showCamera && (v.cameras.length > 0 || PrivacyService.cameraActive)
    readonly property bool microphoneOn: showMicrophone && (v.microphones.length > 0 || PrivacyService.microphoneActive)
    readonly property bool active: cameraOn || microphoneOn || v.unacked > 0
    readonly property string tip: "Security monitor\n" + Secmon.tooltip(v, showCamera && PrivacyService.cameraActive, showMicrophone && PrivacyService.microphoneActive)

    // The pill is there only when there is something to say.
    onActiveChanged: setVisibilityOverride(active)
    Component.onCompleted: setVisibilityOverride(active)

    function acknowledge() {
        PluginService.setGlobalVar(pluginId, "ackUpTo", v.lastSeen);
    }

    component Pill: Item {
        id: pill
        property bool vertical: false
        implicitWidth: box.implicitWidth
        implicitHeight: box.implicitHeight

        Grid {
            id: box
            columns: pill.vertical ? 1 : 3
            spacing: Theme.spacingXS
            DankIcon {
                name: "videocam"
                size: root.iconSize
                color: Theme.error
                visible: root.cameraOn
            }
            DankIcon {
                name: "mic"
                size: root.iconSize
                color: Theme.error
                visible: root.microphoneOn
            }
            Row {
                spacing: 2
                visible: root.v.unacked > 0
                DankIcon {
                    name: "gpp_maybe"
                    size: root.iconSize
                    color: Theme.warning
                }
                StyledText {
                    anchors.verticalCenter: parent.verticalCenter
                    textFormat: Text.PlainText
                    text: root.v.unacked > 99 ? "99+" : String(root.v.unacked)
                    font.pixelSize: Theme.fontSizeSmall
                    color: Theme.widgetTextColor
                }
            }
        }

        // The program's name in a tooltip. Hover only: clicks go on to
        // the pill, which opens the popout. DankTooltip's text is shown by
        // a StyledText; its first line is fixed, so Qt's detection of
        // rich text (which looks at the first line) keeps all of it plain.
        MouseArea {
            anchors.fill: parent
            hoverEnabled: true
            acceptedButtons: Qt.NoButton
            onEntered: {
                tipLoader.active = true;
                if (!tipLoader.item)
                    return;
                const p = mapToItem(null, width / 2, root.axis?.edge === "bottom" ? 0 : height);
                tipLoader.item.show(root.tip, p.x, p.y, root.parentScreen, false, false);
            }
            onExited: {
                if (tipLoader.item)
                    tipLoader.item.hide();
                tipLoader.active = false;
            }
        }

        Loader {
            id: tipLoader
            active: false
            sourceComponent: DankTooltip {}
        }
    }

    horizontalBarPill: Component {
        Pill {}
    }

    verticalBarPill: Component {
        Pill {
            vertical: true
        }
    }

    popoutWidth: 460
    popoutHeight: 520

    popoutContent: Component {
        PopoutComponent {
            id: pop

            headerText: "Security monitor"
            detailsText: root.v.connected ? (root.v.unacked === 0 ? "No alerts to acknowledge" : root.v.unacked + (root.v.unacked === 1 ? " alert" : " alerts") + " not acknowledged") : "Not connected to secmon"
            showCloseButton: true

            Column {
                width: parent.width
                spacing: Theme.spacingS

                // What is in use now.
                Repeater {
                    model: root.v.cameras.concat(root.v.microphones)
                    delegate: StyledText {
                        required property var modelData
                        required property int index
                        width: parent.width
                        leftPadding: Theme.spacingS
                        textFormat: Text.PlainText
                        wrapMode: Text.Wrap
                        maximumLineCount: 3
                        elide: Text.ElideRight
                        color: Theme.error
                        text: (index < root.v.cameras.length ? "Camera " : "Microphone ") + modelData.path + " in use: " + modelData.names
                    }
                }

                StyledText {
                    visible: !root.v.connected && root.v.lastError !== ""
                    width: parent.width
                    leftPadding: Theme.spacingS
                    textFormat: Text.PlainText
                    wrapMode: Text.Wrap
                    color: Theme.surfaceVariantText
                    text: root.v.lastError
                }

                StyledText {
                    visible: root.v.lost > 0
                    width: parent.width
                    leftPadding: Theme.spacingS
                    textFormat: Text.PlainText
                    wrapMode: Text.Wrap
                    color: Theme.warning
                    text: root.v.lost + " events were lost: secmon-client --replay-after " + Math.max(0, root.v.lastAck) + " shows what is still kept"
                }

                ListView {
                    id: list
                    width: parent.width
                    height: Math.max(0, root.popoutHeight - pop.headerHeight - pop.detailsHeight - ack.height - Theme.spacingXL * 3)
                    clip: true
                    spacing: Theme.spacingXS
                    model: root.v.alerts
                    delegate: StyledRect {
                        required property var modelData
                        width: list.width
                        height: row.implicitHeight + Theme.spacingS * 2
                        radius: Theme.cornerRadius
                        color: Theme.surfaceContainerHigh

                        Row {
                            id: row
                            x: Theme.spacingS
                            y: Theme.spacingS
                            width: parent.width - Theme.spacingS * 2
                            spacing: Theme.spacingS

                            DankIcon {
                                name: modelData.severity === "Critical" ? "error" : "gpp_maybe"
                                size: Theme.iconSize - 4
                                color: modelData.severity === "Critical" ? Theme.error : Theme.warning
                            }
                            Column {
                                width: row.width - Theme.iconSize - Theme.spacingS
                                StyledText {
                                    width: parent.width
                                    textFormat: Text.PlainText
                                    wrapMode: Text.Wrap
                                    maximumLineCount: 2
                                    elide: Text.ElideRight
                                    color: Theme.surfaceText
                                    text: modelData.summary
                                }
                                StyledText {
                                    width: parent.width
                                    textFormat: Text.PlainText
                                    elide: Text.ElideMiddle
                                    font.pixelSize: Theme.fontSizeSmall
                                    color: Theme.surfaceVariantText
                                    text: (modelData.time ? modelData.time + " · " : "") + modelData.severity + (modelData.seq > 0 ? " · event " + modelData.seq : "") + (modelData.path ? " · " + modelData.path : "")
                                }
                            }
                        }
                    }
                }

                StyledRect {
                    id: ack
                    width: ackText.implicitWidth + Theme.spacingL * 2
                    height: 36
                    radius: Theme.cornerRadius
                    anchors.right: parent.right
                    color: ackArea.containsMouse ? Theme.primaryHover : Theme.surfaceContainerHigh
                    opacity: root.v.unacked > 0 || root.v.lost > 0 ? 1 : 0.5

                    StyledText {
                        id: ackText
                        anchors.centerIn: parent
                        textFormat: Text.PlainText
                        text: "Acknowledge all"
                        color: Theme.primary
                    }

                    MouseArea {
                        id: ackArea
                        anchors.fill: parent
                        hoverEnabled: true
                        cursorShape: Qt.PointingHandCursor
                        enabled: root.v.unacked > 0 || root.v.lost > 0
                        onClicked: root.acknowledge()
                    }
                }
            }
        }
    }
}
