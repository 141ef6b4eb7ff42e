// secmon's plugin settings, through DMS's plugin settings (stored with
// DMS's settings; pluginData in the surfaces).
import QtQuick
import qs.Common
import qs.Widgets
import qs.Modules.Plugins

PluginSettings {
    id: root
    pluginId: "secmon"

    StyledText {
        width: parent.width
        textFormat: Text.PlainText
        wrapMode: Text.Wrap
        text: "Shows what secmon sees: cameras and microphones in use, and alerts until you acknowledge them. You must be in the group secmon (sudo usermod -aG secmon $USER, then log in again)."
        color: Theme.surfaceVariantText
    }

    SelectionSetting {
        settingKey: "minSeverity"
        label: "Alerts from"
        description: "The least severity that counts as an alert in the bar"
        options: [
            { label: "Critical", value: "Critical" },
            { label: "High", value: "High" },
            { label: "Medium", value: "Medium" },
            { label: "Low (every event)", value: "Low" }
        ]
        defaultValue: "High"
    }

    ToggleSetting {
        settingKey: "camera"
        label: "Cameras"
        description: "Show when a camera is in use"
        defaultValue: true
    }

    ToggleSetting {
        settingKey: "microphone"
        label: "Microphones"
        description: "Show when a microphone is in use"
        defaultValue: true
    }

    StringSetting {
        settingKey: "socketPath"
        label: "Socket"
        description: "secmon's event socket"
        placeholder: "/run/secmon/secmon.sock"
        defaultValue: ""
    }
}
